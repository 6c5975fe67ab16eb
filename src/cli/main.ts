import cluster from 'node:cluster';
import type { AddressInfo } from 'node:net';
import { configToToml } from '../config/config-file.js';
import { loadConfig } from '../config/load-config.js';
import { ConfigError, effectiveLogLevel, helpText } from '../config/options.js';
import { createLogger } from '../logging/create-logger.js';
import { MemoryStore } from '../store/memory/memory-store.js';
import { createTracker } from '../tracker.js';
import {
  READY_MESSAGE,
  runPrimary,
  SERVE_UDP_MESSAGE,
  servesUdp,
  shouldFork,
  WORKER_INDEX_ENV,
  workerMetrics,
} from './workers.js';

/**
 * How long SIGINT/SIGTERM may take: stop accepting, answer what is in flight,
 * close the store. Below the primary's grace for its workers (cli/workers.ts).
 */
const SHUTDOWN_GRACE_MS = 8000;

/** `bitstorm [options]`: exit 2 on a bad command line, 0 after a clean shutdown. */
export async function main(argv: readonly string[], env: NodeJS.ProcessEnv): Promise<void> {
  // `bitstorm print-config [options]`: the effective configuration as a TOML file --config accepts.
  const printConfig = argv[0] === 'print-config';
  let loaded: ReturnType<typeof loadConfig>;
  try {
    loaded = loadConfig(printConfig ? argv.slice(1) : argv, env);
  } catch (err) {
    if (err instanceof ConfigError) {
      // A usage error, before there is a configuration to log with: one plain
      // line, as any command says what is wrong with its arguments.
      process.stderr.write(`bitstorm: ${err.message}\n`);
      process.exit(2);
    }
    throw err;
  }
  // The command's output, not log lines: they stay plain text on standard output.
  if (loaded.help) {
    process.stdout.write(`${helpText()}\n`);
    return;
  }
  if (printConfig) {
    process.stdout.write(configToToml(loaded.config));
    return;
  }
  const { config } = loaded;
  const forks = shouldFork(config);
  // Under --workers every line says whose it is: `"worker":"primary"` or the worker's index.
  const worker = forks ? 'primary' : cluster.isWorker ? Number(env[WORKER_INDEX_ENV] ?? cluster.worker?.id) : undefined;
  const logger = createLogger({
    level: effectiveLogLevel(config),
    format: config.logFormat,
    ...(worker !== undefined ? { bindings: { worker } } : {}),
  });
  // --workers N > 1: this process only supervises; each worker runs main() again and serves.
  if (forks) return runPrimary(config, logger);
  // Under --workers, /metrics reports every worker: the primary merges them (cli/workers.ts).
  let fromPrimary: (() => Promise<{ text: string; contentType: string }>) | undefined;
  const tracker = createTracker({
    ...config,
    serveUdp: servesUdp(env),
    logger,
    ...(cluster.isWorker
      ? {
          metricsText: () => (fromPrimary ? fromPrimary() : Promise.reject(new Error('starting'))),
          serveMetricsPort: false,
        }
      : {}),
  });
  if (cluster.isWorker && tracker.metrics) fromPrimary = workerMetrics(tracker.metrics.registry);
  // Installed before listening: a signal that comes while the tracker starts (or
  // right after its first log line) closes it too, instead of killing it unsaved.
  let stopping = false;
  const stop = (signal: string): void => {
    if (stopping) return;
    stopping = true;
    logger.info({ signal }, `${signal}, shutting down`);
    // Bounded: a close that hangs (a client that never finishes, a store that never answers) ends in exit 1.
    setTimeout(() => {
      logger.error(`shutdown took more than ${SHUTDOWN_GRACE_MS / 1000} s; exiting`);
      process.exit(1);
    }, SHUTDOWN_GRACE_MS).unref();
    tracker.close().then(
      () => {
        logger.info('stopped');
        process.exit(0);
      },
      (err: unknown) => {
        logger.error({ err }, 'error during shutdown');
        process.exit(1);
      },
    );
  };
  process.on('SIGINT', () => stop('SIGINT'));
  process.on('SIGTERM', () => stop('SIGTERM'));
  const info = await tracker.listen();
  const where = info.http.family === 'IPv6' ? `[${info.http.address}]` : info.http.address;
  const tls = tracker.http.tls !== undefined;
  const proto = tls ? 'HTTPS' : 'HTTP';
  // Start-up lines: a sentence for people (the pretty format shows it as it is)
  // and the same facts as fields for machines (the JSON format).
  logger.info(
    { transport: tls ? 'https' : 'http', address: info.http.address, port: info.http.port, store: tracker.store.kind },
    `${proto} tracker listening on ${where}:${info.http.port} (store: ${tracker.store.kind})`,
  );
  const restored = tracker.store instanceof MemoryStore ? tracker.store.restored : undefined;
  if (restored) {
    logger.info(
      { stateFile: config.stateFile, ...restored, ms: Math.round(restored.ms) },
      `state file ${config.stateFile}: ${restored.torrents} torrents, ${restored.peers} peers back` +
        ` (${restored.expired} expired while down) in ${Math.round(restored.ms)} ms`,
    );
  }
  const { path, reason } = tracker.http.path;
  const server = path === 'fast' ? 'the fast path' : tls ? 'node:https' : 'node:http';
  logger.info({ httpPath: path, reason }, `${proto} announces and scrapes served by ${server}: ${reason}`);
  const logUdp = (udp: AddressInfo): void => {
    const udpWhere = udp.family === 'IPv6' ? `[${udp.address}]` : udp.address;
    logger.info(
      { transport: 'udp', address: udp.address, port: udp.port },
      `UDP tracker listening on ${udpWhere}:${udp.port}`,
    );
  };
  if (info.udp) logUdp(info.udp);
  if (tracker.metricsPort !== undefined) {
    logger.info({ metricsPort: tracker.metricsPort }, `metrics on port ${tracker.metricsPort}`);
  }
  for (const url of info.announceUrls) logger.info({ url }, `announce URL ${url}`);
  if (cluster.isWorker) {
    // The worker that held UDP died: this one takes the socket over (cli/workers.ts).
    process.on('message', (message: unknown) => {
      if ((message as { bitstorm?: unknown } | null)?.bitstorm !== SERVE_UDP_MESSAGE.bitstorm) return;
      tracker.serveUdp().then(logUdp, (err: unknown) => {
        logger.error({ err }, `could not take over UDP (${(err as Error).message})`);
      });
    });
    process.send?.(READY_MESSAGE);
  }
}

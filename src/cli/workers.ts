import cluster, { type Worker } from 'node:cluster';
import { AggregatorRegistry, type PrometheusContentType, type Registry } from 'prom-client';
import type { TrackerConfig } from '../config/options.js';
import type { Logger } from '../logging/logger.js';
import { listenMetrics } from '../metrics/metrics-http.js';
import { listenAnyAddress } from '../transport/any-address.js';

/** How long the primary waits for workers to finish after SIGINT/SIGTERM before killing them. */
const STOP_GRACE_MS = 10_000;

/** Tells a worker its index, 0 … N-1; a replacement gets the index of the worker it replaces. */
export const WORKER_INDEX_ENV = 'BITSTORM_WORKER_INDEX';
/** Set to 1 for the one worker that opens the UDP socket at start. */
export const SERVE_UDP_ENV = 'BITSTORM_SERVE_UDP';

/**
 * Whether this process answers UDP from the start: a single process does, and
 * of workers only the one the primary names (worker 0 at first; see
 * runPrimary for what happens when it dies). Workers cannot each have a socket of their own on the port (that
 * needs SO_REUSEPORT, which node:dgram offers only from Node 22.12), so they
 * would share one: every datagram then wakes every worker, all but one find
 * nothing to read, and on the 2-vCPU test VM two workers answered fewer UDP
 * announces than one (23–27k/s shared against 28–29.5k/s with worker 0 alone,
 * bench load on Redis, alternated runs). The other workers list the udp:// URL
 * all the same (unless --udp-port 0: they cannot know the port worker 0 got).
 * When the worker holding UDP dies, the primary tells another running worker
 * to bind it at once (SERVE_UDP_MESSAGE): UDP is unanswered for the time the
 * kernel takes to close the dead process' socket and a bind, not for a new
 * worker's start (over a second), and the replacement serves HTTP only.
 */
export function servesUdp(env: NodeJS.ProcessEnv): boolean {
  return !cluster.isWorker || env[SERVE_UDP_ENV] === '1';
}

/** The primary's word to a running worker: open the UDP socket now (the one that held it died). */
export const SERVE_UDP_MESSAGE = { bitstorm: 'serve-udp' } as const;

/** What a worker sends the primary once it serves every port (HTTP and, for worker 0, UDP). */
export const READY_MESSAGE = { bitstorm: 'ready' } as const;

/**
 * True in the process that should fork workers instead of serving: `--workers N`
 * with N > 1, in the primary. Workers re-run the same command line (node:cluster
 * forks with the same argv and environment), load the same configuration, and
 * serve; the HTTP port is shared through the primary (UDP goes to worker 0
 * alone, see servesUdp). Swarms are
 * shared through Redis, which config validation requires when N > 1.
 */
export function shouldFork(config: Readonly<TrackerConfig>): boolean {
  return config.workers > 1 && cluster.isPrimary;
}

/**
 * The primary: forks `config.workers` workers, replaces a worker that dies
 * after it was serving, and gives up (exit 1) if one dies before it was ready
 * (READY_MESSAGE: all its ports bound) — a start-up error such as a port in
 * use would otherwise loop.
 * SIGINT/SIGTERM stop the workers (they close gracefully), then the primary;
 * SIGHUP is passed on to the workers.
 */
export function runPrimary(config: Readonly<TrackerConfig>, logger: Logger): Promise<void> {
  let stopping = false;
  let exitCode = 0;
  const served = new WeakSet<Worker>();
  const indexOf = new WeakMap<Worker, number>();
  /** The worker that holds the UDP socket (or was told to open it). */
  let udpHolder: Worker | undefined;
  /** Collects and merges every worker's metrics (prom-client's cluster support). */
  const aggregator = config.metrics ? new AggregatorRegistry<PrometheusContentType>() : undefined;

  // Workers accept connections themselves from the shared listening socket
  // (SCHED_NONE) instead of the primary accepting each one and passing it over
  // IPC (round-robin, Node's default on Linux): with one connection per
  // announce, that hand-off cost more CPU than the announce. The kernel may
  // spread connections unevenly; swarms are shared through Redis, so any worker
  // answers any request. NODE_CLUSTER_SCHED_POLICY=rr restores round-robin.
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;

  const fork = (index: number, udp: boolean): void => {
    const worker = cluster.fork({ [WORKER_INDEX_ENV]: String(index), [SERVE_UDP_ENV]: udp ? '1' : '0' });
    indexOf.set(worker, index);
    if (udp) udpHolder = worker;
    // Not 'listening': that comes with the first port (HTTP), before UDP may fail.
    worker.on('message', (message: unknown) => {
      const kind = (message as { bitstorm?: unknown } | null)?.bitstorm;
      if (kind === READY_MESSAGE.bitstorm) {
        served.add(worker);
        logger.debug({ workerIndex: index, workerPid: worker.process.pid }, `worker ${index} ready`);
      }
      if (kind === METRICS_REQUEST && aggregator) answerMetrics(worker, aggregator, (message as { id: number }).id);
    });
  };

  cluster.on('exit', (worker, code, signal) => {
    const how = signal ?? `code ${code}`;
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
      return;
    }
    if (!served.has(worker)) {
      logger.error(
        { workerIndex: indexOf.get(worker), workerPid: worker.process.pid, exit: how },
        `worker ${worker.process.pid} failed to start (${how}); stopping`,
      );
      stop(1);
      return;
    }
    const index = indexOf.get(worker);
    if (index === undefined) return; // not one of ours
    logger.error(
      { workerIndex: index, workerPid: worker.process.pid, exit: how },
      `worker ${index} (pid ${worker.process.pid}) exited (${how}); starting another in 1 s`,
    );
    // UDP goes to a worker that is running now; the replacement gets it only when none is.
    let udp = false;
    if (worker === udpHolder) {
      udpHolder = Object.values(cluster.workers ?? {}).find(
        (w): w is Worker => w !== undefined && w !== worker && served.has(w) && !w.isDead(),
      );
      if (udpHolder) udpHolder.send(SERVE_UDP_MESSAGE);
      else udp = true;
    }
    // The pause keeps a worker that keeps crashing from becoming a fork loop.
    setTimeout(() => {
      if (!stopping) fork(index, udp);
    }, 1000);
  });

  const stop = (code: number): void => {
    if (stopping) return;
    stopping = true;
    exitCode = code;
    const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
    if (workers.length === 0) process.exit(exitCode);
    for (const w of workers) w.process.kill('SIGTERM');
    setTimeout(() => {
      for (const w of workers) w.process.kill('SIGKILL');
      process.exit(exitCode || 1);
    }, STOP_GRACE_MS).unref();
  };

  process.on('SIGINT', () => {
    logger.info({ signal: 'SIGINT' }, 'SIGINT, stopping workers');
    stop(0);
  });
  process.on('SIGTERM', () => {
    logger.info({ signal: 'SIGTERM' }, 'SIGTERM, stopping workers');
    stop(0);
  });
  // SIGHUP re-reads the allow or deny list, the keys file and the TLS certificate:
  // each worker keeps its own copy and its own HTTPS server (without any of them,
  // SIGHUP keeps its default meaning and ends the tracker).
  const listFile = (config.allowList || config.denyList) && (config.allowList || config.denyList) !== 'redis';
  if (listFile || (config.private && config.keys !== 'redis') || config.tlsCert !== '') {
    process.on('SIGHUP', () => {
      const workers = Object.values(cluster.workers ?? {}).filter((w): w is Worker => w !== undefined);
      // Each worker logs what it reloaded (or why not), with its id.
      logger.info({ signal: 'SIGHUP', workers: workers.length }, `SIGHUP, passed on to ${workers.length} workers`);
      for (const w of workers) w.process.kill('SIGHUP');
    });
  }

  logger.info({ workers: config.workers }, `primary ${process.pid} starting ${config.workers} workers`);
  for (let i = 0; i < config.workers; i++) fork(i, i === 0);
  if (aggregator && config.metricsPort > 0) {
    const registry = aggregator;
    return listenAnyAddress(config.host, (host) =>
      listenMetrics(host, config.metricsPort, async () => ({
        text: await registry.clusterMetrics(),
        contentType: registry.contentType,
      })),
    ).then(
      () => logger.info({ metricsPort: config.metricsPort }, `metrics of all workers on port ${config.metricsPort}`),
      (err: unknown) => {
        logger.error({ err }, `--metrics-port ${config.metricsPort}: ${(err as Error).message}`);
        stop(1);
      },
    );
  }
  return Promise.resolve();
}

/** A worker asks the primary for every worker's metrics, merged (its /metrics on the HTTP port). */
export const METRICS_REQUEST = 'metrics?';
export const METRICS_REPLY = 'metrics!';

function answerMetrics(worker: Worker, aggregator: AggregatorRegistry<PrometheusContentType>, id: number): void {
  aggregator.clusterMetrics().then(
    (text: string) => worker.send({ bitstorm: METRICS_REPLY, id, text, contentType: aggregator.contentType }),
    (err: unknown) => worker.send({ bitstorm: METRICS_REPLY, id, error: (err as Error).message }),
  );
}

/**
 * In a worker: the merged metrics of every worker, from the primary. Also makes
 * this worker answer the primary's collection requests with `registry`.
 */
export function workerMetrics(registry: Registry): () => Promise<{ text: string; contentType: string }> {
  AggregatorRegistry.setRegistries([registry]);
  // The constructor installs prom-client's listener that answers the primary.
  new AggregatorRegistry();
  let next = 0;
  const waiting = new Map<number, (reply: { text?: string; contentType?: string; error?: string }) => void>();
  process.on('message', (message: unknown) => {
    const m = message as { bitstorm?: unknown; id?: number } | null;
    if (m?.bitstorm !== METRICS_REPLY || m.id === undefined) return;
    waiting.get(m.id)?.(m as { text?: string; contentType?: string; error?: string });
    waiting.delete(m.id);
  });
  return () =>
    new Promise((resolve, reject) => {
      const id = next++;
      // prom-client gives up on a silent worker after 5 s; this bounds the wait for the primary.
      const timer = setTimeout(() => {
        waiting.delete(id);
        reject(new Error('the primary did not answer within 6 s'));
      }, 6000);
      waiting.set(id, (reply) => {
        clearTimeout(timer);
        if (reply.error !== undefined || reply.text === undefined) reject(new Error(reply.error ?? 'no metrics'));
        else resolve({ text: reply.text, contentType: reply.contentType ?? 'text/plain' });
      });
      process.send?.({ bitstorm: METRICS_REQUEST, id });
    });
}

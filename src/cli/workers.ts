import cluster, { type Worker } from 'node:cluster';
import type { TrackerConfig } from '../config/options.js';

/** How long the primary waits for workers to finish after SIGINT/SIGTERM before killing them. */
const STOP_GRACE_MS = 10_000;

/**
 * True in the process that should fork workers instead of serving: `--workers N`
 * with N > 1, in the primary. Workers re-run the same command line (node:cluster
 * forks with the same argv and environment), load the same configuration, and
 * serve; the HTTP (and UDP) ports are shared through the primary. Swarms are
 * shared through Redis, which config validation requires when N > 1.
 */
export function shouldFork(config: Readonly<TrackerConfig>): boolean {
  return config.workers > 1 && cluster.isPrimary;
}

/**
 * The primary: forks `config.workers` workers, replaces a worker that dies
 * after it was serving, and gives up (exit 1) if one dies before it ever
 * listened — a start-up error such as a port in use would otherwise loop.
 * SIGINT/SIGTERM stop the workers (they close gracefully), then the primary.
 */
export function runPrimary(config: Readonly<TrackerConfig>): Promise<void> {
  const log = (line: string): void => {
    if (!config.quiet) console.log(line);
  };
  let stopping = false;
  let exitCode = 0;
  const served = new WeakSet<Worker>();

  // Workers accept connections themselves from the shared listening socket
  // (SCHED_NONE) instead of the primary accepting each one and passing it over
  // IPC (round-robin, Node's default on Linux): with one connection per
  // announce, that hand-off cost more CPU than the announce. The kernel may
  // spread connections unevenly; swarms are shared through Redis, so any worker
  // answers any request. NODE_CLUSTER_SCHED_POLICY=rr restores round-robin.
  if (process.env.NODE_CLUSTER_SCHED_POLICY === undefined) cluster.schedulingPolicy = cluster.SCHED_NONE;

  const fork = (): void => {
    const worker = cluster.fork();
    worker.once('listening', () => served.add(worker));
  };

  cluster.on('exit', (worker, code, signal) => {
    const how = signal ?? `code ${code}`;
    if (stopping) {
      if (Object.keys(cluster.workers ?? {}).length === 0) process.exit(exitCode);
      return;
    }
    if (!served.has(worker)) {
      console.error(`bitstorm: worker ${worker.process.pid} failed to start (${how}); stopping`);
      stop(1);
      return;
    }
    console.error(`bitstorm: worker ${worker.process.pid} exited (${how}); starting another in 1 s`);
    // The pause keeps a worker that keeps crashing from becoming a fork loop.
    setTimeout(() => {
      if (!stopping) fork();
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
    log('bitstorm: SIGINT, stopping workers');
    stop(0);
  });
  process.on('SIGTERM', () => {
    log('bitstorm: SIGTERM, stopping workers');
    stop(0);
  });

  log(`bitstorm: primary ${process.pid} starting ${config.workers} workers`);
  for (let i = 0; i < config.workers; i++) fork();
  return Promise.resolve();
}

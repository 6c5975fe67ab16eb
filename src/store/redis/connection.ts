import { createCluster, RESP_TYPES } from 'redis';
import { StoreError } from '../../errors.js';
import { deadlineCheckEvery, noReplyError, pipeTarget, RespPipe } from './resp-pipe.js';
import type { Script } from './scripts.js';

export type RedisArg = string | Buffer;

export interface RedisConnectionOptions {
  /** redis[s]://[user:pass@]host:port[/db] (standalone) … */
  url?: string;
  /** … or Redis Cluster seed node URLs. */
  clusterUrls?: readonly string[];
  /** A command not answered within this many ms fails (the client is told to retry). */
  commandTimeoutMs: number;
  /** Outage and recovery lines (once per outage, not per request). */
  log: (line: string) => void;
  /** CLIENT SETNAME, so an operator can tell tracker processes apart in CLIENT LIST. */
  clientName?: string;
}

/** Replies with binary strings as Buffers; integers stay numbers (the shapes RespPipe gives too). */
const BINARY = { [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.SIMPLE_STRING]: Buffer } as const;

/** Commands waiting for replies before new ones are refused at once (a hung Redis must not eat memory). A batch of up to 16 announces is one command (about 1.5 KB). */
const MAX_QUEUE = 20_000;

/** Server errors and timeouts are logged at most this often, not per request. */
const ERROR_LOG_EVERY_MS = 30_000;

const UNAVAILABLE = 'tracker storage is unavailable, retry later';

/** Reconnect backoff: 50 ms doubling to 2 s, forever (the tracker outlives any outage). */
function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** Math.min(retries, 10), 2000);
}

type Cluster = ReturnType<typeof createCluster>;
interface Inflight {
  deadline: number;
  reject: (err: unknown) => void;
}

/**
 * The Redis store's connection: one path per kind of deployment.
 *
 * - A standalone Redis (`redis://`, `rediss://`): one RespPipe (resp-pipe.ts), a
 *   minimal RESP2 connection that writes each command the moment it is sent.
 *   Every command the store sends is a plain one (scripts, ZADD, GET…), so it
 *   needs nothing of a general client, and writing at once is what keeps the
 *   announce latency down (the batch leaves at the end of the event-loop turn;
 *   node-redis would write it one turn later).
 * - Redis Cluster: node-redis' cluster client, for what a cluster needs and we
 *   do not want to write again: the slot map, MOVED/ASK redirections, topology
 *   refreshes. Its batches wait one event-loop turn more (announce-batch.ts).
 *
 * The outage policy, the same on both paths:
 * 1. Nothing waits for a connection: while Redis is unreachable every call fails
 *    at once with a StoreError, which transports answer with a `failure reason`
 *    and BEP 31 `retry in` (no offline queue).
 * 2. Every command has a deadline (`commandTimeoutMs`): a Redis that hangs
 *    (SIGSTOP, a stuck script, a half-open TCP connection) fails its commands
 *    the same way; a reply that comes after its deadline is dropped.
 * 3. At most MAX_QUEUE commands wait for replies; past that, calls fail at once.
 * 4. The connection is remade in the background, forever, with a backoff of
 *    50 ms doubling to 2 s; connecting itself has a deadline.
 * 5. An outage is logged once when it starts and once when it ends; server
 *    errors and timeouts at most every 30 s.
 */
export class RedisConnection {
  readonly kind: 'redis' | 'redis-cluster';
  /** Standalone Redis. */
  private readonly pipe: RespPipe | undefined;
  /** Redis Cluster. */
  private readonly cluster: Cluster | undefined;
  private readonly timeout: number;
  private readonly log: (line: string) => void;
  private down = false;
  /** Outages since start, each counted when it begins (metrics). */
  outages = 0;
  private closed = false;
  private lastErrorLog = 0;
  private readonly waiters: (() => void)[] = [];
  /** Cluster only: commands awaiting replies, for their deadlines (node-redis has none for a written command). */
  private readonly inflight = new Set<Inflight>();
  private ticker: NodeJS.Timeout | undefined;
  private clusterConnected = false;
  private readonly connecting: Promise<void>;

  constructor(options: RedisConnectionOptions) {
    this.timeout = options.commandTimeoutMs;
    this.log = options.log;
    if (options.clusterUrls && options.clusterUrls.length > 0) {
      this.kind = 'redis-cluster';
      const socket = { connectTimeout: Math.max(1000, this.timeout), reconnectStrategy: reconnectDelay };
      const cluster = createCluster({
        rootNodes: options.clusterUrls.map((url) => ({ url })),
        defaults: { disableOfflineQueue: true, commandsQueueMaxLength: MAX_QUEUE, socket, name: options.clientName },
        useReplicas: false,
      });
      cluster.on('error', (err: unknown) => this.outage(err));
      cluster.on('node-error', (err: unknown) => this.outage(err));
      cluster.on('node-ready', () => this.recovered());
      this.cluster = cluster;
      this.connecting = this.connectCluster(cluster);
    } else {
      const target = options.url ? pipeTarget(options.url) : undefined;
      if (!target) throw new Error('the Redis URL must be redis://[user:password@]host[:port][/db] or rediss://…');
      this.kind = 'redis';
      this.pipe = new RespPipe(target, {
        name: options.clientName,
        timeoutMs: this.timeout,
        maxPending: MAX_QUEUE,
        reconnectDelay,
        onDown: (err) => this.outage(err),
        onUp: () => this.recovered(),
      });
      this.connecting = Promise.resolve();
    }
  }

  /** True while commands can be sent. */
  get isReady(): boolean {
    if (this.closed) return false;
    return this.pipe ? this.pipe.isReady : this.clusterConnected;
  }

  /** Resolves once connected (or after `timeoutMs`, rejecting). The store works without awaiting this. */
  waitUntilReady(timeoutMs: number): Promise<void> {
    if (this.isReady) return Promise.resolve();
    return new Promise((resolve, reject) => {
      const wake = (): void => {
        clearTimeout(timer);
        resolve();
      };
      const timer = setTimeout(() => {
        this.waiters.splice(this.waiters.indexOf(wake) >>> 0, 1);
        reject(new Error(`Redis not ready after ${timeoutMs} ms`));
      }, timeoutMs);
      this.waiters.push(wake);
    });
  }

  /** One command. `firstKey` routes it on a cluster (undefined: any node). Binary replies as Buffers. */
  command<T>(firstKey: RedisArg | undefined, args: RedisArg[]): Promise<T> {
    if (!this.isReady) return Promise.reject(new StoreError(UNAVAILABLE));
    if (this.pipe) {
      return this.pipe.send(args).then(
        (reply) => reply as T,
        (err: unknown) => Promise.reject(this.failure(err)),
      );
    }
    return this.clusterCommand<T>(firstKey, args);
  }

  /**
   * Several commands sent together (on a single Redis, one write to the socket),
   * each `[firstKey, args]` as for command(); their replies in order. Rejects
   * when any fails.
   */
  commands<T>(commands: readonly (readonly [RedisArg | undefined, RedisArg[]])[]): Promise<T[]> {
    if (!this.isReady) return Promise.reject(new StoreError(UNAVAILABLE));
    if (this.pipe) {
      return Promise.all(this.pipe.sendAll(commands.map(([, args]) => args))).then(
        (replies) => replies as T[],
        (err: unknown) => Promise.reject(this.failure(err)),
      );
    }
    return Promise.all(commands.map(([firstKey, args]) => this.clusterCommand<T>(firstKey, args)));
  }

  /** EVALSHA, loading the script again when the server does not know it (NOSCRIPT: restart, SCRIPT FLUSH, failover). */
  async evalScript<T>(script: Script, keys: readonly string[], args: readonly RedisArg[]): Promise<T> {
    // One array, filled in place: a batch of announces has a few dozen arguments.
    const command: RedisArg[] = new Array(3 + keys.length + args.length);
    command[0] = 'EVALSHA';
    command[1] = script.sha;
    command[2] = String(keys.length);
    for (let i = 0; i < keys.length; i++) command[3 + i] = keys[i] as string;
    for (let i = 0; i < args.length; i++) command[3 + keys.length + i] = args[i] as RedisArg;
    try {
      return await this.command<T>(keys[0], command);
    } catch (err) {
      if (!(err instanceof StoreError) || !/NOSCRIPT/.test(String((err.cause as Error | undefined)?.message))) {
        throw err;
      }
      // EVAL runs the script and caches it, so the next EVALSHA finds it.
      command[0] = 'EVAL';
      command[1] = script.source;
      return await this.command<T>(keys[0], command);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    this.pipe?.close();
    try {
      if (this.cluster?.isOpen) this.cluster.destroy();
    } catch {
      // Closing a client that never connected: nothing to release.
    }
    await this.connecting.catch(() => undefined);
  }

  /**
   * A Redis failure as the StoreError callers get (transports answer it with
   * "retry"); server errors and timeouts are logged at most every 30 s. Also for
   * failures the store finds inside a reply (one announce of a batch).
   */
  failure(err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    const now = Date.now();
    if (!/^NOSCRIPT/.test(err instanceof Error ? err.message : '') && now - this.lastErrorLog > ERROR_LOG_EVERY_MS) {
      this.lastErrorLog = now;
      this.log(`bitstorm: Redis command failed (${err instanceof Error ? err.message : String(err)})`);
    }
    return new StoreError(UNAVAILABLE, { cause: err });
  }

  /**
   * A command through the cluster client. node-redis' own `timeout` only covers
   * a command not yet written (and costs an AbortSignal and a timer per
   * command), so every command gets a deadline here, checked by one shared
   * ticker; a reply arriving after its deadline is dropped.
   */
  private clusterCommand<T>(firstKey: RedisArg | undefined, args: RedisArg[]): Promise<T> {
    const sent = (this.cluster as Cluster).sendCommand(firstKey, false, args, { typeMapping: BINARY });
    return new Promise<T>((resolve, reject) => {
      const entry: Inflight = { deadline: Date.now() + this.timeout, reject };
      this.inflight.add(entry);
      this.startTicker();
      sent.then(
        (reply) => {
          if (!this.inflight.delete(entry)) return;
          // A cluster node that comes back emits no event we can rely on: the first success ends the outage.
          if (this.down) this.recovered();
          resolve(reply as T);
        },
        (err: unknown) => {
          if (this.inflight.delete(entry)) reject(this.failure(err));
        },
      );
    });
  }

  private startTicker(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => {
      const now = Date.now();
      // Insertion order is deadline order (one timeout for all): stop at the first live one.
      for (const entry of this.inflight) {
        if (entry.deadline > now) break;
        this.inflight.delete(entry);
        entry.reject(this.failure(noReplyError(this.timeout)));
      }
      if (this.inflight.size === 0) {
        clearInterval(this.ticker);
        this.ticker = undefined;
      }
    }, deadlineCheckEvery(this.timeout));
    this.ticker.unref();
  }

  private async connectCluster(cluster: Cluster): Promise<void> {
    // A cluster client gives up when no seed node answers; keep trying in the
    // background so a tracker started before its Redis serves once it is up.
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await cluster.connect();
        if (this.closed) {
          cluster.destroy();
          return;
        }
        this.clusterConnected = true;
        this.recovered();
        return;
      } catch (err) {
        this.outage(err);
        await new Promise((resolve) => setTimeout(resolve, reconnectDelay(attempt)).unref());
      }
    }
  }

  private outage(err: unknown): void {
    if (this.closed || this.down) return;
    this.down = true;
    this.outages++;
    const message = err instanceof Error ? err.message : String(err);
    this.log(`bitstorm: Redis unavailable (${message}); answering "retry" until it is back`);
  }

  /** Connected and not in an outage: commands are being answered. */
  get up(): boolean {
    return this.isReady && !this.down && !this.closed;
  }

  private recovered(): void {
    // A cluster node can be ready before the cluster client has its slot map.
    if (!this.isReady) return;
    if (this.down) this.log('bitstorm: Redis connection restored');
    this.down = false;
    for (const wake of this.waiters.splice(0)) wake();
  }
}

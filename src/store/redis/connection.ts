import { createClient, createCluster, RESP_TYPES } from 'redis';
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

/** Replies with binary strings as Buffers; integers stay numbers. */
const BINARY = { [RESP_TYPES.BLOB_STRING]: Buffer, [RESP_TYPES.SIMPLE_STRING]: Buffer } as const;

/** Commands waiting on one connection before new ones are refused at once (a hung Redis must not eat memory). A batch of up to 16 announces is one command (about 1.5 KB). */
const MAX_QUEUE = 20_000;

const UNAVAILABLE = 'tracker storage is unavailable, retry later';

/** Reconnect backoff: 50 ms doubling to 2 s, forever (the tracker outlives any outage). */
function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** Math.min(retries, 10), 2000);
}

type Client = ReturnType<typeof createClient>;
interface Inflight {
  deadline: number;
  reject: (err: unknown) => void;
}
type Cluster = ReturnType<typeof createCluster>;

/**
 * One connection (standalone) or one cluster client, shared by every store call.
 *
 * Failure policy: commands are never queued while disconnected
 * (`disableOfflineQueue`) and every command has a timeout, so an announce fails
 * fast with a StoreError — which the transports answer with a `failure reason`
 * and BEP 31 `retry in` — instead of hanging. The client reconnects by itself
 * in the background; the outage is logged once when it starts and once when
 * it ends. Concurrent commands are pipelined by node-redis (one write per tick),
 * except script calls on a standalone Redis: those go over a RespPipe of their
 * own, written at once (resp-pipe.ts says why). Both must be up to be ready.
 */
export class RedisConnection {
  readonly kind: 'redis' | 'redis-cluster';
  private readonly client: Client | undefined;
  private readonly cluster: Cluster | undefined;
  /** Standalone only: the script calls' own connection, written at once (resp-pipe.ts). */
  private readonly pipe: RespPipe | undefined;
  private readonly timeout: number;
  private readonly log: (line: string) => void;
  private down = false;
  private readonly inflight = new Set<Inflight>();
  private ticker: NodeJS.Timeout | undefined;
  private lastErrorLog = 0;
  private closed = false;
  private connected = false;
  private readonly connecting: Promise<void>;
  private readonly waiters: (() => void)[] = [];

  constructor(options: RedisConnectionOptions) {
    this.timeout = options.commandTimeoutMs;
    this.log = options.log;
    const socket = { connectTimeout: Math.max(1000, this.timeout), reconnectStrategy: reconnectDelay };
    if (options.clusterUrls && options.clusterUrls.length > 0) {
      this.kind = 'redis-cluster';
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
      if (!options.url) throw new Error('RedisConnection needs a url or cluster urls');
      this.kind = 'redis';
      const client = createClient({
        url: options.url,
        disableOfflineQueue: true,
        commandsQueueMaxLength: MAX_QUEUE,
        socket,
        name: options.clientName,
      });
      client.on('error', (err: unknown) => this.outage(err));
      client.on('ready', () => {
        this.connected = true;
        this.recovered();
      });
      client.on('end', () => (this.connected = false));
      this.client = client;
      const target = pipeTarget(options.url);
      this.pipe = target
        ? new RespPipe(target, {
            name: options.clientName,
            timeoutMs: this.timeout,
            maxPending: MAX_QUEUE,
            reconnectDelay,
            onDown: (err) => this.outage(err),
            onUp: () => this.recovered(),
          })
        : undefined;
      // connect() retries by itself (reconnectStrategy) until it succeeds or we close.
      this.connecting = client.connect().then(
        () => undefined,
        (err: unknown) => {
          if (!this.closed) this.outage(err);
        },
      );
    }
  }

  /** True while commands can be sent. */
  get isReady(): boolean {
    if (this.closed) return false;
    if (this.client) return this.client.isReady && (this.pipe?.isReady ?? true);
    return this.connected;
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
    // node-redis' own `timeout` only covers a command not yet written (and
    // costs an AbortSignal and a timer per command); one written to a Redis
    // that hangs (SIGSTOP, a stuck script, a half-open TCP connection) would
    // wait forever. So every command gets a deadline, checked by one shared
    // ticker; a reply arriving after its deadline is dropped.
    const options = { typeMapping: BINARY };
    const sent = this.cluster
      ? this.cluster.sendCommand(firstKey, false, args, options)
      : (this.client as Client).sendCommand(args, options);
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

  /** EVALSHA, loading the script again when the server does not know it (NOSCRIPT: restart, SCRIPT FLUSH, failover). */
  async evalScript<T>(script: Script, keys: readonly string[], args: readonly RedisArg[]): Promise<T> {
    // One array, filled in place: a batch of announces has a few hundred arguments.
    const command: RedisArg[] = new Array(3 + keys.length + args.length);
    command[0] = 'EVALSHA';
    command[1] = script.sha;
    command[2] = String(keys.length);
    for (let i = 0; i < keys.length; i++) command[3 + i] = keys[i] as string;
    for (let i = 0; i < args.length; i++) command[3 + keys.length + i] = args[i] as RedisArg;
    try {
      return this.pipe ? await this.piped<T>(command) : await this.command<T>(keys[0], command);
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

  /** A command on the pipe, failing as command() does (StoreError, the cause kept for NOSCRIPT). */
  private async piped<T>(command: RedisArg[]): Promise<T> {
    if (!this.isReady) throw new StoreError(UNAVAILABLE);
    try {
      return (await (this.pipe as RespPipe).send(command)) as T;
    } catch (err) {
      throw this.failure(err);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    clearInterval(this.ticker);
    this.pipe?.close();
    try {
      if (this.client) {
        if (this.client.isOpen) this.client.destroy();
      } else if (this.cluster?.isOpen) {
        this.cluster.destroy();
      }
    } catch {
      // Closing a client that never connected: nothing to release.
    }
    await this.connecting.catch(() => undefined);
  }

  private async connectCluster(cluster: Cluster): Promise<void> {
    // Unlike a standalone client, a cluster client gives up when no seed node
    // answers; keep trying in the background so a tracker started before its
    // Redis comes up serves once it does.
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await cluster.connect();
        if (this.closed) {
          cluster.destroy();
          return;
        }
        this.connected = true;
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
    const message = err instanceof Error ? err.message : String(err);
    this.log(`bitstorm: Redis unavailable (${message}); answering "retry" until it is back`);
  }

  private recovered(): void {
    // A cluster node can be ready before the cluster client has its slot map.
    if (!this.isReady) return;
    if (this.down) this.log('bitstorm: Redis connection restored');
    this.down = false;
    for (const wake of this.waiters.splice(0)) wake();
  }

  /**
   * A Redis failure as the StoreError callers get (transports answer it with
   * "retry"); server errors and timeouts are logged at most every 30 s. Also for
   * failures the store finds inside a reply (one announce of a batch).
   */
  failure(err: unknown): StoreError {
    if (err instanceof StoreError) return err;
    // Timeouts (a Redis that hangs without dropping the connection) and
    // server errors are logged at most every 30 s, not per request.
    const now = Date.now();
    if (!/^NOSCRIPT/.test(err instanceof Error ? err.message : '') && now - this.lastErrorLog > 30_000) {
      this.lastErrorLog = now;
      this.log(`bitstorm: Redis command failed (${err instanceof Error ? err.message : String(err)})`);
    }
    return new StoreError(UNAVAILABLE, { cause: err });
  }
}

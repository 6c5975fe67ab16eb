import { isIP, connect as netConnect, type Socket } from 'node:net';
import { connect as tlsConnect } from 'node:tls';
import { encodeCommand, INCOMPLETE, RespError, RespReader, type RespValue } from './resp.js';

/**
 * A minimal connection to a standalone Redis, the store's only one there
 * (connection.ts says why one path per kind of deployment): each command is
 * written to the socket the moment it is sent, and replies are matched to
 * commands in order (RESP is FIFO).
 *
 * Why not node-redis: it writes queued commands in a setImmediate of its own.
 * The store already gathers an event-loop turn's announces into one EVALSHA at
 * the end of the turn (announce-batch.ts), so node-redis' write landed one loop
 * iteration later still, after that iteration's datagrams and replies had been
 * handled (figures in docs/redis-layout.md). Its generic encoder and decoder
 * were also a fifth of the tracker's garbage on a Redis announce.
 *
 * It implements connection.ts's outage policy for its connection: nothing is
 * queued while disconnected (send() rejects at once), each command has a
 * deadline (a late reply is read and dropped, keeping the order), at most
 * `maxPending` commands wait, and it reconnects by itself with the given
 * backoff. Connecting (DNS, TCP, TLS and the handshake: AUTH, SELECT, CLIENT
 * SETNAME from the URL) has a deadline too: a host that drops packets must not
 * hold the store "unavailable" for the kernel's two-minute SYN timeout.
 *
 * Not detected: a host that vanishes while the connection is open. Commands
 * then time out one by one until the kernel gives up on the connection; TCP
 * keepalive does not probe while data is unacknowledged.
 */

export interface RespPipeOptions {
  /** CLIENT SETNAME. */
  name?: string;
  timeoutMs: number;
  /** Commands waiting for a reply before send() refuses (a hung Redis must not eat memory). */
  maxPending: number;
  reconnectDelay: (retries: number) => number;
  /** The connection failed or was lost (called on every failed attempt; the caller logs once). */
  onDown: (err: Error) => void;
  /** The connection is ready again. */
  onUp: () => void;
}

interface Pending {
  deadline: number;
  resolve: (value: RespValue) => void;
  reject: (err: Error) => void;
  /** Answered by a timeout already: its reply, when it comes, is dropped. */
  done: boolean;
}

interface Target {
  tls: boolean;
  host: string;
  port: number;
  username: string;
  password: string;
  db: number;
}

/** The connection target of a redis:// or rediss:// URL; undefined for any other form. */
export function pipeTarget(url: string): Target | undefined {
  let u: URL;
  try {
    u = new URL(url);
  } catch {
    return undefined;
  }
  if (u.protocol !== 'redis:' && u.protocol !== 'rediss:') return undefined;
  const path = u.pathname.replace(/^\//, '');
  const db = path === '' ? 0 : Number(path);
  if (!Number.isInteger(db) || db < 0) return undefined;
  return {
    tls: u.protocol === 'rediss:',
    host: u.hostname.replace(/^\[(.*)\]$/, '$1') || '127.0.0.1',
    port: u.port ? Number(u.port) : 6379,
    username: decodeURIComponent(u.username),
    password: decodeURIComponent(u.password),
    db,
  };
}

/**
 * How often a Redis connection looks for commands past their deadline: an
 * eighth of the timeout (at most 100 ms), so a command fails at most 12.5 %
 * after its deadline, and one shared timer serves every command.
 */
export function deadlineCheckEvery(timeoutMs: number): number {
  return Math.max(20, Math.min(100, Math.floor(timeoutMs / 8)));
}

/** The error of a command that got no reply before its deadline. */
export function noReplyError(timeoutMs: number): Error {
  return new Error(`no reply from Redis within ${timeoutMs} ms`);
}

export class RespPipe {
  private readonly target: Target;
  private readonly options: RespPipeOptions;
  private socket: Socket | undefined;
  private ready = false;
  private closed = false;
  private retries = 0;
  private readonly reader = new RespReader();
  /** Commands written and not answered yet, oldest first, from index `head`. */
  private queue: Pending[] = [];
  private head = 0;
  private ticker: NodeJS.Timeout | undefined;
  private reconnectTimer: NodeJS.Timeout | undefined;
  private connectTimer: NodeJS.Timeout | undefined;

  constructor(target: Target, options: RespPipeOptions) {
    this.target = target;
    this.options = options;
    this.connect();
  }

  get isReady(): boolean {
    return this.ready && !this.closed;
  }

  /** Writes one command now; resolves with its reply (error replies reject with their message). */
  send(args: readonly (string | Buffer)[]): Promise<RespValue> {
    if (!this.isReady) return Promise.reject(new Error('Redis connection not ready'));
    if (this.queue.length - this.head >= this.options.maxPending) {
      return Promise.reject(new Error(`more than ${this.options.maxPending} commands waiting for Redis`));
    }
    return this.write(this.socket as Socket, encodeCommand(args));
  }

  /**
   * Writes several commands in one write to the socket (one Buffer: a write per
   * command cost more than reading the replies in a walk of the torrent index);
   * resolves with their replies, in order. All or none are sent.
   */
  sendAll(commands: readonly (readonly (string | Buffer)[])[]): Promise<RespValue>[] {
    if (!this.isReady) return commands.map(() => Promise.reject(new Error('Redis connection not ready')));
    if (this.queue.length - this.head + commands.length > this.options.maxPending) {
      return commands.map(() =>
        Promise.reject(new Error(`more than ${this.options.maxPending} commands waiting for Redis`)),
      );
    }
    (this.socket as Socket).write(Buffer.concat(commands.map(encodeCommand)));
    const deadline = Date.now() + this.options.timeoutMs;
    const replies = commands.map(
      () => new Promise<RespValue>((resolve, reject) => this.queue.push({ deadline, resolve, reject, done: false })),
    );
    this.startTicker();
    return replies;
  }

  close(): void {
    if (this.closed) return;
    this.closed = true;
    this.ready = false;
    clearTimeout(this.reconnectTimer);
    clearTimeout(this.connectTimer);
    this.stopTicker();
    this.failAll(new Error('connection closed'));
    this.socket?.destroy();
    this.socket = undefined;
  }

  /** Writes, then queues the reply's entry (replies come in a later event, never during write()). */
  private write(socket: Socket, bytes: Buffer): Promise<RespValue> {
    return new Promise<RespValue>((resolve, reject) => {
      socket.write(bytes);
      this.queue.push({ deadline: Date.now() + this.options.timeoutMs, resolve, reject, done: false });
      this.startTicker();
    });
  }

  private connect(): void {
    if (this.closed) return;
    const t = this.target;
    // SNI takes a host name, not an address.
    const socket = t.tls
      ? tlsConnect({ host: t.host, port: t.port, ...(isIP(t.host) === 0 ? { servername: t.host } : {}) })
      : netConnect({ host: t.host, port: t.port });
    this.socket = socket;
    const limit = Math.max(1000, this.options.timeoutMs);
    this.connectTimer = setTimeout(() => socket.destroy(new Error(`could not connect within ${limit} ms`)), limit);
    this.connectTimer.unref();
    socket.setNoDelay(true);
    socket.setKeepAlive(true, 10_000);
    socket.on(t.tls ? 'secureConnect' : 'connect', () => void this.handshake(socket));
    socket.on('data', (chunk: Buffer) => this.onData(socket, chunk));
    socket.on('error', (err: Error) => this.lost(socket, err));
    socket.on('close', () => this.lost(socket, new Error('connection closed by Redis')));
  }

  /**
   * AUTH, SELECT and CLIENT SETNAME, pipelined, and a PING so that even with
   * none of them the pipe is ready only once the server has answered.
   */
  private async handshake(socket: Socket): Promise<void> {
    const t = this.target;
    const steps: (string | Buffer)[][] = [];
    if (t.password) steps.push(t.username ? ['AUTH', t.username, t.password] : ['AUTH', t.password]);
    if (t.db !== 0) steps.push(['SELECT', String(t.db)]);
    if (this.options.name) steps.push(['CLIENT', 'SETNAME', this.options.name]);
    steps.push(['PING']);
    try {
      await Promise.all(steps.map((args) => this.write(socket, encodeCommand(args))));
    } catch (err) {
      // A wrong password or database: drop this connection and try again later (the operator sees the log line).
      if (this.socket === socket) socket.destroy(err as Error);
      return;
    }
    if (this.socket !== socket || this.closed) return;
    clearTimeout(this.connectTimer);
    this.ready = true;
    this.retries = 0;
    this.options.onUp();
  }

  private onData(socket: Socket, chunk: Buffer): void {
    if (this.socket !== socket) return;
    this.reader.push(chunk);
    try {
      for (;;) {
        const value = this.reader.next();
        if (value === INCOMPLETE) break;
        const entry = this.queue[this.head];
        if (!entry) throw new Error('reply without a command');
        this.queue[this.head++] = undefined as unknown as Pending;
        if (this.head === this.queue.length) {
          this.queue = [];
          this.head = 0;
        } else if (this.head >= 1024 && this.head * 2 >= this.queue.length) {
          this.queue = this.queue.slice(this.head);
          this.head = 0;
        }
        if (entry.done) continue;
        entry.done = true;
        if (value instanceof RespError) entry.reject(new Error(value.message));
        else entry.resolve(value);
      }
    } catch (err) {
      // Not RESP, or more replies than commands: the stream cannot be trusted any more.
      socket.destroy(err as Error);
    }
  }

  private lost(socket: Socket, err: Error): void {
    if (this.socket !== socket) return;
    clearTimeout(this.connectTimer);
    this.socket = undefined;
    this.ready = false;
    socket.destroy();
    this.reader.reset();
    this.failAll(err);
    this.stopTicker();
    if (this.closed) return;
    this.options.onDown(err);
    this.reconnectTimer = setTimeout(() => this.connect(), this.options.reconnectDelay(this.retries++));
    this.reconnectTimer.unref();
  }

  private failAll(err: Error): void {
    const queue = this.queue;
    const head = this.head;
    this.queue = [];
    this.head = 0;
    for (let i = head; i < queue.length; i++) {
      const entry = queue[i] as Pending;
      if (entry.done) continue;
      entry.done = true;
      entry.reject(err);
    }
  }

  private startTicker(): void {
    if (this.ticker) return;
    this.ticker = setInterval(() => this.expire(), deadlineCheckEvery(this.options.timeoutMs));
    this.ticker.unref();
  }

  private stopTicker(): void {
    clearInterval(this.ticker);
    this.ticker = undefined;
  }

  /** Rejects commands past their deadline (oldest first: one timeout for all, so deadlines are in order). */
  private expire(): void {
    const now = Date.now();
    for (let i = this.head; i < this.queue.length; i++) {
      const entry = this.queue[i] as Pending;
      if (entry.done) continue;
      if (entry.deadline > now) return;
      entry.done = true;
      entry.reject(noReplyError(this.options.timeoutMs));
    }
    if (this.head >= this.queue.length) this.stopTicker();
  }
}

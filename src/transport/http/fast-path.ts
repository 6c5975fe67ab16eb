import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import {
  type HeadLimits,
  INCOMPLETE,
  OTHER,
  parseTrackerRequestHead,
  type TrackerRequestHead,
} from '../../protocol/http-request-head.js';

/**
 * Announces and scrapes without node:http. node:http costs more CPU per
 * connection (parser, IncomingMessage/ServerResponse, header objects, timers,
 * the shutdown-and-wait-for-FIN close) than the whole tracker work of an
 * announce, and most announces come on a connection of their own. So the
 * listening http.Server's 'connection' event comes here first: a connection
 * whose requests are plain `GET /announce?…` / `GET /scrape?…` heads (see
 * protocol/http-request-head.ts) is answered from the raw bytes; at the first
 * byte sequence that is anything else, the socket and the bytes not yet
 * consumed are handed to node:http's own connection handler, which then owns
 * the connection for good (stats pages, landing page, 400/404/405/414/431…).
 *
 * Slow clients: like node:http, a connection has `requestTimeout` to deliver a
 * request head (then 408) and `keepAliveTimeout` of idleness between requests;
 * one timer for all connections checks the deadlines.
 */

/** Produces the bencoded body for a request; never rejects (failures are bodies too). */
export type FastAnswer = (head: TrackerRequestHead, socket: Socket) => Promise<Buffer>;

export interface FastPathOptions {
  requestTimeout: number;
  keepAliveTimeout: number;
  /** Head bytes buffered before handing over to node:http (which answers 431 past its limit). */
  maxHeaderSize: number;
  /** Longest request target served here (node:http answers 414 past it). */
  maxUrlLength: number;
}

/** A head arriving in more reads than this goes to node:http, whose parser is incremental. */
const MAX_READS_PER_HEAD = 8;
/** Bytes read ahead (pipelined requests) while a request is in the store before reading pauses. */
const MAX_READ_AHEAD = 64 * 1024;
const TIMEOUT_408 = 'HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n';

export class HttpFastPath {
  private readonly connections = new Set<FastConnection>();
  private readonly httpConnectionListeners: ((socket: Socket) => void)[];
  private readonly sweeper: NodeJS.Timeout;
  private readonly headClose: string;
  private readonly headKeepAlive: string;
  readonly limits: HeadLimits;
  closing = false;

  constructor(
    readonly server: Server,
    readonly answer: FastAnswer,
    readonly options: FastPathOptions,
  ) {
    // node:http handles a connection in its 'connection' listener; we take its
    // place and call it for the connections we hand over.
    this.httpConnectionListeners = server.listeners('connection') as ((socket: Socket) => void)[];
    server.removeAllListeners('connection');
    server.on('connection', (socket: Socket) => this.connections.add(new FastConnection(this, socket)));
    this.sweeper = setInterval(() => this.sweep(), Math.min(1000, Math.max(50, options.requestTimeout / 2)));
    this.sweeper.unref();
    // Within node:http's limits, the answer would not differ; at the edges node:http decides.
    this.limits = { maxTarget: options.maxUrlLength, maxHead: options.maxHeaderSize };
    this.headClose = '\r\nConnection: close\r\n\r\n';
    this.headKeepAlive = `\r\nConnection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(options.keepAliveTimeout / 1000)}\r\n\r\n`;
  }

  /** Gives a socket and its unconsumed bytes to node:http, as if it had just connected. */
  handOver(conn: FastConnection, rest: Buffer | undefined): void {
    this.connections.delete(conn);
    const socket = conn.socket;
    conn.detach();
    if (socket.destroyed) return;
    socket.setNoDelay(true); // node:http's default, which this server's constructor turned off
    if (rest !== undefined && rest.length > 0) socket.unshift(rest);
    for (const listener of this.httpConnectionListeners) listener.call(this.server, socket);
    if (socket.isPaused()) socket.resume();
  }

  forget(conn: FastConnection): void {
    this.connections.delete(conn);
  }

  /** The full response: status line, the headers node:http sent for these answers, then the body. */
  response(body: Buffer, keepAlive: boolean): Buffer {
    const head = `HTTP/1.1 200 OK\r\nContent-Type: text/plain\r\nContent-Length: ${body.length}\r\nCache-Control: no-store\r\nDate: ${httpDate()}${keepAlive ? this.headKeepAlive : this.headClose}`;
    const out = Buffer.allocUnsafe(head.length + body.length);
    out.write(head, 0, 'latin1');
    body.copy(out, head.length);
    return out;
  }

  /** Closes connections waiting for a request now, and the others once their answer is out. */
  closeIdle(): void {
    this.closing = true;
    for (const conn of this.connections) if (!conn.busy) conn.destroy();
  }

  closeAll(): void {
    this.closing = true;
    for (const conn of this.connections) conn.destroy();
  }

  stop(): void {
    clearInterval(this.sweeper);
  }

  private sweep(): void {
    const now = Date.now();
    for (const conn of this.connections) {
      if (conn.socket.destroyed) this.connections.delete(conn);
      else if (!conn.busy && now >= conn.deadline) conn.expire();
    }
  }
}

/** One client connection while it is ours. Listeners are methods bound once per connection. */
class FastConnection {
  /** Received bytes not yet answered (a partial head, or pipelined requests). */
  private pending: Buffer | undefined;
  private readsForHead = 0;
  /** A request is with the core; reads wait in `pending`. */
  busy = false;
  /** Nothing buffered and no request in the store (a fresh connection is idle too, but its deadline is a request's). */
  private idle = true;
  /** No request answered yet. */
  private fresh = true;
  private peerEnded = false;
  private noDelay = false;
  deadline: number;

  constructor(
    private readonly fast: HttpFastPath,
    readonly socket: Socket,
  ) {
    this.deadline = Date.now() + fast.options.requestTimeout;
    socket.on('data', this.onData);
    socket.on('end', this.onEnd);
    // Resets and the like: the socket destroys itself; the sweep forgets it.
    socket.on('error', ignore);
  }

  detach(): void {
    this.socket.off('data', this.onData);
    this.socket.off('end', this.onEnd);
    this.socket.off('error', ignore);
  }

  destroy(): void {
    this.fast.forget(this);
    this.socket.destroy();
  }

  /** Deadline passed while not busy: idle keep-alive connections just close; a request not yet complete gets 408. */
  expire(): void {
    this.fast.forget(this);
    if (this.idle && !this.fresh) return void this.socket.destroy();
    this.detach();
    this.socket.on('error', ignore);
    this.socket.end(TIMEOUT_408, () => this.socket.destroy());
  }

  private readonly onData = (chunk: Buffer): void => {
    this.pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    if (this.busy) {
      if (this.pending.length > MAX_READ_AHEAD) this.socket.pause();
      return;
    }
    if (this.idle) {
      // A new request starts: it must arrive within requestTimeout.
      this.idle = false;
      if (!this.fresh) this.deadline = Date.now() + this.fast.options.requestTimeout;
    }
    this.readsForHead++;
    void this.serve();
  };

  private readonly onEnd = (): void => {
    this.peerEnded = true;
    // Whatever partial request is buffered will never complete; a request in
    // the store is answered first (serve() ends the connection after it).
    if (!this.busy) this.destroy();
  };

  /** Answers the complete requests in `pending`, one at a time, in order. */
  private async serve(): Promise<void> {
    const { socket, fast } = this;
    this.busy = true;
    try {
      while (this.pending !== undefined) {
        const buf = this.pending;
        const head = parseTrackerRequestHead(buf, 0, fast.limits);
        if (head === INCOMPLETE) {
          if (this.readsForHead >= MAX_READS_PER_HEAD) return this.handOver(buf);
          return; // wait for more bytes
        }
        if (head === OTHER) return this.handOver(buf);

        this.pending = head.end < buf.length ? buf.subarray(head.end) : undefined;
        this.readsForHead = 0;
        this.fresh = false;
        if (this.pending !== undefined && !this.noDelay) {
          // Pipelined requests: answers go out back to back; do not let Nagle hold the second one.
          this.noDelay = true;
          socket.setNoDelay(true);
        }
        const body = await fast.answer(head, socket);
        if (socket.destroyed) return void fast.forget(this);
        const keepAlive = head.keepAlive && !fast.closing && !this.peerEnded;
        socket.write(fast.response(body, keepAlive));
        if (!keepAlive) return this.finish();
        // The next request (pipelined, or still to come) has requestTimeout from now.
        this.deadline = Date.now() + fast.options.requestTimeout;
        if (socket.isPaused() && !socket.writableNeedDrain) socket.resume();
        if (socket.writableNeedDrain) {
          // The client is not reading its answers: stop reading its requests until it does.
          socket.pause();
          socket.once('drain', () => {
            if (!socket.destroyed) socket.resume();
          });
        }
      }
      this.idle = true;
      this.deadline = Date.now() + fast.options.keepAliveTimeout;
    } finally {
      this.busy = false;
    }
  }

  private handOver(buf: Buffer): void {
    this.pending = undefined;
    this.fast.handOver(this, buf);
  }

  /**
   * The last answer is written. When the kernel took all of it and the whole
   * request was read, close at once: the answer is in the kernel's send queue
   * and goes out before the FIN. Waiting for the client's FIN after a shutdown
   * (what node:http does) costs more syscalls and wakeups per connection. With
   * unread bytes, close() would send a reset that can destroy the answer at the
   * client, so then end gracefully and let the deadline collect the socket.
   */
  private finish(): void {
    const { socket } = this;
    if (this.pending === undefined && socket.writableLength === 0) return this.destroy();
    this.pending = undefined;
    this.detach();
    socket.on('error', ignore);
    socket.resume(); // discard whatever else comes
    this.deadline = Date.now() + this.fast.options.keepAliveTimeout;
    this.idle = true;
    socket.end();
  }
}

function ignore(): void {}

let dateSecond = -1;
let dateText = '';

/** The Date header value, formatted once a second (as node:http does). */
function httpDate(): string {
  const now = Date.now();
  const second = Math.floor(now / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

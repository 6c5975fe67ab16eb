import type { Server } from 'node:http';
import type { Socket } from 'node:net';
import { ErrorOnce, stderrLogger } from '../../logging/logger.js';
import {
  type HeadLimits,
  INCOMPLETE,
  OTHER,
  parseTrackerRequestHead,
  type TrackerRequestHead,
} from '../../protocol/http-request-head.js';
import { BENCODE_HEAD } from './bencode-response.js';
import {
  type AcceptedHandles,
  interceptAccept,
  loadTcpInternals,
  type TcpHandle,
  type TcpInternals,
  TESTED_NODE_MAJORS,
} from './tcp-handles.js';

/**
 * Announces and scrapes without node:http or net.Socket.
 *
 * node:http costs more CPU per connection (a Socket stream, the parser,
 * IncomingMessage/ServerResponse, header objects, timers, the
 * shutdown-and-wait-for-FIN close) than the whole tracker work of an
 * announce, and most announces come on a connection of their own. So the
 * listening http.Server's accepted connections come here first, as raw TCP
 * handles (tcp-handles.ts). A connection whose requests are plain
 * `GET /announce?…` / `GET /scrape?…` heads (protocol/http-request-head.ts)
 * is answered from the received bytes; at the first request that is anything
 * else, the handle and the bytes not yet answered are given to node:net and
 * node:http, which own the connection from then on (stats pages, the landing
 * page, 400/404/405/414/431…). Answers are byte for byte what node:http sent,
 * but for one case: an HTTP/1.0 request that asks for both `keep-alive` and
 * `close` is closed here (node:http keeps it open).
 *
 * Slow clients: like node:http, a connection has `headersTimeout` to deliver a
 * request head (then 408) and `keepAliveTimeout` of idleness between
 * requests; one timer for all connections checks the deadlines.
 *
 * The connections it holds count among the server's connections, as node:net's
 * Sockets do (`server.getConnections()`, `server.maxConnections`).
 *
 * It serves only where it was tested (TESTED_NODE_MAJORS in tcp-handles.ts),
 * unless forced; elsewhere node:http serves everything (`HttpFastPath.create`).
 */

/** `--http-fast-path`: on (the tested Node majors only), off, or 'force' (any major whose internals fit). */
export type FastPathSetting = boolean | 'force';

/** Which code answers HTTP announces and scrapes (/stats.json's `process.httpPath`). */
export type HttpPath = 'fast' | 'node:http';

/** Produces the bencoded body for a request; never rejects (failures are bodies too). */
export type FastAnswer = (head: TrackerRequestHead, remoteAddress: string | undefined) => Promise<Buffer>;

export interface FastPathOptions {
  /** Time to deliver a request head (node:http's headersTimeout; then 408). */
  headersTimeout: number;
  keepAliveTimeout: number;
  /** Head bytes served here (node:http answers 431 past its limit). */
  maxHeaderSize: number;
  /** Longest request target served here (node:http answers 414 past it). */
  maxUrlLength: number;
  /** A private tracker: `/announce/<passkey>` and `/scrape/<passkey>` are served here too. */
  passkeys?: boolean;
  /**
   * Decides on a new connection by its TCP peer's address
   * (--http-max-connections-per-ip): how to release its place, or undefined
   * to close it at once. Every connection is admitted without it.
   */
  admit?: (remoteAddress: string | undefined) => (() => void) | undefined;
  /** A connection handed over to node:net becomes `socket`: its place (from admit) goes with it. */
  adopt?: (socket: Socket, release: () => void) => void;
  /** Where internal errors go, once per cause a minute; standard error without it. */
  errors?: ErrorOnce;
}

/** A head arriving in more reads than this goes to node:http, whose parser is incremental. */
const MAX_READS_PER_HEAD = 8;
/** Unanswered bytes (pipelined requests) buffered before reading pauses. */
const MAX_READ_AHEAD = 64 * 1024;
/** Unsent answer bytes (a client not reading) before reading pauses. */
const MAX_WRITE_QUEUE = 64 * 1024;
let turnEnd: Promise<void> | undefined;
/**
 * Resolves at the end of the current event-loop turn (setImmediate), once for
 * every caller in the turn, so that their writes go out back to back. As with
 * UDP replies (transport/udp/reply-queue.ts): a write that finds its client
 * asleep wakes it, which on a virtual machine can cost more than the write;
 * written together, one wake-up serves several (figures in docs/benchmarks.md).
 */
function endOfTurn(): Promise<void> {
  if (!turnEnd) {
    turnEnd = new Promise((resolve) =>
      setImmediate(() => {
        turnEnd = undefined;
        resolve();
      }),
    );
  }
  return turnEnd;
}

const TIMEOUT_408 = Buffer.from('HTTP/1.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');

export class HttpFastPath {
  readonly limits: HeadLimits;
  closing = false;
  private readonly connections = new Set<FastConnection>();
  private readonly headClose = '\r\nConnection: close\r\n\r\n';
  private readonly headKeepAlive: string;
  private sweeper: NodeJS.Timeout | undefined;
  /** The listening handle's accepted connections, once start() took them over. */
  private accepted: AcceptedHandles | undefined;
  /** Bytes to put back into the Socket node:net is about to emit for a handed-over handle. */
  private handingOver: Buffer | undefined;
  /** The handed-over connection's place among its source's connections (admit), for the Socket. */
  private handingOverRelease: (() => void) | undefined;
  /**
   * True while a handle is being given to node:net, which emits it as a new
   * Socket on the server's 'connection' event within that call: listeners
   * that count connections know it was counted already.
   */
  inHandOver = false;
  private whenEmpty: (() => void) | undefined;

  constructor(
    private readonly server: Server,
    readonly answer: FastAnswer,
    readonly options: FastPathOptions,
    readonly io: TcpInternals,
  ) {
    // Within node:http's limits the answer would not differ; at the edges node:http decides.
    this.limits = {
      maxTarget: options.maxUrlLength,
      maxHead: options.maxHeaderSize,
      passkeys: options.passkeys ?? false,
    };
    this.headKeepAlive = `\r\nConnection: keep-alive\r\nKeep-Alive: timeout=${Math.floor(options.keepAliveTimeout / 1000)}\r\n\r\n`;
    // Runs after node:http's own 'connection' listener has set the socket up.
    server.on('connection', (socket: Socket) => {
      const rest = this.handingOver;
      const release = this.handingOverRelease;
      this.handingOver = undefined;
      this.handingOverRelease = undefined;
      // Adopted first: the unshift can parse the bytes and emit their request (an upgrade) at once.
      if (release !== undefined) options.adopt?.(socket, release);
      if (rest !== undefined && rest.length > 0) socket.unshift(rest);
    });
  }

  /**
   * Creates the fast path when the setting, the Node major (the running one
   * but in tests) and the runtime's internals allow it; `reason` says why it
   * will serve or why node:http serves instead (logged once at start).
   */
  static create(
    server: Server,
    answer: FastAnswer,
    options: FastPathOptions,
    setting: FastPathSetting,
    major: number,
  ): { fastPath: HttpFastPath | undefined; reason: string } {
    const tested = TESTED_NODE_MAJORS.includes(major);
    const majors = TESTED_NODE_MAJORS.join(', ');
    if (setting === false) return { fastPath: undefined, reason: '--http-fast-path off' };
    if (process.throwDeprecation) {
      return { fastPath: undefined, reason: 'node runs with --throw-deprecation, and process.binding is deprecated' };
    }
    if (setting !== 'force' && !tested) {
      const reason = `the fast path is tested on Node ${majors}, not on Node ${major} (--http-fast-path force tries it)`;
      return { fastPath: undefined, reason };
    }
    const io = loadTcpInternals();
    if (!io) return { fastPath: undefined, reason: `Node ${major}'s internals are not as the fast path expects` };
    const reason = tested
      ? `Node ${major} is one of the majors it is tested on (${majors})`
      : `forced (--http-fast-path force) on Node ${major}, which it is not tested on (${majors})`;
    return { fastPath: new HttpFastPath(server, answer, options, io), reason };
  }

  /** Call once the server listens: from then on its connections come here first. False: the server's handle does not fit. */
  start(): boolean {
    this.closing = false;
    this.accepted = interceptAccept(this.server, (client) => this.accept(client));
    if (!this.accepted) return false;
    const period = Math.min(1000, Math.max(50, this.options.headersTimeout / 2));
    this.sweeper = setInterval(() => this.sweep(), period);
    this.sweeper.unref();
    return true;
  }

  private accept(handle: TcpHandle): void {
    const conn = new FastConnection(this, handle);
    const admit = this.options.admit;
    if (admit !== undefined) {
      const release = admit(conn.remoteAddress());
      if (release === undefined) {
        // Its source is at its cap: closed before a byte is read (the client sees a reset or a close).
        handle.close();
        this.accepted?.release();
        return;
      }
      conn.release = release;
    }
    if (handle.readStart() !== 0) {
      conn.release?.();
      handle.close();
      this.accepted?.release();
      return;
    }
    this.connections.add(conn);
  }

  /** Gives a handle and its unanswered bytes to node:net/node:http, as if it had just connected. */
  handOver(conn: FastConnection, rest: Buffer | undefined): void {
    const accepted = this.accepted;
    if (accepted === undefined || this.closing) {
      this.forget(conn);
      return void conn.handle.close();
    }
    this.remove(conn);
    conn.handle.readStop();
    this.handingOver = rest;
    this.handingOverRelease = conn.release;
    this.inHandOver = true;
    try {
      accepted.giveBack(conn.handle); // its place in the server's connection count goes along
    } finally {
      // Not taken by a Socket (node:net closed the handle instead): nothing holds the place any more.
      const untaken = this.handingOverRelease;
      this.inHandOver = false;
      this.handingOver = undefined;
      this.handingOverRelease = undefined;
      untaken?.();
    }
  }

  /** A connection was closed: it leaves the fast path, the server's connection count and its source's. */
  forget(conn: FastConnection): void {
    this.remove(conn);
    conn.release?.();
    this.accepted?.release();
  }

  private remove(conn: FastConnection): void {
    this.connections.delete(conn);
    if (this.connections.size === 0 && this.whenEmpty) this.whenEmpty();
  }

  /** The full response: status line, the headers node:http sends for these answers, then the body. */
  response(body: Buffer, keepAlive: boolean): Buffer {
    const head = `${BENCODE_HEAD.before}${body.length}${BENCODE_HEAD.after}${httpDate()}${keepAlive ? this.headKeepAlive : this.headClose}`;
    const out = Buffer.allocUnsafe(head.length + body.length);
    out.write(head, 0, 'latin1');
    body.copy(out, head.length);
    return out;
  }

  /**
   * Shutting down: connections waiting for a request close now, the others
   * once their answer is out. Resolves when none is left or after `graceMs`
   * (then the rest is cut).
   */
  close(graceMs: number): Promise<void> {
    this.closing = true;
    if (this.sweeper) clearInterval(this.sweeper);
    this.sweeper = undefined;
    for (const conn of this.connections) conn.closeIfIdle();
    if (this.connections.size === 0) return Promise.resolve();
    return new Promise((resolve) => {
      const timer = setTimeout(() => {
        for (const conn of this.connections) conn.close();
      }, graceMs);
      timer.unref();
      this.whenEmpty = () => {
        clearTimeout(timer);
        this.whenEmpty = undefined;
        resolve();
      };
    });
  }

  private sweep(): void {
    const now = Date.now();
    for (const conn of this.connections) if (conn.state !== 'answering' && now >= conn.deadline) conn.expire();
  }
}

/**
 * Where a connection is in its life; the deadline means what the state says.
 * - `new`: connected, no byte of a request yet. At the deadline (headersTimeout): 408.
 * - `head`: part of a request head is in, the rest is awaited. At the deadline: 408.
 * - `answering`: serve() is at work: a request is with the core, received
 *   bytes wait in `pending`. No deadline.
 * - `idle`: every request answered, keep-alive. At the deadline (keepAliveTimeout): closed.
 * - `ending`: the last answer is written; it is going out, or we wait for the
 *   client's FIN. Bytes received are discarded. At the deadline: closed.
 * - `closed`: closed, or handed over to node:net.
 */
type ConnState = 'new' | 'head' | 'answering' | 'idle' | 'ending' | 'closed';

/**
 * The reading side: `paused` by us (pipelined bytes or unsent answers piling
 * up), or `ended` by the client's FIN (libuv stops reading at EOF).
 */
type ReadState = 'reading' | 'paused' | 'ended';

/** One client connection while it is ours. */
class FastConnection {
  state: ConnState = 'new';
  private input: ReadState = 'reading';
  /** Received bytes not yet answered (a partial head, or pipelined requests). */
  private pending: Buffer | undefined;
  private readsForHead = 0;
  private writesInFlight = 0;
  /** Nagle is off (set once, at the first pipelined request). */
  private noDelay = false;
  private peer: string | undefined | null = null;
  /** Gives back its place among its source's connections (FastPathOptions.admit). */
  release: (() => void) | undefined;
  deadline: number;

  constructor(
    private readonly fast: HttpFastPath,
    readonly handle: TcpHandle,
  ) {
    this.deadline = Date.now() + fast.options.headersTimeout;
    handle.onread = (buffer) => this.onRead(buffer);
  }

  /** A getter: the state read after an await is not the one TypeScript saw assigned before it. */
  private get closed(): boolean {
    return this.state === 'closed';
  }

  /** Shutting down: closes now unless a request is with the core or an answer is still being sent (then when it is done). */
  closeIfIdle(): void {
    if (this.state !== 'answering' && this.writesInFlight === 0) this.close();
  }

  close(): void {
    if (this.closed) return;
    this.state = 'closed';
    this.fast.forget(this);
    this.handle.close();
  }

  /** Deadline passed while not answering: idle keep-alive and ending connections just close; an unfinished request gets 408. */
  expire(): void {
    if (this.state === 'ending' || this.state === 'idle') return this.close();
    this.pending = undefined;
    this.end(TIMEOUT_408);
  }

  private onRead(buffer: ArrayBuffer | undefined): void {
    const { io } = this.fast;
    const nread = io.readResult();
    if (nread <= 0) {
      if (nread === 0) return;
      if (nread !== io.UV_EOF) return this.close(); // a reset
      // The client sent its FIN: a request in the store, or an answer on its
      // way out, is finished first (the client may still be reading).
      this.input = 'ended';
      if (this.state !== 'answering' && this.writesInFlight === 0) this.close();
      return;
    }
    const state = this.state;
    if (state === 'ending' || state === 'closed' || buffer === undefined) return; // a closing connection: discard
    const chunk = io.readBytes(buffer);
    this.pending = this.pending === undefined ? chunk : Buffer.concat([this.pending, chunk]);
    if (state === 'answering') {
      if (this.pending.length > MAX_READ_AHEAD) this.pauseReading();
      return;
    }
    // A new request starts on a keep-alive connection: its head must arrive within headersTimeout.
    if (state === 'idle') this.deadline = Date.now() + this.fast.options.headersTimeout;
    this.readsForHead++;
    void this.serve();
  }

  /** Answers the complete requests in `pending`, one at a time, in order. Never rejects. */
  private async serve(): Promise<void> {
    const { fast } = this;
    this.state = 'answering';
    try {
      while (this.pending !== undefined) {
        const buf = this.pending;
        const head = parseTrackerRequestHead(buf, 0, fast.limits);
        if (head === INCOMPLETE) {
          if (this.readsForHead >= MAX_READS_PER_HEAD) return this.handOver(buf);
          this.state = 'head';
          return this.resumeReading(); // wait for more bytes
        }
        if (head === OTHER) return this.handOver(buf);

        this.pending = head.end < buf.length ? buf.subarray(head.end) : undefined;
        this.readsForHead = 0;
        if (this.pending !== undefined && !this.noDelay) {
          // Pipelined requests: answers go out back to back; do not let Nagle hold the second one.
          this.noDelay = true;
          this.handle.setNoDelay(true);
        }
        const body = await fast.answer(head, this.remoteAddress());
        // Keep-alive answers leave together at the end of the turn (see endOfTurn); a
        // connection that closes gains nothing from it (its accept and FIN wake the client
        // anyway), and pipelined answers go out back to back without it.
        if (head.keepAlive && this.pending === undefined) await endOfTurn();
        if (this.closed) return;
        const keepAlive = head.keepAlive && !fast.closing && this.input !== 'ended';
        const answer = fast.response(body, keepAlive);
        if (!keepAlive) return this.end(answer);
        if (!this.write(answer)) return;
        // The next request (pipelined, or still to come) has headersTimeout from now.
        this.deadline = Date.now() + fast.options.headersTimeout;
      }
      this.state = 'idle';
      this.deadline = Date.now() + fast.options.keepAliveTimeout;
      this.resumeReading();
    } catch (err) {
      // A bug, not a client's doing: this connection goes, the process stays.
      (this.fast.options.errors ?? stderrErrors()).error('http fast path', err, 'internal error in the HTTP fast path');
      this.close();
    }
  }

  /** The TCP peer's address (one getpeername per connection). */
  remoteAddress(): string | undefined {
    if (this.peer === null) {
      const out: { address?: string } = {};
      this.peer = this.handle.getpeername(out) === 0 ? out.address : undefined;
    }
    return this.peer;
  }

  /** Queues bytes; false (and the connection closed) when the socket failed. */
  private write(data: Buffer): boolean {
    const status = this.fast.io.write(this.handle, data, (err) => this.onWriteDone(err));
    if (status < 0) {
      this.close();
      return false;
    }
    if (status === 1) {
      this.writesInFlight++;
      if (this.handle.writeQueueSize > MAX_WRITE_QUEUE) this.pauseReading();
    }
    return true;
  }

  private onWriteDone(status: number): void {
    this.writesInFlight--;
    if (this.closed) return;
    if (status < 0) return this.close();
    if (this.writesInFlight > 0) return;
    const answering = this.state === 'answering';
    if (this.fast.closing && !answering) return this.close(); // the answer is out: shutting down
    if (this.state === 'ending') this.finishEnding();
    else if (answering) return;
    else if (this.input === 'ended') this.close();
    else this.resumeReading();
  }

  /**
   * Writes the last bytes and closes. When the kernel took them at once and
   * the client sent nothing beyond the answered request, close right away:
   * the answer is in the send queue and goes out before the FIN. (node:http
   * shuts down and waits for the client's FIN: more syscalls and wakeups per
   * connection.) A client that sent more may still be sending, and data
   * arriving at a closed socket draws a reset that can destroy the answer at
   * the client; so then shut down, discard what comes, and close on the
   * client's FIN or at the keep-alive deadline.
   */
  private end(data: Buffer): void {
    const unread = this.pending !== undefined;
    this.pending = undefined;
    this.state = 'ending';
    this.deadline = Date.now() + this.fast.options.keepAliveTimeout;
    if (!this.write(data)) return;
    if (this.writesInFlight > 0) return; // finishEnding() once it is out
    if (!unread) return this.close();
    this.finishEnding();
  }

  private finishEnding(): void {
    if (this.input === 'ended') return this.close();
    this.resumeReading();
    if (this.fast.io.shutdown(this.handle, () => undefined) !== 0) this.close();
    // else: onRead closes on the client's FIN, the sweep at the deadline.
  }

  private pauseReading(): void {
    if (this.input !== 'reading') return;
    this.input = 'paused';
    this.handle.readStop();
  }

  private resumeReading(): void {
    if (this.input !== 'paused' || this.closed || this.handle.writeQueueSize > MAX_WRITE_QUEUE) return;
    this.input = 'reading';
    if (this.handle.readStart() !== 0) this.close();
  }

  private handOver(buf: Buffer): void {
    this.pending = undefined;
    this.state = 'closed';
    this.fast.handOver(this, buf);
  }
}

let dateSecond = -1;
let dateText = '';

/** The Date header value, formatted once a second (as node:http does). */
function httpDate(): string {
  const second = Math.floor(Date.now() / 1000);
  if (second !== dateSecond) {
    dateSecond = second;
    dateText = new Date(second * 1000).toUTCString();
  }
  return dateText;
}

let fallbackErrors: ErrorOnce | undefined;
/** For a fast path built without the transport's logger (unit tests): still once per cause. */
function stderrErrors(): ErrorOnce {
  fallbackErrors ??= new ErrorOnce(stderrLogger);
  return fallbackErrors;
}

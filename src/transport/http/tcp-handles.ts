import type { Server } from 'node:net';

/**
 * The libuv TCP handles under node:net, used directly by the HTTP fast path.
 *
 * Why: a net.Socket (a Duplex stream with its state objects, listeners and
 * timers) costs about as much CPU to create, read, write and destroy as a
 * whole announce in opentracker. Accepted connections are therefore taken
 * from the listening server's handle as raw handles; one that turns out not
 * to be a tracker request is given back to node:net, which wraps it in a
 * Socket exactly as it would have (and node:http takes it from there).
 *
 * These are Node internals (process.binding('stream_wrap'), the server
 * handle's `onconnection`, the server's connection count), not a public API.
 * `loadTcpInternals()` and `interceptAccept()` check their shape, which says
 * nothing about their behaviour: the fast path is therefore on by default
 * only on the Node majors in TESTED_NODE_MAJORS, the ones scripts/test.sh
 * runs the HTTP transport tests on. This module is the only place that knows
 * them.
 */

/**
 * The Node majors the fast path was tested on. scripts/test.sh runs the HTTP
 * transport tests under each of them (the machine's node, and the others
 * installed from npm's `node` package), and package.json's `engines` names
 * the same majors. On any other major node:http serves everything unless
 * `--http-fast-path force`.
 */
export const TESTED_NODE_MAJORS: readonly number[] = [20, 22, 24];

/** The running Node's major version. */
export function nodeMajor(): number {
  return Number.parseInt(process.versions.node, 10);
}

/** The part of node's internal TCPWrap the fast path uses. Methods return 0 or a negative libuv error. */
export interface TcpHandle {
  /** Must always be a function (node aborts on anything else). */
  onread: (this: TcpHandle, buffer: ArrayBuffer | undefined) => void;
  readStart(): number;
  readStop(): number;
  writeBuffer(req: WriteRequest, data: Buffer): number;
  shutdown(req: ShutdownRequest): number;
  getpeername(out: { address?: string }): number;
  setNoDelay(enable: boolean): number;
  close(callback?: () => void): void;
  /** Bytes libuv still holds for sending (kept up to date by node). */
  writeQueueSize: number;
}

export interface WriteRequest {
  handle: TcpHandle;
  oncomplete: (status: number) => void;
  async: boolean;
  /** Keeps the bytes alive while libuv sends them. */
  buffer: Buffer | null;
}

export interface ShutdownRequest {
  handle: TcpHandle;
  oncomplete: (status: number) => void;
}

interface StreamWrapBinding {
  WriteWrap: new () => WriteRequest;
  ShutdownWrap: new () => ShutdownRequest;
  streamBaseState: Int32Array;
  kReadBytesOrError: number;
  kArrayBufferOffset: number;
  kLastWriteWasAsync: number;
}

export interface TcpInternals {
  /** In a handle's onread: bytes read (> 0), or a negative libuv error (EOF included). */
  readResult(): number;
  /** In a handle's onread with readResult() > 0: the bytes, as a Buffer over node's read buffer. */
  readBytes(buffer: ArrayBuffer): Buffer;
  /** Sends `data`; 0 when the kernel took it all at once, 1 when libuv queued it (then `done` runs), or an error. */
  write(handle: TcpHandle, data: Buffer, done: (status: number) => void): number;
  /** Sends a FIN after the queued data; `done` runs when it went out. */
  shutdown(handle: TcpHandle, done: (status: number) => void): number;
  readonly UV_EOF: number;
}

let cached: TcpInternals | null | undefined;

export function loadTcpInternals(): TcpInternals | undefined {
  if (cached === undefined) cached = load() ?? null;
  return cached ?? undefined;
}

function load(): TcpInternals | undefined {
  // Under --pending-deprecation, process.binding warns (DEP0111); with
  // --throw-deprecation that warning is thrown later, outside any try, and
  // would take the process down: such a process is served by node:http.
  if (process.throwDeprecation) return undefined;
  let stream: StreamWrapBinding;
  let eof: number;
  try {
    const binding = (process as unknown as { binding(name: string): unknown }).binding;
    stream = binding('stream_wrap') as StreamWrapBinding;
    eof = (binding('uv') as { UV_EOF: number }).UV_EOF;
  } catch {
    return undefined;
  }
  const { WriteWrap, ShutdownWrap, streamBaseState: state } = stream;
  const { kReadBytesOrError, kArrayBufferOffset, kLastWriteWasAsync } = stream;
  if (
    typeof WriteWrap !== 'function' ||
    typeof ShutdownWrap !== 'function' ||
    !(state instanceof Int32Array) ||
    ![kReadBytesOrError, kArrayBufferOffset, kLastWriteWasAsync, eof].every(Number.isInteger)
  ) {
    return undefined;
  }
  return {
    UV_EOF: eof,
    readResult: () => state[kReadBytesOrError] as number,
    readBytes: (buffer) => Buffer.from(buffer, state[kArrayBufferOffset], state[kReadBytesOrError]),
    write(handle, data, done) {
      const req = new WriteWrap();
      req.handle = handle;
      req.oncomplete = done;
      req.async = false;
      req.buffer = null;
      const err = handle.writeBuffer(req, data);
      if (err !== 0) return err;
      if (state[kLastWriteWasAsync] === 0) return 0;
      req.async = true;
      req.buffer = data;
      return 1;
    },
    shutdown(handle, done) {
      const req = new ShutdownWrap();
      req.handle = handle;
      req.oncomplete = done;
      return handle.shutdown(req);
    },
  };
}

interface ListeningHandle {
  onconnection: (this: ListeningHandle, status: number, client: TcpHandle | undefined) => void;
}

/** The part of net.Server that counts its connections (getConnections(), maxConnections, close()). */
interface CountingServer {
  _handle?: ListeningHandle | null;
  /** Open connections: node:net adds one per Socket it creates and takes it off when the Socket is destroyed. */
  _connections: number;
  /** Emits 'close' once the server has stopped listening and no connection is left. */
  _emitCloseIfDrained(): void;
  maxConnections?: number;
}

/** What interceptAccept gives the fast path to manage the handles it takes. */
export interface AcceptedHandles {
  /**
   * Gives a handle back to node:net (which emits it as a Socket on the
   * server's 'connection' event); its place in the server's count goes with it.
   */
  giveBack(client: TcpHandle): void;
  /** A taken handle was closed: it no longer counts among the server's connections. */
  release(): void;
}

/**
 * Routes the listening server's accepted connections to `accept` as raw
 * handles. Each one counts among the server's connections as a Socket would
 * (`server.getConnections()`, `server.close()` waiting for it); at
 * `server.maxConnections` node:net gets the connection and drops it as usual.
 * Returns undefined when the server does not look as expected (then nothing
 * was changed).
 */
export function interceptAccept(server: Server, accept: (client: TcpHandle) => void): AcceptedHandles | undefined {
  const net = server as unknown as CountingServer;
  const listening = net._handle;
  const original = listening?.onconnection;
  if (
    !listening ||
    typeof original !== 'function' ||
    typeof net._connections !== 'number' ||
    typeof net._emitCloseIfDrained !== 'function'
  ) {
    return undefined;
  }
  listening.onconnection = function (status, client) {
    // Accept errors, anything unexpected and a server at its connection limit stay node:net's business.
    if (status !== 0 || client === undefined || typeof client.readStart !== 'function') {
      return original.call(this, status, client);
    }
    const max = net.maxConnections;
    if (typeof max === 'number' && net._connections >= max) return original.call(this, status, client);
    net._connections++;
    accept(client);
  };
  return {
    giveBack(client) {
      net._connections--; // node:net counts it again as it wraps it
      original.call(listening, 0, client);
    },
    release() {
      net._connections--;
      net._emitCloseIfDrained();
    },
  };
}

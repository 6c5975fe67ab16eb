/**
 * RESP2 (the Redis wire protocol) for the store's announce pipe (resp-pipe.ts):
 * a command encoder and an incremental reply reader. Pure: bytes in, values out.
 *
 * Values: integers as numbers, bulk and simple strings as Buffers (binary-safe;
 * views into the bytes read, not copies: never overwritten, but a small view
 * keeps the whole chunk it is in alive, so do not hold on to them),
 * nil as null, arrays as arrays, error replies as RespError. The same shapes
 * node-redis gives the store with its binary type mapping on a cluster.
 */

export type RespValue = number | Buffer | null | RespError | RespValue[];

/** An error reply (`-ERR …`, `-NOSCRIPT …`). A value, not a throw: the caller decides. */
export class RespError {
  constructor(readonly message: string) {}
}

/** Returned by RespReader.next() while the reply is not complete yet. */
export const INCOMPLETE: unique symbol = Symbol('incomplete');

const CR = 13;
const EMPTY = Buffer.alloc(0);

function digits(n: number): number {
  let d = 1;
  while (n >= 10) {
    n = Math.floor(n / 10);
    d++;
  }
  return d;
}

/** Writes `<type><n>\r\n` at `o` (no string per header: a batch has a few hundred arguments); returns the end. */
function writeHeader(out: Buffer, o: number, type: number, n: number): number {
  out[o] = type;
  let end = o + 1 + digits(n);
  for (let i = end - 1; i > o; i--) {
    out[i] = 0x30 + (n % 10);
    n = Math.floor(n / 10);
  }
  out[end++] = CR;
  out[end++] = 10;
  return end;
}

/** One command as a RESP array of bulk strings, in one Buffer (one socket write). Strings are UTF-8. */
export function encodeCommand(args: readonly (string | Buffer)[]): Buffer {
  const lengths = new Array<number>(args.length);
  let size = 1 + digits(args.length) + 2;
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string | Buffer;
    const len = typeof a === 'string' ? Buffer.byteLength(a) : a.length;
    lengths[i] = len;
    size += 1 + digits(len) + 2 + len + 2;
  }
  const out = Buffer.allocUnsafe(size);
  let o = writeHeader(out, 0, 0x2a, args.length);
  for (let i = 0; i < args.length; i++) {
    const a = args[i] as string | Buffer;
    o = writeHeader(out, o, 0x24, lengths[i] as number);
    if (typeof a === 'string') o += out.write(a, o, 'utf8');
    else o += a.copy(out, o);
    out[o++] = CR;
    out[o++] = 10;
  }
  return out;
}

/** A reply that is not RESP2 (a desynchronised or foreign stream): the connection must be dropped. */
export class RespProtocolError extends Error {}

/**
 * Reads replies from a byte stream that arrives in chunks. push() each chunk,
 * then call next() until it returns INCOMPLETE.
 *
 * A chunk that starts at a reply boundary is parsed in place. The bytes of a
 * reply split across chunks are gathered in a buffer of our own that grows by
 * doubling (so a reply of megabytes, numwant in the thousands, costs linear
 * copying, not a copy per chunk), and the reply is parsed again from its start
 * as bytes come: that skips over bulk contents by their lengths, so it costs
 * per element, not per byte. Bytes are only ever appended, never overwritten,
 * so views handed out stay valid.
 */
export class RespReader {
  /** The bytes to parse: the last chunk, or the filled start of `gather`. */
  private buf: Buffer = EMPTY;
  private pos = 0;
  /** Our gathering buffer while a reply spans chunks (then `buf` is a view of its start). */
  private gather: Buffer | undefined;

  push(chunk: Buffer): void {
    if (this.pos >= this.buf.length) {
      this.buf = chunk;
      this.pos = 0;
      this.gather = undefined;
      return;
    }
    let filled = this.buf.length;
    if (this.gather === undefined || filled + chunk.length > this.gather.length) {
      const live = filled - this.pos;
      const grown = Buffer.allocUnsafe(Math.max(2 * (live + chunk.length), 64 * 1024));
      this.buf.copy(grown, 0, this.pos);
      this.gather = grown;
      this.pos = 0;
      filled = live;
    }
    chunk.copy(this.gather, filled);
    // A view, so the parser never reads the gathering buffer's unfilled (uninitialised) end.
    this.buf = this.gather.subarray(0, filled + chunk.length);
  }

  /** Drops buffered bytes (after the connection was lost). */
  reset(): void {
    this.buf = EMPTY;
    this.pos = 0;
    this.gather = undefined;
  }

  /** The next complete reply, or INCOMPLETE. Throws RespProtocolError on bytes that are not RESP2. */
  next(): RespValue | typeof INCOMPLETE {
    const start = this.pos;
    const value = this.value();
    if (value === INCOMPLETE) this.pos = start;
    return value;
  }

  /** Index of the CR of the first CRLF at or after `from`, or -1 while the line is not complete. */
  private lineEnd(from: number): number {
    const cr = this.buf.indexOf(CR, from);
    if (cr < 0 || cr + 1 >= this.buf.length) return -1;
    return cr;
  }

  private integer(from: number, to: number): number {
    const buf = this.buf;
    let i = from;
    let sign = 1;
    if (buf[i] === 0x2d) {
      sign = -1;
      i++;
    }
    if (i >= to) throw new RespProtocolError('empty integer in reply');
    let n = 0;
    for (; i < to; i++) {
      const c = buf[i] as number;
      if (c < 0x30 || c > 0x39) throw new RespProtocolError('bad integer in reply');
      n = n * 10 + (c - 0x30);
    }
    return sign * n;
  }

  private value(): RespValue | typeof INCOMPLETE {
    const buf = this.buf;
    const p = this.pos;
    if (p >= buf.length) return INCOMPLETE;
    const cr = this.lineEnd(p + 1);
    if (cr < 0) return INCOMPLETE;
    const type = buf[p];
    switch (type) {
      case 0x3a: // ':' integer
        this.pos = cr + 2;
        return this.integer(p + 1, cr);
      case 0x24: {
        // '$' bulk string
        const len = this.integer(p + 1, cr);
        if (len < 0) {
          this.pos = cr + 2;
          return null;
        }
        const from = cr + 2;
        if (from + len + 2 > buf.length) return INCOMPLETE;
        this.pos = from + len + 2;
        return buf.subarray(from, from + len);
      }
      case 0x2a: {
        // '*' array
        const n = this.integer(p + 1, cr);
        this.pos = cr + 2;
        if (n < 0) return null;
        const out = new Array<RespValue>(n);
        for (let i = 0; i < n; i++) {
          const v = this.value();
          if (v === INCOMPLETE) return INCOMPLETE;
          out[i] = v;
        }
        return out;
      }
      case 0x2b: // '+' simple string
        this.pos = cr + 2;
        return buf.subarray(p + 1, cr);
      case 0x2d: // '-' error
        this.pos = cr + 2;
        return new RespError(buf.toString('utf8', p + 1, cr));
      default:
        throw new RespProtocolError(`unexpected byte 0x${(type ?? 0).toString(16)} in reply`);
    }
  }
}

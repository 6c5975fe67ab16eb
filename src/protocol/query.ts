import { ProtocolError } from '../errors.js';

/**
 * Byte-exact query-string decoding. info_hash and peer_id are 20 raw bytes,
 * percent-encoded; URLSearchParams/decodeURIComponent would read them as UTF-8
 * text and corrupt every byte >= 0x80, so we decode each `%XX` into one byte.
 * A bare `+` is a space (0x20), as in form encoding and as most trackers read it.
 * Keys may repeat (scrape sends `info_hash` several times).
 */
export type QueryParams = Map<string, Buffer[]>;

export function parseQuery(query: string): QueryParams {
  const params: QueryParams = new Map();
  if (query.length === 0) return params;
  let start = 0;
  while (start <= query.length) {
    let end = query.indexOf('&', start);
    if (end < 0) end = query.length;
    if (end > start) {
      const eq = query.indexOf('=', start);
      const hasValue = eq >= 0 && eq < end;
      const key = decodeKey(query, start, hasValue ? eq : end);
      const value = hasValue ? decodeComponent(query, eq + 1, end) : Buffer.alloc(0);
      const list = params.get(key);
      if (list) list.push(value);
      else params.set(key, [value]);
    }
    start = end + 1;
  }
  return params;
}

/** Keys are short plain words (`info_hash`, `port`…): slice them unless they carry an escape. */
function decodeKey(query: string, start: number, end: number): string {
  for (let i = start; i < end; i++) {
    const c = query.charCodeAt(i);
    if (c === 0x25 /* % */ || c === 0x2b /* + */ || c > 0xff)
      return decodeComponent(query, start, end).toString('latin1');
  }
  return query.slice(start, end);
}

function hexValue(code: number): number {
  if (code >= 0x30 && code <= 0x39) return code - 0x30;
  if (code >= 0x41 && code <= 0x46) return code - 0x41 + 10;
  if (code >= 0x61 && code <= 0x66) return code - 0x61 + 10;
  return -1;
}

/** Decodes query[start, end) into bytes. Characters above 0xFF cannot come from a raw URL. */
export function decodeComponent(query: string, start: number, end: number): Buffer {
  const out = Buffer.allocUnsafe(end - start);
  let n = 0;
  for (let i = start; i < end; i++) {
    const c = query.charCodeAt(i);
    if (c === 0x25 /* % */) {
      const hi = i + 2 < end ? hexValue(query.charCodeAt(i + 1)) : -1;
      const lo = i + 2 < end ? hexValue(query.charCodeAt(i + 2)) : -1;
      if (hi < 0 || lo < 0) {
        throw new ProtocolError('invalid_encoding', `invalid percent-encoding at "${query.slice(i, i + 3)}"`);
      }
      out[n++] = (hi << 4) | lo;
      i += 2;
    } else if (c === 0x2b /* + */) {
      out[n++] = 0x20;
    } else if (c > 0xff) {
      throw new ProtocolError('invalid_encoding', 'query contains a non-byte character');
    } else {
      out[n++] = c;
    }
  }
  return n === out.length ? out : out.subarray(0, n);
}

/** The last value of a key (clients that repeat a scalar key mean the last one). */
export function lastValue(params: QueryParams, key: string): Buffer | undefined {
  const list = params.get(key);
  return list === undefined ? undefined : list[list.length - 1];
}

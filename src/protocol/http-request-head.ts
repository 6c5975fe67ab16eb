/**
 * The HTTP/1.x request heads a tracker sees millions of times: `GET /announce?…`
 * and `GET /scrape?…` with a handful of plain headers. This parser recognises
 * exactly those, straight from the received bytes, and says `'other'` for
 * anything else (other methods and paths, bodies, upgrades, obs-folds, bare LF,
 * control characters…) so the caller can hand the bytes to a full HTTP server
 * whose answers (404, 405, 400, 414, 431…) stay the reference. Being strict
 * here costs nothing: an unusual request is only slower, never answered
 * differently.
 */

import { isPasskeyBytes } from './passkey.js';

export type TrackerRoute = 'announce' | 'scrape';

export interface TrackerRequestHead {
  route: TrackerRoute;
  /** Everything after `?` in the request target, one char per byte (latin1); never empty. */
  query: string;
  /** HTTP/1.1 without `Connection: close`, or HTTP/1.0 with `Connection: keep-alive`. */
  keepAlive: boolean;
  /** `/announce/<passkey>`, `/scrape/<passkey>` (only with HeadLimits.passkeys); undefined otherwise. */
  passkey: string | undefined;
  /** Header values as node:http reports them (trimmed, repeats joined with `, `); only these two are kept. */
  forwardedFor: string | undefined;
  realIp: string | undefined;
  /** Offset just past the blank line that ends the head (where a pipelined next request starts). */
  end: number;
}

/** Not all of the head has arrived yet. */
export const INCOMPLETE = 'incomplete';
/** A request this parser does not serve (or a malformed one): give it to the full HTTP server. */
export const OTHER = 'other';

export type ParsedHead = TrackerRequestHead | typeof INCOMPLETE | typeof OTHER;

const HEAD_END = Buffer.from('\r\n\r\n', 'latin1');
const GET = Buffer.from('GET /', 'latin1');
const CR = 0x0d;
const LF = 0x0a;
const SP = 0x20;
const HT = 0x09;

/** RFC 9110 tchar: the bytes a header name may contain. */
const TOKEN = new Uint8Array(128);
for (const c of "!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ") {
  TOKEN[c.charCodeAt(0)] = 1;
}

export interface HeadLimits {
  /** Longest request target served here (the full server answers 414 past its limit). */
  maxTarget: number;
  /** Largest head served here, blank line included (the full server answers 431 past its limit). */
  maxHead: number;
  /** A private tracker: `/announce/<passkey>` and `/scrape/<passkey>` are served here too (protocol/passkey.ts). */
  passkeys?: boolean;
}

/** Parses the request head starting at `start`. Heads over the limits are `'other'`. */
export function parseTrackerRequestHead(buf: Buffer, start: number, limits: HeadLimits): ParsedHead {
  // Decide early when the bytes cannot become a tracker request, so odd clients
  // (bare LF, other methods) are handed over at once instead of waiting for a
  // blank line that may never come in our format.
  const prefix = Math.min(GET.length, buf.length - start);
  for (let i = 0; i < prefix; i++) if (buf[start + i] !== GET[i]) return OTHER;
  const headEnd = buf.indexOf(HEAD_END, start);
  if (headEnd < 0) return hasBareLf(buf, start) || buf.length - start >= limits.maxHead ? OTHER : INCOMPLETE;
  if (headEnd + 4 - start >= limits.maxHead) return OTHER;

  // Request line: `GET <target> HTTP/1.x`, single spaces, CRLF.
  const lineEnd = buf.indexOf(CR, start);
  if (buf[lineEnd + 1] !== LF) return OTHER;
  const versionAt = lineEnd - 9; // ` HTTP/1.x`
  const targetStart = start + 4;
  if (versionAt <= targetStart || versionAt - targetStart > limits.maxTarget) return OTHER;
  const minor = httpMinorVersion(buf, versionAt);
  if (minor < 0) return OTHER;
  let question = -1;
  for (let i = targetStart; i < versionAt; i++) {
    const c = buf[i] as number;
    if (c <= SP || c >= 0x7f) return OTHER;
    if (c === 0x3f /* ? */ && question < 0) question = i;
  }
  if (question < 0 || question + 1 === versionAt) return OTHER; // no query: the landing page, a full scrape…
  let route = routeOf(buf, targetStart, question);
  let passkey: string | undefined;
  if (route === undefined) {
    if (!limits.passkeys) return OTHER;
    const keyed = keyedRouteOf(buf, targetStart, question);
    if (keyed === undefined) return OTHER;
    route = keyed.route;
    passkey = keyed.passkey;
  }

  // Header lines up to the blank line. The last header's CR is at headEnd.
  let sawHost = false;
  let close = false;
  let keepAliveToken = false;
  let forwardedFor: string | undefined;
  let realIp: string | undefined;
  let pos = lineEnd + 2;
  while (pos < headEnd + 2) {
    const eol = buf.indexOf(CR, pos);
    if (buf[eol + 1] !== LF) return OTHER;
    let colon = pos;
    while (colon < eol && (buf[colon] as number) < 128 && TOKEN[buf[colon] as number] === 1) colon++;
    if (colon === pos || colon === eol || buf[colon] !== 0x3a /* : */) return OTHER; // includes obs-fold
    let valueStart = colon + 1;
    let valueEnd = eol;
    for (let i = valueStart; i < valueEnd; i++) {
      const c = buf[i] as number;
      if ((c < SP && c !== HT) || c === 0x7f) return OTHER;
    }
    while (valueStart < valueEnd && isOws(buf[valueStart] as number)) valueStart++;
    while (valueEnd > valueStart && isOws(buf[valueEnd - 1] as number)) valueEnd--;

    switch (colon - pos) {
      case 4:
        if (nameIs(buf, pos, 'host')) sawHost = true;
        break;
      case 6:
        if (nameIs(buf, pos, 'expect')) return OTHER; // node:http answers 100-continue or 417
        break;
      case 7:
        if (nameIs(buf, pos, 'upgrade')) return OTHER;
        break;
      case 9:
        if (nameIs(buf, pos, 'x-real-ip')) realIp = joined(realIp, buf.toString('latin1', valueStart, valueEnd));
        break;
      case 10:
        if (nameIs(buf, pos, 'connection')) {
          for (const token of buf.toString('latin1', valueStart, valueEnd).toLowerCase().split(',')) {
            const t = token.trim();
            if (t === 'close') close = true;
            else if (t === 'keep-alive') keepAliveToken = true;
            else if (t === 'upgrade') return OTHER;
          }
        }
        break;
      case 14:
        if (nameIs(buf, pos, 'content-length')) return OTHER; // a body: not ours
        break;
      case 15:
        if (nameIs(buf, pos, 'x-forwarded-for')) {
          forwardedFor = joined(forwardedFor, buf.toString('latin1', valueStart, valueEnd));
        }
        break;
      case 17:
        if (nameIs(buf, pos, 'transfer-encoding')) return OTHER;
        break;
    }
    pos = eol + 2;
  }
  // node:http answers 400 to an HTTP/1.1 request without Host.
  if (minor === 1 && !sawHost) return OTHER;

  return {
    route,
    query: buf.toString('latin1', question + 1, versionAt),
    passkey,
    keepAlive: close ? false : minor === 1 || keepAliveToken,
    forwardedFor,
    realIp,
    end: headEnd + 4,
  };
}

/** 1 or 0 for ` HTTP/1.1` / ` HTTP/1.0` at `at`, else -1. */
function httpMinorVersion(buf: Buffer, at: number): number {
  if (
    buf[at] !== SP ||
    buf[at + 1] !== 0x48 ||
    buf[at + 2] !== 0x54 ||
    buf[at + 3] !== 0x54 ||
    buf[at + 4] !== 0x50 ||
    buf[at + 5] !== 0x2f ||
    buf[at + 6] !== 0x31 ||
    buf[at + 7] !== 0x2e
  ) {
    return -1;
  }
  const minor = buf[at + 8];
  return minor === 0x31 ? 1 : minor === 0x30 ? 0 : -1;
}

const ANNOUNCE = Buffer.from('/announce', 'latin1');
const SCRAPE = Buffer.from('/scrape', 'latin1');
const PHP = Buffer.from('.php', 'latin1');

/** `/announce`, `/announce.php`, `/scrape`, `/scrape.php` (exact, case-sensitive as the router is). */
function routeOf(buf: Buffer, start: number, end: number): TrackerRoute | undefined {
  if (startsWithAt(buf, start, end, ANNOUNCE))
    return suffixOk(buf, start + ANNOUNCE.length, end) ? 'announce' : undefined;
  if (startsWithAt(buf, start, end, SCRAPE)) return suffixOk(buf, start + SCRAPE.length, end) ? 'scrape' : undefined;
  return undefined;
}

/** `/announce/<passkey>`, `/scrape/<passkey>`: the route and the key, when the key is well-formed. */
function keyedRouteOf(buf: Buffer, start: number, end: number): { route: TrackerRoute; passkey: string } | undefined {
  for (const [lit, route] of [
    [ANNOUNCE, 'announce'],
    [SCRAPE, 'scrape'],
  ] as const) {
    const keyAt = start + lit.length + 1;
    if (!startsWithAt(buf, start, end, lit) || buf[keyAt - 1] !== 0x2f /* / */) continue;
    return isPasskeyBytes(buf, keyAt, end) ? { route, passkey: buf.toString('latin1', keyAt, end) } : undefined;
  }
  return undefined;
}

function suffixOk(buf: Buffer, at: number, end: number): boolean {
  return at === end || (end - at === PHP.length && startsWithAt(buf, at, end, PHP));
}

function startsWithAt(buf: Buffer, start: number, end: number, lit: Buffer): boolean {
  if (end - start < lit.length) return false;
  for (let i = 0; i < lit.length; i++) if (buf[start + i] !== lit[i]) return false;
  return true;
}

/** Case-insensitive compare of a header name (token bytes, so `| 0x20` only folds letters). */
function nameIs(buf: Buffer, start: number, lower: string): boolean {
  for (let i = 0; i < lower.length; i++) {
    if (((buf[start + i] as number) | 0x20) !== lower.charCodeAt(i)) return false;
  }
  return true;
}

function isOws(c: number): boolean {
  return c === SP || c === HT;
}

/** node:http joins repeated headers of these kinds with `, `. */
function joined(previous: string | undefined, value: string): string {
  return previous === undefined ? value : `${previous}, ${value}`;
}

function hasBareLf(buf: Buffer, start: number): boolean {
  for (let i = buf.indexOf(LF, start); i >= 0; i = buf.indexOf(LF, i + 1)) {
    if (i === start || buf[i - 1] !== CR) return true;
  }
  return false;
}

import { parseListText } from './list-text.js';

/**
 * Passkeys of a private tracker (`--private`): the secret each member's
 * announce URL carries, `/announce/<passkey>` and `/scrape/<passkey>` (HTTP
 * and WebSocket paths, and BEP 41 URL data over UDP). Pure: the syntax, the
 * paths, the keys file and what of a key may be shown.
 *
 * A passkey is 8 to 128 characters of A–Z, a–z, 0–9, `-` and `_`: what private
 * trackers hand out (usually 32 hex digits), safe in a URL path without
 * escaping and in a Redis hash tag.
 */

export const PASSKEY_MIN = 8;
export const PASSKEY_MAX = 128;

const KEY_CHAR = new Uint8Array(128);
for (const c of 'ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_') KEY_CHAR[c.charCodeAt(0)] = 1;

/** Whether `buf[start, end)` is a well-formed passkey. */
export function isPasskeyBytes(buf: Uint8Array, start: number, end: number): boolean {
  const length = end - start;
  if (length < PASSKEY_MIN || length > PASSKEY_MAX) return false;
  for (let i = start; i < end; i++) {
    const c = buf[i] as number;
    if (c >= 128 || KEY_CHAR[c] === 0) return false;
  }
  return true;
}

const PASSKEY_RE = new RegExp(`^[A-Za-z0-9_-]{${PASSKEY_MIN},${PASSKEY_MAX}}$`);

export function isPasskey(text: string): boolean {
  return PASSKEY_RE.test(text);
}

export type KeyedRoute = 'announce' | 'scrape';

/**
 * A request path → its route and passkey: `/announce` and `/scrape` (also
 * `.php`) have none; `/announce/<key>` and `/scrape/<key>` carry one. Any other
 * path, or a malformed key, is undefined (the router's 404).
 */
export function routeWithPasskey(path: string): { route: KeyedRoute; passkey: string | undefined } | undefined {
  for (const route of ['announce', 'scrape'] as const) {
    const base = `/${route}`;
    if (!path.startsWith(base)) continue;
    const rest = path.slice(base.length);
    if (rest === '' || rest === '.php') return { route, passkey: undefined };
    if (rest.startsWith('/') && isPasskey(rest.slice(1))) return { route, passkey: rest.slice(1) };
    return undefined;
  }
  return undefined;
}

/**
 * The passkey in a UDP announce's BEP 41 URL data (the path and query of the
 * URL the client was given, e.g. `/announce/<key>?x=1`), or undefined.
 */
export function passkeyFromUrlData(urlData: Uint8Array): string | undefined {
  let end = urlData.indexOf(0x3f /* ? */);
  if (end < 0) end = urlData.length;
  // Read off the bytes: one string per announce (the key), none for the path around it.
  const keyAt = ANNOUNCE_PREFIX.length;
  if (end <= keyAt) return undefined;
  for (let i = 0; i < keyAt; i++) if (urlData[i] !== ANNOUNCE_PREFIX[i]) return undefined;
  if (!isPasskeyBytes(urlData, keyAt, end)) return undefined;
  return Buffer.from(urlData.buffer, urlData.byteOffset, urlData.byteLength).toString('latin1', keyAt, end);
}

const ANNOUNCE_PREFIX = Buffer.from('/announce/', 'latin1');

/** What of a key may appear in a log line: its first four characters. */
export function maskPasskey(key: string): string {
  return `${key.slice(0, 4)}…`;
}

export interface PasskeyList {
  keys: Set<string>;
  /** `line N: why`, for the operator's log (never the key itself). */
  problems: string[];
}

/** The keys file (`--keys PATH`): one passkey per line; `#` starts a comment; blank lines are skipped. */
export function parsePasskeyList(text: string): PasskeyList {
  const { entries, problems } = parseListText(
    text,
    (line) => (isPasskey(line) ? line : undefined),
    `a passkey (${PASSKEY_MIN}–${PASSKEY_MAX} characters of A-Z, a-z, 0-9, - and _)`,
  );
  return { keys: entries, problems };
}

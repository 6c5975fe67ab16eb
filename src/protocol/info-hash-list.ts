import { parseListText } from './list-text.js';

/**
 * The text of an allow or deny list (`--allow-list PATH`, `--deny-list PATH`):
 * one info hash per line, as 40 hex digits, 32 base32 characters (as in
 * magnet links) or a magnet link (`magnet:?xt=urn:btih:…`). `#` starts a
 * comment; blank lines are skipped. A line that holds none of these is
 * reported with its number and skipped, so one typo does not empty the list.
 * Pure: text in, hashes and problems out.
 */

export interface InfoHashList {
  /** Each hash as a 20-char latin1 string (one char per byte): the key the access check looks up. */
  hashes: Set<string>;
  /** `line N: why`, for the operator's log. */
  problems: string[];
}

const BASE32 = 'ABCDEFGHIJKLMNOPQRSTUVWXYZ234567';

export function parseInfoHashList(text: string): InfoHashList {
  const { entries, problems } = parseListText(
    text,
    (line) => infoHashOf(line)?.toString('latin1'),
    'an info hash (40 hex digits, 32 base32 characters or a magnet link)',
  );
  return { hashes: entries, problems };
}

/** One entry → 20 bytes, or undefined. */
export function infoHashOf(entry: string): Buffer | undefined {
  if (entry.startsWith('magnet:')) {
    const m = /[?&]xt=urn:btih:([0-9A-Za-z]+)(?:&|$)/.exec(entry);
    return m ? infoHashOf(m[1] as string) : undefined;
  }
  if (/^[0-9a-fA-F]{40}$/.test(entry)) return Buffer.from(entry, 'hex');
  if (/^[A-Za-z2-7]{32}$/.test(entry)) return base32Decode(entry.toUpperCase());
  return undefined;
}

function base32Decode(text: string): Buffer {
  const out = Buffer.alloc(20);
  let bits = 0;
  let value = 0;
  let at = 0;
  for (const c of text) {
    value = (value << 5) | BASE32.indexOf(c);
    bits += 5;
    if (bits >= 8) {
      out[at++] = (value >>> (bits - 8)) & 0xff;
      bits -= 8;
    }
  }
  return out;
}

import type { OutgoingHttpHeaders } from 'node:http';

/**
 * The headers of every bencoded answer (announces, scrapes, failure reasons),
 * in the order they are sent, for both ways it leaves: node:http
 * (`bencodeHeaders`) and the fast path, which writes the head as bytes
 * (`BENCODE_HEAD`) and must send what node:http sends, byte for byte.
 * `undefined` stands for the body's length.
 */
const HEADERS: readonly (readonly [name: string, value: string | undefined])[] = [
  ['Content-Type', 'text/plain'],
  ['Content-Length', undefined],
  ['Cache-Control', 'no-store'],
];

/** For `res.writeHead(200, …)`: node:http writes them in this order, then `Date` and `Connection`. */
export function bencodeHeaders(length: number): OutgoingHttpHeaders {
  const out: OutgoingHttpHeaders = {};
  for (const [name, value] of HEADERS) out[name] = value ?? length;
  return out;
}

function headText(headers: typeof HEADERS): string {
  return headers.map(([name, value]) => `${name}: ${value}\r\n`).join('');
}

const LENGTH_AT = HEADERS.findIndex(([, value]) => value === undefined);

/**
 * The fast path's head of a 200 answer, as node:http writes it: `before`, the
 * body's length, `after`, then the `Date` value and the `Connection` lines.
 */
export const BENCODE_HEAD: { readonly before: string; readonly after: string } = {
  before: `HTTP/1.1 200 OK\r\n${headText(HEADERS.slice(0, LENGTH_AT))}${HEADERS[LENGTH_AT]?.[0]}: `,
  after: `\r\n${headText(HEADERS.slice(LENGTH_AT + 1))}Date: `,
};

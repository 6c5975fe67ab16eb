import { decodeBencode } from '../../src/protocol/bencode.js';

/** One response read off the wire. */
export interface FramedResponse {
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/**
 * Splits what a server sent on one connection into HTTP/1.x responses, and
 * says what is wrong when the bytes are not a sequence of complete responses
 * (a truncated head or body, a status line that is not one, chunked framing
 * that does not add up). A response without Content-Length or chunked
 * framing runs to the close, as RFC 9112 §6.3 says.
 */
export function frameResponses(
  bytes: Buffer,
  /** Some request was a HEAD: a response whose body is absent where its Content-Length says (the next response or the close follows its head) answered one. */
  sentHead = false,
): { responses: FramedResponse[]; error?: string } {
  const responses: FramedResponse[] = [];
  let pos = 0;
  while (pos < bytes.length) {
    const end = bytes.indexOf('\r\n\r\n', pos, 'latin1');
    if (end < 0) return { responses, error: `incomplete head at byte ${pos}` };
    const lines = bytes.toString('latin1', pos, end).split('\r\n');
    const m = /^HTTP\/1\.[01] (\d{3})(?: .*)?$/.exec(lines[0] ?? '');
    if (!m) return { responses, error: `not a status line: ${JSON.stringify(lines[0]?.slice(0, 80))}` };
    const headers = new Map<string, string>();
    for (const line of lines.slice(1)) {
      const colon = line.indexOf(':');
      if (colon <= 0) return { responses, error: `bad header line ${JSON.stringify(line.slice(0, 80))}` };
      headers.set(line.slice(0, colon).trim().toLowerCase(), line.slice(colon + 1).trim());
    }
    pos = end + 4;
    const status = Number(m[1]);
    const length = headers.get('content-length');
    let body: Buffer;
    if (headers.get('transfer-encoding')?.toLowerCase() === 'chunked') {
      const parts: Buffer[] = [];
      for (;;) {
        const lineEnd = bytes.indexOf('\r\n', pos, 'latin1');
        if (lineEnd < 0) return { responses, error: 'incomplete chunk size' };
        const size = Number.parseInt(bytes.toString('latin1', pos, lineEnd), 16);
        if (!Number.isFinite(size) || size < 0) return { responses, error: 'bad chunk size' };
        pos = lineEnd + 2;
        if (pos + size + 2 > bytes.length) return { responses, error: 'incomplete chunk' };
        parts.push(bytes.subarray(pos, pos + size));
        pos += size + 2;
        if (size === 0) break;
      }
      body = Buffer.concat(parts);
    } else if (
      length !== undefined &&
      sentHead &&
      (pos === bytes.length || bytes.toString('latin1', pos, pos + 7) === 'HTTP/1.')
    ) {
      body = Buffer.alloc(0); // the answer to a HEAD: headers alone (RFC 9110 §9.3.2)
    } else if (length !== undefined) {
      const n = Number(length);
      if (!/^\d+$/.test(length)) return { responses, error: `bad Content-Length ${length}` };
      if (pos + n > bytes.length) return { responses, error: `body cut short: ${bytes.length - pos} of ${n} bytes` };
      body = bytes.subarray(pos, pos + n);
      pos += n;
    } else if (status === 204 || status === 304 || (status >= 100 && status < 200)) {
      body = Buffer.alloc(0);
    } else {
      body = bytes.subarray(pos);
      pos = bytes.length;
    }
    responses.push({ status, headers, body });
  }
  return { responses };
}

/**
 * What a tracker's response must be: a bencoded 200 is one valid bencoded
 * dictionary (a reply or a `failure reason`); other answers are any HTTP status.
 */
export function checkTrackerResponse(r: FramedResponse): string | undefined {
  if (r.status < 100 || r.status > 599) return `status ${r.status}`;
  // Bencoded answers are `text/plain` without a charset (transport/http/bencode-response.ts).
  if (r.status === 200 && r.headers.get('content-type') === 'text/plain') {
    try {
      const v = decodeBencode(r.body);
      if (typeof v !== 'object' || v === null || Array.isArray(v) || Buffer.isBuffer(v)) return 'bencode is not a dict';
    } catch (err) {
      return `200 with a body that is not bencode: ${(err as Error).message}: ${JSON.stringify(r.body.toString('latin1', 0, 60))}`;
    }
  }
  return undefined;
}

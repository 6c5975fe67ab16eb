import type { IncomingMessage, ServerResponse } from 'node:http';

/**
 * The node:http answers that are not bencode (bencode-response.ts has those):
 * pages, JSON and plain-text statuses, for the HTTP transport and the stats
 * service alike. Pages and JSON are never cached and never sniffed; a HEAD
 * request gets the headers alone.
 */

const NOT_CACHED = { 'Cache-Control': 'no-store', 'X-Content-Type-Options': 'nosniff' } as const;

export function sendHtml(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  html: string,
  extra: Record<string, string> = {},
): void {
  res.writeHead(status, {
    'Content-Type': 'text/html; charset=utf-8',
    'Content-Length': Buffer.byteLength(html),
    ...NOT_CACHED,
    'Referrer-Policy': 'no-referrer',
    ...extra,
  });
  res.end(req.method === 'HEAD' ? undefined : html);
}

export function sendJson(
  req: IncomingMessage,
  res: ServerResponse,
  status: number,
  value: unknown,
  extra: Record<string, string> = {},
): void {
  if (res.headersSent || res.destroyed) return;
  const body = JSON.stringify(value);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(body),
    ...NOT_CACHED,
    ...extra,
  });
  res.end(req.method === 'HEAD' ? undefined : body);
}

export function sendText(res: ServerResponse, status: number, text: string): void {
  res.writeHead(status, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}

/** `<status> <text>` as the body of an error status (404, 405, …). */
export function sendStatus(res: ServerResponse, status: number, text: string): void {
  sendText(res, status, `${status} ${text}\n`);
}

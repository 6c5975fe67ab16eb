import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';

/** The exposition: its text and content type (Prometheus text format). */
export type MetricsText = () => Promise<{ text: string; contentType: string }>;

/** Answers `GET /metrics`; anything else is not this route's (returns false). */
export function serveMetrics(
  get: MetricsText,
): (req: IncomingMessage, res: ServerResponse, path: string, query: string) => boolean {
  return (req, res, path) => {
    if (path !== '/metrics') return false;
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('405 Method Not Allowed\n');
      return true;
    }
    get().then(
      ({ text, contentType }) => {
        if (res.destroyed) return;
        res.writeHead(200, {
          'Content-Type': contentType,
          'Content-Length': Buffer.byteLength(text),
          'Cache-Control': 'no-store',
        });
        res.end(req.method === 'HEAD' ? undefined : text);
      },
      (err: unknown) => {
        if (res.destroyed) return;
        const text = `metrics unavailable: ${(err as Error).message}\n`;
        res.writeHead(503, { 'Content-Type': 'text/plain; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
        res.end(text);
      },
    );
    return true;
  };
}

/**
 * `--metrics-port`: /metrics on a port of its own (bind it where only
 * Prometheus reaches), and a 404 for anything else.
 */
export async function listenMetrics(host: string, port: number, get: MetricsText): Promise<Server> {
  const route = serveMetrics(get);
  const server = createServer((req, res) => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    if (route(req, res, path, q >= 0 ? url.slice(q + 1) : '')) return;
    res.writeHead(404, { 'Content-Type': 'text/plain; charset=utf-8' });
    res.end('404 Not Found\n');
  });
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(port, host, () => {
      server.off('error', reject);
      resolve();
    });
  });
  return server;
}

export function boundPort(server: Server): number {
  return (server.address() as AddressInfo).port;
}

/**
 * Child process running webtorrent's bittorrent-tracker server (the reference
 * tracker in our language) with HTTP and UDP on one port, stats off, and its
 * WebSocket tracker on the HTTP port when a third argument `ws` is given (the
 * WebSocket bench), off otherwise. Installed by the bench into bench/.deps; imported by path because its
 * package pulls a WebRTC add-on we never load.
 *
 * Usage: node bt-server.js <deps dir> <port> [ws]; prints "ready" when listening.
 */
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';

interface BtServer {
  on(event: string, listener: (...args: unknown[]) => void): void;
  listen(port: { http: number; udp: number }, host: { http: string; udp: string; udp6: string }): void;
  close(cb?: () => void): void;
}

const [depsDir, portText, wsFlag] = process.argv.slice(2);
if (!depsDir || !portText) {
  console.error('usage: bt-server <deps dir> <port>');
  process.exit(2);
}
const port = Number(portText);
const url = pathToFileURL(join(depsDir, 'node_modules', 'bittorrent-tracker', 'server.js')).href;
const mod = (await import(url)) as { default: new (opts: Record<string, unknown>) => BtServer };
const server = new mod.default({
  http: true,
  udp: true,
  ws: wsFlag === 'ws',
  stats: false,
  // Its default keeps at most 1000 peers per swarm (an LRU): lift the cap so it
  // stores every peer like the other trackers and bytes/peer compare.
  peersCacheLength: 10_000_000,
  interval: 1_800_000,
});
let listening = 0;
server.on('listening', () => {
  // One 'listening' per socket (http, udp4, udp6).
  if (++listening === 3) console.log('ready');
});
server.on('error', (err) => {
  console.error('bt-server error:', err instanceof Error ? err.message : err);
});
server.on('warning', () => {
  // Client mistakes; the bench checks replies itself.
});
server.listen({ http: port, udp: port }, { http: '127.0.0.1', udp: '127.0.0.1', udp6: '::1' });
process.on('SIGTERM', () => server.close(() => process.exit(0)));

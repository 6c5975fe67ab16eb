// BitStorm embedded in an application's own HTTPS server: the HTTP tracker and
// the WebSocket (WebTorrent) tracker on the application's port, under /tracker/.
//
//   openssl req -x509 -newkey rsa:2048 -nodes -subj /CN=localhost -days 1 \
//     -keyout key.pem -out cert.pem
//   node examples/embed-https.mjs        # then wss://localhost:8443/tracker/announce
import { readFileSync } from 'node:fs';
import { createServer } from 'node:https';
import { createTracker } from '../dist/src/index.js';

const tracker = createTracker({ udpPort: 'off', stats: true });
await tracker.attach(); // the store is ready and WebSocket relaying runs

const server = createServer({ key: readFileSync('key.pem'), cert: readFileSync('cert.pem') }, (req, res) => {
  if (req.url?.startsWith('/tracker/')) {
    req.url = req.url.slice('/tracker'.length); // the tracker sees /announce, /scrape, /stats…
    return tracker.handleRequest(req, res);
  }
  res.writeHead(200, { 'content-type': 'text/plain' }).end('the application\n');
});
server.on('upgrade', (req, socket, head) => {
  if (!req.url?.startsWith('/tracker/')) return socket.destroy();
  req.url = req.url.slice('/tracker'.length);
  tracker.handleUpgrade(req, socket, head);
});
const port = Number(process.env.PORT ?? 8443);
server.listen(port, () => console.log(`https://localhost:${port}/tracker/stats, wss://localhost:${port}/tracker/announce`));

process.on('SIGINT', async () => {
  server.close();
  await tracker.close();
  process.exit(0);
});

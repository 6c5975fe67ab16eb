import { createHash, randomBytes } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { mkdtemp, rm } from 'node:fs/promises';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { createTracker, type Tracker } from '../../src/tracker.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';
import { type RedisServerHandle, startRedisServer } from '../helpers/redis-server.js';

/**
 * One WebTorrent transfer between two headless Chromium pages through
 * BitStorm's WebSocket tracker alone. Run by webtorrent-browser.test.ts inside
 * a network namespace with only `lo` up (so ICE offers loopback candidates
 * only, and nothing can reach beyond this machine); prints one JSON line with
 * what happened. argv: the webtorrent bundle, the deployment, the file size
 * in bytes. Deployments: 'memory' (one tracker); 'redis-two-nodes' (a
 * redis-server of its own and two trackers on it: the seeder's page announces
 * to one, the leecher's to the other, so every offer and answer crosses
 * between tracker nodes over Redis).
 */

// The functions passed to page.evaluate run in the browser; the project compiles
// without the DOM library, so they see the page's globals through this.
declare const window: {
  WebTorrent: new (opts: unknown) => WebTorrentClient;
  crypto: { subtle: { digest(alg: string, data: ArrayBuffer | Uint8Array): Promise<ArrayBuffer> } };
};
interface WebTorrentFile {
  arrayBuffer(): Promise<ArrayBuffer>;
}
interface WebTorrentTorrent {
  magnetURI: string;
  files: WebTorrentFile[];
  on(event: string, cb: (arg?: unknown) => void): void;
}
interface WebTorrentClient {
  seed(file: unknown, opts: unknown, cb: (t: WebTorrentTorrent) => void): void;
  add(magnet: string, opts: unknown, cb: (t: WebTorrentTorrent) => void): void;
  on(event: string, cb: (err: unknown) => void): void;
}
declare const File: new (parts: unknown[], name: string) => unknown;
declare function atob(data: string): string;

const [bundlePath, deployment, sizeArg] = process.argv.slice(2) as [string, string, string];
if (deployment === undefined) {
  // `node --test dist/test/` loads every file under test/, this one too, without
  // arguments: it is only a child of webtorrent-browser.test.ts.
  process.exit(0);
}
const size = Number(sizeArg);
const WAIT_MS = 45_000;
const log: string[] = [];

let redis: RedisServerHandle | undefined;
const trackers: Tracker[] = [];
const options = { host: '127.0.0.1', port: 0, udpPort: 'off' as const, quiet: true, stats: false };
if (deployment === 'memory') {
  trackers.push(createTracker(options));
} else if (deployment === 'redis-two-nodes') {
  redis = await startRedisServer();
  trackers.push(createTracker({ ...options, redisUrl: redis.url }), createTracker({ ...options, redisUrl: redis.url }));
} else {
  throw new Error(`unknown deployment ${deployment}`);
}
const urls: string[] = [];
for (const t of trackers) urls.push(`ws://127.0.0.1:${(await t.listen()).http.port}/announce`);
const seederAnnounce = urls[0] as string;
const leecherAnnounce = urls[urls.length - 1] as string;

// The page and the bundle, from the webtorrent npm package (no CDN).
const bundle = readFileSync(bundlePath);
const page = `<!doctype html><meta charset="utf-8"><title>webtorrent</title>
<script type="module">
import WebTorrent from '/webtorrent.min.js';
window.WebTorrent = WebTorrent;
document.title = 'ready';
</script>`;
const pages = createServer((req, res) => {
  if (req.url === '/webtorrent.min.js') {
    res.writeHead(200, { 'content-type': 'text/javascript' }).end(bundle);
  } else if (req.url === '/favicon.ico') {
    res.writeHead(204).end();
  } else if (req.url === '/') {
    res.writeHead(200, { 'content-type': 'text/html' }).end(page);
  } else {
    res.writeHead(404).end();
  }
});
pages.listen(0, '127.0.0.1');
await new Promise((resolve) => pages.once('listening', resolve));
const pagesUrl = `http://127.0.0.1:${(pages.address() as AddressInfo).port}/`;

const profile = await mkdtemp(join(tmpdir(), 'bitstorm-webtorrent-'));
let context: BrowserContext | undefined;
const started = Date.now();
try {
  context = await chromium.launchPersistentContext(profile, {
    executablePath: CHROMIUM,
    headless: true,
    timeout: WAIT_MS,
    // Without camera/microphone permission Chromium gathers no host ICE candidates.
    permissions: ['camera', 'microphone'],
    args: [
      ...CHROMIUM_ARGS,
      // WebRTC over 127.0.0.1: Chromium leaves loopback out of ICE otherwise.
      '--allow-loopback-in-peer-connection',
    ],
  });
  const browser = context;
  const open = async (name: string): Promise<Page> => {
    const p = await browser.newPage();
    p.setDefaultTimeout(WAIT_MS);
    p.on('console', (m) => log.push(`${name} console.${m.type()}: ${m.text()}`));
    p.on('pageerror', (e) => log.push(`${name} pageerror: ${e.message}`));
    await p.goto(pagesUrl);
    await p.waitForFunction(
      () => (globalThis as unknown as { document: { title: string } }).document.title === 'ready',
    );
    return p;
  };
  const seederPage = await open('seeder');
  const leecherPage = await open('leecher');

  const data = randomBytes(size);
  const seeded = (await seederPage.evaluate(
    async ({ bytes, announce }) => {
      const client = new window.WebTorrent({
        dht: false,
        lsd: false,
        utPex: false,
        tracker: { rtcConfig: { iceServers: [] } },
      });
      client.on('error', (e) => console.error(String(e)));
      const raw = atob(bytes);
      const array = new Uint8Array(raw.length);
      for (let i = 0; i < raw.length; i++) array[i] = raw.charCodeAt(i);
      const file = new File([array], 'bitstorm-e2e.bin');
      return new Promise<{ magnet: string }>((resolve) => {
        client.seed(file, { announce: [announce], private: false }, (t) => resolve({ magnet: t.magnetURI }));
      });
    },
    { bytes: data.toString('base64'), announce: seederAnnounce },
  )) as { magnet: string };
  log.push(`seeded: ${seeded.magnet}`);

  const downloaded = (await leecherPage.evaluate(
    async ({ magnet, announce, waitMs }) => {
      const client = new window.WebTorrent({
        dht: false,
        lsd: false,
        utPex: false,
        tracker: { rtcConfig: { iceServers: [] } },
      });
      client.on('error', (e) => console.error(String(e)));
      return new Promise<{ sha256: string; bytes: number }>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('download not done in time')), waitMs);
        client.add(magnet, { announce: [announce] }, (t) => {
          t.on('wire', () => console.log('wire'));
          t.on('done', async () => {
            clearTimeout(timer);
            const buf = await (t.files[0] as WebTorrentFile).arrayBuffer();
            const digest = new Uint8Array(await window.crypto.subtle.digest('SHA-256', buf));
            resolve({
              sha256: [...digest].map((b) => b.toString(16).padStart(2, '0')).join(''),
              bytes: buf.byteLength,
            });
          });
        });
      });
    },
    // The magnet without its tr= (the seeder's tracker): the leecher knows only its own.
    { magnet: seeded.magnet.replace(/&tr=[^&]*/g, ''), announce: leecherAnnounce, waitMs: WAIT_MS - 10_000 },
  )) as { sha256: string; bytes: number };

  const stats = {
    perNode: trackers.map((t) => ({ ...t.ws?.counters })),
    totals: await (trackers[0] as Tracker).store.webrtc.totals(),
  };
  console.log(
    JSON.stringify({
      ok: true,
      expectedSha256: createHash('sha256').update(data).digest('hex'),
      ...downloaded,
      ms: Date.now() - started,
      stats,
      log,
    }),
  );
} catch (err) {
  console.log(JSON.stringify({ ok: false, error: err instanceof Error ? err.message : String(err), log }));
} finally {
  await context?.close().catch(() => undefined);
  await rm(profile, { recursive: true, force: true });
  pages.close();
  for (const t of trackers) await t.close();
  await redis?.stop();
}

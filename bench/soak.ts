import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { mkdtempSync } from 'node:fs';
import { get as httpGet } from 'node:http';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { encodeUdpAnnounceRequest, encodeUdpConnectRequest, parseUdpReply } from '../src/protocol/udp-client-codec.js';
import { encodeBytes } from '../test/helpers/http-tracker-client.js';
import { rssBytes } from './proc.js';
import { killAll, startBitstorm, startOpentracker } from './trackers.js';

/**
 * `npm run soak -- [--minutes M] [--rate R] [--torrents T] [--redis] [--http] [--args "…"] [--node-args "…"]
 * [--tracker opentracker]`: BitStorm (the real CLI; or opentracker, to tell the
 * load generator's own stalls from the tracker's) under a steady UDP (or HTTP) announce load for a bounded time, the
 * latency of each announce measured from its send to its reply, reported per
 * 10-second window (p50, p99, max), with the tracker's RSS. It ends with the
 * two figures issue 15 asks of a soak: the last minute's p99 against the
 * first's, and the worst window's p99.
 *
 * Clients: 20,000 peers over `torrents` torrents (Zipf-like: torrent i gets
 * weight 1/(i+1)), each announcing on its own schedule; a connection id is
 * fetched once per 60 s (they are valid for about two minutes).
 */

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(name);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}

const minutes = Number(arg('--minutes', '10'));
const rate = Number(arg('--rate', '2000'));
const torrents = Number(arg('--torrents', '10000'));
const redis = process.argv.includes('--redis');
/** Announce over HTTP, one connection per announce (as most clients do), instead of UDP. */
const http = process.argv.includes('--http');
/** Extra flags for the tracker (e.g. "--stats off") and for node (e.g. "--trace-gc"). */
const extraArgs = arg('--args', '').split(/\s+/).filter(Boolean);
const nodeArgs = arg('--node-args', '').split(/\s+/).filter(Boolean);
/** `opentracker`: the same load against opentracker (C), whose latency shows what the generator itself adds. */
const target = arg('--tracker', 'bitstorm');
const WINDOW_MS = 10_000;

function quantile(sorted: number[], q: number): number {
  if (sorted.length === 0) return 0;
  return sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))] as number;
}

function torrentHash(i: number): Buffer {
  const infoHash = Buffer.alloc(20);
  infoHash.writeUInt32BE(i, 0);
  return infoHash;
}

const tracker =
  target === 'opentracker'
    ? await startOpentracker(
        'opentracker',
        Array.from({ length: torrents }, (_, i) => torrentHash(i)),
        mkdtempSync(join(tmpdir(), 'bitstorm-soak-')),
      )
    : await startBitstorm({
        repoRoot: resolve(dirname(fileURLToPath(import.meta.url)), '..', '..'),
        redis,
        workers: 1,
        extraArgs,
        nodeArgs,
      });
const socket = createSocket('udp4');
socket.bind(0, '127.0.0.1');
await once(socket, 'listening');

const weights: number[] = [];
let total = 0;
for (let i = 0; i < torrents; i++) {
  total += 1 / (i + 1);
  weights.push(total);
}
function pickTorrent(): number {
  const x = Math.random() * total;
  let lo = 0;
  let hi = weights.length - 1;
  while (lo < hi) {
    const mid = (lo + hi) >> 1;
    if ((weights[mid] as number) < x) lo = mid + 1;
    else hi = mid;
  }
  return lo;
}
const PEERS = 20_000;
const peerTorrent = Array.from({ length: PEERS }, () => pickTorrent());

let connectionId: Buffer | undefined;
const sentAt = new Map<number, number>();
let txid = 1;
let lost = 0;
let errors = 0;
let window: number[] = [];
socket.on('message', (m: Buffer) => {
  const reply = parseUdpReply(m);
  if (reply.action === 'connect') {
    connectionId = reply.connectionId;
    return;
  }
  const t = sentAt.get(reply.transactionId);
  if (t === undefined) return;
  sentAt.delete(reply.transactionId);
  if (reply.action === 'error') errors++;
  window.push(performance.now() - t);
});
/** One HTTP announce on a connection of its own; the reply is checked for bencode's leading `d`. */
function sendHttp(id: number, infoHash: Buffer, peerId: Buffer, peer: number): void {
  const path = `/announce?info_hash=${encodeBytes(infoHash)}&peer_id=${encodeBytes(peerId)}&port=${1024 + (peer % 60_000)}&uploaded=0&downloaded=0&left=${peer % 3 === 0 ? 0 : 1000}&compact=1&numwant=50`;
  const req = httpGet(
    { host: '127.0.0.1', port: tracker.port, path, agent: false, headers: { connection: 'close' } },
    (res) => {
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () => {
        const t = sentAt.get(id);
        if (t === undefined) return;
        sentAt.delete(id);
        const body = Buffer.concat(chunks);
        if (res.statusCode !== 200 || body[0] !== 0x64 || body.includes('failure reason')) errors++;
        window.push(performance.now() - t);
      });
    },
  );
  req.on('error', () => undefined); // counted as lost after 2 s
}

const connect = (): void => socket.send(encodeUdpConnectRequest(0x7fff0000), tracker.port, '127.0.0.1');
connect();
const reconnect = setInterval(connect, 60_000);
while (!connectionId) await new Promise((r) => setTimeout(r, 10));

const started = performance.now();
const end = started + minutes * 60_000;
let due = 0;
const rows: { p50: number; p99: number; max: number; n: number; rss: number }[] = [];
let windowStart = started;
console.log(
  `soak: ${tracker.name}, ${minutes} min at ${rate} ${http ? 'HTTP' : 'UDP'} announces/s, ${torrents} torrents${target === 'opentracker' ? '' : `, ${redis ? 'Redis' : 'memory'} store`}`,
);
console.log('window  announces  p50 ms  p99 ms  max ms  RSS MiB');
const sender = setInterval(() => {
  const now = performance.now();
  const target = Math.floor(((now - started) / 1000) * rate);
  for (; due < target; due++) {
    const peer = due % PEERS;
    const infoHash = torrentHash(peerTorrent[peer] as number);
    const peerId = Buffer.alloc(20, 0x2d);
    peerId.writeUInt32BE(peer, 16);
    const id = txid++ & 0x7fffffff;
    sentAt.set(id, performance.now());
    if (http) {
      sendHttp(id, infoHash, peerId, peer);
      continue;
    }
    socket.send(
      encodeUdpAnnounceRequest({
        connectionId: connectionId as Buffer,
        transactionId: id,
        infoHash,
        peerId,
        left: peer % 3 === 0 ? 0 : 1000,
        numWant: 50,
        port: 1024 + (peer % 60_000),
      }),
      tracker.port,
      '127.0.0.1',
    );
  }
  // Replies not back within 2 s are lost.
  for (const [id, t] of sentAt) {
    if (now - t < 2000) break;
    sentAt.delete(id);
    lost++;
  }
  if (now - windowStart >= WINDOW_MS) {
    const sorted = window.sort((a, b) => a - b);
    const row = {
      n: sorted.length,
      p50: quantile(sorted, 0.5),
      p99: quantile(sorted, 0.99),
      max: sorted[sorted.length - 1] ?? 0,
      rss: rssBytes(tracker.trackerPids()) / 2 ** 20,
    };
    rows.push(row);
    console.log(
      `${String(rows.length).padStart(6)}  ${String(row.n).padStart(9)}  ${row.p50.toFixed(2).padStart(6)}  ${row.p99.toFixed(2).padStart(6)}  ${row.max.toFixed(1).padStart(6)}  ${row.rss.toFixed(1).padStart(7)}`,
    );
    window = [];
    windowStart = now;
  }
  if (now >= end) finish();
}, 5);

function finish(): void {
  clearInterval(sender);
  clearInterval(reconnect);
  socket.close();
  const perMinute = Math.max(1, Math.round(60_000 / WINDOW_MS));
  const firstP99 = Math.max(...rows.slice(0, perMinute).map((r) => r.p99));
  const lastP99 = Math.max(...rows.slice(-perMinute).map((r) => r.p99));
  const worst = Math.max(...rows.map((r) => r.p99));
  console.log(
    `soak: first minute p99 ${firstP99.toFixed(2)} ms, last minute ${lastP99.toFixed(2)} ms (${(lastP99 / firstP99).toFixed(2)}x), worst 10-s window p99 ${worst.toFixed(2)} ms; lost ${lost}, error replies ${errors}; RSS ${rows[0]?.rss.toFixed(1)} -> ${rows[rows.length - 1]?.rss.toFixed(1)} MiB`,
  );
  void tracker.stop().then(() => {
    killAll();
    process.exit(0);
  });
}

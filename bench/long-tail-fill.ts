/**
 * What the long tail costs the memory store itself, without sockets, run by
 * hand (it is not part of `npm run bench`):
 *
 *   npx tsc -p . && node --expose-gc dist/bench/long-tail-fill.js [torrents] [checkout]
 *
 * Announces `torrents` torrents (default 1,000,000) of one to three peers,
 * P(k) ∝ k^-1.7 as the long-tail bench (bench/long-tail.ts), every peer
 * started once in a seeded random order, straight into a MemoryStore in this
 * process; then prints the time the announces took, the RSS growth per
 * torrent just after them and after full garbage collections, the V8 heap,
 * and how many torrents ended in each form. `ONE_PEER=1` gives every torrent
 * one peer instead.
 *
 * `checkout` is another checkout's root with its own `dist/` (another commit's
 * build, e.g. a `git worktree`), so two versions run the same code; run them
 * one after the other, as the 2-core test machine's figures drift.
 */
import { readFileSync } from 'node:fs';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { getHeapSpaceStatistics } from 'node:v8';
import type { MemoryStoreOptions, MemoryStore as Store } from '../src/store/memory/memory-store.js';
import { storeAnnounce } from '../test/helpers/store-announce.js';

const torrents = Number(process.argv[2] ?? 1_000_000);
const root = process.argv[3] ? `${pathToFileURL(resolve(process.argv[3])).href}/dist/` : '../';
const { MemoryStore } = (await import(`${root}src/store/memory/memory-store.js`)) as {
  MemoryStore: new (options: MemoryStoreOptions) => Store;
};
const gc = (globalThis as { gc?: () => void }).gc;
if (!gc) throw new Error('run with node --expose-gc');

const rss = (): number => Number(readFileSync('/proc/self/statm', 'utf8').split(' ')[1]) * 4096;
let seed = 12345;
const random = (): number => {
  seed = (Math.imul(seed, 1103515245) + 12345) >>> 0;
  return seed / 2 ** 32;
};

// Peers per torrent, then every peer (torrent, index in it) in a random order.
const weights = [1, 2 ** -1.7, 3 ** -1.7];
const wsum = weights.reduce((a, b) => a + b, 0);
const peersOf = new Uint8Array(torrents);
let peers = 0;
for (let t = 0; t < torrents; t++) {
  let u = random() * wsum;
  let k = 1;
  while (process.env.ONE_PEER !== '1' && k < 3 && u >= (weights[k - 1] as number)) u -= weights[k++ - 1] as number;
  peersOf[t] = k;
  peers += k;
}
const torrentOf = new Uint32Array(peers);
const indexOf = new Uint8Array(peers);
for (let t = 0, m = 0; t < torrents; t++) {
  for (let j = 0; j < (peersOf[t] as number); j++, m++) {
    torrentOf[m] = t;
    indexOf[m] = j;
  }
}
for (let i = peers - 1; i > 0; i--) {
  const j = Math.floor(random() * (i + 1));
  [torrentOf[i], torrentOf[j]] = [torrentOf[j] as number, torrentOf[i] as number];
  [indexOf[i], indexOf[j]] = [indexOf[j] as number, indexOf[i] as number];
}

let clock = 1_700_000_000_000;
const store = new MemoryStore({ peerTtlMs: 3_600_000, now: () => clock, backgroundSweep: false });
const ipv4 = Buffer.alloc(6);
const req = storeAnnounce({ event: 'started', infoHash: Buffer.alloc(20), peerId: Buffer.alloc(20), ipv4 });
gc();
const before = rss();
const t0 = performance.now();
for (let m = 0; m < peers; m++) {
  req.infoHash.writeUInt32LE(torrentOf[m] as number, 0);
  req.infoHash.writeUInt32LE(0xabcdef, 4);
  req.peerId.writeUInt32LE(m, 0);
  req.peerId.writeUInt32LE(indexOf[m] as number, 4);
  ipv4.writeUInt32BE(0x0a000000 + (m & 0xffffff), 0);
  ipv4.writeUInt16BE(6881, 4);
  req.seeder = random() < 0.5;
  await store.announce(req);
  if ((m & 0xffff) === 0) clock += 1000;
}
const fillMs = performance.now() - t0;
const grown = rss() - before;
gc();
await new Promise((r) => setTimeout(r, 200));
gc();
const collected = rss() - before;

const perTorrent = (bytes: number): string => `${(bytes / torrents).toFixed(1)} B`;
console.log(
  `${torrents.toLocaleString('en')} torrents, ${peers.toLocaleString('en')} peers, ${process.argv[3] ?? 'this checkout'}`,
);
console.log(`announces: ${fillMs.toFixed(0)} ms (${((fillMs * 1000) / peers).toFixed(2)} µs each)`);
console.log(`RSS growth per torrent: ${perTorrent(grown)} just after, ${perTorrent(collected)} after full GCs`);
const heap = getHeapSpaceStatistics()
  .filter((s) => s.physical_space_size > 1 << 20)
  .map((s) => `${s.space_name} ${(s.physical_space_size / 2 ** 20).toFixed(1)} MiB`);
console.log(`V8 heap: ${heap.join(', ')}`);
if ('swarmForms' in store) console.log('forms:', JSON.stringify((store as { swarmForms(): unknown }).swarmForms()));
await store.close();

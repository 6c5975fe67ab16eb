/**
 * What --state-file costs at 1M peers, run by hand (not part of `npm run bench`):
 *
 *   npx tsc -p . && node --expose-gc dist/bench/state-file-cost.js [dir]
 *
 * For two shapes, 100,000 torrents × 10 peers and 1,000,000 torrents × 1 peer
 * (every peer IPv4 with a key, one in ten also IPv6), it fills a memory store
 * through its announce API, then measures:
 *
 * - save: the wall time of saveState() and the longest event-loop stall during
 *   it (the largest gap between two setImmediate turns of a ticker running
 *   meanwhile: what an announce arriving during the save could wait);
 * - the file's size;
 * - load: the wall time of constructing a store on that file (synchronous, at
 *   start, before anything is served), and the heap it holds afterwards.
 *
 * Bounded: two shapes, one save and one load each, about a minute on 2 cores.
 * The file goes to `dir` (default: the OS temp dir) and is removed after.
 */
import { mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MemoryStore } from '../src/store/memory/memory-store.js';
import { storeAnnounce } from '../test/helpers/store-announce.js';

const dir = mkdtempSync(join(process.argv[2] ?? tmpdir(), 'bitstorm-state-cost-'));
const PEER_TTL_MS = 1860 * 1000;
const gc = (globalThis as { gc?: () => void }).gc;

function heapMiB(): number {
  gc?.();
  return process.memoryUsage().heapUsed / 2 ** 20 + process.memoryUsage().arrayBuffers / 2 ** 20;
}

async function fill(store: MemoryStore, torrents: number, peersEach: number): Promise<void> {
  const infoHash = Buffer.alloc(20);
  const peerId = Buffer.alloc(20, 0x2d);
  const ipv4 = Buffer.alloc(6);
  const ipv6 = Buffer.alloc(18, 0x20);
  let n = 0;
  for (let t = 0; t < torrents; t++) {
    infoHash.writeUInt32BE(t, 0);
    infoHash.writeUInt32BE(Math.imul(t, 2654435761) >>> 0, 16);
    for (let p = 0; p < peersEach; p++, n++) {
      peerId.writeUInt32BE(n, 8);
      peerId.writeUInt32BE(Math.imul(n, 2246822519) >>> 0, 16);
      ipv4.writeUInt32BE(0x0a000000 + n, 0);
      ipv4.writeUInt16BE(6881 + (n & 1023), 4);
      ipv6.writeUInt32BE(n, 12);
      await store.announce(
        storeAnnounce({
          infoHash,
          peerId,
          event: p === 0 ? 'completed' : 'started',
          seeder: p % 3 === 0,
          ipv4,
          ipv6: n % 10 === 0 ? ipv6 : null,
          key: n,
          numWant: 0,
        }),
      );
    }
  }
}

/** Runs `work` with a setImmediate ticker beside it; returns the work's result and the longest gap between ticks. */
async function withStallMeter<T>(work: () => Promise<T>): Promise<{ result: T; stallMs: number; ticks: number }> {
  let running = true;
  let last = performance.now();
  let stallMs = 0;
  let ticks = 0;
  const tick = (): void => {
    const now = performance.now();
    if (now - last > stallMs) stallMs = now - last;
    last = now;
    ticks++;
    if (running) setImmediate(tick);
  };
  setImmediate(tick);
  const result = await work();
  running = false;
  return { result, stallMs, ticks };
}

async function shape(torrents: number, peersEach: number): Promise<void> {
  const file = join(dir, `state-${torrents}x${peersEach}.bin`);
  const clock = Date.now();
  const baseHeap = heapMiB();
  let store: MemoryStore | undefined = new MemoryStore({
    peerTtlMs: PEER_TTL_MS,
    now: () => clock,
    backgroundSweep: false,
    stateFile: file,
  });
  const filled = performance.now();
  await fill(store, torrents, peersEach);
  const storeHeap = heapMiB() - baseHeap;
  console.log(
    `${torrents} torrents × ${peersEach} peers: filled in ${Math.round(performance.now() - filled)} ms; store heap ${storeHeap.toFixed(0)} MiB`,
  );
  const s = store;
  const save = await withStallMeter(() => s.saveState());
  const size = statSync(file).size;
  console.log(
    `  save: ${save.result.ms.toFixed(0)} ms, longest event-loop stall ${save.stallMs.toFixed(1)} ms over ${save.ticks} turns; ` +
      `file ${(size / 2 ** 20).toFixed(1)} MiB (${(size / (torrents * peersEach)).toFixed(1)} B a peer)`,
  );
  // close() saves again (as on SIGTERM), with nothing else to serve meanwhile.
  const closing = performance.now();
  await store.close();
  console.log(`  save by close(): ${(performance.now() - closing).toFixed(0)} ms`);
  store = undefined;
  const emptyHeap = heapMiB();
  const loaded = new MemoryStore({ peerTtlMs: PEER_TTL_MS, now: () => clock, backgroundSweep: false, stateFile: file });
  const restored = loaded.restored;
  if (!restored || restored.peers !== torrents * peersEach)
    throw new Error(`load lost peers: ${JSON.stringify(restored)}`);
  console.log(
    `  load: ${restored.ms.toFixed(0)} ms (${restored.torrents} torrents, ${restored.peers} peers); store heap after load ${(heapMiB() - emptyHeap).toFixed(0)} MiB`,
  );
  await loaded.close(); // stops its timers (and saves once more)
  rmSync(file, { force: true });
}

try {
  await shape(100_000, 10);
  await shape(1_000_000, 1);
} finally {
  rmSync(dir, { recursive: true, force: true });
}

/**
 * What building the stats table's snapshot costs the thread that answers
 * announces, run by hand (it is not part of `npm run bench`):
 *
 *   npx tsc -p . && node dist/bench/snapshot-build.js [torrents] [checkout]
 *
 * Fills a memory store in this process with `torrents` torrents (default
 * 1,000,000; every third has two peers, so a PeerTable), then five times, each
 * with a new SnapshotCache, asks for the first page as the first visitor of the
 * stats page would (past 20,000 torrents a walk of the shared rows on the
 * table's thread, no snapshot: shared-store-pages.ts) and then for the whole
 * snapshot (walked and sorted on that thread, as a page past the first
 * thousand rows needs), and prints for each: when the first page came, when
 * the snapshot was done, the event loop's busy time meanwhile (its own work:
 * what announces would have waited for) and its longest delay (a 1-ms timer's
 * lateness, which also counts garbage collection pauses).
 *
 * `checkout` is another checkout's root with its own `dist/` (another commit's
 * build, e.g. a `git worktree`), so two versions run the same code; run them
 * one after the other, as the 2-core test machine's figures drift.
 */
import { resolve } from 'node:path';
import { monitorEventLoopDelay } from 'node:perf_hooks';
import { pathToFileURL } from 'node:url';
import type { SnapshotCache as Cache } from '../src/stats/snapshot-cache.js';
import type { MemoryStoreOptions, MemoryStore as Store } from '../src/store/memory/memory-store.js';
import { syntheticAnnounces } from './synthetic-torrents.js';

const torrents = Number(process.argv[2] ?? 1_000_000);
const root = process.argv[3] ? `${pathToFileURL(resolve(process.argv[3])).href}/dist/` : '../';
const { MemoryStore } = (await import(`${root}src/store/memory/memory-store.js`)) as {
  MemoryStore: new (options: MemoryStoreOptions) => Store;
};
const { SnapshotCache } = (await import(`${root}src/stats/snapshot-cache.js`)) as {
  SnapshotCache: new (store: Store, now: () => number, maxAgeMs: number) => Cache;
};

const BUILDS = 5;
const now = 1_700_000_000_000;
const store = new MemoryStore({ peerTtlMs: 3_600_000, now: () => now, backgroundSweep: false });
for (const req of syntheticAnnounces(torrents)) await store.announce(req);

const ms = (x: number): string => `${x.toFixed(0)} ms`;
console.log(`${torrents.toLocaleString('en')} torrents, ${process.argv[3] ?? 'this checkout'}`);
for (let b = 0; b < BUILDS; b++) {
  const cache = new SnapshotCache(store, () => now, 5000);
  const delay = monitorEventLoopDelay({ resolution: 1 });
  delay.enable();
  const before = performance.eventLoopUtilization();
  const t0 = performance.now();
  await cache.page({ start: 0, length: 10, column: 1, dir: 'desc', prefix: '' });
  const first = performance.now() - t0;
  const firstBusy = performance.eventLoopUtilization(before).active;
  await cache.get();
  const all = performance.now() - t0;
  const busy = performance.eventLoopUtilization(before).active;
  delay.disable();
  console.log(
    `build ${b + 1}: first page ${ms(first)} (event loop busy ${ms(firstBusy)}), ` +
      `snapshot ${ms(all)} (busy ${ms(busy)}), longest event loop delay ${ms(delay.max / 1e6)}`,
  );
}
await store.close();

/**
 * What the stats table's sorts cost, run by hand (not part of `npm run bench`):
 *
 *   npx tsc -p . && node dist/bench/snapshot-sort.js [rows] [checkout]
 *
 * Fills a snapshot's rows with `rows` synthetic torrents (default 1,000,000:
 * counts of 0-1 and 0-6, timestamps a second apart), then sorts them eight
 * times in this process, printing each run's time and the page faults it
 * took. The first run is what a build on a fresh worker thread pays (new
 * memory, and code V8 has not optimised yet); later runs reuse memory the
 * process already holds. Run it a few times, alternating with `checkout` (another
 * checkout's root with its own `dist/`): the 2-core test machine drifts.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { SnapshotRows as Rows } from '../src/stats/snapshot-rows.js';
import type { SnapshotOrder, Steps } from '../src/stats/snapshot-sort.js';

const n = Number(process.argv[2] ?? 1_000_000);
const root = process.argv[3] ? `${pathToFileURL(resolve(process.argv[3])).href}/dist/` : '../';
const { SnapshotRows } = (await import(`${root}src/stats/snapshot-rows.js`)) as { SnapshotRows: new () => Rows };
const { runSync, snapshotOrderSteps } = (await import(`${root}src/stats/snapshot-sort.js`)) as {
  runSync: <T>(steps: Steps<T>) => T;
  snapshotOrderSteps: (rows: Rows) => Steps<SnapshotOrder>;
};

const rows = new SnapshotRows();
const hash = Buffer.alloc(20);
for (let i = 0; i < n; i++) {
  hash.writeUInt32BE(Math.imul(i, 2654435761) >>> 0, 0);
  hash.writeUInt32BE(i, 16);
  const pair = i % 3 === 0;
  rows.add(hash, pair ? 1 : i & 1, pair ? 1 : 1 - (i & 1), i % 7, 1_700_000_000_000 + i * 1000);
}
const runs: string[] = [];
for (let r = 0; r < 8; r++) {
  const faults = process.resourceUsage().minorPageFault;
  const t0 = performance.now();
  runSync(snapshotOrderSteps(rows));
  runs.push(`${(performance.now() - t0).toFixed(0)} ms (${process.resourceUsage().minorPageFault - faults} faults)`);
}
console.log(`${n.toLocaleString('en')} rows, ${process.argv[3] ?? 'this checkout'}: ${runs.join(', ')}`);

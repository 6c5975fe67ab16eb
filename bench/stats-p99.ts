/**
 * What a stats table request costs the announces around it, run by hand (it is
 * not part of `npm run bench`; the long-tail bench measures one round of it):
 *
 *   npx tsc -p . && node dist/bench/stats-p99.js [rate] [rounds] [checkout]
 *
 * Starts a tracker on the memory store (`checkout`'s, default this one), fills
 * it with the long-tail workload (1,000,000 torrents of 1–3 peers, as
 * bench/long-tail.ts) over UDP, then for each round runs the same paced UDP
 * load (`rate` announces a second, default 16,000, about half what this 2-core
 * machine takes) for 5 s with no request and again for 5 s with the stats
 * table's first page asked for 1 s in, and prints both runs' p50 and p99 and
 * the tracker's CPU per announce. Rounds are 9 s apart, past the table's
 * refresh spacing, so every round after the first refreshes a table that
 * exists, and the first builds one. Single 6-s runs on this VM differ by
 * milliseconds at the p99; the rounds taking turns show what is the request's.
 *
 * Needs the generator built by the bench (`node dist/bench/run.js --quick`
 * once, or any bench run, makes bench/.deps/loadgen).
 */
import { existsSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { LoadResult } from './loadgen.js';
import { buildLongTailWorkload, prefillLoad, STATS_BY_SEEDERS, updateLoad } from './long-tail.js';
import { startBitstorm } from './trackers.js';

const rate = Number(process.argv[2] ?? 16_000);
const rounds = Number(process.argv[3] ?? 5);
const benchDir = resolve(fileURLToPath(new URL('.', import.meta.url)), '..', '..', 'bench');
const repoRoot = process.argv[4] ? resolve(process.argv[4]) : resolve(benchDir, '..');
const loadgen = join(benchDir, '.deps', 'loadgen');
if (!existsSync(loadgen)) throw new Error(`${loadgen} is missing: run the bench once to build it`);

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
const w = buildLongTailWorkload({ torrents: 1_000_000, steadyRecords: 1_000_000, seed: 19 }, '/tmp/stats-p99.bin');
const t = await startBitstorm({ repoRoot, redis: false, workers: 1 });
try {
  const pids = (): number[] => t.trackerPids();
  const pre = await prefillLoad(loadgen, w, t.port, 300, pids);
  console.log(`${repoRoot}: prefill ${pre.ok} peers, ${Math.round(pre.rate)}/s; paced load ${rate}/s`);
  const load = (): Promise<LoadResult> =>
    updateLoad(loadgen, w, t.port, { concurrency: 64, duration: 5, warmup: 0, rate }, pids);
  const ask = async (): Promise<number> => {
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${t.port}${STATS_BY_SEEDERS}`, { signal: AbortSignal.timeout(60_000) });
    await res.text();
    return performance.now() - t0;
  };
  const ms = (us: number): string => (us / 1000).toFixed(2);
  const describe = (r: LoadResult): string =>
    `p50 ${ms(r.p50_us)} p99 ${ms(r.p99_us)} ms, ${(r.cpuUs / Math.max(1, r.ok)).toFixed(1)} µs CPU/announce`;
  await load(); // warm-up
  for (let i = 0; i < rounds; i++) {
    const without = await load();
    const during = load();
    await sleep(1000);
    const answerMs = await ask();
    const withRequest = await during;
    console.log(
      `round ${i + 1}: without ${describe(without)} | with ${describe(withRequest)} | answer ${answerMs.toFixed(0)} ms`,
    );
    await sleep(9000);
  }
} finally {
  await t.stop();
}

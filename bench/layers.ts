import { randomBytes } from 'node:crypto';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { type LoadResult, type Mode, runLoad } from './loadgen.js';
import { startBitstorm, type TrackerHandle } from './trackers.js';
import type { Workload } from './workload.js';

/**
 * `npm run bench -- --layers`: what each access-control layer costs when it is
 * on (issue 17's goal: at most 10 % more CPU per announce), BitStorm on the
 * memory store, the same traffic in each run:
 *
 * - plain: the defaults;
 * - allow list: `--allow-list` of 1,000,000 hashes (the workload's and random ones);
 * - passkeys: `--private` with a keys file, every announce on `/announce/<key>`
 *   (UDP: BEP 41 URL data), so each announce is also accounted;
 * - extra layers given by `extraLayers` (the rate limiter, set so nothing is refused).
 *
 * bench/trackers.ts starts BitStorm with the per-source limits off (the
 * generator's few addresses would hit them); a layer's flags come after and win.
 *
 * Each layer gets a fresh tracker, the workload's prefill, then the UDP and
 * HTTP (one connection per announce) loads; the figure is the tracker's CPU
 * per answered announce over the measured window, and its ratio to plain's.
 */

export interface Layer {
  name: string;
  args: string[];
  /** Announce path the generator uses (default /announce). */
  path?: string;
}

export interface LayersOptions {
  repoRoot: string;
  loadgenBin: string;
  work: string;
  workload: Workload;
  duration: number;
  warmup: number;
  concurrency: number;
  quick: boolean;
  extraLayers: Layer[];
  log: (line: string) => void;
}

const ALLOW_LIST_SIZE = 1_000_000;
const PASSKEY = 'bench0000000000000000000000000001';

export async function runLayersBench(o: LayersOptions): Promise<string> {
  const listSize = o.quick ? 10_000 : ALLOW_LIST_SIZE;
  const allowFile = join(o.work, 'allow-list.txt');
  const lines = o.workload.hashes.map((h) => h.toString('hex'));
  for (let i = lines.length; i < listSize; i++) lines.push(randomBytes(20).toString('hex'));
  writeFileSync(allowFile, `${lines.join('\n')}\n`);
  const keysFile = join(o.work, 'keys.txt');
  writeFileSync(keysFile, `${PASSKEY}\n`);

  const layers: Layer[] = [
    { name: 'plain', args: [] },
    { name: `allow list (${listSize.toLocaleString('en')} hashes)`, args: ['--allow-list', allowFile] },
    {
      name: 'passkeys + accounting',
      args: ['--private', '--keys', keysFile, '--stats-token', 'bench-token'],
      path: `/announce/${PASSKEY}`,
    },
    ...o.extraLayers,
  ];
  const modes: Mode[] = ['udp', 'http'];
  const rows: { layer: string; mode: Mode; r: LoadResult }[] = [];
  for (const layer of layers) {
    let t: TrackerHandle;
    try {
      t = await startBitstorm({ repoRoot: o.repoRoot, redis: false, workers: 1, extraArgs: layer.args });
    } catch (err) {
      o.log(`layers: ${layer.name} did not start: ${(err as Error).message}`);
      continue;
    }
    try {
      const w = o.workload;
      const base = {
        binary: o.loadgenBin,
        file: w.file,
        port: t.port,
        pids: () => t.trackerPids(),
        ...(layer.path ? { path: layer.path } : {}),
      };
      const pre = await runLoad({
        ...base,
        mode: 'udp',
        concurrency: 128,
        duration: o.quick ? 20 : 300,
        once: true,
        start: 0,
        end: w.prefill,
        numwant: 0,
        timeoutMs: 3000,
      });
      o.log(
        `layers: ${layer.name}: prefill ${pre.ok} ok, ${pre.errors} errors${pre.first_error ? ` (${pre.first_error})` : ''}`,
      );
      const steady = w.total - w.prefill;
      for (let i = 0; i < modes.length; i++) {
        const mode = modes[i] as Mode;
        const r = await runLoad({
          ...base,
          mode,
          concurrency: o.concurrency,
          duration: o.duration,
          warmup: o.warmup,
          start: w.prefill + Math.floor((steady * i) / modes.length),
          end: w.prefill + Math.floor((steady * (i + 1)) / modes.length),
          numwant: 50,
          timeoutMs: 2000,
        });
        rows.push({ layer: layer.name, mode, r });
        o.log(
          `layers: ${layer.name} ${mode}: ${Math.round(r.rate)}/s, ${(r.cpuUs / Math.max(1, r.ok)).toFixed(1)} µs CPU/announce, ${r.errors} errors${r.first_error ? ` (${r.first_error})` : ''}`,
        );
      }
    } finally {
      await t.stop();
    }
  }

  const cpu = (r: LoadResult): number => r.cpuUs / Math.max(1, r.ok);
  const plain = (mode: Mode) => rows.find((x) => x.layer === 'plain' && x.mode === mode);
  const out = [
    '| layer | transport | announces/s | tracker CPU µs/announce | vs plain | errors |',
    '|---|---|--:|--:|--:|--:|',
  ];
  for (const { layer, mode, r } of rows) {
    const p = plain(mode);
    const ratio = p ? `${((cpu(r) / cpu(p.r) - 1) * 100).toFixed(1)} %` : '–';
    out.push(
      `| ${layer} | ${mode === 'http' ? 'HTTP, one connection per announce' : 'UDP'} | ${Math.round(r.rate).toLocaleString('en')} | ${cpu(r).toFixed(1)} | ${layer === 'plain' ? '' : ratio.startsWith('-') ? ratio : `+${ratio}`} | ${r.errors} |`,
    );
  }
  return out.join('\n');
}

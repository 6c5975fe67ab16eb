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
 * Each layer gets its own tracker and the workload's prefill; then, for each
 * of `rounds` rounds, the UDP and the HTTP (one connection per announce)
 * loads visit every layer in turn. The figure is the tracker's CPU per
 * answered announce over the measured window, the median of the rounds, and
 * its ratio to plain's; every round's figure is listed under the table, as
 * single runs on a shared 2-core machine differ by tens of percent.
 */

export interface Layer {
  /** For `--only` (plain, allow, passkeys, rate). */
  id: string;
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
  /** Layer ids to run (default all); plain always runs, as the others' reference. */
  only: string[] | undefined;
  /** Measured loads per layer and transport, taking turns; the table shows the median. */
  rounds: number;
  /** Extra node flags for BitStorm (e.g. --cpu-prof). */
  nodeArgs: string[];
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
    { id: 'plain', name: 'plain', args: [] },
    { id: 'allow', name: `allow list (${listSize.toLocaleString('en')} hashes)`, args: ['--allow-list', allowFile] },
    {
      id: 'passkeys',
      name: 'passkeys + accounting',
      args: ['--private', '--keys', keysFile, '--stats-token', 'bench-token'],
      path: `/announce/${PASSKEY}`,
    },
    ...o.extraLayers,
  ].filter((l) => l.id === 'plain' || !o.only || o.only.includes(l.id));
  const modes: Mode[] = ['udp', 'http'];
  const rows: { layer: string; mode: Mode; r: LoadResult }[] = [];
  const trackers: { layer: Layer; t: TrackerHandle }[] = [];
  try {
    // Every layer's tracker runs at once (each idle while another is measured),
    // so the rounds can take turns: drift on a shared machine then lands on
    // every layer alike instead of on whichever ran last.
    for (const layer of layers) {
      try {
        const t = await startBitstorm({
          repoRoot: o.repoRoot,
          redis: false,
          workers: 1,
          nodeArgs: o.nodeArgs,
          extraArgs: layer.args,
        });
        trackers.push({ layer, t });
      } catch (err) {
        o.log(`layers: ${layer.name} did not start: ${(err as Error).message}`);
      }
    }
    const w = o.workload;
    const base = (layer: Layer, t: TrackerHandle) => ({
      binary: o.loadgenBin,
      file: w.file,
      port: t.port,
      pids: () => t.trackerPids(),
      ...(layer.path ? { path: layer.path } : {}),
    });
    for (const { layer, t } of trackers) {
      const pre = await runLoad({
        ...base(layer, t),
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
    }
    // Each (round, mode) announces its own slice of the steady records, the same slice in every layer.
    const steady = w.total - w.prefill;
    const slices = o.rounds * modes.length;
    for (let round = 0; round < o.rounds; round++) {
      for (let m = 0; m < modes.length; m++) {
        const mode = modes[m] as Mode;
        const slice = round * modes.length + m;
        for (const { layer, t } of trackers) {
          const r = await runLoad({
            ...base(layer, t),
            mode,
            concurrency: o.concurrency,
            duration: o.duration,
            warmup: o.warmup,
            start: w.prefill + Math.floor((steady * slice) / slices),
            end: w.prefill + Math.floor((steady * (slice + 1)) / slices),
            numwant: 50,
            timeoutMs: 2000,
          });
          rows.push({ layer: layer.name, mode, r });
          o.log(
            `layers: round ${round + 1}, ${layer.name} ${mode}: ${Math.round(r.rate)}/s, ${cpu(r).toFixed(1)} µs CPU/announce, ${r.errors} errors${r.first_error ? ` (${r.first_error})` : ''}`,
          );
        }
      }
    }
  } finally {
    await Promise.all(trackers.map(({ t }) => t.stop()));
  }

  /** The round with the median CPU per announce of a layer and mode (the rate and errors of that same round). */
  const median = (layer: string, mode: Mode): LoadResult | undefined => {
    const runs = rows.filter((x) => x.layer === layer && x.mode === mode).map((x) => x.r);
    runs.sort((a, b) => cpu(a) - cpu(b));
    return runs[Math.floor((runs.length - 1) / 2)];
  };
  const out = [
    '| layer | transport | announces/s | tracker CPU µs/announce | vs plain | errors |',
    '|---|---|--:|--:|--:|--:|',
  ];
  const plainName = (layers[0] as Layer).name;
  for (const { layer } of trackers) {
    for (const mode of modes) {
      const r = median(layer.name, mode);
      const p = median(plainName, mode);
      if (!r) continue;
      const ratio = p ? `${((cpu(r) / cpu(p) - 1) * 100).toFixed(1)} %` : '–';
      out.push(
        `| ${layer.name} | ${mode === 'http' ? 'HTTP, one connection per announce' : 'UDP'} | ${Math.round(r.rate).toLocaleString('en')} | ${cpu(r).toFixed(1)} | ${layer.id === 'plain' ? '' : ratio.startsWith('-') ? ratio : `+${ratio}`} | ${r.errors} |`,
      );
    }
  }
  const spread = trackers.flatMap(({ layer }) =>
    modes.map((mode) => {
      const all = rows.filter((x) => x.layer === layer.name && x.mode === mode).map((x) => cpu(x.r).toFixed(1));
      return `${layer.id} ${mode}: ${all.join(', ')}`;
    }),
  );
  out.push('', `CPU µs/announce of each round (the table shows the median): ${spread.join('; ')}.`);
  return out.join('\n');
}

function cpu(r: LoadResult): number {
  return r.cpuUs / Math.max(1, r.ok);
}

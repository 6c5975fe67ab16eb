/**
 * `npm run bench [-- options]`: BitStorm side by side with opentracker and
 * bittorrent-tracker, in the same run on the same machine, with the same
 * traffic. See docs/benchmarks.md for what is measured and how to read it.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync, writeFileSync } from 'node:fs';
import { cpus, tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import { runLayersBench } from './layers.js';
import { buildLoadgen, type LoadResult, type Mode, runLoad } from './loadgen.js';
import { buildLongTailWorkload, type LongTailConfig, runLongTailBench } from './long-tail.js';
import { loadAverage, machineInfo } from './machine.js';
import { rssBytes } from './proc.js';
import { type MemoryRow, renderReport, saturates, type ThroughputRow, type TrackerStatus } from './report.js';
import { killAll, startBitstorm, startBittorrentTracker, startOpentracker, type TrackerHandle } from './trackers.js';
import { buildWorkload, type Workload } from './workload.js';
import { runWsBench, WS_CONFIGS } from './ws-bench.js';

interface Settings {
  quick: boolean;
  only: string[] | undefined;
  duration: number;
  warmup: number;
  concurrency: number;
  /**
   * Requests in flight of the lighter runs that measure latency at saturation,
   * tried in order until one still saturates the tracker (empty: none).
   */
  latencySteps: number[];
  /** Stored peers in the load test's prefilled state comes from this many clients. */
  loadClients: number;
  torrents: number;
  /** Memory checkpoints (stored peers). */
  memoryPoints: number[];
  /** Seconds a memory prefill may take before we measure whatever was reached. */
  prefillCap: number;
  modes: Mode[];
  out: string | undefined;
  /** Directory for V8 CPU profiles of the BitStorm processes (--cpu-prof). */
  cpuProf: string | undefined;
  /** Extra flags for node when it runs BitStorm (e.g. --perf-basic-prof for `perf record`). */
  nodeArgs: string[];
  /** The WebSocket bench (bench/ws-bench.ts): after the others, alone, or not at all. */
  ws: 'also' | 'only' | 'off';
  wsGenerator: 'c' | 'node';
  wsSockets: number | undefined;
  wsWindow: number | undefined;
  wsOffers: number | undefined;
  wsIdle: number | undefined;
  /** Only the cost of each access-control layer (bench/layers.ts). */
  layers: boolean;
  /** --layers: measured rounds per layer and transport. */
  rounds: number;
  /** Only the long-tail load (bench/long-tail.ts): 1M torrents of 1–3 peers. */
  longTail: boolean;
}

const HELP = `Usage: npm run bench -- [options]
  --quick              smoke run, well under a minute (small state, 0.5 s per load)
  --only a,b           configurations: opentracker, bittorrent-tracker, bitstorm-memory,
                       bitstorm-redis, bitstorm-redis-2w
  --modes a,b          udp, http (one connection per announce), http-ka (keep-alive)
  --duration S         measured seconds per load (default 10)
  --concurrency N      requests in flight (default 64)
  --latency-concurrency A,B
                       requests in flight of shorter, lighter runs of each load, tried in order until
                       one still reaches 90% of the full rate: its p99 is the latency at saturation
                       (default 16,32; 0: off)
  --no-memory          skip the memory test
  --ws                 only the WebSocket (WebTorrent) bench: BitStorm beside bittorrent-tracker's
                       WebSocket server, relayed offers and answers, memory per idle socket
                       (bench/ws-bench.ts); it also runs after the others unless --no-ws.
                       --only picks its configurations too: bittorrent-tracker, bitstorm-memory,
                       bitstorm-redis, bitstorm-redis-2w (default all; --quick: the first two);
                       --duration sets its measured seconds (not in --quick: 1 s)
  --ws-sockets N       sockets of the WebSocket load (default 200; --quick 20)
  --ws-window N        announces in flight per socket (default 1)
  --ws-offers N        offers per announce, 0–10 (default 5; --quick 2)
  --ws-idle N          idle sockets of the memory probe (default 10000; --quick 200)
  --ws-gen c|node      the load generator: bench/ws-loadgen.c (default) or bench/ws-loadgen.ts
  --out FILE           where to write the markdown (default bench/results/<date>.md; b, c, … after the
                       date when that day already has a run)
  --cpu-prof DIR       write V8 CPU profiles of the BitStorm processes to DIR
                       (open in Chrome DevTools; profiling slows them, so use for finding hot spots only)
  --node-args "A B"    extra node flags for the BitStorm processes (e.g. --perf-basic-prof)
  --layers             instead of the comparison: BitStorm (memory store) with each access-control layer
                       on in turn (a 1M-hash allow list, passkeys with accounting, the rate limiter),
                       tracker CPU per UDP and HTTP announce against the plain run (bench/layers.ts);
                       --only picks layers (allow, passkeys, rate; plain always runs); --rounds N
                       measured rounds, the layers taking turns, median shown (default 3; --quick 1)
  --long-tail          instead of the comparison: the long-tail load (issue 19, bench/long-tail.ts):
                       1,000,000 torrents of 1–3 peers (P(k) ∝ k^-1.7: ≈68 % one peer), the same UDP
                       prefill in every tracker, then RSS (and Redis used_memory) growth per torrent and
                       per peer, the prefill's announces/s, a steady UDP load of regular updates
                       (announces/s, CPU µs per announce), BitStorm's RSS growth after a full GC
                       (it runs with --expose-gc and bench/gc-on-signal.ts), its first /stats.json answer
                       sorted by seeders and the announce p99 meanwhile, then at half the rate while
                       the table is rebuilt; --only picks among opentracker, bittorrent-tracker,
                       bitstorm-memory, bitstorm-memory-warm, bitstorm-redis, bitstorm-redis-warm
                       (-warm: with --stats-warm 60) (default all six); --duration and
                       --concurrency set the steady load; --quick: 20,000 torrents, 0.5 s. Writes
                       bench/results/<date>-long-tail.md (<date>b-long-tail.md, … when the day has one)
  --soak S [--http] [--redis] [--tracker opentracker]
                       instead of the comparison: BitStorm alone under a steady 2,000 announces/s for
                       S seconds, p50/p99/max and RSS per 10-s window and the trend (bench/soak.ts;
                       same as npm run soak -- --minutes S/60); --tracker opentracker puts opentracker
                       under the same load, to tell the generator's stalls from the tracker's`;

function parseArgs(argv: string[]): Settings {
  const quick = argv.includes('--quick');
  const s: Settings = quick
    ? {
        quick,
        only: undefined,
        duration: 0.5,
        warmup: 0.2,
        concurrency: 32,
        latencySteps: [8],
        loadClients: 2_000,
        torrents: 1_000,
        memoryPoints: [10_000],
        prefillCap: 10,
        modes: ['udp', 'http', 'http-ka'],
        out: undefined,
        cpuProf: undefined,
        nodeArgs: [],
        ws: 'also',
        wsGenerator: 'c',
        wsSockets: undefined,
        wsWindow: undefined,
        wsOffers: undefined,
        wsIdle: undefined,
        layers: false,
        rounds: quick ? 1 : 3,
        longTail: false,
      }
    : {
        quick,
        only: undefined,
        duration: 10,
        warmup: 2,
        concurrency: 64,
        latencySteps: [16, 32],
        loadClients: 100_000,
        torrents: 10_000,
        memoryPoints: [100_000, 1_000_000],
        prefillCap: 150,
        modes: ['udp', 'http', 'http-ka'],
        out: undefined,
        cpuProf: undefined,
        nodeArgs: [],
        ws: 'also',
        wsGenerator: 'c',
        wsSockets: undefined,
        wsWindow: undefined,
        wsOffers: undefined,
        wsIdle: undefined,
        layers: false,
        rounds: quick ? 1 : 3,
        longTail: false,
      };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    const v = argv[i + 1];
    if (a === '--quick') continue;
    if (a === '--help' || a === '-h') {
      console.log(HELP);
      process.exit(0);
    }
    if (a === '--layers') {
      s.layers = true;
      continue;
    }
    if (a === '--long-tail') {
      s.longTail = true;
      continue;
    }
    if (a === '--no-memory') {
      s.memoryPoints = [];
      continue;
    }
    if (a === '--ws' || a === '--no-ws') {
      s.ws = a === '--ws' ? 'only' : 'off';
      continue;
    }
    if (a?.startsWith('--ws-') && v === undefined) throw new Error(`${a} needs a value (see --help)`);
    if (a === '--ws-gen') {
      if (v !== 'c' && v !== 'node') throw new Error('--ws-gen is c or node');
      s.wsGenerator = v;
      i++;
      continue;
    }
    if (a === '--ws-sockets' || a === '--ws-window' || a === '--ws-offers' || a === '--ws-idle') {
      const n = Number(v);
      if (!Number.isInteger(n) || n < (a === '--ws-offers' || a === '--ws-idle' ? 0 : 1))
        throw new Error(`${a} needs a whole number`);
      if (a === '--ws-offers' && n > 10) throw new Error('--ws-offers is at most 10 (trackers relay at most 10)');
      if (a === '--ws-sockets') s.wsSockets = n;
      else if (a === '--ws-window') s.wsWindow = n;
      else if (a === '--ws-offers') s.wsOffers = n;
      else s.wsIdle = n;
      i++;
      continue;
    }
    if (v === undefined) throw new Error(`${a} needs a value (see --help)`);
    i++;
    if (a === '--only') s.only = v.split(',');
    else if (a === '--modes') s.modes = v.split(',') as Mode[];
    else if (a === '--duration') s.duration = Number(v);
    else if (a === '--concurrency') s.concurrency = Number(v);
    else if (a === '--latency-concurrency')
      s.latencySteps = v
        .split(',')
        .map(Number)
        .filter((n) => n > 0);
    else if (a === '--out') s.out = v;
    else if (a === '--cpu-prof') s.cpuProf = resolve(v);
    else if (a === '--rounds') {
      s.rounds = Number(v);
      if (!Number.isInteger(s.rounds) || s.rounds < 1) throw new Error('--rounds is a positive integer');
    } else if (a === '--node-args') s.nodeArgs = v.split(/\s+/).filter(Boolean);
    else throw new Error(`unknown option ${a} (see --help)`);
  }
  return s;
}

const log = (line: string): void => {
  process.stderr.write(`bench: ${line}\n`);
};
const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '..', '..');
const benchDir = join(repoRoot, 'bench');
const depsDir = join(benchDir, '.deps');
const loadgenBin = join(depsDir, 'loadgen');

/** Builds the generator and installs bittorrent-tracker into bench/.deps (never the project's node_modules). */
function setup(): { btServer: string | undefined; btNote: string; opentracker: string | undefined } {
  mkdirSync(depsDir, { recursive: true });
  buildLoadgen(join(benchDir, 'loadgen.c'), loadgenBin);
  let btNote = '';
  const btPkg = join(depsDir, 'node_modules', 'bittorrent-tracker', 'package.json');
  if (!existsSync(btPkg)) {
    log('installing bittorrent-tracker into bench/.deps');
    try {
      // --ignore-scripts: its client pulls a WebRTC add-on that cannot be built offline; the server never loads it.
      execFileSync(
        'npm',
        [
          'install',
          '--prefix',
          depsDir,
          '--ignore-scripts',
          '--no-save',
          '--no-audit',
          '--no-fund',
          '--loglevel=error',
          'bittorrent-tracker',
        ],
        { stdio: 'inherit', timeout: 180_000 },
      );
    } catch (err) {
      btNote = `bittorrent-tracker could not be installed: ${(err as Error).message.split('\n')[0]}`;
    }
  }
  const btServer = existsSync(btPkg) ? join(repoRoot, 'dist', 'bench', 'bt-server.js') : undefined;
  let opentracker: string | undefined;
  for (const p of ['/usr/bin/opentracker', '/usr/local/bin/opentracker']) if (existsSync(p)) opentracker = p;
  return { btServer, btNote, opentracker };
}

interface Config {
  id: string;
  start: () => Promise<TrackerHandle>;
  /** Measure memory with this configuration (2 workers share one Redis: same data as 1 worker). */
  memory: boolean;
}

function prefillMode(t: TrackerHandle): Mode {
  return t.udp ? 'udp' : 'http-ka';
}

function prefillOptions(t: TrackerHandle): { mode: Mode; concurrency: number } {
  // Many in flight so a million peers load quickly; UDP where the tracker has it.
  const mode = prefillMode(t);
  return { mode, concurrency: mode === 'udp' ? 128 : 128 };
}

function sidePids(t: TrackerHandle): number[] {
  return t.redis ? [t.redis.pid] : [];
}

async function prefill(
  t: TrackerHandle,
  w: Workload,
  start: number,
  end: number,
  capSeconds: number,
): Promise<LoadResult> {
  const { mode, concurrency } = prefillOptions(t);
  return runLoad({
    binary: loadgenBin,
    file: w.file,
    mode,
    port: t.port,
    concurrency,
    duration: capSeconds,
    once: true,
    start,
    end,
    numwant: 0,
    timeoutMs: 3000,
    pids: () => t.trackerPids(),
    sidePids: () => sidePids(t),
  });
}

/**
 * BitStorm on Redis with its defaults; if that does not start, once more with
 * an explicit --udp-secret (which skips fetching the shared secret from Redis at
 * start), saying so in the report, so a start-up bug does not hide the figures.
 */
async function startRedisBitstorm(
  workers: number,
  nodeArgs: string[],
  extraArgs: string[] = [],
): Promise<TrackerHandle> {
  try {
    return await startBitstorm({ repoRoot, redis: true, workers, nodeArgs, extraArgs });
  } catch (err) {
    const reason = (err as Error).message;
    if (/workers are not implemented/.test(reason)) throw err;
    log(`bitstorm redis ${workers}w did not start (${reason}); retrying with --udp-secret`);
    const t = await startBitstorm({
      repoRoot,
      redis: true,
      workers,
      nodeArgs,
      extraArgs: [...extraArgs, '--udp-secret', 'bench-secret-0123456789abcdef'],
    });
    t.notes.push(`did not start with defaults (${reason.trim()}); measured with an explicit --udp-secret`);
    return t;
  }
}

/**
 * bench/results/<date><tail>.md, or <date>b<tail>.md, <date>c<tail>.md, … when the day already has
 * a run: never overwrite a recorded run (tail: '' or '-ws').
 */
function freshResultFile(date: string, tail = ''): string {
  for (let i = 0; i < 26; i++) {
    const suffix = i === 0 ? '' : String.fromCharCode(0x61 + i);
    const file = join(benchDir, 'results', `${date}${suffix}${tail}.md`);
    if (!existsSync(file)) return file;
  }
  return join(benchDir, 'results', `${date}-${Date.now()}${tail}.md`);
}

/** `--soak S`: hands over to bench/soak.ts (one process, its own report) for S seconds. */
function soak(seconds: number, argv: string[]): void {
  if (!(seconds >= 10)) throw new Error('--soak needs a number of seconds, at least 10 (one window)');
  const rest = argv.filter((a, i) => a !== '--soak' && argv[i - 1] !== '--soak');
  execFileSync(
    process.execPath,
    [join(dirname(fileURLToPath(import.meta.url)), 'soak.js'), '--minutes', String(seconds / 60), ...rest],
    { stdio: 'inherit' },
  );
}

function machineLine(): string {
  const m = machineInfo(repoRoot, depsDir);
  return (
    `Machine: ${m.cpu}, ${m.cores} cores, load ${m.load}. Node ${m.node}, bittorrent-tracker ${m.bittorrentTracker || '–'}, ` +
    `redis ${m.redis || '–'}, BitStorm ${m.bitstorm}.`
  );
}

async function main(): Promise<void> {
  const soakAt = process.argv.indexOf('--soak');
  if (soakAt >= 0) return soak(Number(process.argv[soakAt + 1]), process.argv.slice(2));
  const s = parseArgs(process.argv.slice(2));
  const t0 = Date.now();
  const env = setup();
  const wsBench = (): Promise<string> =>
    runWsBench({
      repoRoot,
      depsDir,
      btServer: env.btServer,
      quick: s.quick,
      log,
      only: s.only,
      generator: s.wsGenerator,
      seconds: s.quick ? undefined : s.duration,
      sockets: s.wsSockets,
      window: s.wsWindow,
      offers: s.wsOffers,
      idleSockets: s.wsIdle,
    });
  if (s.ws === 'only') {
    const section = await wsBench();
    if (!section)
      throw new Error(`--only ${s.only?.join(',')} names no WebSocket configuration (${WS_CONFIGS.join(', ')})`);
    const report = `# WebSocket bench, ${new Date().toISOString().slice(0, 10)}\n\n${machineLine()}\n\n${section}`;
    console.log(report);
    const date = new Date().toISOString().slice(0, 10);
    const out =
      s.out ?? (s.quick ? join(benchDir, 'results', `${date}-ws-quick.md.tmp`) : freshResultFile(date, '-ws'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, report);
    log(`written to ${out}`);
    return;
  }
  const nodeArgs = [...s.nodeArgs, ...(s.cpuProf ? ['--cpu-prof', `--cpu-prof-dir=${s.cpuProf}`] : [])];
  const machine = machineInfo(repoRoot, depsDir);
  log(`machine: ${machine.cpu}, ${machine.cores} cores, load ${machine.load}`);
  const work = join(tmpdir(), `bitstorm-bench-${process.pid}`);
  mkdirSync(work, { recursive: true });
  process.on('exit', () => rmSync(work, { recursive: true, force: true }));
  if (s.longTail) return longTail(s, env, nodeArgs, work, t0, machine.load);

  const loadW = buildWorkload(
    {
      torrents: s.torrents,
      clients: s.loadClients,
      steadyRecords: s.quick ? 60_000 : 3_000_000,
      zipfExponent: 1,
      seed: 7,
    },
    join(work, 'load.bin'),
  );
  if (s.layers) {
    const table = await runLayersBench({
      repoRoot,
      loadgenBin,
      work,
      workload: loadW,
      duration: s.duration,
      warmup: s.warmup,
      concurrency: s.concurrency,
      quick: s.quick,
      only: s.only,
      rounds: s.rounds,
      nodeArgs,
      // The limiter on, set so that nothing is refused: its cost, not its refusals.
      extraLayers: [
        {
          id: 'rate',
          name: 'rate limiter (per source, never reached)',
          args: ['--rate-limit', '1000000', '--rate-burst', '1000000', '--udp-bad-id-limit', '60'],
        },
      ],
      log,
    });
    const date = new Date().toISOString().slice(0, 10);
    const report = `# Access-control layers, ${date}\n\n${machineLine()}\n\n\`npm run bench -- --layers\`: BitStorm on the memory store, ${loadW.prefill.toLocaleString('en')} stored peers, ${s.concurrency} announces in flight, ${s.duration} s per load, the median of ${s.rounds} rounds in which the layers take turns.\n\n${table}\n`;
    console.log(report);
    const out =
      s.out ?? (s.quick ? join(benchDir, 'results', `${date}-layers-quick.md.tmp`) : freshResultFile(date, '-layers'));
    mkdirSync(dirname(out), { recursive: true });
    writeFileSync(out, report);
    log(`written to ${out}`);
    return;
  }
  const maxPoint = s.memoryPoints.at(-1) ?? 0;
  // Clients are in 3 torrents on average: enough clients for the largest memory point.
  const memW =
    maxPoint > 0
      ? buildWorkload(
          { torrents: s.torrents, clients: Math.ceil(maxPoint / 2.9), steadyRecords: 1, zipfExponent: 1, seed: 11 },
          join(work, 'memory.bin'),
        )
      : undefined;
  log(
    `workload: ${s.torrents} torrents, ${s.loadClients} clients → ${loadW.prefill} stored peers; memory: ${memW?.prefill ?? 0} peers`,
  );

  const configs: Config[] = [
    {
      id: 'opentracker',
      memory: true,
      start: () => {
        if (!env.opentracker) throw new Error('not installed (apt-get install opentracker)');
        // Whitelist the pools of both workloads: Debian's build serves only listed hashes.
        return startOpentracker(env.opentracker, [...loadW.hashes, ...(memW?.hashes ?? [])], work);
      },
    },
    {
      id: 'bittorrent-tracker',
      memory: true,
      start: () => {
        if (!env.btServer) throw new Error(env.btNote || 'not installed');
        return startBittorrentTracker(depsDir, env.btServer);
      },
    },
    {
      id: 'bitstorm-memory',
      memory: true,
      start: () => startBitstorm({ repoRoot, redis: false, workers: 1, nodeArgs }),
    },
    { id: 'bitstorm-redis', memory: true, start: () => startRedisBitstorm(1, nodeArgs) },
    { id: 'bitstorm-redis-2w', memory: false, start: () => startRedisBitstorm(2, nodeArgs) },
  ].filter((c) => !s.only || s.only.includes(c.id));

  const statuses: TrackerStatus[] = [];
  const throughput: ThroughputRow[] = [];
  const memory: MemoryRow[] = [];
  let harnessFailures = 0;

  for (const cfg of configs) {
    // --- throughput on a prefilled tracker ---
    let t: TrackerHandle;
    try {
      t = await cfg.start();
    } catch (err) {
      const reason = (err as Error).message;
      log(`${cfg.id}: not available: ${reason}`);
      statuses.push({ id: cfg.id, available: false, reason });
      continue;
    }
    statuses.push({ id: cfg.id, available: true, reason: t.notes.join('; '), udp: t.udp });
    try {
      log(`${cfg.id}: prefill ${loadW.prefill} peers over ${prefillMode(t)}`);
      // The references get 150 s: bittorrent-tracker slows down as swarms grow and would dominate the run time.
      const cap = s.quick ? 20 : cfg.id.startsWith('bitstorm') ? 300 : 150;
      const pre = await prefill(t, loadW, 0, loadW.prefill, cap);
      if (pre.ok < loadW.prefill) {
        const st = statuses.at(-1);
        const note = `prefill stored ${pre.ok} of ${loadW.prefill} peers (${pre.errors} errors, ${cap} s cap) before the load runs`;
        if (st) st.reason = st.reason ? `${st.reason}; ${note}` : note;
      }
      log(
        `${cfg.id}: prefill ${pre.ok} ok, ${pre.errors} errors, ${pre.retries} resent, ${Math.round(pre.rate)}/s${pre.first_error ? ` (first error: ${pre.first_error})` : ''}`,
      );
      const steady = loadW.total - loadW.prefill;
      const modes = s.modes;
      for (let i = 0; i < modes.length; i++) {
        const mode = modes[i] as Mode;
        if (mode === 'udp' && !t.udp) {
          throughput.push({ id: cfg.id, mode, unavailable: 'no UDP tracker' });
          continue;
        }
        // Each mode replays its own slice of the steady-state traffic.
        const sliceStart = loadW.prefill + Math.floor((steady * i) / modes.length);
        const sliceEnd = loadW.prefill + Math.floor((steady * (i + 1)) / modes.length);
        const load = async (concurrency: number, duration: number, warmup: number): Promise<LoadResult> => {
          await sleep(300);
          return runLoad({
            binary: loadgenBin,
            file: loadW.file,
            mode,
            port: t.port,
            concurrency,
            duration,
            warmup,
            start: sliceStart,
            end: sliceEnd,
            numwant: 50,
            timeoutMs: 2000,
            pids: () => t.trackerPids(),
            sidePids: () => sidePids(t),
          });
        };
        const r = await load(s.concurrency, s.duration, s.warmup);
        log(
          `${cfg.id} ${mode}: ${Math.round(r.rate)}/s p50 ${(r.p50_us / 1000).toFixed(2)} ms p99 ${(r.p99_us / 1000).toFixed(2)} ms, ` +
            `${r.errors} errors, ${((r.cpuUs + r.sideCpuUs) / Math.max(1, r.ok)).toFixed(1)} µs CPU/announce` +
            (r.first_error ? ` (first error: ${r.first_error})` : ''),
        );
        const row: ThroughputRow = { id: cfg.id, mode, result: r, load: loadAverage() };
        // Same slice, fewer in flight, half as long: the latency a saturated tracker gives (see report).
        for (const inFlight of s.latencySteps.filter((n) => n < s.concurrency)) {
          const l = await load(inFlight, Math.max(0.5, s.duration / 2), s.warmup / 2);
          row.latency = l;
          row.latencyInFlight = inFlight;
          log(
            `${cfg.id} ${mode} at ${inFlight} in flight: ${Math.round(l.rate)}/s ` +
              `(${Math.round((100 * l.rate) / Math.max(1, r.rate))}% of ${s.concurrency} in flight) ` +
              `p50 ${(l.p50_us / 1000).toFixed(2)} ms p99 ${(l.p99_us / 1000).toFixed(2)} ms, ${l.errors} errors`,
          );
          if (saturates(l, r)) break;
        }
        throughput.push(row);
      }
    } catch (err) {
      harnessFailures++;
      log(`${cfg.id}: measurement failed: ${(err as Error).stack}`);
    } finally {
      await t.stop();
    }

    // --- memory per stored peer on a fresh tracker ---
    // Two workers share one Redis (same data as one): measured only when one worker could not be.
    const redisFallback =
      cfg.id === 'bitstorm-redis-2w' && statuses.some((st) => st.id === 'bitstorm-redis' && !st.available);
    if ((!cfg.memory && !redisFallback) || !memW || s.memoryPoints.length === 0) continue;
    // The smoke run checks the memory path on BitStorm only: each extra tracker start costs seconds.
    if (s.quick && !cfg.id.startsWith('bitstorm')) continue;
    let m: TrackerHandle;
    try {
      m = await cfg.start();
    } catch (err) {
      log(`${cfg.id}: memory run not started: ${(err as Error).message}`);
      continue;
    }
    try {
      await sleep(s.quick ? 300 : 1000);
      const baseRss = rssBytes(m.trackerPids());
      const baseRedis = m.redis?.usedMemory();
      let stored = 0;
      let from = 0;
      // BitStorm's own figures are the targets: give its prefill the time to reach 1M peers.
      let capLeft = cfg.id.startsWith('bitstorm') ? s.prefillCap * 2 : s.prefillCap;
      for (const point of s.memoryPoints) {
        const began = Date.now();
        const r = await prefill(m, memW, from, Math.min(point, memW.prefill), capLeft);
        capLeft = Math.max(1, capLeft - (Date.now() - began) / 1000);
        stored += r.ok;
        from = Math.min(point, memW.prefill);
        // Let the tracker finish its queued work (and Node a GC cycle) before reading RSS.
        await sleep(s.quick ? 500 : 2000);
        const rss = rssBytes(m.trackerPids());
        const redisNow = m.redis?.usedMemory();
        memory.push({
          id: cfg.id,
          target: point,
          stored,
          errors: r.errors,
          baseRss,
          rss,
          ...(baseRedis !== undefined && redisNow !== undefined ? { redisBase: baseRedis, redisUsed: redisNow } : {}),
          prefillRate: r.rate,
          capped: stored < point * 0.99,
        });
        log(
          `${cfg.id} memory: ${stored} peers, RSS +${((rss - baseRss) / 2 ** 20).toFixed(1)} MiB = ${((rss - baseRss) / Math.max(1, stored)).toFixed(0)} B/peer` +
            (redisNow !== undefined && baseRedis !== undefined
              ? `, redis used_memory ${((redisNow - baseRedis) / Math.max(1, stored)).toFixed(0)} B/peer`
              : '') +
            `, prefill ${Math.round(r.rate)}/s, ${r.errors} errors`,
        );
        if (stored < point * 0.99) break; // capped: later points are out of reach
      }
    } catch (err) {
      harnessFailures++;
      log(`${cfg.id}: memory measurement failed: ${(err as Error).stack}`);
    } finally {
      await m.stop();
    }
  }

  const date = new Date().toISOString().slice(0, 10);
  const report = renderReport({
    machine,
    settings: {
      quick: s.quick,
      duration: s.duration,
      warmup: s.warmup,
      concurrency: s.concurrency,
      latencySteps: s.latencySteps.filter((n) => n < s.concurrency),
      torrents: s.torrents,
      loadClients: s.loadClients,
      loadPeers: loadW.prefill,
      memoryPoints: s.memoryPoints,
    },
    statuses,
    throughput,
    memory,
    elapsedSeconds: Math.round((Date.now() - t0) / 1000),
    finishedLoad: loadAverage(),
  });
  const withWs = s.ws === 'also' ? `${report}\n${await wsBench()}` : report;
  console.log(withWs);
  const out = s.out ?? (s.quick ? join(benchDir, 'results', `${date}-quick.md.tmp`) : freshResultFile(date));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, withWs);
  log(`written to ${out}`);

  // The smoke check fails on a broken harness, not on a missed target.
  const bitstorm = throughput.filter((r) => r.id === 'bitstorm-memory' && r.result);
  if (harnessFailures > 0 || (configs.some((c) => c.id === 'bitstorm-memory') && bitstorm.length === 0)) {
    log('FAILED: the harness could not measure BitStorm');
    process.exitCode = 1;
  }
}

/** The -warm configurations' --stats-warm: a table a minute old at most, as an operator might choose. */
const STATS_WARM_S = 60;

/** `--long-tail`: bench/long-tail.ts on the six configurations (or --only's), its own report file. */
async function longTail(
  s: Settings,
  env: ReturnType<typeof setup>,
  nodeArgs: string[],
  work: string,
  t0: number,
  startLoad: string,
): Promise<void> {
  const torrents = s.quick ? 20_000 : 1_000_000;
  const w = buildLongTailWorkload(
    { torrents, steadyRecords: s.quick ? 60_000 : 1_000_000, seed: 19 },
    join(work, 'long-tail.bin'),
  );
  log(`long tail: ${torrents} torrents, ${w.prefill} peers, ${w.clients} clients (workload built)`);
  // The prefill caps: BitStorm's figures are the goals, so it gets the time to store everything;
  // the references get 150 s as in the main bench (bittorrent-tracker could otherwise dominate the run).
  const cap = (id: string): number => (s.quick ? 20 : id.startsWith('bitstorm') ? 300 : 150);
  // BitStorm's RSS is read again after a full GC (bench/gc-on-signal.ts).
  const gcOnSignal = ['--expose-gc', '--import', new URL('./gc-on-signal.js', import.meta.url).href];
  const all: LongTailConfig[] = [
    {
      id: 'opentracker',
      prefillCap: cap('opentracker'),
      stats: false,
      start: () => {
        if (!env.opentracker) throw new Error('not installed (apt-get install opentracker)');
        return startOpentracker(env.opentracker, w.hashes, work);
      },
    },
    {
      id: 'bittorrent-tracker',
      prefillCap: cap('bittorrent-tracker'),
      stats: false,
      start: () => {
        if (!env.btServer) throw new Error(env.btNote || 'not installed');
        return startBittorrentTracker(depsDir, env.btServer);
      },
    },
    {
      id: 'bitstorm-memory',
      prefillCap: cap('bitstorm-memory'),
      stats: true,
      collectsOnSignal: true,
      start: () => startBitstorm({ repoRoot, redis: false, workers: 1, nodeArgs: [...nodeArgs, ...gcOnSignal] }),
    },
    {
      // The same with the stats table kept warm: what a first visit gets then, and what it costs.
      id: 'bitstorm-memory-warm',
      prefillCap: cap('bitstorm-memory-warm'),
      stats: true,
      collectsOnSignal: true,
      start: () =>
        startBitstorm({
          repoRoot,
          redis: false,
          workers: 1,
          nodeArgs: [...nodeArgs, ...gcOnSignal],
          extraArgs: ['--stats-warm', String(STATS_WARM_S)],
        }),
    },
    {
      id: 'bitstorm-redis',
      prefillCap: cap('bitstorm-redis'),
      stats: true,
      collectsOnSignal: true,
      start: () => startRedisBitstorm(1, [...nodeArgs, ...gcOnSignal]),
    },
    {
      id: 'bitstorm-redis-warm',
      prefillCap: cap('bitstorm-redis-warm'),
      stats: true,
      collectsOnSignal: true,
      start: () => startRedisBitstorm(1, [...nodeArgs, ...gcOnSignal], ['--stats-warm', String(STATS_WARM_S)]),
    },
  ];
  const configs = all.filter((c) => !s.only || s.only.includes(c.id));
  if (configs.length === 0)
    throw new Error(
      `--only ${s.only?.join(',')} names no long-tail configuration (${all.map((c) => c.id).join(', ')})`,
    );
  const { section, measured } = await runLongTailBench({
    loadgenBin,
    workload: w,
    configs,
    duration: s.duration,
    warmup: s.warmup,
    concurrency: s.concurrency,
    quick: s.quick,
    log,
  });
  const date = new Date().toISOString().slice(0, 10);
  const report =
    `# Long tail, ${date}\n\n${machineLine()}\n\n` +
    `\`npm run bench -- --long-tail${s.quick ? ' --quick' : ''}\`${s.only ? ` (--only ${s.only.join(',')})` : ''}, ` +
    `${Math.round((Date.now() - t0) / 1000)} s, load average at the start ${startLoad}, at the end ${loadAverage()} ` +
    `(the load averages here and after each steady load show what else ran: above ${cpus().length}, ` +
    `the machine's cores, other work shared them and the figures are noisy).\n\n${section}\n`;
  console.log(report);
  const out =
    s.out ??
    (s.quick ? join(benchDir, 'results', `${date}-long-tail-quick.md.tmp`) : freshResultFile(date, '-long-tail'));
  mkdirSync(dirname(out), { recursive: true });
  writeFileSync(out, report);
  log(`written to ${out}`);
  // The smoke check fails when BitStorm on the memory store could not be measured, never on a missed goal.
  if (configs.some((c) => c.id === 'bitstorm-memory') && !measured.includes('bitstorm-memory')) {
    log('FAILED: the harness could not measure BitStorm');
    process.exitCode = 1;
  }
}

main()
  .catch((err) => {
    console.error('bench:', err instanceof Error ? err.stack : err);
    process.exitCode = 1;
  })
  .finally(() => killAll());

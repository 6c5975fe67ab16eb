import { execFileSync, spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { buildLoadgen } from './loadgen.js';
import { cpuMicros, rssBytes } from './proc.js';
import { startBitstorm, startBittorrentTracker, type TrackerHandle } from './trackers.js';

/**
 * The WebSocket (WebTorrent) tracker bench: BitStorm beside bittorrent-tracker's
 * WebSocket server, in the same run, with the same generator:
 *
 * - load: sockets keep `window` announces in flight each, every announce
 *   carrying offers that the tracker relays to other sockets, which answer
 *   them (the tracker relays the answers back): announces/s and tracker CPU
 *   per announce. The generator is bench/ws-loadgen.c (C, epoll) unless it
 *   cannot be built or `generator: 'node'` asks for bench/ws-loadgen.ts;
 * - idle: 10,000 sockets that announced once and stay open (ws-loadgen.ts):
 *   tracker RSS per socket (and Redis used_memory per socket on Redis).
 *
 * The generator shares the machine's cores with the tracker: its own CPU per
 * announce is measured, and 1 core divided by it is the generator's ceiling.
 */

export const WS_CONFIGS = ['bittorrent-tracker', 'bitstorm-memory', 'bitstorm-redis', 'bitstorm-redis-2w'] as const;

export interface WsBenchSettings {
  repoRoot: string;
  depsDir: string;
  btServer: string | undefined;
  quick: boolean;
  log: (line: string) => void;
  /** Configuration ids (WS_CONFIGS) to run; default: all, or bittorrent-tracker and bitstorm-memory in quick runs. */
  only?: string[] | undefined;
  generator?: 'c' | 'node';
  /** Measured seconds of each load (default 10; quick 1). */
  seconds?: number;
  sockets?: number;
  /** Announces in flight per socket. */
  window?: number;
  offers?: number;
  idleSockets?: number;
}

interface LoadParams {
  sockets: number;
  torrents: number;
  window: number;
  warmup: number;
  seconds: number;
  offers: number;
}

interface LoadFigures {
  announces: number;
  seconds: number;
  rate: number;
  offersReceived: number;
  answersReceived: number;
  failures: number;
  /** Sockets the tracker closed (or reset) during the run, and sockets that never opened. */
  closed: number;
  connectErrors: number;
  p50Us?: number;
  p99Us?: number;
  sdpBytes?: number;
  firstError?: string;
  /** Tracker processes' CPU over the measured window, µs (redis-server not included). */
  cpuUs: number;
  /** redis-server's CPU over the same window, µs. */
  redisCpuUs: number;
  genCpuUs: number;
}

interface Row {
  id: string;
  name: string;
  load?: LoadFigures;
  idle?: { sockets: number; kibPerSocket: number; redisKibPerSocket?: number };
  errors: string[];
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** Builds bench/ws-loadgen.c into bench/.deps; undefined (with the reason logged) when it cannot. */
function buildWsLoadgen(s: WsBenchSettings): string | undefined {
  const binary = join(s.depsDir, 'ws-loadgen');
  try {
    buildLoadgen(join(s.repoRoot, 'bench', 'ws-loadgen.c'), binary);
    return binary;
  } catch (err) {
    s.log(`ws: bench/ws-loadgen.c not built (${(err as Error).message.split('\n')[0]}); the Node generator is used`);
    return undefined;
  }
}

/** The soft limit on open files, raised (prlimit on this process, inherited by the children) to `need` when lower. */
function ensureFdLimit(need: number, log: (line: string) => void): number {
  const read = (): { soft: number; hard: number } => {
    const m = /Max open files\s+(\d+|unlimited)\s+(\d+|unlimited)/.exec(readFileSync('/proc/self/limits', 'utf8'));
    const n = (v: string | undefined): number => (v === undefined || v === 'unlimited' ? 1 << 30 : Number(v));
    return { soft: n(m?.[1]), hard: n(m?.[2]) };
  };
  const { soft, hard } = read();
  if (soft >= need) return soft;
  try {
    execFileSync('prlimit', ['--pid', String(process.pid), `--nofile=${need}:${Math.max(hard, need)}`], {
      stdio: 'ignore',
    });
  } catch {
    log(`ws: open files limited to ${soft} and prlimit could not raise it to ${need}`);
  }
  return read().soft;
}

function runLoad(
  s: WsBenchSettings,
  binary: string | undefined,
  url: URL,
  tracker: TrackerHandle,
  p: LoadParams,
): Promise<LoadFigures> {
  const [cmd, args] = binary
    ? [
        binary,
        [
          '--port',
          url.port,
          '--path',
          url.pathname,
          '--sockets',
          String(p.sockets),
          '--torrents',
          String(p.torrents),
          '--window',
          String(p.window),
          '--offers',
          String(p.offers),
          '--warmup',
          String(p.warmup),
          '--duration',
          String(p.seconds),
        ],
      ]
    : [
        process.execPath,
        [
          join(s.repoRoot, 'dist', 'bench', 'ws-loadgen.js'),
          'load',
          url.href,
          String(p.sockets),
          String(p.torrents),
          String(p.warmup),
          String(p.seconds),
          String(p.offers),
          String(p.window),
        ],
      ];
  const child = spawn(cmd, args, { stdio: ['ignore', 'pipe', 'pipe'] });
  const redisPids = (): number[] => (tracker.redis ? [tracker.redis.pid] : []);
  const sample = (): [number, number, number] => [
    cpuMicros(tracker.trackerPids()),
    cpuMicros(redisPids()),
    cpuMicros([child.pid as number]),
  ];
  let at0: [number, number, number] | undefined;
  let at1: [number, number, number] | undefined;
  let buf = '';
  let err = '';
  let json = '';
  return new Promise((resolve, reject) => {
    // Hard bound: the generator stops by itself; this only catches a hang (sockets open in ≤ 15 s).
    const killer = setTimeout(() => child.kill('SIGKILL'), (p.warmup + p.seconds + 45) * 1000);
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      for (let nl = buf.indexOf('\n'); nl >= 0; nl = buf.indexOf('\n')) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === 'START') at0 = sample();
        else if (line === 'END') at1 = sample();
        else if (line.startsWith('{')) json = line;
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      if (!json || !at0 || !at1) return reject(new Error(`ws generator exited ${code}: ${err.trim().slice(-300)}`));
      const r = JSON.parse(json) as Omit<LoadFigures, 'cpuUs' | 'redisCpuUs' | 'genCpuUs'>;
      resolve({ ...r, cpuUs: at1[0] - at0[0], redisCpuUs: at1[1] - at0[1], genCpuUs: at1[2] - at0[2] });
    });
  });
}

async function runIdle(
  s: WsBenchSettings,
  url: URL,
  tracker: TrackerHandle,
  sockets: number,
  settleMs: number,
): Promise<{ sockets: number; kibPerSocket: number; redisKibPerSocket?: number }> {
  const before = rssBytes(tracker.trackerPids());
  const redisBefore = tracker.redis?.usedMemory();
  const child = spawn(
    process.execPath,
    [join(s.repoRoot, 'dist', 'bench', 'ws-loadgen.js'), 'idle', url.href, String(sockets), '100'],
    { stdio: ['pipe', 'pipe', 'pipe'] },
  );
  let out = '';
  try {
    const opened = await new Promise<number>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error(`idle sockets not open in 90 s: ${out.slice(-300)}`)), 90_000);
      const onData = (d: Buffer): void => {
        out += d;
        const m = /idle-ready (\d+)/.exec(out);
        if (m) {
          clearTimeout(timer);
          resolve(Number(m[1]));
        }
      };
      child.stdout.on('data', onData);
      child.stderr.on('data', onData);
      child.on('exit', (code) => reject(new Error(`idle generator exited ${code}: ${out.slice(-300)}`)));
    });
    // Let the tracker settle (its allocations after the last announce) before reading RSS.
    await sleep(settleMs);
    const after = rssBytes(tracker.trackerPids());
    const redisAfter = tracker.redis?.usedMemory();
    const per = (bytes: number): number => bytes / 1024 / Math.max(1, opened);
    return {
      sockets: opened,
      kibPerSocket: per(after - before),
      ...(redisBefore !== undefined && redisAfter !== undefined
        ? { redisKibPerSocket: per(redisAfter - redisBefore) }
        : {}),
    };
  } finally {
    child.kill('SIGKILL');
  }
}

/** Runs the WebSocket bench; returns its markdown section ('' when `only` leaves no configuration). */
export async function runWsBench(s: WsBenchSettings): Promise<string> {
  const load: LoadParams = {
    sockets: s.sockets ?? (s.quick ? 20 : 200),
    torrents: s.quick ? 5 : 50,
    window: s.window ?? 1,
    warmup: s.quick ? 0.5 : 3,
    seconds: s.seconds ?? (s.quick ? 1 : 10),
    offers: s.offers ?? (s.quick ? 2 : 5),
  };
  load.torrents = Math.max(1, Math.min(load.torrents, Math.floor(load.sockets / 4)));
  const wanted = s.only ?? (s.quick ? ['bittorrent-tracker', 'bitstorm-memory'] : [...WS_CONFIGS]);
  const binary = s.generator === 'node' ? undefined : buildWsLoadgen(s);
  let idleSockets = s.idleSockets ?? (s.quick ? 200 : 10_000);
  // The idle run holds that many sockets in the generator and in the tracker (two workers: split between them).
  const limit = ensureFdLimit(idleSockets + 1000, s.log);
  if (limit < idleSockets + 200) {
    s.log(`ws: open files limited to ${limit}: ${limit - 200} idle sockets instead of ${idleSockets}`);
    idleSockets = Math.max(0, limit - 200);
  }
  const bitstorm = (redis: boolean, workers: number) => (): Promise<TrackerHandle> =>
    startBitstorm({
      repoRoot: s.repoRoot,
      redis,
      workers,
      extraArgs: ['--udp-port', 'off', '--stats', 'off'],
    });
  const configs: { id: string; name: string; path: string; start: () => Promise<TrackerHandle> }[] = [
    {
      id: 'bittorrent-tracker',
      name: 'bittorrent-tracker',
      path: '/',
      start: () => {
        if (!s.btServer) throw new Error('bittorrent-tracker is not installed');
        return startBittorrentTracker(s.depsDir, s.btServer, true);
      },
    },
    { id: 'bitstorm-memory', name: 'bitstorm memory', path: '/announce', start: bitstorm(false, 1) },
    { id: 'bitstorm-redis', name: 'bitstorm redis', path: '/announce', start: bitstorm(true, 1) },
    { id: 'bitstorm-redis-2w', name: 'bitstorm redis, 2 workers', path: '/announce', start: bitstorm(true, 2) },
  ].filter((c) => wanted.includes(c.id));
  if (configs.length === 0) return '';
  const rows: Row[] = [];
  for (const config of configs) {
    const row: Row = { id: config.id, name: config.name, errors: [] };
    rows.push(row);
    for (const part of ['load', 'idle'] as const) {
      if (part === 'idle' && idleSockets === 0) continue;
      // A fresh tracker for each part: the idle RSS baseline must not carry the load's heap.
      let tracker: TrackerHandle;
      try {
        tracker = await config.start();
      } catch (err) {
        row.errors.push(`${part}: not started: ${(err as Error).message.split('\n')[0]}`);
        s.log(`ws ${config.name}: ${row.errors.at(-1)}`);
        continue;
      }
      const url = new URL(`ws://127.0.0.1:${tracker.port}${config.path}`);
      try {
        if (part === 'load') {
          const l = await runLoad(s, binary, url, tracker, load);
          row.load = l;
          s.log(
            `ws ${config.name}: ${Math.round(l.rate)} announces/s, ${((l.cpuUs + l.redisCpuUs) / Math.max(1, l.announces)).toFixed(1)} µs CPU each` +
              `${tracker.redis ? ` (Redis ${(l.redisCpuUs / Math.max(1, l.announces)).toFixed(1)})` : ''}, ` +
              `generator ${(l.genCpuUs / Math.max(1, l.announces)).toFixed(1)} µs, ` +
              `${l.offersReceived} offers and ${l.answersReceived} answers relayed, ${l.failures} failures, ${l.closed} sockets closed` +
              (l.firstError ? ` (first: ${l.firstError})` : ''),
          );
        } else {
          row.idle = await runIdle(s, url, tracker, idleSockets, s.quick ? 200 : 2000);
          s.log(
            `ws ${config.name}: ${row.idle.kibPerSocket.toFixed(2)} KiB RSS per idle socket (${row.idle.sockets})` +
              (row.idle.redisKibPerSocket !== undefined
                ? `, Redis used_memory ${row.idle.redisKibPerSocket.toFixed(2)} KiB`
                : ''),
          );
        }
      } catch (err) {
        row.errors.push(`${part}: ${(err as Error).message.split('\n')[0]}`);
        s.log(`ws ${config.name}: ${row.errors.at(-1)}`);
      } finally {
        await tracker.stop();
      }
    }
  }
  return render(rows, load, idleSockets, binary ? 'bench/ws-loadgen.c' : 'bench/ws-loadgen.ts');
}

const fmt = (n: number, digits = 0): string =>
  n.toLocaleString('en-US', { minimumFractionDigits: digits, maximumFractionDigits: digits });

function render(rows: Row[], load: LoadParams, idleSockets: number, generator: string): string {
  const bt = rows.find((r) => r.id === 'bittorrent-tracker')?.load;
  const per = (us: number, l: LoadFigures): number => us / Math.max(1, l.announces);
  const L: string[] = [];
  L.push('## WebSocket (WebTorrent) tracker');
  L.push('');
  const sdp = rows.find((r) => r.load?.sdpBytes)?.load?.sdpBytes;
  L.push(
    `Load (${generator}): ${load.sockets} sockets over ${load.torrents} torrents, ${load.window} announce${load.window > 1 ? 's' : ''} in flight per socket, ` +
      `${load.offers} offers (${sdp ? `${sdp}-byte` : '~450-byte'} SDPs) per announce relayed to other sockets, every offer answered ` +
      `and the answer relayed back (${3 * load.offers + 2} messages through the tracker per announce); ${load.seconds} s measured after ${load.warmup} s. ` +
      (idleSockets > 0
        ? `Idle: ${fmt(idleSockets)} sockets (bench/ws-loadgen.ts) that announced once to one of 100 torrents, tracker RSS growth per socket ` +
          '(on Redis, Redis used_memory growth beside it). '
        : 'Idle: not run (--ws-idle 0). ') +
      'CPU per announce is the tracker processes’ (plus redis-server’s, in parentheses) over the measured window; ' +
      '“CPU use” is that CPU in cores: a one-process tracker at ~1.0 is the bottleneck, well below 1.0 it waits for the generator or the machine.',
  );
  L.push('');
  L.push(
    '| tracker | announces/s | tracker CPU per announce | tracker CPU use | generator CPU per announce | p50 / p99 reply | offers / answers relayed | failures / sockets closed | ÷ bittorrent-tracker, announces/s | KiB per idle socket |',
  );
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of rows) {
    const l = r.load;
    const cells = l
      ? [
          fmt(l.rate),
          `${per(l.cpuUs + l.redisCpuUs, l).toFixed(1)} µs${l.redisCpuUs > 0 ? ` (Redis ${per(l.redisCpuUs, l).toFixed(1)})` : ''}`,
          (l.cpuUs / 1e6 / Math.max(0.001, l.seconds)).toFixed(2),
          `${per(l.genCpuUs, l).toFixed(1)} µs`,
          l.p50Us !== undefined && l.p99Us !== undefined
            ? `${(l.p50Us / 1000).toFixed(1)} / ${(l.p99Us / 1000).toFixed(1)} ms`
            : '–',
          `${fmt(l.offersReceived)} / ${fmt(l.answersReceived)}`,
          `${l.failures} / ${l.closed + l.connectErrors}`,
          bt && bt.rate > 0 ? `${(l.rate / bt.rate).toFixed(2)}×` : '–',
        ]
      : ['–', '–', '–', '–', '–', '–', '–', '–'];
    const idle = r.idle
      ? `${r.idle.kibPerSocket.toFixed(2)}${r.idle.redisKibPerSocket !== undefined ? ` (Redis ${r.idle.redisKibPerSocket.toFixed(2)})` : ''}`
      : '–';
    L.push(`| ${r.name} | ${cells.join(' | ')} | ${idle} |`);
  }
  const gens = rows.flatMap((r) => (r.load && r.load.announces > 0 ? [per(r.load.genCpuUs, r.load)] : []));
  if (gens.length > 0) {
    const most = Math.max(...gens);
    L.push('');
    L.push(
      `Generator ceiling: ${generator} spent up to ${most.toFixed(1)} µs of CPU per announce (its share of the ` +
        `loopback TCP work included), so one core of it drives at most ~${fmt(1e6 / most)} announces/s; a tracker ` +
        'measured well below that, with its CPU use near 1.0, is the bottleneck, not the generator.',
    );
  }
  for (const r of rows) {
    if (r.load?.firstError) L.push(`\n${r.name}, first error or failure: ${r.load.firstError}`);
    for (const e of r.errors) L.push(`\n${r.name}: ${e}`);
  }
  L.push('');
  return L.join('\n');
}

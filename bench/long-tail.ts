import { createSocket } from 'node:dgram';
import { writeFileSync } from 'node:fs';
import { type LoadOptions, type LoadResult, runLoad } from './loadgen.js';
import { loadAverage } from './machine.js';
import { cpuMicros, rssBytes } from './proc.js';
import type { TrackerHandle } from './trackers.js';
import { EVENT_NONE, EVENT_STARTED, rng, torrentHash } from './workload.js';

/**
 * `npm run bench -- --long-tail`: the load of issue 19, a million small
 * torrents (1–3 peers each) instead of the main bench's 10,000 torrents of
 * ~30 peers. Every tracker gets the same prefill (same records, same order),
 * then, on that state:
 *
 * - RSS growth per torrent and per peer (on Redis: Redis' `used_memory`
 *   growth, and the tracker's own RSS growth beside it);
 * - the prefill's announces/s;
 * - a steady UDP load of regular updates of stored peers (no event, numwant
 *   50): announces/s, tracker CPU µs per announce (Redis' CPU added);
 * - BitStorm only: the time to the first answer of the statistics table's
 *   `/stats.json` request sorted by seeders, descending (DataTables'
 *   server-side request, as the page sends it), and of a second one.
 *
 * The workload is written in the main bench's file format (bench/workload.ts),
 * so bench/loadgen.c replays it unchanged.
 */

/** Peers per torrent: P(k) ∝ k^-ZIPF_EXPONENT for k = 1, 2, 3 (≈ 68 %, 21 %, 11 %; 1.42 peers per torrent). */
export const ZIPF_EXPONENT = 1.7;
const MAX_PEERS = 3;
/** Clients per source IP, as bench/workload.ts (ports 1024 + i stay below 65536). */
const CLIENTS_PER_IP = 60_000;

export interface LongTailSpec {
  torrents: number;
  /** Steady-state announces after the prefill (replayed in a loop by the steady load). */
  steadyRecords: number;
  seed: number;
}

export interface LongTailWorkload {
  file: string;
  hashes: Buffer[];
  /** Peers of each torrent (1–3). */
  peersOf: Uint8Array;
  /** Records [0, prefill) start each peer once: the prefill. */
  prefill: number;
  total: number;
  clients: number;
  /** Torrents with 1, 2 and 3 peers. */
  sizes: [number, number, number];
}

/**
 * Torrent t has k peers with P(k) ∝ k^-1.7. Peers are numbered in torrent
 * order and peer m belongs to client m mod ⌈peers/3⌉, so a client is in about
 * three torrents and never twice in one. The first peer of a torrent is a
 * seeder with probability 0.7 (a lone peer is usually the uploader), the
 * others with 0.35. The prefill starts every peer once, in a seeded random
 * order (not torrent by torrent); the steady records are regular updates
 * (no event) of uniformly chosen stored peers.
 */
export function buildLongTailWorkload(spec: LongTailSpec, file: string): LongTailWorkload {
  const random = rng(spec.seed);
  const weights = Array.from({ length: MAX_PEERS }, (_, i) => 1 / (i + 1) ** ZIPF_EXPONENT);
  const wsum = weights.reduce((a, b) => a + b, 0);
  const peersOf = new Uint8Array(spec.torrents);
  const sizes: [number, number, number] = [0, 0, 0];
  let peers = 0;
  for (let t = 0; t < spec.torrents; t++) {
    let u = random() * wsum;
    let k = 1;
    while (k < MAX_PEERS && u >= (weights[k - 1] as number)) u -= weights[k++ - 1] as number;
    peersOf[t] = k;
    sizes[k - 1] = (sizes[k - 1] as number) + 1;
    peers += k;
  }
  const clients = Math.max(MAX_PEERS, Math.ceil(peers / MAX_PEERS));
  const mTorrent = new Uint32Array(peers);
  const mSeeder = new Uint8Array(peers);
  for (let t = 0, m = 0; t < spec.torrents; t++) {
    for (let j = 0; j < (peersOf[t] as number); j++, m++) {
      mTorrent[m] = t;
      mSeeder[m] = random() < (j === 0 ? 0.7 : 0.35) ? 1 : 0;
    }
  }
  const order = new Uint32Array(peers);
  for (let i = 0; i < peers; i++) order[i] = i;
  for (let i = peers - 1; i > 0; i--) {
    const j = Math.floor(random() * (i + 1));
    const x = order[i] as number;
    order[i] = order[j] as number;
    order[j] = x;
  }
  const hashes = Array.from({ length: spec.torrents }, (_, i) => torrentHash(i, spec.seed));
  const total = peers + spec.steadyRecords;
  const ips = Math.max(1, Math.ceil(clients / CLIENTS_PER_IP));
  const buf = Buffer.alloc(24 + spec.torrents * 20 + total * 12);
  buf.write('BSWL', 0, 'latin1');
  buf.writeUInt32LE(1, 4);
  buf.writeUInt32LE(spec.torrents, 8);
  buf.writeUInt32LE(clients, 12);
  buf.writeUInt32LE(total, 16);
  buf.writeUInt32LE(ips, 20);
  let off = 24;
  for (const h of hashes) off += h.copy(buf, off);
  const put = (m: number, event: number): void => {
    buf.writeUInt32LE(mTorrent[m] as number, off);
    buf.writeUInt32LE(m % clients, off + 4);
    buf.writeUInt8(event, off + 8);
    buf.writeUInt8(mSeeder[m] as number, off + 9);
    off += 12;
  };
  for (let i = 0; i < peers; i++) put(order[i] as number, EVENT_STARTED);
  for (let i = 0; i < spec.steadyRecords; i++) put(Math.floor(random() * peers), EVENT_NONE);
  writeFileSync(file, buf);
  return { file, hashes, peersOf, prefill: peers, total, clients, sizes };
}

/**
 * Torrents expected to hold a peer when a share `f` of the prefill (in its
 * random order) was stored: Σ 1 − (1 − f)^k. Exact when the prefill completed.
 */
function torrentsStored(w: LongTailWorkload, stored: number): number {
  if (stored >= w.prefill) return w.peersOf.length;
  const f = stored / w.prefill;
  let sum = 0;
  for (const k of w.peersOf) sum += 1 - (1 - f) ** k;
  return Math.round(sum);
}

/**
 * Whether the tracker accepts an announce of this hash over UDP: a `stopped`
 * announce of a peer it never saw (stores nothing). opentracker loads its
 * whitelist in a thread after it starts listening, a 1M-hash one in seconds.
 */
function udpAccepts(port: number, hash: Buffer, timeoutMs = 700): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const connect = Buffer.alloc(16);
    connect.writeBigUInt64BE(0x41727101980n, 0);
    connect.writeUInt32BE(0, 8);
    connect.writeUInt32BE(0x4242, 12);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on('message', (msg) => {
      const action = msg.length >= 8 ? msg.readUInt32BE(0) : -1;
      if (action === 0 && msg.length >= 16 && msg.readUInt32BE(4) === 0x4242) {
        const a = Buffer.alloc(98);
        msg.copy(a, 0, 8, 16);
        a.writeUInt32BE(1, 8);
        a.writeUInt32BE(0x4343, 12);
        hash.copy(a, 16);
        a.write('-BZ0100-probeprobe00', 36, 'latin1');
        a.writeUInt32BE(3, 80); // stopped
        a.writeUInt16BE(9, 96);
        s.send(a, port, '127.0.0.1');
      } else done(action === 1 && msg.readUInt32BE(4) === 0x4343);
    });
    s.on('error', () => done(false));
    s.send(connect, port, '127.0.0.1');
  });
}

export interface LongTailConfig {
  id: string;
  start: () => Promise<TrackerHandle>;
  /** Seconds the prefill may take before what was reached is measured. */
  prefillCap: number;
  /** BitStorm: time `/stats.json` sorted by seeders. */
  stats: boolean;
  /** Started with bench/gc-on-signal.ts preloaded: its RSS is read again after a full garbage collection. */
  collectsOnSignal?: boolean;
}

export interface LongTailOptions {
  loadgenBin: string;
  workload: LongTailWorkload;
  configs: LongTailConfig[];
  duration: number;
  warmup: number;
  concurrency: number;
  quick: boolean;
  log: (line: string) => void;
}

interface StatsTiming {
  firstMs: number;
  /** CPU the tracker processes spent while the first answer was awaited (ms): wall time far above it means other work had the cores. */
  firstCpuMs: number;
  secondMs: number;
  recordsTotal: number;
  /** How long before the request the first answer's table was made (ms); ≤ 0: the request made it. */
  tableAgeMs: number;
  error?: string;
}

interface Row {
  id: string;
  unavailable?: string;
  notes: string[];
  stored: number;
  torrents: number;
  prefill?: LoadResult;
  rssGrowth: number;
  /** The RSS growth again after a full garbage collection (collectsOnSignal). */
  rssLive?: number;
  redisGrowth?: number;
  steady?: LoadResult;
  stats?: StatsTiming;
  /** The same steady load while the first `/stats.json` answer was computed. */
  duringStats?: LoadResult;
  /** The same load as duringStats with no /stats.json request: its reference. */
  withoutStats?: LoadResult;
  /** Half the steady rate, paced (--rate): with no request, then while a request rebuilds the table. */
  halfRate?: {
    rate: number;
    pauseS: number;
    without: LoadResult;
    during: LoadResult;
    rebuilt: boolean;
    /** A rebuild that outlasted the run: seconds from the request until the new table was seen (polled every 250 ms). */
    outlastedS?: number;
  };
  load: string;
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

/** The DataTables request of the statistics page's torrent table: first page of 10, by seeders, descending. */
export const STATS_BY_SEEDERS =
  '/stats.json?draw=1&start=0&length=10&search%5Bvalue%5D=&search%5Bregex%5D=false' +
  '&order%5B0%5D%5Bcolumn%5D=1&order%5B0%5D%5Bdir%5D=desc&columns%5B0%5D%5Bdata%5D=infoHash';

/** The time of the table a `/stats.json` table request is answered from (its `snapshotAt`), or NaN. */
async function snapshotAt(port: number): Promise<number> {
  try {
    const res = await fetch(`http://127.0.0.1:${port}${STATS_BY_SEEDERS}`, { signal: AbortSignal.timeout(30_000) });
    const body = (await res.json()) as { snapshotAt?: number };
    return typeof body.snapshotAt === 'number' ? body.snapshotAt : Number.NaN;
  } catch {
    return Number.NaN;
  }
}

async function timeStats(port: number, timeoutMs: number, pids: () => number[]): Promise<StatsTiming> {
  const once = async (draw: number): Promise<{ ms: number; recordsTotal: number; tableAgeMs: number }> => {
    const asked = Date.now();
    const t0 = performance.now();
    const res = await fetch(`http://127.0.0.1:${port}${STATS_BY_SEEDERS.replace('draw=1', `draw=${draw}`)}`, {
      signal: AbortSignal.timeout(timeoutMs),
    });
    const text = await res.text();
    const ms = performance.now() - t0;
    if (res.status !== 200) throw new Error(`status ${res.status}: ${text.slice(0, 200)}`);
    const body = JSON.parse(text) as { recordsTotal?: number; data?: unknown[]; snapshotAt?: number };
    if (!Array.isArray(body.data)) throw new Error(`no data: ${text.slice(0, 200)}`);
    const tableAgeMs = typeof body.snapshotAt === 'number' ? asked - body.snapshotAt : Number.NaN;
    return { ms, recordsTotal: body.recordsTotal ?? Number.NaN, tableAgeMs };
  };
  try {
    const cpu0 = cpuMicros(pids());
    const first = await once(1);
    const firstCpuMs = (cpuMicros(pids()) - cpu0) / 1000;
    const second = await once(2);
    return {
      firstMs: first.ms,
      firstCpuMs,
      secondMs: second.ms,
      recordsTotal: first.recordsTotal,
      tableAgeMs: first.tableAgeMs,
    };
  } catch (err) {
    return {
      firstMs: Number.NaN,
      firstCpuMs: Number.NaN,
      secondMs: Number.NaN,
      recordsTotal: Number.NaN,
      tableAgeMs: Number.NaN,
      error: (err as Error).message,
    };
  }
}

export interface LongTailResult {
  /** The report section (markdown). */
  section: string;
  /** Configurations whose prefill and steady load were measured. */
  measured: string[];
}

/** The prefill: every peer of the workload started once over UDP, 128 in flight, for at most `capS` seconds. */
export function prefillLoad(
  binary: string,
  w: LongTailWorkload,
  port: number,
  capS: number,
  pids: () => number[],
  sidePids?: () => number[],
): Promise<LoadResult> {
  const run = { concurrency: 128, duration: capS, once: true, start: 0, end: w.prefill, numwant: 0, timeoutMs: 3000 };
  return workloadLoad(binary, w, port, run, pids, sidePids);
}

/** Regular updates (numwant 50) of stored peers over UDP: the steady load, paced to `rate` a second when given. */
export function updateLoad(
  binary: string,
  w: LongTailWorkload,
  port: number,
  run: { concurrency: number; duration: number; warmup: number; rate?: number },
  pids: () => number[],
  sidePids?: () => number[],
): Promise<LoadResult> {
  return workloadLoad(
    binary,
    w,
    port,
    { ...run, start: w.prefill, end: w.total, numwant: 50, timeoutMs: 2000 },
    pids,
    sidePids,
  );
}

/** A run of the generator over UDP on a part of the workload's file. */
function workloadLoad(
  binary: string,
  w: LongTailWorkload,
  port: number,
  run: Omit<LoadOptions, 'binary' | 'file' | 'mode' | 'port' | 'pids' | 'sidePids'>,
  pids: () => number[],
  sidePids: (() => number[]) | undefined,
): Promise<LoadResult> {
  return runLoad({ binary, file: w.file, mode: 'udp', port, ...run, pids, sidePids });
}

export async function runLongTailBench(o: LongTailOptions): Promise<LongTailResult> {
  const w = o.workload;
  const rows: Row[] = [];
  for (const cfg of o.configs) {
    let t: TrackerHandle;
    try {
      t = await cfg.start();
    } catch (err) {
      const reason = (err as Error).message;
      o.log(`long tail: ${cfg.id}: not available: ${reason}`);
      rows.push({ id: cfg.id, unavailable: reason, notes: [], stored: 0, torrents: 0, rssGrowth: 0, load: '' });
      continue;
    }
    const row: Row = { id: cfg.id, notes: [...t.notes], stored: 0, torrents: 0, rssGrowth: 0, load: '' };
    rows.push(row);
    try {
      if (!t.udp) throw new Error('no UDP tracker: the long-tail load is UDP only');
      // The whitelist (opentracker) must be loaded before the prefill, and before the baseline.
      const last = w.hashes.at(-1) as Buffer;
      let accepted = false;
      for (const deadline = Date.now() + 60_000; !accepted && Date.now() < deadline; ) {
        accepted = await udpAccepts(t.port, last);
        if (!accepted) await sleep(500);
      }
      if (!accepted) throw new Error('the tracker did not accept an announce of the workload within 60 s');
      await sleep(o.quick ? 300 : 1000);
      const pids = (): number[] => t.trackerPids();
      const side = (): number[] => (t.redis ? [t.redis.pid] : []);
      const baseRss = rssBytes(pids());
      const baseRedis = t.redis?.usedMemory();
      o.log(`long tail: ${cfg.id}: prefill ${w.prefill} peers in ${w.hashes.length} torrents over UDP`);
      const pre = await prefillLoad(o.loadgenBin, w, t.port, cfg.prefillCap, pids, side);
      row.prefill = pre;
      row.stored = pre.ok;
      row.torrents = torrentsStored(w, pre.ok);
      if (pre.ok < w.prefill)
        row.notes.push(
          `prefill stored ${pre.ok.toLocaleString('en')} of ${w.prefill.toLocaleString('en')} peers (${pre.errors} errors, ${cfg.prefillCap} s cap): per-torrent figures use the ≈${row.torrents.toLocaleString('en')} torrents those peers are expected to cover`,
        );
      // Let the tracker finish queued work (and Node a GC cycle) before reading memory.
      await sleep(o.quick ? 500 : 2000);
      row.rssGrowth = rssBytes(pids()) - baseRss;
      const redisNow = t.redis?.usedMemory();
      if (baseRedis !== undefined && redisNow !== undefined) row.redisGrowth = redisNow - baseRedis;
      o.log(
        `long tail: ${cfg.id}: prefill ${pre.ok} ok, ${pre.errors} errors, ${pre.retries} resent, ${Math.round(pre.rate)}/s; ` +
          `RSS +${(row.rssGrowth / 2 ** 20).toFixed(1)} MiB = ${(row.rssGrowth / Math.max(1, row.torrents)).toFixed(0)} B/torrent` +
          (row.redisGrowth !== undefined
            ? `, redis used_memory ${(row.redisGrowth / Math.max(1, row.torrents)).toFixed(0)} B/torrent`
            : '') +
          (pre.first_error ? ` (first error: ${pre.first_error})` : ''),
      );
      await sleep(300);
      // Regular updates of stored peers (numwant 50), for `duration` s after `warmup` s.
      const steadyLoad = (duration: number, warmup: number, rate?: number): Promise<LoadResult> =>
        updateLoad(o.loadgenBin, w, t.port, { concurrency: o.concurrency, duration, warmup, rate }, pids, side);
      const steady = await steadyLoad(o.duration, o.warmup);
      row.steady = steady;
      row.load = loadAverage();
      o.log(
        `long tail: ${cfg.id} steady udp: ${Math.round(steady.rate)}/s, ${cpu(steady).toFixed(1)} µs CPU/announce, ` +
          `p99 ${(steady.p99_us / 1000).toFixed(2)} ms, ${steady.errors} errors${steady.first_error ? ` (${steady.first_error})` : ''}`,
      );
      if (cfg.collectsOnSignal) {
        // After the steady load, not before: a full GC shrinks the heap, and the steady load would pay for
        // growing it again. The steady load updates stored peers only, so the store holds what it held.
        for (const pid of pids()) process.kill(pid, 'SIGUSR2');
        await sleep(1000);
        row.rssLive = rssBytes(pids()) - baseRss;
        o.log(
          `long tail: ${cfg.id}: RSS after a full GC ${(row.rssLive / Math.max(1, row.torrents)).toFixed(0)} B/torrent`,
        );
      }
      if (cfg.stats) {
        // The first answer is computed while the steady load goes on (a stats page opened on a busy
        // tracker): its time, and the announces' p99 meanwhile against that of the same 6-s load run
        // just before with no request (neither has a warm-up, unlike the steady run above).
        row.withoutStats = await steadyLoad(o.quick ? 2 : 6, 0);
        const during = steadyLoad(o.quick ? 2 : 6, 0);
        await sleep(o.quick ? 300 : 1000);
        const asked = Date.now();
        row.stats = await timeStats(t.port, o.quick ? 30_000 : 120_000, () => [...pids(), ...side()]);
        row.duringStats = await during;
        o.log(
          `long tail: ${cfg.id} /stats.json by seeders under the steady load: first ${row.stats.firstMs.toFixed(0)} ms (tracker CPU ${row.stats.firstCpuMs.toFixed(0)} ms), second ${row.stats.secondMs.toFixed(0)} ms` +
            (row.stats.error ? ` (${row.stats.error})` : '') +
            `; announces meanwhile p99 ${(row.duringStats.p99_us / 1000).toFixed(2)} ms, ${row.duringStats.errors} errors` +
            ` (the same load without the request: p99 ${(row.withoutStats.p99_us / 1000).toFixed(2)} ms)`,
        );
        // The same at half the steady rate, paced. The table exists by now, so the request is answered
        // from it and starts a rebuild in the background (on the Redis store the same scan and sorts as
        // the first build; on the memory store the same walk of its rows for that page) once the last
        // one is old enough: a tracker waits 10x a build's time before the next (snapshot-cache.ts,
        // shared-store-pages.ts), and a build takes about its first answer's time plus the sorts (under
        // a second), so that long after the first build ended is waited for first; `rebuilt` below says
        // whether it was enough.
        const rate = Math.max(1, Math.round(steady.rate / 2));
        const buildGuessMs = (Number.isFinite(row.stats.firstMs) ? row.stats.firstMs : 0) + 1000;
        const pauseMs = o.quick ? 5_500 : Math.max(12_000, asked + 11 * buildGuessMs - Date.now());
        await sleep(pauseMs);
        const halfWithout = await steadyLoad(o.quick ? 2 : 6, 0, rate);
        const halfLoad = steadyLoad(o.quick ? 2 : 6, 0, rate);
        await sleep(o.quick ? 300 : 1000);
        // Answered from the current table; a rebuild it starts shows as a newer table. A rebuild
        // still running when the load ends (Redis) is waited for, up to a minute, to say when it ended.
        // The polls are table requests too: a table they got rebuilt started after the load, and
        // ends the wait unclaimed.
        const requested = Date.now();
        const before = await snapshotAt(t.port);
        const halfDuring = await halfLoad;
        const loadEnded = Date.now();
        let rebuilt = false;
        let outlastedS: number | undefined;
        for (let poll = 0, until = loadEnded + (o.quick ? 5_000 : 60_000); Date.now() < until; poll++) {
          const at = await snapshotAt(t.port);
          if (at >= loadEnded) break;
          // A small store is rebuilt inline: the request's own answer was the new table.
          if (at > before || before >= requested) {
            rebuilt = true;
            if (poll > 0) outlastedS = (Date.now() - requested) / 1000;
            break;
          }
          await sleep(250);
        }
        row.halfRate = {
          rate,
          pauseS: pauseMs / 1000,
          without: halfWithout,
          during: halfDuring,
          rebuilt,
          outlastedS,
        };
        o.log(
          `long tail: ${cfg.id} at ${rate}/s (half the steady rate): p99 ${(halfWithout.p99_us / 1000).toFixed(2)} ms ` +
            `(${cpu(halfWithout).toFixed(1)} µs CPU/announce, ${coreShare(halfWithout)} % of a core), ` +
            `${(halfDuring.p99_us / 1000).toFixed(2)} ms while /stats.json ` +
            (rebuilt
              ? `rebuilt the table${outlastedS === undefined ? '' : ` (done ${outlastedS.toFixed(1)} s after the request, after the run)`}`
              : 'did not rebuild the table'),
        );
      }
    } catch (err) {
      row.notes.push(`measurement failed: ${(err as Error).message}`);
      o.log(`long tail: ${cfg.id}: measurement failed: ${(err as Error).stack}`);
    } finally {
      await t.stop();
    }
  }
  return { section: renderLongTail(o, rows), measured: rows.filter((r) => r.steady).map((r) => r.id) };
}

function cpu(r: LoadResult): number {
  return (r.cpuUs + r.sideCpuUs) / Math.max(1, r.ok);
}

/** The tracker processes' CPU over the measured window, in percent of one core (redis-server's not counted). */
function coreShare(r: LoadResult): string {
  return ((100 * r.cpuUs) / Math.max(1, r.seconds * 1e6)).toFixed(0);
}

const NAMES: Record<string, string> = {
  opentracker: 'opentracker',
  'bittorrent-tracker': 'bittorrent-tracker',
  'bitstorm-memory': 'BitStorm, memory store',
  'bitstorm-memory-warm': 'BitStorm, memory store, --stats-warm',
  'bitstorm-redis': 'BitStorm, Redis store',
  'bitstorm-redis-warm': 'BitStorm, Redis store, --stats-warm',
};

function renderLongTail(o: LongTailOptions, rows: Row[]): string {
  const w = o.workload;
  const n = (x: number): string => Math.round(x).toLocaleString('en');
  const ref = rows.find((r) => r.id === 'opentracker' && r.prefill);
  const ratio = (x: number, y: number | undefined): string =>
    y !== undefined && y > 0 && Number.isFinite(x) ? ` (${(x / y).toFixed(2)}×)` : '';
  const perTorrent = (r: Row): number => r.rssGrowth / Math.max(1, r.torrents);
  const live = (r: Row): string => {
    if (r.rssLive === undefined) return '–';
    const each = r.rssLive / Math.max(1, r.torrents);
    return r.redisGrowth === undefined ? `${n(each)} B${ratio(each, refPerTorrent)}` : `${n(each)} B of its own`;
  };
  const refPerTorrent = ref ? perTorrent(ref) : undefined;
  const out: string[] = [];
  const [one, two, three] = w.sizes;
  const tn = w.hashes.length;
  out.push(
    `Workload: ${n(tn)} torrents with 1–3 peers each, P(k) ∝ k^-${ZIPF_EXPONENT} ` +
      `(${n(one)} with 1 peer = ${((100 * one) / tn).toFixed(1)} %, ${n(two)} with 2 = ${((100 * two) / tn).toFixed(1)} %, ` +
      `${n(three)} with 3 = ${((100 * three) / tn).toFixed(1)} %), ${n(w.prefill)} peers from ${n(w.clients)} clients ` +
      '(each in about 3 torrents, a distinct IP:port). The prefill starts every peer once over UDP, ' +
      `128 in flight, in the same seeded random order for every tracker; then a steady UDP load of regular updates ` +
      `(no event, numwant 50) of stored peers: ${o.concurrency} in flight, ${o.warmup} s warm-up, ${o.duration} s measured, ` +
      'a connect before every announce as in the main bench.',
    '',
    '### Memory and prefill',
    '',
    '| tracker | peers stored | torrents | prefill announces/s | prefill CPU µs per announce | RSS growth per torrent | per peer | after a full GC, per torrent | Redis `used_memory` per torrent | per peer |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  for (const r of rows) {
    const name = NAMES[r.id] ?? r.id;
    if (r.unavailable || !r.prefill) {
      out.push(`| ${name} | not measured: ${r.unavailable ?? r.notes.join('; ')} | | | | | | | | |`);
      continue;
    }
    // On Redis the ratio is of the total, Redis' used_memory and the tracker's own RSS growth.
    const redis =
      r.redisGrowth !== undefined
        ? `${n(r.redisGrowth / Math.max(1, r.torrents))} B (total ${n((r.redisGrowth + r.rssGrowth) / Math.max(1, r.torrents))} B` +
          `${ratio((r.redisGrowth + r.rssGrowth) / Math.max(1, r.torrents), refPerTorrent)
            .replace(' (', ', ')
            .replace(')', '')}) | ` +
          `${n(r.redisGrowth / Math.max(1, r.stored))} B`
        : '– | –';
    out.push(
      `| ${name} | ${n(r.stored)} | ${r.stored < w.prefill ? '≈' : ''}${n(r.torrents)} | ${n(r.prefill.rate)} | ${cpu(r.prefill).toFixed(1)} | ` +
        `${n(perTorrent(r))} B${r.id === 'opentracker' || r.redisGrowth !== undefined ? '' : ratio(perTorrent(r), refPerTorrent)} | ` +
        `${n(r.rssGrowth / Math.max(1, r.stored))} B | ${live(r)} | ${redis} |`,
    );
  }
  out.push(
    '',
    "RSS growth: the tracker processes' resident memory 2 s after the prefill minus before it (opentracker: after its " +
      "whitelist of the workload's hashes was loaded). On Redis the tracker's RSS growth is its own (caches, buffers), " +
      "the swarms are in Redis' `used_memory`: the total is the two added (its ratio is the total's). " +
      "After a full GC: the same growth read after the steady load, 1 s after BitStorm's processes ran a full garbage " +
      'collection (they run with bench/gc-on-signal.ts preloaded), so without what only awaits one (garbage in ' +
      "V8's heap; buffers replaced when they grew, in versions that copied them); bittorrent-tracker's is not taken. " +
      "Ratios: against opentracker. Prefill CPU: the tracker's (and redis-server's) CPU over the prefill ÷ stored peers.",
    '',
    '### Steady UDP load on that state',
    '',
    '| tracker | announces/s | tracker CPU µs per announce | p50 | p99 | errors | `/stats.json` by seeders: first answer | second | announce p99 meanwhile | load average after |',
    '|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|',
  );
  const refSteady = ref?.steady;
  for (const r of rows) {
    const name = NAMES[r.id] ?? r.id;
    const s = r.steady;
    if (!s) {
      if (!r.unavailable) out.push(`| ${name} | not measured | | | | | | | | |`);
      continue;
    }
    const c = cpu(s);
    const redisPart = s.sideCpuUs > 0 ? ` (Redis ${(s.sideCpuUs / Math.max(1, s.ok)).toFixed(1)})` : '';
    const cpuRatio = r.id === 'opentracker' || !refSteady ? '' : ratio(c, cpu(refSteady));
    const st = r.stats;
    const stats = !st
      ? '– | –'
      : st.error
        ? `failed: ${st.error} | –`
        : `${n(st.firstMs)} ms (CPU ${n(st.firstCpuMs)} ms${st.tableAgeMs > 0 ? `; a table made ${(st.tableAgeMs / 1000).toFixed(1)} s before the request` : ''}) | ${n(st.secondMs)} ms`;
    const d = r.duringStats;
    const without = r.withoutStats;
    const meanwhile = d
      ? `${(d.p99_us / 1000).toFixed(2)} ms (${d.errors} errors)${without ? `; without the request ${(without.p99_us / 1000).toFixed(2)} ms` : ''}`
      : '–';
    out.push(
      `| ${name} | ${n(s.rate)}${r.id === 'opentracker' ? '' : ratio(s.rate, refSteady?.rate)} | ` +
        `${c.toFixed(1)}${redisPart && cpuRatio ? redisPart.replace(')', cpuRatio.replace(' (', '; ')) : redisPart || cpuRatio} | ` +
        `${(s.p50_us / 1000).toFixed(2)} ms | ${(s.p99_us / 1000).toFixed(2)} ms | ${s.errors} | ${stats} | ${meanwhile} | ${r.load} |`,
    );
  }
  out.push(
    '',
    "CPU per announce: the tracker processes' CPU (on Redis, redis-server's added, and shown in parentheses) over the " +
      "measured window ÷ answered announces. `/stats.json`: the statistics table's DataTables request (first page of 10, " +
      'sorted by seeders, descending) on BitStorm, 1 s into a third run of the steady load (6 s, no warm-up; its p99 is ' +
      '"announce p99 meanwhile", beside the p99 of a second run just before it, the same load without the request); the first answer needs every torrent read ' +
      "(nothing of the table exists yet: on Redis a scan into a snapshot, on the memory store a walk of its rows for that page; CPU: the tracker processes' and redis-server's CPU meanwhile; wall time well above it means other " +
      'work had the cores), except with --stats-warm, whose table is made in the background (its age is shown; its rows are those of the store when it was made); ' +
      'the second is served from what the first made. Reply `recordsTotal`: ' +
      (rows
        .filter((r) => r.stats && !r.stats.error)
        .map((r) => `${NAMES[r.id] ?? r.id} ${n(r.stats?.recordsTotal ?? 0)}`)
        .join(', ') || '–') +
      '.',
  );
  const half = rows.filter((r) => r.halfRate);
  if (half.length > 0) {
    out.push(
      '',
      `At half the steady rate (UDP, paced evenly), ${o.quick ? 2 : 6} s each, after a pause long enough for the next rebuild (at least ${o.quick ? 5.5 : 12} s): ` +
        half
          .map((r) => {
            const h = r.halfRate as NonNullable<Row['halfRate']>;
            const p99 = (x: LoadResult): string => `${(x.p99_us / 1000).toFixed(2)} ms`;
            return (
              `${NAMES[r.id] ?? r.id} at ${n(h.rate)}/s (after ${h.pauseS.toFixed(0)} s): announce p99 ${p99(h.without)} with no request ` +
              `(the tracker's CPU ${cpu(h.without).toFixed(1)} µs per announce${r.id.startsWith('bitstorm-redis') ? " with redis-server's" : ''}, its processes ${coreShare(h.without)} % of a core), ` +
              `${p99(h.during)} while a \`/stats.json\` request ${
                h.rebuilt
                  ? `rebuilt the table${h.outlastedS === undefined ? ' within the run' : ` (the new table seen ${h.outlastedS.toFixed(1)} s after the request: the rebuild outlasted the run)`}`
                  : 'did not get the table rebuilt (too soon after the last build, or a rebuild of over a minute)'
              }` +
              ` (${h.during.errors} errors)`
            );
          })
          .join('; ') +
        '.',
    );
  }
  const notes = rows.filter((r) => r.notes.length > 0).map((r) => `- ${NAMES[r.id] ?? r.id}: ${r.notes.join('; ')}`);
  if (notes.length > 0) out.push('', 'Notes:', '', ...notes);
  return out.join('\n');
}

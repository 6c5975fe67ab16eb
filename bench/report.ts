import type { LoadResult, Mode } from './loadgen.js';
import type { MachineInfo } from './machine.js';

export interface TrackerStatus {
  id: string;
  available: boolean;
  /** Why not available, or notes on what it lacks. */
  reason: string;
  udp?: boolean;
}

export interface ThroughputRow {
  id: string;
  mode: Mode;
  result?: LoadResult;
  /**
   * The same load with fewer requests in flight (settings.latencyConcurrency):
   * where it still reaches SATURATED of the full run's rate, the tracker is
   * saturated there too, and its p99 is the latency at saturation rather than
   * the queueing that extra requests in flight add (Little's law).
   */
  latency?: LoadResult;
  /** Requests in flight of `latency`. */
  latencyInFlight?: number;
  unavailable?: string;
  /** Load average right after the run (noise indicator). */
  load?: string;
}

/** A lighter load counts as saturating when it reaches this share of the full load's rate. */
export const SATURATED = 0.9;

/** Whether a lighter load still saturates the tracker (so its latency is the latency at saturation). */
export function saturates(light: LoadResult, full: LoadResult): boolean {
  return light.errors === 0 && light.rate >= SATURATED * full.rate;
}

/** The p99 at saturation: the lighter load's if it still saturates the tracker, else the full load's. */
export function saturationP99(row: ThroughputRow, fullInFlight: number): { p99: number; inFlight: number } | undefined {
  const r = row.result;
  if (!r) return undefined;
  const l = row.latency;
  if (l && saturates(l, r)) return { p99: l.p99_us, inFlight: row.latencyInFlight ?? 0 };
  return { p99: r.p99_us, inFlight: fullInFlight };
}

export interface MemoryRow {
  id: string;
  target: number;
  stored: number;
  errors: number;
  baseRss: number;
  rss: number;
  redisBase?: number;
  redisUsed?: number;
  prefillRate: number;
  capped: boolean;
}

export interface ReportInput {
  machine: MachineInfo;
  settings: {
    quick: boolean;
    duration: number;
    warmup: number;
    concurrency: number;
    /** In-flight requests of the lighter latency runs, in the order tried (empty: not run). */
    latencySteps: number[];
    torrents: number;
    loadClients: number;
    loadPeers: number;
    memoryPoints: number[];
  };
  statuses: TrackerStatus[];
  throughput: ThroughputRow[];
  memory: MemoryRow[];
  elapsedSeconds: number;
  finishedLoad: string;
}

const MODE_LABEL: Record<Mode, string> = {
  udp: 'UDP (connect + announce)',
  http: 'HTTP, new connection per announce',
  'http-ka': 'HTTP keep-alive',
};

const fmtInt = (n: number): string => Math.round(n).toLocaleString('en-US');
const fmtMs = (us: number): string => (us / 1000).toFixed(2);
const fmtRatio = (x: number | undefined): string => (x === undefined || !Number.isFinite(x) ? '—' : `${x.toFixed(2)}×`);

/** Tracker CPU per successful announce, Redis' included. */
export function cpuPerAnnounce(r: LoadResult): number {
  return (r.cpuUs + r.sideCpuUs) / Math.max(1, r.ok);
}

function find(rows: ThroughputRow[], id: string, mode: Mode): LoadResult | undefined {
  return rows.find((r) => r.id === id && r.mode === mode)?.result;
}

function bytesPerPeer(m: MemoryRow): number {
  return (m.rss - m.baseRss) / Math.max(1, m.stored);
}

function redisPerPeer(m: MemoryRow): number | undefined {
  if (m.redisUsed === undefined || m.redisBase === undefined) return undefined;
  return (m.redisUsed - m.redisBase) / Math.max(1, m.stored);
}

interface Target {
  text: string;
  figure?: string;
  reference?: string;
  ratio?: string;
  pass?: boolean;
  missing?: string;
}

function targets(input: ReportInput): Target[] {
  const rows = input.throughput;
  const out: Target[] = [];
  const ot = (mode: Mode): LoadResult | undefined => find(rows, 'opentracker', mode);

  {
    const bs = find(rows, 'bitstorm-memory', 'udp');
    const ref = ot('udp');
    const t: Target = { text: 'UDP, memory store: announces/s ≥ 0.5× opentracker' };
    if (bs && ref) {
      const ratio = bs.rate / ref.rate;
      Object.assign(t, {
        figure: `${fmtInt(bs.rate)}/s`,
        reference: `${fmtInt(ref.rate)}/s`,
        ratio: fmtRatio(ratio),
        pass: ratio >= 0.5,
      });
    } else t.missing = bs ? 'opentracker UDP not measured' : 'BitStorm UDP not available';
    out.push(t);
  }
  {
    const bs = find(rows, 'bitstorm-memory', 'http');
    const ref = ot('http');
    const t: Target = { text: 'HTTP, one connection per announce: tracker CPU/announce ≤ 2.5× opentracker' };
    if (bs && ref) {
      const ratio = cpuPerAnnounce(bs) / cpuPerAnnounce(ref);
      Object.assign(t, {
        figure: `${cpuPerAnnounce(bs).toFixed(1)} µs`,
        reference: `${cpuPerAnnounce(ref).toFixed(1)} µs`,
        ratio: fmtRatio(ratio),
        pass: ratio <= 2.5,
      });
    } else t.missing = bs ? 'opentracker HTTP not measured' : 'BitStorm HTTP not measured';
    out.push(t);
  }
  {
    const candidates = ['bitstorm-redis', 'bitstorm-redis-2w']
      .map((id) => ({ id, r: find(rows, id, 'udp') }))
      .filter((c): c is { id: string; r: LoadResult } => c.r !== undefined)
      .sort((a, b) => b.r.rate - a.r.rate);
    const best = candidates[0];
    const ref = ot('udp');
    const t: Target = { text: 'UDP, Redis store: announces/s ≥ 0.25× opentracker (best worker count)' };
    if (best && ref) {
      const ratio = best.r.rate / ref.rate;
      Object.assign(t, {
        figure: `${fmtInt(best.r.rate)}/s (${best.id})`,
        reference: `${fmtInt(ref.rate)}/s`,
        ratio: fmtRatio(ratio),
        pass: ratio >= 0.25,
      });
    } else t.missing = best ? 'opentracker UDP not measured' : 'BitStorm on Redis over UDP not available';
    out.push(t);
  }
  const largest = (id: string): MemoryRow | undefined =>
    input.memory.filter((m) => m.id === id).sort((a, b) => b.stored - a.stored)[0];
  {
    const m = largest('bitstorm-memory');
    const t: Target = { text: 'Memory store: ≤ 100 B per stored peer at 1M peers (RSS delta)' };
    if (m) {
      const b = bytesPerPeer(m);
      const ref = largest('opentracker');
      Object.assign(t, {
        figure: `${b.toFixed(0)} B at ${fmtInt(m.stored)}`,
        reference: ref ? `opentracker ${bytesPerPeer(ref).toFixed(0)} B` : '—',
        ratio: ref ? fmtRatio(b / bytesPerPeer(ref)) : '—',
        pass: b <= 100 && m.stored >= 990_000,
      });
      if (m.stored < 990_000) t.missing = `only ${fmtInt(m.stored)} peers stored`;
    } else t.missing = 'not measured';
    out.push(t);
  }
  {
    const m = largest('bitstorm-redis') ?? largest('bitstorm-redis-2w');
    const t: Target = { text: 'Redis store: ≤ 150 B of Redis used_memory per stored peer' };
    const b = m ? redisPerPeer(m) : undefined;
    if (m && b !== undefined) {
      Object.assign(t, {
        figure: `${b.toFixed(0)} B at ${fmtInt(m.stored)}`,
        reference: '—',
        ratio: '—',
        pass: b <= 150,
      });
    } else t.missing = 'BitStorm on Redis not available';
    out.push(t);
  }
  {
    const bsRows = rows.filter((r) => r.id.startsWith('bitstorm') && r.result);
    const t: Target = { text: 'p99 ≤ 10 ms at saturation (every BitStorm load)' };
    if (bsRows.length) {
      const full = input.settings.concurrency;
      const p99 = (r: ThroughputRow): number => saturationP99(r, full)?.p99 ?? 0;
      const worst = bsRows.reduce((a, b) => (p99(a) >= p99(b) ? a : b));
      const inFlight = saturationP99(worst, full)?.inFlight ?? full;
      Object.assign(t, {
        figure: `worst ${fmtMs(p99(worst))} ms (${worst.id}, ${worst.mode}, ${inFlight} in flight)`,
        reference: '10 ms',
        ratio: '—',
        pass: p99(worst) <= 10_000,
      });
    } else t.missing = 'not measured';
    out.push(t);
  }
  {
    const bsRows = rows.filter((r) => r.id.startsWith('bitstorm') && r.result);
    const t: Target = { text: 'No errors or timeouts (every BitStorm load)' };
    if (bsRows.length) {
      const errors = bsRows.reduce((n, r) => n + (r.result?.errors ?? 0), 0);
      Object.assign(t, { figure: `${fmtInt(errors)} errors`, reference: '0', ratio: '—', pass: errors === 0 });
    } else t.missing = 'not measured';
    out.push(t);
  }
  return out;
}

export function renderReport(input: ReportInput): string {
  const { machine: m, settings: s } = input;
  const steps = s.latencySteps;
  const L: string[] = [];
  const date = new Date().toISOString().replace(/\.\d+Z$/, 'Z');
  L.push(`# BitStorm benchmark, ${date}${s.quick ? ' (quick smoke run: figures are not meaningful)' : ''}`);
  L.push('');
  L.push('| Machine | |');
  L.push('|---|---|');
  L.push(`| CPU | ${m.cpu}, ${m.cores} cores |`);
  L.push(`| Memory | ${m.memoryGiB} GiB |`);
  L.push(`| Kernel | ${m.kernel} |`);
  L.push(`| Load average at start / end | ${m.load} / ${input.finishedLoad} |`);
  L.push(`| Node | ${m.node} |`);
  L.push(`| BitStorm | ${m.bitstorm} |`);
  L.push(`| opentracker (Debian) | ${m.opentracker} |`);
  L.push(`| bittorrent-tracker (npm) | ${m.bittorrentTracker} |`);
  L.push(`| redis-server | ${m.redis} |`);
  L.push('');
  L.push(
    `Load: ${fmtInt(s.torrents)} torrents (Zipf popularity), ${fmtInt(s.loadClients)} clients in 1–5 torrents each → ` +
      `${fmtInt(s.loadPeers)} stored peers prefilled in every tracker; then a mix of regular, completed, stopped and ` +
      `re-started announces, compact, numwant 50, ${s.concurrency} requests in flight, ${s.warmup} s warm-up, ` +
      `${s.duration} s measured per transport. Every reply is checked. CPU is utime+stime of the tracker's ` +
      'processes (and redis-server) over the measured window. The generator is bench/loadgen.c on the same 2 cores. ' +
      `Total bench time ${input.elapsedSeconds} s.`,
  );
  L.push('');
  const notes = input.statuses.filter((st) => !st.available || st.reason);
  if (notes.length) {
    L.push('Not measured / notes:');
    L.push('');
    for (const st of notes) L.push(`- **${st.id}**: ${st.available ? st.reason : `not available: ${st.reason}`}`);
    L.push('');
  }

  L.push('## Throughput and latency');
  L.push('');
  L.push(
    '| Tracker | Transport | Announces/s | p50 ms | p99 ms | Errors | Tracker CPU µs/announce | of which Redis | ' +
      'Rate vs opentracker | CPU vs opentracker | Rate vs bittorrent-tracker | CPU vs bittorrent-tracker | ' +
      'Lighter load: in flight, announces/s (share of full) | Lighter load: p50 / p99 ms | p99 at saturation ms |',
  );
  L.push('|---|---|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|');
  for (const row of input.throughput) {
    const r = row.result;
    if (!r) {
      L.push(`| ${row.id} | ${MODE_LABEL[row.mode]} | n/a: ${row.unavailable ?? ''} | | | | | | | | | | | | |`);
      continue;
    }
    const ot = find(input.throughput, 'opentracker', row.mode);
    const bt = find(input.throughput, 'bittorrent-tracker', row.mode);
    const cpu = cpuPerAnnounce(r);
    const errText =
      r.errors === 0
        ? '0'
        : `${fmtInt(r.errors)} (${Object.entries(r.error_kinds)
            .map(([k, v]) => `${k} ${v}`)
            .join(', ')})`;
    const ref = (x: LoadResult | undefined, own: boolean): [string, string] =>
      own || !x ? ['—', '—'] : [fmtRatio(r.rate / x.rate), fmtRatio(cpu / cpuPerAnnounce(x))];
    const [otRate, otCpu] = ref(ot, row.id === 'opentracker');
    const [btRate, btCpu] = ref(bt, row.id === 'bittorrent-tracker');
    const l = row.latency;
    const light = l
      ? `${row.latencyInFlight}: ${fmtInt(l.rate)} (${Math.round((100 * l.rate) / Math.max(1, r.rate))}%)`
      : '—';
    const lightMs = l ? `${fmtMs(l.p50_us)} / ${fmtMs(l.p99_us)}${l.errors ? `, ${l.errors} errors` : ''}` : '—';
    L.push(
      `| ${row.id} | ${MODE_LABEL[row.mode]} | ${fmtInt(r.rate)} | ${fmtMs(r.p50_us)} | ${fmtMs(r.p99_us)} | ${errText} | ` +
        `${cpu.toFixed(1)} | ${r.sideCpuUs ? (r.sideCpuUs / Math.max(1, r.ok)).toFixed(1) : '—'} | ` +
        `${otRate} | ${otCpu} | ${btRate} | ${btCpu} | ${light} | ${lightMs} | ${fmtMs(saturationP99(row, s.concurrency)?.p99 ?? 0)} |`,
    );
  }
  L.push('');
  L.push(
    'Announces/s on 2 shared cores is bounded by whichever of tracker and generator saturates first; ' +
      'CPU µs per announce is the figure that compares trackers regardless.',
  );
  if (steps.length > 0) {
    L.push('');
    L.push(
      `Latency at saturation: with a fixed number of requests in flight, latency past saturation is queueing ` +
        `(mean latency = requests in flight / announces/s), so each load is run again, half as long, with ` +
        `${steps.join(', then ')} in flight, stopping at the first that still reaches ${Math.round(SATURATED * 100)}% ` +
        `of the full load's announces/s: the tracker is saturated there too, and that run's p99 is the p99 at ` +
        `saturation. Where none does, the full load's p99 is.`,
    );
  }
  L.push('');

  if (input.memory.length) {
    L.push('## Memory per stored peer');
    L.push('');
    L.push(
      '| Tracker | Stored peers | RSS baseline MiB | RSS delta MiB | B/peer (RSS) | Redis used_memory B/peer | Prefill announces/s | Prefill errors |',
    );
    L.push('|---|--:|--:|--:|--:|--:|--:|--:|');
    for (const mem of input.memory) {
      const rp = redisPerPeer(mem);
      L.push(
        `| ${mem.id} | ${fmtInt(mem.stored)}${mem.capped ? ` (of ${fmtInt(mem.target)}: prefill time cap)` : ''} | ` +
          `${(mem.baseRss / 2 ** 20).toFixed(1)} | ${((mem.rss - mem.baseRss) / 2 ** 20).toFixed(1)} | ` +
          `${bytesPerPeer(mem).toFixed(0)} | ${rp === undefined ? '—' : rp.toFixed(0)} | ${fmtInt(mem.prefillRate)} | ${mem.errors} |`,
      );
    }
    L.push('');
    L.push(
      "B/peer (RSS) is the tracker process tree's resident memory over its empty baseline divided by stored peers; " +
        'for the Redis store the BitStorm process holds no peers, and Redis used_memory is the figure.',
    );
    L.push('');
  }

  L.push('## Targets');
  L.push('');
  L.push('| Target | BitStorm | Reference (same run) | Ratio | Result |');
  L.push('|---|---|---|--:|---|');
  for (const t of targets(input)) {
    const result =
      t.pass === undefined
        ? `not measured: ${t.missing}`
        : t.pass
          ? 'PASS'
          : `MISS${t.missing ? ` (${t.missing})` : ''}`;
    L.push(`| ${t.text} | ${t.figure ?? '—'} | ${t.reference ?? '—'} | ${t.ratio ?? '—'} | ${result} |`);
  }
  L.push('');
  return L.join('\n');
}

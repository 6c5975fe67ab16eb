import { execFileSync, spawn } from 'node:child_process';
import { existsSync, statSync } from 'node:fs';
import { cpuMicros } from './proc.js';

/** Compiles bench/loadgen.c when the binary is missing or older than the source. */
export function buildLoadgen(source: string, binary: string): void {
  if (existsSync(binary) && statSync(binary).mtimeMs >= statSync(source).mtimeMs) return;
  execFileSync('gcc', ['-O2', '-Wall', '-o', binary, source], { stdio: 'inherit' });
}

export type Mode = 'udp' | 'http' | 'http-ka';

export interface LoadOptions {
  binary: string;
  file: string;
  mode: Mode;
  port: number;
  concurrency: number;
  /** Measured seconds (the bound for --once runs). */
  duration: number;
  warmup?: number;
  once?: boolean;
  /** Records [start, end) of the workload file are used. */
  start?: number;
  end?: number;
  /** With once: at most this many records. */
  max?: number;
  numwant?: number;
  timeoutMs?: number;
  /** Announce path (default /announce): /announce/<passkey> for a private tracker (UDP: BEP 41 URL data). */
  path?: string;
  /** UDP: requests started per second at most, spread evenly (a load below what the tracker can take). */
  rate?: number;
  /** Processes whose CPU is charged to the tracker (tracker tree, redis-server). */
  pids: () => number[];
  /** Extra processes measured separately (redis-server). */
  sidePids?: () => number[];
}

export interface LoadResult {
  ok: number;
  errors: number;
  seconds: number;
  rate: number;
  p50_us: number;
  p90_us: number;
  p99_us: number;
  max_us: number;
  issued: number;
  /** Prefill only: datagrams resent after a timeout. */
  retries: number;
  error_kinds: Record<string, number>;
  first_error: string;
  /** CPU of the tracker processes over the measured window, µs. */
  cpuUs: number;
  /** CPU of the side processes (redis-server) over the same window, µs. */
  sideCpuUs: number;
  /** The generator's own CPU, µs. */
  genCpuUs: number;
}

/**
 * Runs the generator. CPU counters of the tracker processes are read when the
 * generator prints START and END, so warm-up and the drain after the window
 * are not charged to the measured announces.
 */
export function runLoad(o: LoadOptions): Promise<LoadResult> {
  const args = [
    '--mode',
    o.mode,
    '--port',
    String(o.port),
    '--file',
    o.file,
    '--concurrency',
    String(o.concurrency),
    '--duration',
    String(o.duration),
    '--warmup',
    String(o.warmup ?? 0),
    '--numwant',
    String(o.numwant ?? 50),
    '--timeout-ms',
    String(o.timeoutMs ?? 2000),
    '--start',
    String(o.start ?? 0),
  ];
  if (o.end !== undefined) args.push('--end', String(o.end));
  if (o.max !== undefined) args.push('--max', String(o.max));
  if (o.once) args.push('--once');
  if (o.path) args.push('--path', o.path);
  if (o.rate) args.push('--rate', String(o.rate));
  return new Promise((resolve, reject) => {
    const child = spawn(o.binary, args, { stdio: ['ignore', 'pipe', 'pipe'] });
    // Hard bound: the generator stops by itself; this only catches a hang.
    const killer = setTimeout(() => child.kill('SIGKILL'), ((o.warmup ?? 0) + o.duration + 30) * 1000);
    let buf = '';
    let err = '';
    let cpu0 = 0;
    let side0 = 0;
    let gen0 = 0;
    let cpu1 = 0;
    let side1 = 0;
    let gen1 = 0;
    let json = '';
    const sample = (): [number, number, number] => [
      cpuMicros(o.pids()),
      o.sidePids ? cpuMicros(o.sidePids()) : 0,
      cpuMicros([child.pid as number]),
    ];
    child.stdout.on('data', (d: Buffer) => {
      buf += d.toString();
      let nl = buf.indexOf('\n');
      while (nl >= 0) {
        const line = buf.slice(0, nl).trim();
        buf = buf.slice(nl + 1);
        if (line === 'START') [cpu0, side0, gen0] = sample();
        else if (line === 'END') [cpu1, side1, gen1] = sample();
        else if (line.startsWith('{')) json = line;
        nl = buf.indexOf('\n');
      }
    });
    child.stderr.on('data', (d: Buffer) => {
      err = (err + d.toString()).slice(-2000);
    });
    child.on('error', reject);
    child.on('exit', (code) => {
      clearTimeout(killer);
      if (!json) return reject(new Error(`loadgen exited ${code}: ${err.trim()}`));
      const r = JSON.parse(json) as Omit<LoadResult, 'cpuUs' | 'sideCpuUs' | 'genCpuUs'>;
      resolve({ ...r, cpuUs: cpu1 - cpu0, sideCpuUs: side1 - side0, genCpuUs: gen1 - gen0 });
    });
  });
}

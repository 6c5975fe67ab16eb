import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { cpuMicros, rssBytes } from './proc.js';
import { startBitstorm, startBittorrentTracker, type TrackerHandle } from './trackers.js';

/**
 * The WebSocket (WebTorrent) tracker bench: BitStorm beside bittorrent-tracker's
 * WebSocket server, in the same run, with the same generator (ws-loadgen.ts):
 *
 * - load: sockets keep one announce in flight each, every announce carrying
 *   offers that the tracker relays to other sockets, which answer them (the
 *   tracker relays the answers back): announces/s and tracker CPU per announce;
 * - idle: 10,000 sockets that announced once and stay open: tracker RSS per
 *   socket.
 *
 * The generator is a Node process on the same 2 cores as the tracker; its own
 * ceiling is reported (the rate it reaches against the faster tracker is a
 * floor of what that tracker can do, not its limit).
 */

export interface WsBenchSettings {
  repoRoot: string;
  depsDir: string;
  btServer: string | undefined;
  quick: boolean;
  log: (line: string) => void;
}

interface LoadFigures {
  announces: number;
  rate: number;
  offersReceived: number;
  answersReceived: number;
  failures: number;
  cpuPerAnnounceUs: number;
  generatorCpuPerAnnounceUs: number;
}

interface Row {
  name: string;
  load?: LoadFigures;
  idle?: { sockets: number; kibPerSocket: number };
  error?: string;
}

const loadgen = (repoRoot: string): string => join(repoRoot, 'dist', 'bench', 'ws-loadgen.js');

function runLoad(
  repoRoot: string,
  url: string,
  tracker: TrackerHandle,
  p: { sockets: number; torrents: number; warmup: number; seconds: number; offers: number },
): Promise<LoadFigures> {
  const child = spawn(
    process.execPath,
    [
      loadgen(repoRoot),
      'load',
      url,
      String(p.sockets),
      String(p.torrents),
      String(p.warmup),
      String(p.seconds),
      String(p.offers),
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  let cpuAt = 0;
  let genCpuAt = 0;
  return new Promise((resolve, reject) => {
    const timer = setTimeout(
      () => {
        child.kill('SIGKILL');
        reject(new Error(`ws-loadgen did not finish: ${out.slice(-300)}`));
      },
      (p.warmup + p.seconds + 60) * 1000,
    );
    child.stdout.on('data', (d: Buffer) => {
      out += d;
      if (cpuAt === 0 && out.includes('measure-start')) {
        cpuAt = cpuMicros(tracker.trackerPids());
        genCpuAt = cpuMicros([child.pid as number]);
      }
      const line = out.split('\n').find((l) => l.startsWith('{'));
      if (line && cpuAt > 0) {
        const cpu = cpuMicros(tracker.trackerPids()) - cpuAt;
        const genCpu = cpuMicros([child.pid as number]) - genCpuAt;
        clearTimeout(timer);
        const r = JSON.parse(line) as Omit<LoadFigures, 'cpuPerAnnounceUs' | 'generatorCpuPerAnnounceUs'>;
        resolve({
          ...r,
          cpuPerAnnounceUs: r.announces > 0 ? cpu / r.announces : 0,
          generatorCpuPerAnnounceUs: r.announces > 0 ? genCpu / r.announces : 0,
        });
      }
    });
    child.stderr.on('data', (d: Buffer) => (out += d));
    child.on('exit', (code) => {
      if (code !== 0) {
        clearTimeout(timer);
        reject(new Error(`ws-loadgen exited ${code}: ${out.slice(-300)}`));
      }
    });
  });
}

async function runIdle(
  repoRoot: string,
  url: string,
  tracker: TrackerHandle,
  sockets: number,
  settleMs: number,
): Promise<{ sockets: number; kibPerSocket: number }> {
  const before = rssBytes(tracker.trackerPids());
  const child = spawn(process.execPath, [loadgen(repoRoot), 'idle', url, String(sockets), '100'], {
    stdio: ['pipe', 'pipe', 'pipe'],
  });
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
    });
    // Let the tracker settle (its allocations after the last announce) before reading RSS.
    await new Promise((resolve) => setTimeout(resolve, settleMs));
    const after = rssBytes(tracker.trackerPids());
    return { sockets: opened, kibPerSocket: (after - before) / 1024 / Math.max(1, opened) };
  } finally {
    child.kill('SIGKILL');
  }
}

/** Runs the WebSocket bench; returns its markdown section. */
export async function runWsBench(s: WsBenchSettings): Promise<string> {
  const load = s.quick
    ? { sockets: 20, torrents: 5, warmup: 0.5, seconds: 1, offers: 2 }
    : { sockets: 200, torrents: 50, warmup: 3, seconds: 10, offers: 5 };
  const idleSockets = s.quick ? 200 : 10_000;
  const rows: Row[] = [];
  const configs: { name: string; start: () => Promise<TrackerHandle>; path: string }[] = [];
  if (s.btServer) {
    const server = s.btServer;
    configs.push({
      name: 'bittorrent-tracker',
      start: () => startBittorrentTracker(s.depsDir, server, true),
      path: '/',
    });
  }
  configs.push({
    name: 'bitstorm memory',
    start: () =>
      startBitstorm({
        repoRoot: s.repoRoot,
        redis: false,
        workers: 1,
        extraArgs: ['--udp-port', 'off', '--stats', 'off'],
      }),
    path: '/announce',
  });
  for (const config of configs) {
    const row: Row = { name: config.name };
    rows.push(row);
    for (const part of ['load', 'idle'] as const) {
      // A fresh tracker for each part: the idle RSS baseline must not carry the load's heap.
      const tracker = await config.start();
      const url = `ws://127.0.0.1:${tracker.port}${config.path}`;
      try {
        if (part === 'load') {
          row.load = await runLoad(s.repoRoot, url, tracker, load);
          s.log(
            `ws ${config.name}: ${Math.round(row.load.rate)} announces/s, ${row.load.cpuPerAnnounceUs.toFixed(1)} µs CPU each, ` +
              `${row.load.offersReceived} offers and ${row.load.answersReceived} answers relayed, ${row.load.failures} failures`,
          );
        } else {
          row.idle = await runIdle(s.repoRoot, url, tracker, idleSockets, s.quick ? 200 : 2000);
          s.log(`ws ${config.name}: ${row.idle.kibPerSocket.toFixed(2)} KiB RSS per idle socket (${row.idle.sockets})`);
        }
      } catch (err) {
        row.error = `${row.error ? `${row.error}; ` : ''}${part}: ${(err as Error).message.split('\n')[0]}`;
        s.log(`ws ${config.name}: ${row.error}`);
      } finally {
        await tracker.stop();
      }
    }
  }
  return render(rows, load, idleSockets);
}

function render(
  rows: Row[],
  load: { sockets: number; torrents: number; seconds: number; offers: number },
  idleSockets: number,
): string {
  const bt = rows.find((r) => r.name === 'bittorrent-tracker')?.load;
  const L: string[] = [];
  L.push('## WebSocket (WebTorrent) tracker');
  L.push('');
  L.push(
    `Load: ${load.sockets} sockets over ${load.torrents} torrents, one announce in flight per socket, ` +
      `${load.offers} offers (~500-byte SDPs) per announce relayed to other sockets, every offer answered ` +
      `and the answer relayed back; ${load.seconds} s measured. Idle: ${idleSockets.toLocaleString('en-US')} sockets ` +
      'that announced once, tracker RSS growth per socket. The generator (bench/ws-loadgen.ts, Node) shares ' +
      'the 2 cores: its CPU per announce is shown, and a rate it cannot exceed is a floor of the tracker, not its limit.',
  );
  L.push('');
  L.push(
    '| tracker | announces/s | tracker CPU per announce | generator CPU per announce | offers / answers relayed | failures | ÷ bittorrent-tracker, announces/s | KiB per idle socket |',
  );
  L.push('|---|--:|--:|--:|--:|--:|--:|--:|');
  for (const r of rows) {
    const l = r.load;
    L.push(
      `| ${r.name} | ${l ? Math.round(l.rate).toLocaleString('en-US') : '–'} | ${l ? `${l.cpuPerAnnounceUs.toFixed(1)} µs` : '–'} | ` +
        `${l ? `${l.generatorCpuPerAnnounceUs.toFixed(1)} µs` : '–'} | ${l ? `${l.offersReceived} / ${l.answersReceived}` : '–'} | ` +
        `${l ? l.failures : '–'} | ${l && bt && bt.rate > 0 ? `${(l.rate / bt.rate).toFixed(2)}×` : '–'} | ` +
        `${r.idle ? r.idle.kibPerSocket.toFixed(2) : '–'} |`,
    );
  }
  for (const r of rows) if (r.error) L.push(`\n${r.name}: ${r.error}`);
  L.push('');
  return L.join('\n');
}

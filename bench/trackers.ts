import { type ChildProcess, execFileSync, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { chmodSync, mkdirSync, writeFileSync } from 'node:fs';
import { createConnection } from 'node:net';
import { join } from 'node:path';
import { freePort } from '../test/helpers/free-port.js';
import { processTree } from './proc.js';

/**
 * Starting and stopping the trackers under test. Every process is spawned in
 * its own process group and registered, so an error or Ctrl-C anywhere still
 * kills it (and its workers) before the bench exits.
 */

const started = new Set<ChildProcess>();

function killGroup(child: ChildProcess, signal: NodeJS.Signals): void {
  if (child.pid === undefined || child.exitCode !== null || child.signalCode !== null) return;
  try {
    process.kill(-child.pid, signal);
  } catch {
    // already gone
  }
}

export function killAll(): void {
  for (const child of started) killGroup(child, 'SIGKILL');
  started.clear();
}
process.on('exit', killAll);
for (const sig of ['SIGINT', 'SIGTERM'] as const) {
  process.on(sig, () => {
    killAll();
    process.exit(130);
  });
}

export interface Proc {
  child: ChildProcess;
  output: () => string;
  stop: () => Promise<void>;
}

export function startProcess(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Proc {
  const child = spawn(cmd, args, { detached: true, stdio: ['ignore', 'pipe', 'pipe'], env });
  started.add(child);
  let out = '';
  const keep = (d: Buffer): void => {
    out = (out + d.toString()).slice(-8000);
  };
  child.stdout?.on('data', keep);
  child.stderr?.on('data', keep);
  child.on('error', (err) => keep(Buffer.from(`spawn error: ${err.message}\n`)));
  const stop = async (): Promise<void> => {
    if (child.exitCode === null && child.signalCode === null) {
      const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
      killGroup(child, 'SIGTERM');
      const timer = setTimeout(() => killGroup(child, 'SIGKILL'), 3000);
      await exited;
      clearTimeout(timer);
    }
    // Workers may outlive a primary that was killed: sweep the group.
    killGroup(child, 'SIGKILL');
    started.delete(child);
  };
  return { child, output: () => out, stop };
}

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

function tcpOpen(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const sock = createConnection({ host: '127.0.0.1', port });
    sock.once('connect', () => {
      sock.destroy();
      resolve(true);
    });
    sock.once('error', () => resolve(false));
  });
}

async function waitForTcp(proc: Proc, port: number, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (Date.now() < deadline) {
    if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
      throw new Error(`exited (${proc.child.exitCode ?? proc.child.signalCode}): ${proc.output().trim().slice(-400)}`);
    }
    if (await tcpOpen(port)) return;
    await sleep(50);
  }
  throw new Error(`not listening on ${port} after ${timeoutMs} ms: ${proc.output().trim().slice(-400)}`);
}

/** True when a BEP 15 connect on the port gets a connect reply. */
export function udpAnswers(port: number, timeoutMs = 700): Promise<boolean> {
  return new Promise((resolve) => {
    const s = createSocket('udp4');
    const pkt = Buffer.alloc(16);
    pkt.writeBigUInt64BE(0x41727101980n, 0);
    pkt.writeUInt32BE(0, 8);
    pkt.writeUInt32BE(0x1234, 12);
    const done = (ok: boolean): void => {
      clearTimeout(timer);
      s.close();
      resolve(ok);
    };
    const timer = setTimeout(() => done(false), timeoutMs);
    s.on('message', (msg) => done(msg.length >= 16 && msg.readUInt32BE(0) === 0 && msg.readUInt32BE(4) === 0x1234));
    s.on('error', () => done(false));
    s.send(pkt, port, '127.0.0.1');
  });
}

export interface RedisServer {
  port: number;
  pid: number;
  usedMemory(): number;
  stop(): Promise<void>;
}

/** A throwaway redis-server on a free port: no persistence, never the system one on 6379. */
export async function startRedis(): Promise<RedisServer> {
  const port = await freePort({ udp: true });
  const proc = startProcess('redis-server', [
    '--port',
    String(port),
    '--bind',
    '127.0.0.1',
    '--save',
    '',
    '--appendonly',
    'no',
    '--protected-mode',
    'no',
  ]);
  await waitForTcp(proc, port, 10_000);
  return {
    port,
    pid: proc.child.pid as number,
    usedMemory: () => {
      const info = execFileSync('redis-cli', ['-p', String(port), 'info', 'memory'], { encoding: 'utf8' });
      const m = /used_memory:(\d+)/.exec(info);
      return m ? Number(m[1]) : Number.NaN;
    },
    stop: proc.stop,
  };
}

export interface TrackerHandle {
  /** Row label, e.g. "bitstorm memory". */
  name: string;
  port: number;
  udp: boolean;
  http: boolean;
  /** Tracker processes (with workers); CPU and RSS are summed over them. */
  trackerPids(): number[];
  redis?: RedisServer;
  notes: string[];
  stop(): Promise<void>;
}

export async function startOpentracker(
  binary: string,
  hashes: readonly Buffer[],
  workDir: string,
): Promise<TrackerHandle> {
  const port = await freePort({ udp: true });
  // opentracker chroots into tracker.rootdir and drops to nobody before it reads
  // the whitelist, so the whitelist lives inside the root and is world-readable.
  const root = join(workDir, `opentracker-${port}`);
  mkdirSync(root, { recursive: true });
  chmodSync(root, 0o755);
  writeFileSync(join(root, 'whitelist'), hashes.map((h) => `${h.toString('hex')}\n`).join(''), { mode: 0o644 });
  const conf = join(root, 'opentracker.conf');
  writeFileSync(
    conf,
    [`listen.tcp_udp 127.0.0.1:${port}`, 'access.whitelist /whitelist', `tracker.rootdir ${root}`, ''].join('\n'),
    { mode: 0o644 },
  );
  const proc = startProcess(binary, ['-f', conf]);
  await waitForTcp(proc, port, 10_000);
  // The whitelist is loaded by a thread shortly after start: wait until UDP answers
  // and an announce of a listed hash is accepted.
  await sleep(300);
  const pid = proc.child.pid as number;
  return {
    name: 'opentracker',
    port,
    udp: await udpAnswers(port),
    http: true,
    trackerPids: () => processTree(pid),
    notes: [],
    stop: proc.stop,
  };
}

/** `ws`: with its WebSocket tracker on (the WebSocket bench); off otherwise, as in the main bench. */
export async function startBittorrentTracker(
  depsDir: string,
  serverScript: string,
  ws = false,
): Promise<TrackerHandle> {
  const port = await freePort({ udp: true });
  const proc = startProcess(process.execPath, [serverScript, depsDir, String(port), ...(ws ? ['ws'] : [])]);
  await waitForTcp(proc, port, 15_000);
  const pid = proc.child.pid as number;
  return {
    name: 'bittorrent-tracker',
    port,
    udp: await udpAnswers(port),
    http: true,
    trackerPids: () => processTree(pid),
    notes: [],
    stop: proc.stop,
  };
}

export interface BitstormOptions {
  repoRoot: string;
  redis: boolean;
  workers: number;
  extraArgs?: string[];
  /** Flags for node itself (e.g. --cpu-prof), placed before the script. */
  nodeArgs?: string[];
}

export async function startBitstorm(opts: BitstormOptions): Promise<TrackerHandle> {
  const port = await freePort({ udp: true });
  const redis = opts.redis ? await startRedis() : undefined;
  const args = [
    ...(opts.nodeArgs ?? []),
    join(opts.repoRoot, 'bin', 'bitstorm.js'),
    '--host',
    '127.0.0.1',
    '--port',
    String(port),
    '--quiet',
    // The load comes from one address (127.0.0.1) at tens of thousands of
    // requests a second, and the idle WebSocket run holds 10,000 sockets from
    // it: the per-source limits would refuse nearly all of it. They are off
    // here, and only here; the total --http-max-connections keeps its default
    // (docs/benchmarks.md).
    ...['--rate-limit', 'off', '--udp-bad-id-limit', 'off'],
    ...['--http-max-connections-per-ip', 'off', '--ws-max-sockets-per-ip', 'off'],
  ];
  if (redis) args.push('--redis-url', `redis://127.0.0.1:${redis.port}`, '--redis-prefix', 'bench:');
  if (opts.workers > 1) args.push('--workers', String(opts.workers));
  args.push(...(opts.extraArgs ?? []));
  const proc = startProcess(process.execPath, args);
  const name = `bitstorm ${redis ? 'redis' : 'memory'} ${opts.workers}w`;
  try {
    await waitForTcp(proc, port, 15_000);
  } catch (err) {
    await proc.stop();
    await redis?.stop();
    throw err;
  }
  const pid = proc.child.pid as number;
  const notes: string[] = [];
  // Workers bind the port after the primary forks them: give them a moment before counting.
  await sleep(opts.workers > 1 ? 1500 : 300);
  // HTTP listens before UDP and the store are ready: a start-up failure shows as an exit after the port opened.
  if (proc.child.exitCode !== null || proc.child.signalCode !== null) {
    await redis?.stop();
    throw new Error(`exited after start: ${proc.output().trim().slice(-400)}`);
  }
  if (opts.workers > 1) {
    const nodes = processTree(pid).length;
    if (nodes < opts.workers + 1) {
      await proc.stop();
      await redis?.stop();
      throw new Error(`--workers ${opts.workers} started ${nodes} process(es): workers are not implemented yet`);
    }
  }
  // UDP may come up a moment after HTTP (the connection-id secret is fetched from the store).
  // With --udp-port off (the WebSocket bench) there is nothing to wait 6 s for.
  const extra = opts.extraArgs ?? [];
  const udpOff = extra.some((a, i) => a === '--udp-port' && extra[i + 1] === 'off');
  let udp = false;
  for (const deadline = Date.now() + 6000; !udpOff && !udp && Date.now() < deadline; )
    udp = await udpAnswers(port, 500);
  if (!udp && !udpOff) notes.push('UDP tracker not available (no reply to a BEP 15 connect within 6 s)');
  return {
    name,
    port,
    udp,
    http: true,
    trackerPids: () => processTree(pid),
    ...(redis ? { redis } : {}),
    notes,
    stop: async () => {
      await proc.stop();
      await redis?.stop();
    },
  };
}

/**
 * Real BitTorrent clients for the end-to-end suite: aria2 (`aria2c`),
 * Transmission (`transmission-daemon` driven by `transmission-remote`) and
 * `mktorrent`, all from Debian's packages. Each client gets its own directory,
 * its own ports (picked by the OS) and its own process group, so cases can run
 * side by side and a failed case cannot leave a client behind.
 *
 * The settings below make two clients on one machine behave as they would
 * between two machines that can only meet through the tracker: the torrent is
 * private, and DHT, PEX, local peer discovery, UPnP/NAT-PMP and (for
 * Transmission) uTP are switched off in each client's own config as well.
 */
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { closeSync, openSync, rmSync } from 'node:fs';
import { access, mkdir, mkdtemp, open, readFile, rm, stat, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { setTimeout as sleep } from 'node:timers/promises';
import { freePort } from '../helpers/free-port.js';

/** Debian package of each program the suite runs. */
const PACKAGES: Record<string, string> = {
  aria2c: 'aria2',
  'transmission-daemon': 'transmission-daemon',
  'transmission-remote': 'transmission-cli',
  mktorrent: 'mktorrent',
  'redis-server': 'redis-server',
};

/** Throws, naming the apt-get command, when a client binary is not installed (never skip silently). */
export async function requirePrograms(names: readonly string[]): Promise<void> {
  const missing: string[] = [];
  for (const name of names) {
    if (!(await onPath(name))) missing.push(name);
  }
  if (missing.length > 0) {
    const pkgs = [...new Set(missing.map((m) => PACKAGES[m] ?? m))].join(' ');
    throw new Error(
      `end-to-end suite: ${missing.join(', ')} not found. Install with: sudo apt-get install -y ${pkgs} ` +
        '(scripts/test.sh does this when run as root)',
    );
  }
}

async function onPath(name: string): Promise<boolean> {
  for (const dir of (process.env.PATH ?? '/usr/bin:/bin').split(':')) {
    try {
      await access(join(dir, name));
      return true;
    } catch {}
  }
  return false;
}

/** Runs a program to completion (bounded), resolving with its stdout. */
export function run(file: string, args: readonly string[], timeoutMs = 20_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(file, args, { timeout: timeoutMs, killSignal: 'SIGKILL', maxBuffer: 4 << 20 }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${file} ${args.join(' ')}: ${err.message}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

/** Writes `size` random bytes and returns their sha256 (hex). */
export async function writeRandomFile(path: string, size: number): Promise<string> {
  const data = randomBytes(size);
  await writeFile(path, data);
  return createHash('sha256').update(data).digest('hex');
}

export async function sha256File(path: string): Promise<string> {
  return createHash('sha256')
    .update(await readFile(path))
    .digest('hex');
}

/** sha256 of the file if it exists with the expected size, else undefined (still downloading). */
export async function sha256IfComplete(path: string, size: number): Promise<string | undefined> {
  try {
    if ((await stat(path)).size !== size) return undefined;
  } catch {
    return undefined;
  }
  return sha256File(path);
}

export interface Torrent {
  path: string;
  infoHash: Buffer;
}

/**
 * `mktorrent -p`: the private flag (BEP 27) tells clients to get peers from the
 * tracker only, on top of each client's own DHT/PEX/LPD switches.
 */
export async function makeTorrent(file: string, announceUrl: string, out: string): Promise<Torrent> {
  await run('mktorrent', ['-p', '-a', announceUrl, '-o', out, file]);
  return { path: out, infoHash: infoHashOf(await readFile(out)) };
}

/** sha1 of the raw bytes of the `info` dictionary (the torrent's identity). */
export function infoHashOf(torrent: Buffer): Buffer {
  // Walk the top-level dictionary to find where the value of "info" starts and ends.
  let pos = 1;
  while (torrent[pos] !== 0x65) {
    const key = readStringAt(torrent, pos);
    pos = key.end;
    const end = skipValue(torrent, pos);
    if (key.text === 'info') return createHash('sha1').update(torrent.subarray(pos, end)).digest();
    pos = end;
  }
  throw new Error('torrent has no info dictionary');
}

function readStringAt(data: Buffer, pos: number): { text: string; end: number } {
  const colon = data.indexOf(0x3a, pos);
  const len = Number(data.toString('latin1', pos, colon));
  return { text: data.toString('latin1', colon + 1, colon + 1 + len), end: colon + 1 + len };
}

function skipValue(data: Buffer, pos: number): number {
  const c = data[pos];
  if (c === 0x69) return data.indexOf(0x65, pos) + 1;
  if (c === 0x6c || c === 0x64) {
    pos++;
    while (data[pos] !== 0x65) {
      if (pos >= data.length) throw new Error('truncated torrent');
      pos = skipValue(data, pos);
    }
    return pos + 1;
  }
  return readStringAt(data, pos).end;
}

/**
 * Clients still running. Each runs in its own process group (so that a kill
 * reaches whatever it forks), which also means it would outlive this process if
 * the test runner killed us first: on exit or on a termination signal, kill
 * every group still alive.
 */
const live = new Set<ClientProcess>();
/** Temp dirs of cases still running, removed on the same occasions. */
const tempDirs = new Set<string>();
let reaperInstalled = false;

function killAll(): void {
  for (const p of live) {
    try {
      if (p.child.pid !== undefined) process.kill(-p.child.pid, 'SIGKILL');
    } catch {}
  }
  live.clear();
  for (const dir of tempDirs) rmSync(dir, { recursive: true, force: true });
  tempDirs.clear();
}

/** A temp dir (mkdtemp) removed by removeTempDir, or at exit if the process ends first. */
export async function makeTempDir(label: string): Promise<string> {
  installReaper();
  const dir = await mkdtemp(join(tmpdir(), `bitstorm-e2e-${label.replace(/[^a-z0-9]+/gi, '-')}-`));
  tempDirs.add(dir);
  return dir;
}

export async function removeTempDir(dir: string): Promise<void> {
  await rm(dir, { recursive: true, force: true, maxRetries: 3 });
  tempDirs.delete(dir);
}

function installReaper(): void {
  if (reaperInstalled) return;
  reaperInstalled = true;
  process.once('exit', killAll);
  for (const [signal, code] of [
    ['SIGINT', 130],
    ['SIGTERM', 143],
  ] as const) {
    process.once(signal, () => {
      killAll();
      process.exit(code);
    });
  }
}

/** A client process in its own process group, its output appended to a log file. */
export class ClientProcess {
  readonly child: ChildProcess;
  readonly exited: Promise<void>;
  exitStatus: string | undefined;

  constructor(
    readonly name: string,
    file: string,
    args: readonly string[],
    readonly logFile: string,
    env: NodeJS.ProcessEnv,
  ) {
    installReaper();
    const fd = openSync(logFile, 'a');
    try {
      // detached: a new process group, so stop() can kill the client and anything it forks.
      this.child = spawn(file, args, { detached: true, stdio: ['ignore', fd, fd], env });
    } finally {
      closeSync(fd);
    }
    live.add(this);
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => {
        live.delete(this);
        this.exitStatus = signal ? `killed by ${signal}` : `exited with ${code}`;
        resolve();
      });
      this.child.once('error', (err) => {
        live.delete(this);
        this.exitStatus = `failed to start: ${err.message}`;
        resolve();
      });
    });
  }

  get running(): boolean {
    return this.exitStatus === undefined;
  }

  /** Kills the whole process group and waits (bounded) for the exit. Idempotent. */
  async stop(): Promise<void> {
    const pid = this.child.pid;
    if (pid !== undefined && this.running) {
      try {
        process.kill(-pid, 'SIGKILL');
      } catch {}
    }
    await Promise.race([this.exited, sleep(5000)]);
  }
}

/** The last `lines` lines of a file ('' when it does not exist). */
export async function tail(path: string, lines = 40): Promise<string> {
  let fh: Awaited<ReturnType<typeof open>> | undefined;
  try {
    fh = await open(path, 'r');
    const { size } = await fh.stat();
    const length = Math.min(size, 64 * 1024);
    const buf = Buffer.alloc(length);
    await fh.read(buf, 0, length, size - length);
    return buf.toString('utf8').split('\n').slice(-lines).join('\n');
  } catch {
    return '';
  } finally {
    await fh?.close();
  }
}

/** What a test needs from either client. */
export interface BtClient {
  readonly name: string;
  /** Whether it will connect to peers the tracker names (Transmission won't on loopback). */
  readonly dials: boolean;
  /** Where the payload ends up (the leecher) or is read from (the seeder). */
  readonly dataDir: string;
  start(torrent: Torrent): Promise<void>;
  /** Log tail and client-side state, for a failure message. */
  diagnostics(): Promise<string>;
  stop(): Promise<void>;
}

export interface ClientOptions {
  /** A directory of its own (config, data, log). */
  dir: string;
  seeder: boolean;
  /** For a udp:// tracker (aria2 needs its DHT socket for it, see below). */
  udpTracker: boolean;
}

/**
 * aria2 1.36.
 * - `--no-conf`, `--dht-file-path` in its own dir, HOME pointed at its dir:
 *   nothing from the machine's user config leaks in.
 * - `--enable-peer-exchange=false --bt-enable-lpd=false`: tracker only.
 * - `--enable-dht=false`, except for a udp:// tracker: aria2 sends UDP tracker
 *   requests through its DHT socket and skips udp:// trackers when DHT is off.
 *   With a private torrent and an empty routing table (no bootstrap node, no
 *   dht.dat) DHT contacts nobody, so the tracker stays the only way to meet.
 *   aria2 has no UDP tracker client for IPv6 at all (`--enable-dht6` does not
 *   change that), hence no udp://[::1] case.
 * - `--seed-ratio=0.0`: keep seeding whatever the ratio (the leecher too, so
 *   the tracker sees two seeders afterwards); the test stops it.
 * - seeder `--check-integrity=true`: hash the existing file and start as a
 *   seeder (left=0) instead of treating the data as unverified.
 * - `--file-allocation=none`: no preallocation pass before downloading.
 * - `--disable-ipv6=false` (default) so it can announce to and dial [::1].
 * aria2 dials any peer the tracker names, 127.0.0.1 and ::1 included, and
 * accepts incoming connections; it never dials itself because the tracker
 * never returns the requester.
 */
export class Aria2Client implements BtClient {
  readonly name: string;
  readonly dials = true;
  readonly dataDir: string;
  private proc: ClientProcess | undefined;
  private readonly logFile: string;

  constructor(private readonly options: ClientOptions) {
    this.name = `aria2 ${options.seeder ? 'seeder' : 'leecher'}`;
    this.dataDir = join(options.dir, 'data');
    this.logFile = join(options.dir, 'aria2.log');
  }

  async start(torrent: Torrent): Promise<void> {
    const { dir, seeder, udpTracker } = this.options;
    await mkdir(this.dataDir, { recursive: true });
    const port = await freePort({ host: '::', udp: true });
    const args = [
      '--no-conf',
      `--dir=${this.dataDir}`,
      `--listen-port=${port}`,
      `--enable-dht=${udpTracker}`,
      '--enable-dht6=false',
      `--dht-listen-port=${udpTracker ? await freePort({ host: '::', udp: true }) : port}`,
      `--dht-file-path=${join(dir, 'dht.dat')}`,
      '--enable-peer-exchange=false',
      '--bt-enable-lpd=false',
      '--seed-ratio=0.0',
      '--file-allocation=none',
      `--check-integrity=${seeder}`,
      '--bt-save-metadata=false',
      '--auto-save-interval=0',
      '--summary-interval=0',
      '--console-log-level=notice',
      '--enable-color=false',
      `--log=${join(dir, 'aria2-debug.log')}`,
      '--log-level=info',
      torrent.path,
    ];
    await writeFile(this.logFile, `$ aria2c ${args.join(' ')}\n`);
    this.proc = new ClientProcess(this.name, 'aria2c', args, this.logFile, { ...process.env, HOME: dir });
  }

  async diagnostics(): Promise<string> {
    const status = this.proc ? `process ${this.proc.exitStatus ?? 'running'}` : 'not started';
    return [
      `--- ${this.name} (${status}), console:`,
      await tail(this.logFile, 15),
      `--- ${this.name}, log (info):`,
      await tail(join(this.options.dir, 'aria2-debug.log'), 40),
    ].join('\n');
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }
}

/**
 * Transmission 3.00, as `transmission-daemon -f -g DIR` with a settings.json
 * written first, driven over RPC with `transmission-remote`.
 * - dht, lpd, pex, port forwarding (UPnP/NAT-PMP) and uTP off: tracker only,
 *   and plain TCP like aria2 speaks.
 * - RPC on 127.0.0.1 at a free port, no auth, no whitelists (test-local).
 * - Queues, ratio and idle limits off: it must start at once and keep seeding.
 * - It binds tracker requests to its configured address, so the bind address
 *   must be on the tracker's side of loopback: `bind-address-ipv4` 127.0.0.1
 *   for a 127.0.0.1 tracker; for a [::1] tracker `bind-address-ipv6` ::1 with
 *   the IPv4 bind left at its default.
 * - It never dials peers at 127.x or ::1 (it drops them as "martian"
 *   addresses) but accepts incoming connections from them. So it is always the
 *   peer that is dialed: the test starts it first and lets aria2 dial it, and
 *   two Transmissions cannot exchange data over loopback (no such case).
 * - It does not announce to a udp:// tracker over IPv6 unless the host has a
 *   global IPv6 address; with aria2 unable to do UDP over IPv6 either, there is
 *   no udp://[::1] case.
 */
export class TransmissionClient implements BtClient {
  readonly name: string;
  readonly dials = false;
  readonly dataDir: string;
  private proc: ClientProcess | undefined;
  private rpc = '';
  private readonly logFile: string;

  constructor(private readonly options: ClientOptions & { trackerFamily: 4 | 6 }) {
    this.name = `transmission ${options.seeder ? 'seeder' : 'leecher'}`;
    this.dataDir = join(options.dir, 'data');
    this.logFile = join(options.dir, 'transmission.log');
  }

  async start(torrent: Torrent): Promise<void> {
    const { dir, trackerFamily } = this.options;
    const configDir = join(dir, 'config');
    await mkdir(configDir, { recursive: true });
    await mkdir(this.dataDir, { recursive: true });
    const rpcPort = await freePort({ host: '::', udp: true });
    const settings: Record<string, unknown> = {
      'dht-enabled': false,
      'lpd-enabled': false,
      'pex-enabled': false,
      'port-forwarding-enabled': false,
      'utp-enabled': false,
      'blocklist-enabled': false,
      'peer-port': await freePort({ host: '::', udp: true }),
      'peer-port-random-on-start': false,
      'rpc-enabled': true,
      'rpc-bind-address': '127.0.0.1',
      'rpc-port': rpcPort,
      'rpc-authentication-required': false,
      'rpc-whitelist-enabled': false,
      'rpc-host-whitelist-enabled': false,
      'download-dir': this.dataDir,
      'incomplete-dir-enabled': false,
      'watch-dir-enabled': false,
      'start-added-torrents': true,
      'download-queue-enabled': false,
      'seed-queue-enabled': false,
      'queue-stalled-enabled': false,
      'ratio-limit-enabled': false,
      'idle-seeding-limit-enabled': false,
      'speed-limit-up-enabled': false,
      'speed-limit-down-enabled': false,
      'alt-speed-enabled': false,
      'message-level': 3,
    };
    if (trackerFamily === 4) settings['bind-address-ipv4'] = '127.0.0.1';
    else settings['bind-address-ipv6'] = '::1';
    await writeFile(join(configDir, 'settings.json'), JSON.stringify(settings, null, 2));
    this.rpc = `127.0.0.1:${rpcPort}`;
    this.proc = new ClientProcess(this.name, 'transmission-daemon', ['-f', '-g', configDir], this.logFile, {
      ...process.env,
      HOME: dir,
    });
    // RPC answers once the session is up; bounded, and fails fast if the daemon died.
    const deadline = Date.now() + 15_000;
    for (;;) {
      try {
        await run('transmission-remote', [this.rpc, '-l'], 5000);
        break;
      } catch (err) {
        if (!this.proc.running) throw new Error(`${this.name} ${this.proc.exitStatus}\n${await tail(this.logFile)}`);
        if (Date.now() > deadline) throw new Error(`${this.name}: RPC not up after 15 s: ${(err as Error).message}`);
        await sleep(200);
      }
    }
    await run('transmission-remote', [this.rpc, '-a', torrent.path, '-w', this.dataDir]);
  }

  async diagnostics(): Promise<string> {
    const status = this.proc ? `process ${this.proc.exitStatus ?? 'running'}` : 'not started';
    let state = '';
    if (this.proc?.running) {
      try {
        state = await run('transmission-remote', [this.rpc, '-t', 'all', '-i', '-pi'], 5000);
      } catch (err) {
        state = `(transmission-remote failed: ${(err as Error).message})`;
      }
    }
    return [
      `--- ${this.name} (${status}), log:`,
      await tail(this.logFile, 40),
      `--- ${this.name}, RPC state:`,
      state,
    ].join('\n');
  }

  async stop(): Promise<void> {
    await this.proc?.stop();
  }
}

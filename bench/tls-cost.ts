/**
 * What TLS costs the tracker: HTTPS announces (node:https) against plain HTTP
 * on the fast path and plain HTTP through node:http (--http-fast-path off).
 * Run by hand, bounded (a few seconds per load, about half a minute in all):
 *
 *   npx tsc -p . && node dist/bench/tls-cost.js [--seconds 3] [--concurrency 16] [--key rsa|ec]
 *
 * Starts the real CLI (bin/bitstorm.js, memory store) once per server setting
 * and announces at it from this process with node's own http/https clients,
 * one connection per announce and keep-alive. One connection per announce over
 * TLS is measured twice: with a full handshake each time (no session cache:
 * the client keeps no TLS session) and resuming the session of an earlier
 * connection (node's https agent caches sessions by default).
 *
 * Read the tracker's CPU per announce (from /proc, the tracker process alone),
 * not requests/s: the load generator is node's client in one process, on the
 * same cores, and is itself the bottleneck for the plain loads. The
 * certificate is a fresh self-signed one from openssl (RSA 2048 or ECDSA P-256).
 */
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { Agent as HttpAgent, request as httpRequest } from 'node:http';
import { Agent as HttpsAgent, request as httpsRequest } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import type { TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import { freePort } from '../test/helpers/free-port.js';
import { announceQuery, makeId } from '../test/helpers/http-tracker-client.js';
import { cpuMicros } from './proc.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'bitstorm.js');

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? (process.argv[i + 1] ?? fallback) : fallback;
}
const SECONDS = Number(arg('seconds', '3'));
const CONCURRENCY = Number(arg('concurrency', '16'));
const KEY = arg('key', 'rsa');
if (!(SECONDS > 0 && SECONDS <= 60) || !(CONCURRENCY > 0 && CONCURRENCY <= 256) || !['rsa', 'ec'].includes(KEY)) {
  throw new Error('usage: tls-cost.js [--seconds 1..60] [--concurrency 1..256] [--key rsa|ec]');
}
/** Announces spread over this many torrents and peers, so replies carry peers as in a real swarm. */
const TORRENTS = 1000;
const PEERS = 20_000;

interface Setting {
  name: string;
  args: string[];
  tls: boolean;
}

interface Load {
  name: string;
  keepAlive: boolean;
  /** TLS only: let the client resume an earlier session instead of a full handshake. */
  resume?: boolean;
}

function makeCert(dir: string): { cert: string; key: string } {
  const cert = join(dir, 'cert.pem');
  const key = join(dir, 'key.pem');
  const keyArgs =
    KEY === 'ec' ? ['-newkey', 'ec', '-pkeyopt', 'ec_paramgen_curve:prime256v1'] : ['-newkey', 'rsa:2048'];
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      ...keyArgs,
      '-nodes',
      '-days',
      '1',
      '-subj',
      '/CN=localhost',
      '-addext',
      'subjectAltName=IP:127.0.0.1',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  if (r.status !== 0) throw new Error(`openssl failed (sudo apt-get install -y openssl): ${r.stderr}`);
  return { cert, key };
}

/** Starts the CLI and resolves once it printed its first announce URL (bounded). */
function startTracker(args: string[]): Promise<ChildProcess> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the tracker did not start within 10 s:\n${out}`));
    }, 10_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      if (/announce URL/.test(out)) {
        clearTimeout(timer);
        resolve(child);
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`the tracker exited (${code}):\n${out}`));
    });
  });
}

function stopTracker(child: ChildProcess): Promise<void> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.removeAllListeners('exit');
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGTERM');
  });
}

/** Announces for `seconds` with `CONCURRENCY` in flight; counts answered ones and errors. */
async function drive(
  port: number,
  tls: boolean,
  load: Load,
  ca: Buffer | undefined,
  seconds: number,
): Promise<{ ok: number; errors: number; resumed: number }> {
  const agent = tls
    ? new HttpsAgent({ keepAlive: load.keepAlive, maxCachedSessions: load.resume ? 100 : 0 })
    : new HttpAgent({ keepAlive: load.keepAlive });
  const deadline = Date.now() + seconds * 1000;
  let ok = 0;
  let errors = 0;
  let resumed = 0;
  let n = 0;
  const one = (): Promise<void> =>
    new Promise((resolve) => {
      const i = n++;
      const path = `/announce?${announceQuery({
        infoHash: Buffer.alloc(20, 0).fill(i % TORRENTS, 0, 4),
        peerId: makeId('-TC-', (i * 7919) % PEERS),
        port: 6881,
        compact: 1,
        numwant: 50,
      })}`;
      const options = { host: '127.0.0.1', port, path, agent, timeout: 10_000, ...(ca ? { ca } : {}) };
      const req = (tls ? httpsRequest : httpRequest)(options, (res) => {
        // Says whether the "session resumed" load did resume (a TLS 1.3 ticket may come too late to be cached).
        if (tls && !req.reusedSocket && (res.socket as TLSSocket).isSessionReused()) resumed++;
        let first = -1;
        res.on('data', (c: Buffer) => {
          if (first < 0) first = c[0] ?? -1;
        });
        res.on('end', () => {
          // A bencoded dictionary starts with 'd'.
          if (res.statusCode === 200 && first === 0x64) ok++;
          else errors++;
          resolve();
        });
      });
      req.on('timeout', () => req.destroy(new Error('timeout')));
      req.on('error', () => {
        errors++;
        resolve();
      });
      req.end();
    });
  await Promise.all(
    Array.from({ length: CONCURRENCY }, async () => {
      while (Date.now() < deadline) await one();
    }),
  );
  agent.destroy();
  return { ok, errors, resumed };
}

async function main(): Promise<void> {
  const dir = mkdtempSync(join(tmpdir(), 'bitstorm-tls-cost-'));
  const rows: string[] = [];
  try {
    const { cert, key } = makeCert(dir);
    const ca = readFileSync(cert);
    const settings: Setting[] = [
      { name: 'HTTP, fast path', args: [], tls: false },
      { name: 'HTTP, --http-fast-path off', args: ['--http-fast-path', 'off'], tls: false },
      {
        name: `HTTPS (${KEY === 'ec' ? 'ECDSA P-256' : 'RSA 2048'})`,
        args: ['--tls-cert', cert, '--tls-key', key],
        tls: true,
      },
    ];
    for (const setting of settings) {
      const loads: Load[] = setting.tls
        ? [
            { name: 'one connection per announce, full handshake', keepAlive: false, resume: false },
            { name: 'one connection per announce, session resumed', keepAlive: false, resume: true },
            { name: 'keep-alive', keepAlive: true },
          ]
        : [
            { name: 'one connection per announce', keepAlive: false },
            { name: 'keep-alive', keepAlive: true },
          ];
      const port = await freePort();
      const child = await startTracker([
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
        '--udp-port',
        'off',
        '--ws',
        'off',
        ...setting.args,
      ]);
      try {
        const pid = child.pid as number;
        for (const load of loads) {
          // A short warm-up (JIT, the swarms filled) that is not counted.
          await drive(port, setting.tls, load, setting.tls ? ca : undefined, 0.5);
          const cpu0 = cpuMicros([pid]);
          const client0 = process.cpuUsage();
          const t0 = process.hrtime.bigint();
          const { ok, errors, resumed } = await drive(port, setting.tls, load, setting.tls ? ca : undefined, SECONDS);
          const secs = Number(process.hrtime.bigint() - t0) / 1e9;
          const trackerUs = cpuMicros([pid]) - cpu0;
          const c = process.cpuUsage(client0);
          const perSec = ok / secs;
          const loadName = load.resume ? `${load.name} (${Math.round((resumed / ok) * 100)}% resumed)` : load.name;
          const row = `| ${setting.name} | ${loadName} | ${Math.round(perSec).toLocaleString('en')} | ${(trackerUs / ok).toFixed(0)} µs | ${((trackerUs / 1e6 / secs) * 100).toFixed(0)}% | ${((c.user + c.system) / ok).toFixed(0)} µs | ${errors} |`;
          rows.push(row);
          console.error(row);
        }
      } finally {
        await stopTracker(child);
      }
    }
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
  console.log(
    `\n${SECONDS} s per load, ${CONCURRENCY} announces in flight, node ${process.version}, memory store\n\n` +
      '| server | load | announces/s | tracker CPU per announce | tracker CPU (of one core) | client CPU per announce | errors |\n' +
      '|---|---|--:|--:|--:|--:|--:|\n' +
      rows.join('\n'),
  );
}

main().catch((err: unknown) => {
  console.error(err);
  process.exit(1);
});

import assert from 'node:assert/strict';
import { execFileSync, spawn } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { CHROMIUM } from '../helpers/chromium.js';

/**
 * A real WebTorrent client: two headless Chromium pages load webtorrent's
 * browser bundle, one seeds a random 1 MiB file and the other downloads it
 * through BitStorm's WebSocket tracker alone, over loopback with no STUN
 * server; the bytes are compared by SHA-256. The pages, the trackers (and
 * Redis) run in a network namespace with only `lo` up
 * (webtorrent-browser-run.ts; docs/e2e.md says why).
 *
 * The bundle comes from webtorrent's npm package, fetched with `npm pack`
 * into .cache/ (installing webtorrent as a dependency would build
 * node-datachannel, its Node WebRTC, which downloads from outside npm).
 */

const WEBTORRENT_VERSION = '2.8.5';
const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const cacheDir = join(root, '.cache', 'webtorrent');
const bundle = join(cacheDir, 'package', 'dist', 'webtorrent.min.js');
const runner = join(root, 'dist', 'test', 'e2e', 'webtorrent-browser-run.js');
const RUN_MS = 60_000;

function ensureBundle(): void {
  if (existsSync(bundle)) return;
  mkdirSync(cacheDir, { recursive: true });
  const tarball = execFileSync(
    'npm',
    ['pack', `webtorrent@${WEBTORRENT_VERSION}`, '--silent', '--pack-destination', cacheDir],
    { encoding: 'utf8', timeout: 120_000 },
  ).trim();
  execFileSync('tar', ['xzf', join(cacheDir, tarball), '-C', cacheDir, 'package/dist/webtorrent.min.js'], {
    timeout: 30_000,
  });
  assert.ok(existsSync(bundle), `npm pack webtorrent@${WEBTORRENT_VERSION} gave no dist/webtorrent.min.js`);
}

interface RunResult {
  ok: boolean;
  error?: string;
  expectedSha256?: string;
  sha256?: string;
  bytes?: number;
  ms?: number;
  stats?: { perNode: { sockets: number; relayed: number }[] };
  log: string[];
}

/** Runs one transfer in a fresh network namespace (unprivileged: a user namespace too). */
function transfer(deployment: 'memory' | 'redis-two-nodes', size: number): Promise<RunResult> {
  const unshare = process.getuid?.() === 0 ? ['-n'] : ['-rn'];
  const script = 'ip link set lo up && exec "$0" "$@"';
  const child = spawn(
    'unshare',
    [...unshare, 'sh', '-c', script, process.execPath, runner, bundle, deployment, String(size)],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  let out = '';
  child.stdout.on('data', (d) => (out += d));
  child.stderr.on('data', (d) => (out += d));
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`the transfer did not finish within ${RUN_MS / 1000} s:\n${out}`));
    }, RUN_MS);
    child.on('error', (err) => {
      clearTimeout(timer);
      reject(new Error(`could not run unshare (util-linux) and ip (iproute2): ${err.message}`));
    });
    child.on('exit', () => {
      clearTimeout(timer);
      const line = out
        .split('\n')
        .reverse()
        .find((l) => l.startsWith('{"ok"'));
      if (!line) return reject(new Error(`the runner printed no result:\n${out}`));
      resolve(JSON.parse(line) as RunResult);
    });
  });
}

describe('WebTorrent in Chromium through the WebSocket tracker', () => {
  it('finds Chromium and the webtorrent bundle', () => {
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (npm test does)`);
    ensureBundle();
  });

  it('a browser downloads 1 MiB from another, the memory store', async () => {
    const size = 1024 * 1024;
    const r = await transfer('memory', size);
    assert.ok(r.ok, `${r.error}\n${r.log.join('\n')}`);
    assert.equal(r.bytes, size);
    assert.equal(r.sha256, r.expectedSha256, 'the downloaded bytes are the seeded ones');
  });

  it('a browser on one tracker node downloads from a browser on another (Redis relays the signalling)', async () => {
    const size = 1024 * 1024;
    const r = await transfer('redis-two-nodes', size);
    assert.ok(r.ok, `${r.error}\n${r.log.join('\n')}`);
    assert.equal(r.sha256, r.expectedSha256, 'the downloaded bytes are the seeded ones');
    const [seederNode, leecherNode] = r.stats?.perNode ?? [];
    // Each page knew only its own node: the leecher's offer crossed one way, the seeder's answer the other.
    assert.equal(seederNode?.sockets, 1);
    assert.equal(leecherNode?.sockets, 1);
    assert.ok((seederNode?.relayed ?? 0) >= 1, 'the seeder node relayed the answer');
    assert.ok((leecherNode?.relayed ?? 0) >= 1, 'the leecher node relayed the offer');
  });
});

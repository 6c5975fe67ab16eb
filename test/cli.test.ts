import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { nodeMajor, TESTED_NODE_MAJORS } from '../src/transport/http/tcp-handles.js';
import { announce, makeId } from './helpers/http-tracker-client.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'bitstorm.js');

function run(args: string[], env: Record<string, string> = {}) {
  return spawnSync(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    encoding: 'utf8',
    timeout: 10_000,
  });
}

/** Starts the CLI and resolves with the announce URL it prints. */
function start(
  args: string[],
  env: Record<string, string> = {},
): Promise<{ child: ChildProcess; url: string; out: () => string }> {
  const child = spawn(process.execPath, [bin, ...args], {
    env: { ...process.env, ...env },
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no announce URL printed:\n${out}`));
    }, 10_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /announce URL (http:\/\/127\.0\.0\.1:\d+\/announce)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, url: m[1] as string, out: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${out}`));
    });
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('bitstorm CLI', () => {
  it('--help lists every option with its default and environment variable', () => {
    const r = run(['--help']);
    assert.equal(r.status, 0);
    for (const text of [
      '--port <value>',
      'default: 6969',
      '--peer-ttl',
      'default: 1860',
      'BITSTORM_TRUST_PROXY',
      '--allow-ip-param',
      '--http-fast-path <value>',
      '"force": also on untested majors) (default: on; BITSTORM_HTTP_FAST_PATH)',
      '--rate-limit <value>',
      'or off (default: 20; BITSTORM_RATE_LIMIT)',
      '--ws-max-sockets-per-ip <value>',
      '--http-max-connections-per-ip <value>',
      '--udp-bad-id-limit <value>',
    ]) {
      assert.ok(r.stdout.includes(text), `help mentions ${text}`);
    }
    assert.equal(run(['--http-fast-path', 'force', '--help']).status, 0, '"force" is a value of --http-fast-path');
    assert.equal(run(['--rate-limit', 'off', '--help']).status, 0, '"off" is a value of --rate-limit');
  });

  it('refuses unknown options and invalid values with exit code 2', () => {
    for (const [args, message] of [
      [['--bogus'], /unknown option --bogus/],
      [['--port', 'abc'], /--port: expected a whole number/],
      [['--port', '70000'], /--port: must be between 0 and 65535/],
      [['--interval'], /--interval needs a value/],
      [['--trust-proxy', 'not-a-cidr'], /not an address or CIDR/],
      [['--workers', '2'], /--workers > 1 needs --redis-url/],
      [['--http-fast-path', 'maybe'], /--http-fast-path: expected on, off or force, got "maybe"/],
      [['--rate-limit', 'fast'], /--rate-limit: expected a whole number or off, got "fast"/],
      [['--rate-burst', 'off'], /--rate-burst: expected a whole number, got "off"/],
      [['--ws-idle-timeout', '200'], /--ws-idle-timeout must be at least twice --ws-interval/],
      [['stray'], /unexpected argument/],
    ] as const) {
      const r = run([...args]);
      assert.equal(r.status, 2, args.join(' '));
      assert.match(r.stderr, message);
    }
    const env = run([], { BITSTORM_PORT: 'x' });
    assert.equal(env.status, 2);
    assert.match(env.stderr, /BITSTORM_PORT/);
  });

  it('prints the port it picked, serves announces, and exits 0 on SIGTERM', async () => {
    const { child, url, out } = await start(['--port', '0', '--udp-port', 'off']);
    // Which code serves HTTP, said once at start.
    const served = out().match(/HTTP announces and scrapes served by (the fast path|node:http)/g) ?? [];
    const tested = TESTED_NODE_MAJORS.includes(nodeMajor());
    assert.deepEqual(served, [`HTTP announces and scrapes served by ${tested ? 'the fast path' : 'node:http'}`]);
    const r = await announce(url.replace('/announce', ''), {
      infoHash: Buffer.alloc(20, 7),
      peerId: makeId('-CLI001-', 1),
      port: 1,
    });
    assert.equal(r.incomplete, 1);
    child.kill('SIGTERM');
    assert.equal(await exitOf(child), 0);
  });

  it('keeps serving under --pending-deprecation --throw-deprecation (the HTTP fast path steps aside)', async () => {
    const { child, url, out } = await start(['--port', '0', '--udp-port', 'off'], {
      NODE_OPTIONS: '--pending-deprecation --throw-deprecation',
    });
    assert.match(out(), /served by node:http: node runs with --throw-deprecation/);
    for (let i = 1; i <= 2; i++) {
      const r = await announce(url.replace('/announce', ''), {
        infoHash: Buffer.alloc(20, 8),
        peerId: makeId('-CLI001-', i),
        port: i,
      });
      assert.equal(r.incomplete, i);
    }
    await new Promise((r) => setTimeout(r, 200)); // a deferred deprecation throw would have ended it by now
    assert.equal(child.exitCode, null, 'still running');
    child.kill('SIGTERM');
    assert.equal(await exitOf(child), 0);
  });

  it('takes options from BITSTORM_* variables, flags winning over them', async () => {
    const { child, url } = await start(['--port', '0', '--udp-port', 'off'], {
      BITSTORM_INTERVAL: '900',
      BITSTORM_PORT: '1',
    });
    const res = await announce(url.replace('/announce', ''), {
      infoHash: Buffer.alloc(20, 8),
      peerId: makeId('-CLI001-', 2),
      port: 1,
    });
    assert.equal(res.interval, 900);
    child.kill('SIGINT');
    assert.equal(await exitOf(child), 0);
  });
});

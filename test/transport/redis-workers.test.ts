import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createSocket } from 'node:dgram';
import { readdirSync, readFileSync, readlinkSync } from 'node:fs';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DecodedDict } from '../../src/protocol/bencode.js';
import { unpackPeers } from '../../src/protocol/compact.js';
import { freePort } from '../helpers/free-port.js';
import { announce, makeId } from '../helpers/http-tracker-client.js';
import { type RedisServerHandle, startRedisServer } from '../helpers/redis-server.js';
import { UdpTrackerClient } from './udp-client.js';
import { asAnnounce } from './udp-suite.js';

/** `bitstorm --workers 2` through the real CLI: two processes share the port and the swarms. */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

let redis: RedisServerHandle;
let child: ChildProcess | undefined;
let output = '';

before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  if (child && child.exitCode === null) child.kill('SIGKILL');
  await redis?.stop();
});

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch {
    return false;
  }
}

/** The processes holding the UDP socket bound to `port` (from /proc/net/udp* inodes and /proc/<pid>/fd). */
function udpHolders(pids: readonly number[], port: number): number[] {
  const inodes = new Set<string>();
  for (const table of ['/proc/net/udp', '/proc/net/udp6']) {
    let text = '';
    try {
      text = readFileSync(table, 'utf8');
    } catch {
      continue;
    }
    for (const line of text.split('\n').slice(1)) {
      const cols = line.trim().split(/\s+/);
      const local = cols[1];
      if (local && Number.parseInt(local.split(':')[1] ?? '', 16) === port) inodes.add(cols[9] as string);
    }
  }
  return pids.filter((pid) => {
    try {
      return readdirSync(`/proc/${pid}/fd`).some((fd) => {
        try {
          const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/${pid}/fd/${fd}`));
          return m !== null && inodes.has(m[1] as string);
        } catch {
          return false;
        }
      });
    } catch {
      return false;
    }
  });
}

async function udpAnnounce(port: number, infoHash: Buffer, n: number): Promise<{ leechers: number; seeders: number }> {
  const client = await UdpTrackerClient.open('127.0.0.1', port);
  try {
    return asAnnounce(await client.announce({ infoHash, peerId: makeId('-U-', n), left: 1, port: 9000 + n }));
  } finally {
    client.socket.close();
  }
}

/** Runs `bitstorm --workers 2` on `port`, expects exit code 1 within 20 s, returns its output. */
async function expectStartFailure(port: number): Promise<string> {
  let out = '';
  const proc = spawn(
    process.execPath,
    ['bin/bitstorm.js', '--workers', '2', '--redis-url', redis.url, '--host', '127.0.0.1', '--port', String(port)],
    { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
  );
  proc.stdout?.on('data', (c: Buffer) => (out += c.toString()));
  proc.stderr?.on('data', (c: Buffer) => (out += c.toString()));
  const code = await Promise.race([
    new Promise<number | null>((resolve) => proc.once('exit', (c) => resolve(c))),
    new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 20_000).unref()),
  ]);
  if (code === 'timeout') proc.kill('SIGKILL');
  assert.equal(code, 1, out);
  return out;
}

async function waitFor(check: () => boolean | Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await Promise.resolve(check()).catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms\n--- output ---\n${output}`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('bitstorm --workers 2 on Redis', () => {
  it('serves announces from both workers, which share one swarm, and stops cleanly', async () => {
    const port = await freePort();
    child = spawn(
      process.execPath,
      [
        'bin/bitstorm.js',
        '--workers',
        '2',
        '--redis-url',
        redis.url,
        '--redis-prefix',
        'workers:',
        '--host',
        '127.0.0.1',
        '--port',
        String(port),
      ],
      { cwd: root, stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (c: Buffer) => (output += c.toString()));
    child.stderr?.on('data', (c: Buffer) => (output += c.toString()));
    await waitFor(() => (output.match(/HTTP tracker listening/g) ?? []).length >= 2, 20_000, 'both workers listening');
    // UDP is answered by worker 0 alone (cli/workers.ts), but every worker lists its URL.
    await waitFor(() => /UDP tracker listening/.test(output), 5000, 'UDP listening');
    assert.equal((output.match(/UDP tracker listening/g) ?? []).length, 1, output);
    // Not on a terminal: JSON lines, each saying whose it is (the primary's, or a worker's index).
    const lines = output
      .split('\n')
      .slice(0, -1) // a line still being written
      .map((l) => JSON.parse(l) as { worker?: unknown; msg?: string; level?: string });
    assert.ok(
      lines.every((l) => l.worker === 'primary' || l.worker === 0 || l.worker === 1),
      output,
    );
    assert.ok(
      lines.some((l) => l.worker === 'primary' && /starting 2 workers/.test(l.msg ?? '')),
      output,
    );
    for (const worker of [0, 1]) {
      assert.ok(
        lines.some((l) => l.worker === worker && /^HTTP tracker listening/.test(l.msg ?? '')),
        output,
      );
    }
    assert.ok(
      lines.some((l) => l.worker === 0 && /^UDP tracker listening/.test(l.msg ?? '')),
      'worker 0 holds UDP',
    );
    const udpUrl = `announce URL udp://127.0.0.1:${port}/announce`;
    await waitFor(() => output.split(udpUrl).length - 1 >= 2, 5000, 'both workers list the udp:// URL');

    const base = `http://127.0.0.1:${port}`;
    const h = Buffer.alloc(20, 0xc3);
    const peers = 12;
    // The workers connect to Redis in the background: until then they answer "retry".
    await waitFor(
      async () => !(await announce(base, { infoHash: h, peerId: makeId('-W-', 0), port: 8000 }))['failure reason'],
      15_000,
      'first announce served',
    );
    for (let i = 1; i < peers; i++) {
      const reply = await announce(base, { infoHash: h, peerId: makeId('-W-', i), port: 8000 + i });
      assert.equal(reply['failure reason'], undefined, String(reply['failure reason']));
    }
    const last: DecodedDict = await announce(base, { infoHash: h, peerId: makeId('-W-', 99), port: 8099 });
    assert.equal(last.incomplete, peers + 1, 'every worker wrote to the one swarm');
    assert.equal(unpackPeers(last.peers as Buffer, 4).length, peers);

    // Each worker has its own Redis connection named bitstorm-<pid>; both ran the announce script.
    const list = String(await redis.command('CLIENT', 'LIST'));
    const workers = new Set<string>();
    for (const line of list.split('\n')) {
      const name = /name=(bitstorm-\d+)/.exec(line)?.[1];
      if (name && /cmd=(evalsha|eval)\b/.test(line)) workers.add(name);
    }
    assert.equal(workers.size, 2, `announces served by two processes:\n${list}`);
    const pids = [...workers].map((n) => Number(n.slice('bitstorm-'.length)));

    // UDP joins the same swarm, through the one worker that holds the UDP socket.
    const viaUdp = await udpAnnounce(port, h, 1);
    assert.equal(viaUdp.leechers, peers + 2);
    const holders = udpHolders(pids, port);
    assert.equal(holders.length, 1, `one worker holds the UDP socket: ${holders.join(', ')}`);
    const udpWorker = holders[0] as number;

    // A worker that dies is replaced; the port keeps being served meanwhile. UDP moves
    // at once to the worker still running, well before the replacement can start
    // (it is forked after a 1 s pause).
    const killedAt = Date.now();
    process.kill(udpWorker, 'SIGKILL');
    await waitFor(() => (output.match(/UDP tracker listening/g) ?? []).length >= 2, 5000, 'UDP taken over');
    const gap = Date.now() - killedAt;
    assert.ok(gap < 1000, `UDP unanswered for ${gap} ms`);
    const other = pids.find((pid) => pid !== udpWorker) as number;
    assert.deepEqual(udpHolders([other], port), [other], 'the running worker holds UDP now');
    await waitFor(() => /starting another/.test(output), 5000, 'primary notices the dead worker');
    await waitFor(
      () => (output.match(/HTTP tracker listening/g) ?? []).length >= 3,
      15_000,
      'a replacement worker listening',
    );
    const after = await announce(base, { infoHash: h, peerId: makeId('-W-', 100), port: 8100 });
    assert.equal(after.incomplete, peers + 3);
    assert.equal((output.match(/UDP tracker listening/g) ?? []).length, 2, 'the replacement opens no UDP socket');
    const udpAfter = await udpAnnounce(port, h, 2);
    assert.equal(udpAfter.leechers, peers + 4);

    const exited = new Promise<number | null>((resolve) => child?.once('exit', (code) => resolve(code)));
    child.kill('SIGTERM');
    const code = await Promise.race([
      exited,
      new Promise<'timeout'>((r) => setTimeout(() => r('timeout'), 15_000).unref()),
    ]);
    assert.equal(code, 0, `primary exit code\n${output}`);
    await waitFor(() => pids.every((pid) => !alive(pid)), 5000, 'workers gone');
    await waitFor(
      async () => !/name=bitstorm-\d+/.test(String(await redis.command('CLIENT', 'LIST'))),
      5000,
      'every worker closed its Redis connection',
    );
  });
  it('exits with an error when the workers cannot start (port taken)', async () => {
    const blocker = createServer();
    await new Promise<void>((resolve) => blocker.listen({ host: '127.0.0.1', port: 0, exclusive: true }, resolve));
    try {
      const out = await expectStartFailure((blocker.address() as { port: number }).port);
      assert.match(out, /failed to start/);
    } finally {
      blocker.close();
    }
  });

  it('exits with an error when worker 0 cannot bind UDP (UDP port taken), instead of restarting it forever', async () => {
    const port = await freePort();
    const blocker = createSocket('udp4');
    await new Promise<void>((resolve) => blocker.bind({ address: '127.0.0.1', port, exclusive: true }, resolve));
    try {
      const out = await expectStartFailure(port);
      assert.match(out, /failed to start/);
      assert.match(out, /EADDRINUSE/);
    } finally {
      blocker.close();
    }
  });
});

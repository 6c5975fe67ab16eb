import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { createServer } from 'node:net';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DecodedDict } from '../../src/protocol/bencode.js';
import { unpackPeers } from '../../src/protocol/compact.js';
import { announce, makeId } from '../helpers/http-tracker-client.js';
import { freePort, type RedisServerHandle, startRedisServer } from '../helpers/redis-server.js';

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

    // A worker that dies is replaced; the port keeps being served meanwhile.
    process.kill(pids[0] as number, 'SIGKILL');
    await waitFor(() => /starting another/.test(output), 5000, 'primary notices the dead worker');
    await waitFor(
      () => (output.match(/HTTP tracker listening/g) ?? []).length >= 3,
      15_000,
      'a replacement worker listening',
    );
    const after = await announce(base, { infoHash: h, peerId: makeId('-W-', 100), port: 8100 });
    assert.equal(after.incomplete, peers + 2);

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
    const port = (blocker.address() as { port: number }).port;
    try {
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
      assert.match(out, /failed to start/);
    } finally {
      blocker.close();
    }
  });
});

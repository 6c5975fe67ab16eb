import assert from 'node:assert/strict';
import { createServer, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { pipeTarget, RespPipe } from '../../src/store/redis/resp-pipe.js';
import { type RedisServerHandle, startRedisServer } from '../helpers/redis-server.js';

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

async function until(what: string, check: () => boolean, ms = 10_000): Promise<void> {
  for (const deadline = Date.now() + ms; !check(); ) {
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`);
    await sleep(20);
  }
}

interface Opened {
  pipe: RespPipe;
  downs: Error[];
  ups: number;
}

function open(url: string, timeoutMs = 1000, name = 'bitstorm-pipe-test'): Opened {
  const target = pipeTarget(url);
  assert.ok(target, url);
  const o: Opened = { pipe: undefined as unknown as RespPipe, downs: [], ups: 0 };
  o.pipe = new RespPipe(target, {
    name,
    timeoutMs,
    maxPending: 1000,
    reconnectDelay: () => 50,
    onDown: (err) => o.downs.push(err),
    onUp: () => o.ups++,
  });
  return o;
}

describe('pipeTarget', () => {
  it('reads host, port, user, password and database; refuses other forms', () => {
    assert.deepEqual(pipeTarget('redis://u%40x:p%3As@10.0.0.1:7000/3'), {
      tls: false,
      host: '10.0.0.1',
      port: 7000,
      username: 'u@x',
      password: 'p:s',
      db: 3,
    });
    assert.deepEqual(pipeTarget('rediss://[::1]'), {
      tls: true,
      host: '::1',
      port: 6379,
      username: '',
      password: '',
      db: 0,
    });
    assert.equal(pipeTarget('unix:///tmp/redis.sock'), undefined);
    assert.equal(pipeTarget('redis://h/x'), undefined);
    assert.equal(pipeTarget('not a url'), undefined);
  });
});

describe('RespPipe against a server that accepts and never answers', () => {
  it('is never ready, reports each failed attempt, and keeps trying', async () => {
    const sockets: Socket[] = [];
    const server = createServer((s) => void sockets.push(s));
    await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
    const port = (server.address() as { port: number }).port;
    const o = open(`redis://127.0.0.1:${port}`, 300);
    try {
      await until('two failed attempts', () => o.downs.length >= 2, 5000);
      assert.equal(o.pipe.isReady, false);
      assert.equal(o.ups, 0);
      assert.ok(sockets.length >= 2, 'reconnected');
      await assert.rejects(o.pipe.send(['PING']), /not ready/);
    } finally {
      o.pipe.close();
      for (const s of sockets) s.destroy();
      await new Promise<void>((r) => server.close(() => r()));
    }
  });
});

describe('RespPipe against redis-server', () => {
  let redis: RedisServerHandle;
  /** Without a password: restart() brings up a fresh server, which would not have one. */
  let plain: RedisServerHandle;
  before(async () => {
    redis = await startRedisServer();
    // Set after start: the helper's readiness probe does not authenticate.
    await redis.command('CONFIG', 'SET', 'requirepass', 's3cret');
    plain = await startRedisServer();
  });
  after(async () => {
    await redis?.stop();
    await plain?.stop();
  });

  it('authenticates, selects the database, names itself, and matches many replies in order', async () => {
    const o = open(`redis://:s3cret@127.0.0.1:${redis.port}/2`);
    try {
      await until('ready', () => o.pipe.isReady);
      assert.equal(o.ups, 1);
      const n = 500;
      const sets = [];
      for (let i = 0; i < n; i++) sets.push(o.pipe.send(['SET', `k${i}`, Buffer.from([i & 255, 0, 13, 10])]));
      assert.ok((await Promise.all(sets)).every((r) => Buffer.isBuffer(r) && r.toString() === 'OK'));
      const gets = await Promise.all(Array.from({ length: n }, (_, i) => o.pipe.send(['GET', `k${i}`])));
      for (const [i, r] of gets.entries()) assert.deepEqual(r, Buffer.from([i & 255, 0, 13, 10]));
      // The keys went to database 2, not 0.
      assert.equal(await o.pipe.send(['DBSIZE']), n);
      assert.match(String(await o.pipe.send(['CLIENT', 'GETNAME'])), /bitstorm-pipe-test/);
      // An error reply rejects that command only; the next one is answered.
      await assert.rejects(o.pipe.send(['EVALSHA', 'f'.repeat(40), '0']), /NOSCRIPT/);
      assert.deepEqual(await o.pipe.send(['EVAL', "return {1, 'x', {2}}", '0']), [1, Buffer.from('x'), [2]]);
    } finally {
      o.pipe.close();
    }
  });

  it('sends a group of commands together, replies in order, and refuses a group past maxPending whole', async () => {
    const o = open(`redis://127.0.0.1:${plain.port}/3`);
    try {
      await until('ready', () => o.pipe.isReady);
      const group = Array.from({ length: 300 }, (_, i) =>
        i % 3 === 2 ? ['GET', `g${i - 1}`] : ['SET', `g${i}`, `v${i}`],
      );
      const replies = await Promise.all(o.pipe.sendAll(group));
      for (const [i, r] of replies.entries()) assert.equal(String(r), i % 3 === 2 ? `v${i - 1}` : 'OK');
      // 1,001 commands where 1,000 may wait: none is sent.
      const refused = o.pipe.sendAll(Array.from({ length: 1001 }, (_, i) => ['SET', `x${i}`, '1']));
      for (const r of refused) await assert.rejects(r, /more than 1000 commands/);
      assert.equal(await o.pipe.send(['DBSIZE']), 200);
    } finally {
      o.pipe.close();
    }
  });

  it('does not become ready with a wrong password, and says why', async () => {
    const o = open(`redis://:wrong@127.0.0.1:${redis.port}`);
    try {
      await until('a failed attempt', () => o.downs.length > 0);
      assert.equal(o.pipe.isReady, false);
      assert.match(String(o.downs[0]?.message), /WRONGPASS|invalid password|AUTH/i);
      await assert.rejects(o.pipe.send(['PING']), /not ready/);
    } finally {
      o.pipe.close();
    }
  });

  it('times out a hung Redis, drops the late reply, then serves again in order', async () => {
    const o = open(`redis://:s3cret@127.0.0.1:${redis.port}`, 300);
    try {
      await until('ready', () => o.pipe.isReady);
      redis.pause();
      await sleep(150); // SIGSTOP takes effect asynchronously: let it land before sending
      const hung = o.pipe.send(['ECHO', 'late']);
      await assert.rejects(hung, /no reply from Redis within 300 ms/);
      redis.resume();
      // The late ECHO reply arrives first and must not answer this command.
      assert.deepEqual(await o.pipe.send(['ECHO', 'now']), Buffer.from('now'));
    } finally {
      redis.resume();
      o.pipe.close();
    }
  });

  it('fails what is in flight when Redis dies, and reconnects by itself', async () => {
    const redis = plain;
    const o = open(`redis://127.0.0.1:${redis.port}`);
    try {
      await until('ready', () => o.pipe.isReady);
      // Blocks this connection until the server dies (kill() sends SIGCONT before SIGKILL, so a paused server could still answer).
      const inFlight = assert.rejects(o.pipe.send(['BLPOP', 'never-pushed', '0']));
      await sleep(50);
      await redis.kill();
      await inFlight;
      assert.equal(o.pipe.isReady, false);
      assert.ok(o.downs.length >= 1);
      await assert.rejects(o.pipe.send(['PING']), /not ready/);
      await redis.restart();
      await until('ready again', () => o.pipe.isReady);
      assert.ok(o.ups >= 2);
      assert.deepEqual(await o.pipe.send(['PING']), Buffer.from('PONG'));
    } finally {
      o.pipe.close();
    }
    await assert.rejects(o.pipe.send(['PING']), /not ready/);
  });
});

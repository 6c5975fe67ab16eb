import assert from 'node:assert/strict';
import { after, afterEach, before, describe, it } from 'node:test';
import { setTimeout as sleep } from 'node:timers/promises';
import type { DecodedDict } from '../../src/protocol/bencode.js';
import { unpackPeers } from '../../src/protocol/compact.js';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redis/redis-store.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { announce, makeId, scrape } from '../helpers/http-tracker-client.js';
import { type RedisServerHandle, startRedisServer } from '../helpers/redis-server.js';

/**
 * Trackers over real HTTP sockets sharing a real redis-server: shared swarms,
 * restarts, Redis outages (killed, hung, absent at start) and expiry.
 */

let redis: RedisServerHandle;
let prefixes = 0;
const running: Tracker[] = [];
const unhandled: unknown[] = [];
const onUnhandled = (reason: unknown): void => {
  unhandled.push(reason);
};

before(async () => {
  redis = await startRedisServer();
  process.on('unhandledRejection', onUnhandled);
});
after(async () => {
  for (const t of running) await t.close().catch(() => undefined);
  await redis?.stop();
  process.off('unhandledRejection', onUnhandled);
});
afterEach(() => {
  assert.deepEqual(unhandled, [], 'no unhandled rejections');
});

interface Started {
  tracker: Tracker;
  store: RedisStore;
  base: string;
  logs: string[];
}

async function startTracker(
  storeOver: Partial<RedisStoreOptions> = {},
  trackerOver: Partial<TrackerOptions> = {},
  waitReady = true,
): Promise<Started> {
  const logs: string[] = [];
  const store = new RedisStore({
    peerTtlMs: 1_860_000,
    now: Date.now,
    url: redis.url,
    prefix: `trk${++prefixes}:`,
    commandTimeoutMs: 1000,
    log: (line) => logs.push(line),
    ...storeOver,
  });
  if (waitReady) await store.ready(5000);
  const tracker = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', stats: false, store, ...trackerOver });
  running.push(tracker);
  const info = await tracker.listen();
  return { tracker, store, base: `http://127.0.0.1:${info.http.port}`, logs };
}

function freshHash(): Buffer {
  const h = Buffer.alloc(20, 0xfe);
  h.writeUInt32BE(++prefixes, 0);
  h.writeUInt32BE(process.pid, 4);
  return h;
}

function ports(reply: DecodedDict): number[] {
  return unpackPeers((reply.peers as Buffer | undefined) ?? Buffer.alloc(0), 4)
    .map((p) => p.port)
    .sort((a, b) => a - b);
}

function failure(reply: DecodedDict): string | undefined {
  const reason = reply['failure reason'];
  return reason === undefined ? undefined : (reason as Buffer).toString();
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number, what: string): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error(`${what}: not within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 100));
  }
}

describe('trackers on the Redis store', () => {
  it('two trackers on one Redis see each other’s peers', async () => {
    const a = await startTracker();
    const b = await startTracker({ prefix: a.store.prefix });
    const h = freshHash();
    await announce(a.base, { infoHash: h, peerId: makeId('-A-', 1), port: 7001, event: 'started' });
    const fromB = await announce(b.base, { infoHash: h, peerId: makeId('-B-', 2), port: 7002, event: 'started' });
    assert.deepEqual(ports(fromB), [7001]);
    const fromA = await announce(a.base, { infoHash: h, peerId: makeId('-A-', 1), port: 7001 });
    assert.deepEqual(ports(fromA), [7002]);
    assert.equal(fromA.incomplete, 2);
    const files = (await scrape(b.base, [h])).files as DecodedDict;
    assert.equal((files[h.toString('latin1')] as DecodedDict).incomplete, 2);
  });

  it('loses nothing when a tracker restarts', async () => {
    const first = await startTracker();
    const h = freshHash();
    for (let i = 1; i <= 3; i++) {
      await announce(first.base, { infoHash: h, peerId: makeId('-R-', i), port: 7100 + i, left: i === 1 ? 0 : 10 });
    }
    await announce(first.base, { infoHash: h, peerId: makeId('-R-', 1), port: 7101, left: 0, event: 'completed' });
    await first.tracker.close();
    const second = await startTracker({ prefix: first.store.prefix });
    const reply = await announce(second.base, { infoHash: h, peerId: makeId('-R-', 9), port: 7109 });
    assert.deepEqual(ports(reply), [7101, 7102, 7103]);
    assert.equal(reply.complete, 1);
    assert.equal(reply.incomplete, 3);
    assert.equal(reply.downloaded, 1);
  });

  it('expires peers by the injected clock', async () => {
    let clock = Date.now();
    const t = await startTracker({ peerTtlMs: 60_000, now: () => clock });
    const h = freshHash();
    await announce(t.base, { infoHash: h, peerId: makeId('-E-', 1), port: 7201 });
    clock += 30_000;
    await announce(t.base, { infoHash: h, peerId: makeId('-E-', 2), port: 7202 });
    clock += 30_001;
    const reply = await announce(t.base, { infoHash: h, peerId: makeId('-E-', 3), port: 7203 });
    assert.deepEqual(ports(reply), [7202]);
    assert.equal(reply.incomplete, 2);
  });
});

describe('Redis outages', () => {
  let own: RedisServerHandle;
  before(async () => {
    own = await startRedisServer();
  });
  after(async () => {
    await own?.stop();
  });

  it('answers "retry in" while Redis is down, logs once, and recovers without a restart', async () => {
    const t = await startTracker({ url: own.url });
    const h = freshHash();
    const ok = await announce(t.base, { infoHash: h, peerId: makeId('-K-', 1), port: 7301 });
    assert.equal(failure(ok), undefined);

    await own.kill();
    for (let i = 0; i < 5; i++) {
      const started = Date.now();
      const reply = await announce(t.base, { infoHash: h, peerId: makeId('-K-', 2), port: 7302 });
      assert.match(failure(reply) ?? '', /retry/i);
      assert.equal(reply['retry in'], 1, 'BEP 31 retry in (minutes)');
      assert.ok(Date.now() - started < 1500, 'fails fast, not after a queue or a long timeout');
    }
    assert.equal(t.logs.filter((l) => /unavailable/.test(l)).length, 1, `one outage line: ${t.logs.join(' | ')}`);

    await own.restart();
    await waitFor(
      async () => {
        const reply = await announce(t.base, { infoHash: h, peerId: makeId('-K-', 2), port: 7302 });
        return failure(reply) === undefined;
      },
      15_000,
      'announces succeed after Redis is back',
    );
    const reply = await announce(t.base, { infoHash: h, peerId: makeId('-K-', 3), port: 7303 });
    assert.deepEqual(ports(reply), [7302], 'the restarted (empty) Redis holds what was announced since');
    assert.ok(t.logs.some((l) => /restored/.test(l)));
  });

  it('answers "retry" within a second when Redis hangs (default deadline), and serves again after', async () => {
    const t = await startTracker({ url: own.url, commandTimeoutMs: undefined });
    const h = freshHash();
    assert.equal(failure(await announce(t.base, { infoHash: h, peerId: makeId('-H-', 1), port: 7401 })), undefined);
    own.pause();
    try {
      await sleep(150); // SIGSTOP lands asynchronously
      const started = Date.now();
      const reply = await announce(t.base, { infoHash: h, peerId: makeId('-H-', 2), port: 7402 });
      assert.match(failure(reply) ?? '', /retry/i);
      assert.ok(Date.now() - started < 1000, `answered in ${Date.now() - started} ms`);
    } finally {
      own.resume();
    }
    await waitFor(
      async () => failure(await announce(t.base, { infoHash: h, peerId: makeId('-H-', 3), port: 7403 })) === undefined,
      10_000,
      'serves again after the hang',
    );
  });

  it('starts while Redis is down and serves once it comes up', async () => {
    await own.kill();
    const t = await startTracker({ url: own.url }, {}, false);
    const h = freshHash();
    const down = await announce(t.base, { infoHash: h, peerId: makeId('-S-', 1), port: 7501 });
    assert.match(failure(down) ?? '', /retry/i);
    await own.restart();
    await waitFor(
      async () => failure(await announce(t.base, { infoHash: h, peerId: makeId('-S-', 1), port: 7501 })) === undefined,
      15_000,
      'serves after Redis came up',
    );
    const reply = await announce(t.base, { infoHash: h, peerId: makeId('-S-', 2), port: 7502 });
    assert.deepEqual(ports(reply), [7501]);
  });
});

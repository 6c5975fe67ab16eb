import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { type ScannedRows, TorrentSnapshot } from '../../src/stats/torrent-snapshot.js';
import { BUCKETS } from '../../src/store/redis/keys.js';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { createTracker, type Tracker } from '../../src/tracker.js';
import {
  type RedisClusterHandle,
  type RedisServerHandle,
  startRedisCluster,
  startRedisServer,
} from '../helpers/redis-server.js';
import { storeAnnounce } from '../helpers/store-announce.js';
import { getJson, populate, runStatsJsonSuite, table } from './stats-json-suite.js';

/**
 * /stats.json on the Redis store, standalone and on a 3-master Redis Cluster:
 * the same scenarios as on the memory store, plus two trackers sharing one
 * Redis (as worker processes do), whose totals and tables must both be global.
 */
let redis: RedisServerHandle;
let cluster: RedisClusterHandle;
let prefixes = 0;
before(async () => {
  [redis, cluster] = await Promise.all([startRedisServer(), startRedisCluster()]);
});
after(async () => {
  await Promise.all([redis?.stop(), cluster?.stop()]);
});

runStatsJsonSuite('the Redis store', async () => ({ redisUrl: redis.url, redisPrefix: `stats${++prefixes}:` }));
runStatsJsonSuite('a Redis Cluster', async () => ({ redisCluster: cluster.urls, redisPrefix: `cstats${++prefixes}:` }));

describe('two trackers sharing one Redis', () => {
  const trackers: Tracker[] = [];
  const bases: string[] = [];
  before(async () => {
    const redisPrefix = `shared${++prefixes}:`;
    for (let i = 0; i < 2; i++) {
      const tracker = createTracker({ host: '::', port: 0, udpPort: 'off', redisUrl: redis.url, redisPrefix });
      await (tracker.store as RedisStore).ready(10_000);
      const info = await tracker.listen();
      trackers.push(tracker);
      bases.push(`http://127.0.0.1:${info.http.port}`);
    }
  });
  after(async () => {
    await Promise.all(trackers.map((t) => t.close()));
  });

  it('shows global totals and rows on both, and per-process rates', async () => {
    const [a, b] = bases as [string, string];
    const fromA = await populate(a, a.replace('127.0.0.1', '[::1]'), 'shared-a', 10);
    const fromB = await populate(b, b.replace('127.0.0.1', '[::1]'), 'shared-b', 15);
    for (const [i, base] of bases.entries()) {
      await trackers[i]?.stats?.snapshots.refresh();
      const summary = await getJson(base, '/stats.json');
      const totals = summary.body.totals as Record<string, number>;
      assert.equal(totals.torrents, 25, `tracker ${i}`);
      assert.equal(totals.peers, fromA.peers4 + fromA.peers6 + fromB.peers4 + fromB.peers6);
      const counters = (summary.body.process as { counters: { http: { announces: number } } }).counters;
      assert.equal(counters.http.announces, i === 0 ? fromA.announces : fromB.announces, 'rates are this process');
      const page = await table(base, { length: 100, column: 0, dir: 'asc' });
      assert.equal(page.recordsTotal, 25);
      assert.deepEqual(
        page.data.map((r) => r.infoHash),
        [...fromA.torrents, ...fromB.torrents].map((t) => t.hex).sort(),
      );
    }
  });
});

describe('a Redis outage', () => {
  it('answers /stats.json with 503 and a JSON error while Redis is down, and 200 again once it is back', async () => {
    const own = await startRedisServer();
    const tracker = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', redisUrl: own.url });
    try {
      await (tracker.store as RedisStore).ready(10_000);
      const info = await tracker.listen();
      const base = `http://127.0.0.1:${info.http.port}`;
      assert.equal((await getJson(base, '/stats.json')).status, 200);
      await own.kill();
      const down = await getJson(base, '/stats.json');
      assert.equal(down.status, 503);
      assert.match(String(down.body.error), /unavailable/);
      assert.match(String(down.headers['content-type']), /application\/json/);
      // The stats page itself does not need the store.
      assert.equal(await httpStatus(base, '/stats'), 200);
      await own.restart();
      await (tracker.store as RedisStore).ready(10_000);
      let up = 0;
      for (const deadline = Date.now() + 10_000; up !== 200 && Date.now() < deadline; ) {
        up = (await getJson(base, '/stats.json')).status;
        if (up !== 200) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(up, 200, 'recovers by itself');
    } finally {
      await tracker.close();
      await own.stop();
    }
  });
});

describe('a large Redis store walked on the table thread, on a connection of its own', () => {
  for (const where of ['standalone', 'cluster'] as const) {
    it(`gives the same table as a walk on the event loop (${where})`, async () => {
      const now = 1_700_000_000_000;
      const options = {
        ...(where === 'standalone' ? { url: redis.url } : { clusterUrls: cluster.urls }),
        prefix: `walk${++prefixes}:`,
        peerTtlMs: 3_600_000,
        now: () => now,
      };
      const store = new RedisStore(options);
      // The thread's walk reads every bucket number (a dense index's walk), the event loop's the index.
      const dense = new RedisStore({ ...options, directWalkAbove: 1 });
      try {
        await Promise.all([store.ready(10_000), dense.ready(10_000)]);
        const torrents = 300;
        for (let i = 0; i < torrents; i++) {
          const infoHash = randomBytes(20);
          for (let p = 0; p <= i % 4; p++) {
            await store.announce(
              storeAnnounce({ infoHash, peerId: randomBytes(20), event: 'started', seeder: (i + p) % 3 === 0 }),
            );
          }
        }
        const q = { start: 5, length: 20, column: 1, dir: 'desc' as const, prefix: '' };
        let scanned: ScannedRows | undefined;
        const hscans = async (): Promise<number> =>
          where === 'standalone'
            ? Number(/cmdstat_hscan:calls=(\d+)/.exec(String(await redis.command('INFO', 'commandstats')))?.[1] ?? 0)
            : Number.NaN;
        const before = await hscans();
        // offThreadAbove 0: walked and sorted on the thread whatever the size.
        const onThread = await TorrentSnapshot.build(dense, () => now, {
          offThreadAbove: 0,
          preview: q,
          onScanned: (scan) => {
            scanned = scan;
          },
        });
        const between = await hscans();
        const onLoop = await TorrentSnapshot.build(store, () => now, { offThreadAbove: Number.POSITIVE_INFINITY });
        if (where === 'standalone') {
          assert.ok(between - before >= BUCKETS, `the thread read every bucket number (${between - before} HSCANs)`);
          const read = (await hscans()) - between;
          assert.ok(read < BUCKETS / 10, `the event loop read the buckets the index lists (${read} HSCANs)`);
        }
        assert.equal(onThread.size, torrents);
        assert.equal(onLoop.size, torrents);
        assert.deepEqual(scanned?.preview?.page, onLoop.query(q), 'the first page, from the thread before its sorts');
        for (let column = 0; column < 5; column++) {
          for (const dir of ['asc', 'desc'] as const) {
            for (const prefix of ['', 'a', '3f']) {
              const page = { start: 0, length: 100, column, dir, prefix };
              assert.deepEqual(onThread.query(page), onLoop.query(page), JSON.stringify(page));
            }
          }
        }
      } finally {
        await Promise.all([store.close(), dense.close()]);
      }
    });
  }
});

describe('a Redis outage while the table thread walks', () => {
  it('fails the walk while Redis is down, at once, and walks again once it is back', async () => {
    const own = await startRedisServer();
    const now = 1_700_000_000_000;
    const store = new RedisStore({
      url: own.url,
      prefix: 'down:',
      peerTtlMs: 3_600_000,
      now: () => now,
      log: () => {},
    });
    try {
      await store.ready(10_000);
      for (let i = 0; i < 20; i++) {
        await store.announce(storeAnnounce({ infoHash: randomBytes(20), peerId: randomBytes(20), event: 'started' }));
      }
      const walk = () => TorrentSnapshot.build(store, () => now, { offThreadAbove: 0 });
      assert.equal((await walk()).size, 20);
      await own.kill();
      const t0 = Date.now();
      await assert.rejects(walk());
      assert.ok(Date.now() - t0 < 5000, 'an outage fails the walk within a command timeout or two');
      // The restarted Redis is empty (it keeps nothing on disk): five torrents are announced again.
      await own.restart();
      await store.ready(10_000);
      for (let i = 0; i < 5; i++) {
        await store.announce(storeAnnounce({ infoHash: randomBytes(20), peerId: randomBytes(20), event: 'started' }));
      }
      let size = 0;
      for (const deadline = Date.now() + 10_000; size !== 5 && Date.now() < deadline; ) {
        size = await walk().then(
          (s) => s.size,
          () => 0,
        );
        if (size !== 5) await new Promise((r) => setTimeout(r, 100));
      }
      assert.equal(size, 5, "the thread's connection recovers by itself");
    } finally {
      await store.close();
      await own.stop();
    }
  });
});

async function httpStatus(base: string, path: string): Promise<number> {
  const res = await fetch(base + path);
  await res.arrayBuffer();
  return res.status;
}

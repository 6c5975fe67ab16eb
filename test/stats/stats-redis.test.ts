import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { RedisStore } from '../../src/store/redis/redis-store.js';
import { createTracker, type Tracker } from '../../src/tracker.js';
import {
  type RedisClusterHandle,
  type RedisServerHandle,
  startRedisCluster,
  startRedisServer,
} from '../helpers/redis-server.js';
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

async function httpStatus(base: string, path: string): Promise<number> {
  const res = await fetch(base + path);
  await res.arrayBuffer();
  return res.status;
}

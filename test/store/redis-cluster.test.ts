import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { StoreAnnounce, SwarmStore } from '../../src/store/swarm-store.js';
import { createTracker, type Tracker } from '../../src/tracker.js';
import { announce, makeId } from '../helpers/http-tracker-client.js';
import { rawCommand, withRedisCluster } from '../helpers/redis-server.js';
import { storeAnnounce } from '../helpers/store-announce.js';
import { runStoreConformance } from './conformance.js';

/** The Redis store on a 3-master Redis Cluster: the same contract, unchanged scripts. */

const cluster = withRedisCluster();
let stores = 0;

runStoreConformance('redis cluster', async (options): Promise<SwarmStore> => {
  const store = new RedisStore({ ...options, clusterUrls: cluster.urls, prefix: `cconf${++stores}:` });
  await store.ready(10_000);
  return store;
});

function req(infoHash: Buffer, n: number): StoreAnnounce {
  const ipv4 = Buffer.from([10, 1, 0, n & 0xff, 0x1a, 0xe1]);
  return storeAnnounce({ infoHash, peerId: makeId('-CL-', n), seeder: n % 2 === 0, ipv4, numWant: 10 });
}

describe('Redis store on a cluster', () => {
  it('spreads torrents over every master, and scans and totals them all', async () => {
    const store = new RedisStore({ peerTtlMs: 60_000, now: Date.now, clusterUrls: cluster.urls, prefix: 'spread:' });
    try {
      await store.ready(10_000);
      assert.equal(store.kind, 'redis-cluster');
      const torrents = 30;
      const hashes = Array.from({ length: torrents }, (_, t) => Buffer.alloc(20, t));
      // Each round in one event-loop turn: the store batches announces per torrent (one slot per call).
      for (let n = 1; n <= 3; n++) {
        const replies = await Promise.all(hashes.map((h) => store.announce(req(h, n))));
        for (const r of replies) assert.equal(r.complete + r.incomplete, n);
      }
      const scraped = await store.scrape(hashes);
      assert.deepEqual(
        scraped.map((c) => c.complete + c.incomplete),
        hashes.map(() => 3),
      );
      const perNode = await Promise.all(cluster.ports.map((p) => rawCommand(p, ['KEYS', 'spread:{*'])));
      for (const keys of perNode) assert.ok((keys as string[]).length > 0, 'every master holds some torrents');
      const totals = await store.totals();
      assert.equal(totals.torrents, torrents);
      assert.equal(totals.peers, torrents * 3);
      assert.equal(totals.seeders, torrents);
    } finally {
      await store.close();
    }
  });

  it('lets two trackers on the cluster see each other’s peers', async () => {
    const trackers: Tracker[] = [];
    try {
      for (let i = 0; i < 2; i++) {
        const store = new RedisStore({ peerTtlMs: 60_000, now: Date.now, clusterUrls: cluster.urls, prefix: 'ctrk:' });
        await store.ready(10_000);
        const t = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', stats: false, store });
        await t.listen();
        trackers.push(t);
      }
      const [a, b] = trackers.map((t) => `http://127.0.0.1:${t.address?.http.port}`) as [string, string];
      const h = Buffer.alloc(20, 0x99);
      await announce(a, { infoHash: h, peerId: makeId('-CA-', 1), port: 9001 });
      const reply = await announce(b, { infoHash: h, peerId: makeId('-CB-', 2), port: 9002 });
      assert.equal(reply['failure reason'], undefined);
      assert.equal((reply.peers as Buffer).length, 6);
      assert.equal((reply.peers as Buffer).readUInt16BE(4), 9001);
    } finally {
      for (const t of trackers) await t.close();
    }
  });
  it('answers "retry" while a master is down and serves again once it is back', async () => {
    const logs: string[] = [];
    const store = new RedisStore({
      peerTtlMs: 60_000,
      now: Date.now,
      clusterUrls: cluster.urls,
      prefix: 'outage:',
      commandTimeoutMs: 1000,
      log: (line) => logs.push(line),
    });
    const unhandled: unknown[] = [];
    const onUnhandled = (reason: unknown): void => {
      unhandled.push(reason);
    };
    process.on('unhandledRejection', onUnhandled);
    try {
      await store.ready(10_000);
      const hashes = Array.from({ length: 12 }, (_, t) => Buffer.alloc(20, 0x40 + t));
      for (const h of hashes) await store.announce(req(h, 1));
      await cluster.killNode(1);
      // Within the node timeout the other masters still serve; after it the
      // cluster refuses everything (full coverage). Either way: StoreErrors, fast.
      let failed = 0;
      const deadline = Date.now() + 10_000;
      while (failed === 0 && Date.now() < deadline) {
        for (const h of hashes) {
          const started = Date.now();
          await store.announce(req(h, 2)).catch((err: Error) => {
            assert.equal(err.name, 'StoreError');
            failed++;
          });
          assert.ok(Date.now() - started < 2500, 'no announce hangs');
        }
      }
      assert.ok(failed > 0, 'announces to the dead master fail');
      await cluster.restartNode(1);
      const back = Date.now() + 20_000;
      for (;;) {
        const ok = await Promise.all(
          hashes.map((h) =>
            store.announce(req(h, 3)).then(
              () => true,
              () => false,
            ),
          ),
        );
        if (ok.every(Boolean)) break;
        assert.ok(Date.now() < back, 'every torrent is served again after the master is back');
        await new Promise((r) => setTimeout(r, 200));
      }
      assert.deepEqual(unhandled, []);
    } finally {
      process.off('unhandledRejection', onUnhandled);
      await store.close();
    }
  });
});

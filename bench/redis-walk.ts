/**
 * What a walk of the Redis store's torrents costs Redis (the stats table's
 * scan, the totals), run by hand (not part of `npm run bench`):
 *
 *   npx tsc -p . && node dist/bench/redis-walk.js [torrents] [checkout]
 *
 * Starts its own redis-server (test/helpers/redis-server.ts: a free port on
 * 127.0.0.1, no persistence), announces `torrents` torrents into it (default
 * 1,000,000; every third has two peers, so keys of its own), then walks them
 * as the stats snapshot does (pages of 1,000) and prints each walk's time and
 * Redis' time in scripts (`INFO commandstats`, reset before each walk). With
 * `checkout` (another checkout's root with its own `dist/`; its scripts are
 * read from its `src/`), its store walks the same torrents too, the two taking
 * turns three times: the 2-core test machine drifts.
 */
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import { createClient } from 'redis';
import { RedisStore, type RedisStoreOptions } from '../src/store/redis/redis-store.js';
import type { SwarmStore } from '../src/store/swarm-store.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { storeAnnounce } from '../test/helpers/store-announce.js';

const torrents = Number(process.argv[2] ?? 1_000_000);
const checkout = process.argv[3];
const redis = await startRedisServer();
const admin = createClient({ url: redis.url });
await admin.connect();
const options: RedisStoreOptions = { url: redis.url, peerTtlMs: 3_600_000, now: Date.now };
const store = new RedisStore(options);
await store.ready(5000);
const stores: [string, SwarmStore][] = [['this checkout', store]];
if (checkout) {
  const other = (await import(`${pathToFileURL(resolve(checkout)).href}/dist/src/store/redis/redis-store.js`)) as {
    RedisStore: new (o: RedisStoreOptions) => RedisStore;
  };
  const theirs = new other.RedisStore(options);
  await theirs.ready(5000);
  stores.push([checkout, theirs]);
}

try {
  const infoHash = Buffer.alloc(20);
  const peerId = Buffer.alloc(20);
  const ipv4 = Buffer.from([10, 0, 0, 1, 0x1a, 0xe1]);
  let inFlight: Promise<unknown>[] = [];
  for (let i = 0; i < torrents; i++) {
    infoHash.writeUInt32BE(Math.imul(i, 2654435761) >>> 0, 0);
    infoHash.writeUInt32BE(i, 16);
    peerId.writeUInt32BE(i, 0);
    for (let k = 0; k < (i % 3 === 0 ? 2 : 1); k++) {
      peerId[19] = k;
      const req = storeAnnounce({
        infoHash: Buffer.from(infoHash),
        peerId: Buffer.from(peerId),
        ipv4,
        seeder: k === 0,
      });
      inFlight.push(store.announce(req));
      if (inFlight.length >= 512) {
        await Promise.all(inFlight);
        inFlight = [];
      }
    }
  }
  await Promise.all(inFlight);

  for (let round = 0; round < 3; round++) {
    for (const [name, s] of stores) {
      await admin.configResetStat();
      const t0 = performance.now();
      let cursor = '0';
      let listed = 0;
      do {
        const page = await s.scanTorrents(cursor, 1000);
        listed += page.torrents.length;
        cursor = page.cursor;
      } while (cursor !== '0');
      const ms = performance.now() - t0;
      const scriptUs = Number(/cmdstat_evalsha:[^\n]*usec=(\d+)/.exec(await admin.info('commandstats'))?.[1]);
      console.log(
        `${name}: ${listed.toLocaleString('en')} torrents walked in ${ms.toFixed(0)} ms, ` +
          `Redis in scripts ${(scriptUs / 1000).toFixed(0)} ms`,
      );
    }
  }
} finally {
  for (const [, s] of stores) await s.close();
  await admin.quit();
  await redis.stop();
}

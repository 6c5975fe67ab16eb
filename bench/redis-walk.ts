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
 * the CPU time redis-server (`INFO cpu`, user + system) and this process (the
 * tracker's side of a walk) spent meanwhile. With
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
import { syntheticAnnounces } from './synthetic-torrents.js';

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

/** redis-server's CPU time so far (user + system), ms. */
async function redisCpuMs(): Promise<number> {
  const info = await admin.info('cpu');
  const seconds = (field: string): number => Number(new RegExp(`${field}:([\\d.]+)`).exec(info)?.[1]);
  return (seconds('used_cpu_user') + seconds('used_cpu_sys')) * 1000;
}

try {
  let inFlight: Promise<unknown>[] = [];
  for (const req of syntheticAnnounces(torrents)) {
    inFlight.push(store.announce(req));
    if (inFlight.length >= 512) {
      await Promise.all(inFlight);
      inFlight = [];
    }
  }
  await Promise.all(inFlight);

  for (let round = 0; round < 3; round++) {
    for (const [name, s] of stores) {
      const cpu0 = await redisCpuMs();
      const own0 = process.cpuUsage();
      const t0 = performance.now();
      let cursor = '0';
      let listed = 0;
      do {
        const page = await s.scanTorrents(cursor, 1000);
        listed += page.torrents.length;
        cursor = page.cursor;
      } while (cursor !== '0');
      const ms = performance.now() - t0;
      const own = process.cpuUsage(own0);
      const cpuMs = (await redisCpuMs()) - cpu0;
      console.log(
        `${name}: ${listed.toLocaleString('en')} torrents walked in ${ms.toFixed(0)} ms, ` +
          `Redis CPU ${cpuMs.toFixed(0)} ms, this process ${((own.user + own.system) / 1000).toFixed(0)} ms`,
      );
    }
  }
} finally {
  for (const [, s] of stores) await s.close();
  await admin.quit();
  await redis.stop();
}

import { after, before } from 'node:test';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import { type RedisServerHandle, startRedisServer } from '../helpers/redis-server.js';
import { runHttpSuite } from './http-suite.js';

/** The shared HTTP scenarios, with every tracker's swarms in a real Redis. */

let redis: RedisServerHandle;
let prefixes = 0;

before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis?.stop();
});

runHttpSuite('the Redis store', async () => {
  // The store connects in the background; the suite's first announce should not race it.
  const store = new RedisStore({ peerTtlMs: 1_860_000, now: Date.now, url: redis.url, prefix: `http${++prefixes}:` });
  await store.ready(5000);
  return { store };
});

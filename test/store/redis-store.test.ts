import { after, before } from 'node:test';
import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { SwarmStore } from '../../src/store/swarm-store.js';
import { type RedisServerHandle, startRedisServer } from '../helpers/redis-server.js';
import { runStoreConformance } from './conformance.js';

let redis: RedisServerHandle;
let stores = 0;

before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis?.stop();
});

// A fresh prefix per store: each conformance test gets an empty keyspace.
runStoreConformance('redis', async (options): Promise<SwarmStore> => {
  const store = new RedisStore({ ...options, url: redis.url, prefix: `conf${++stores}:` });
  await store.ready(5000);
  return store;
});

import { RedisStore } from '../../src/store/redis/redis-store.js';
import type { SwarmStore } from '../../src/store/swarm-store.js';
import { withRedisServer } from '../helpers/redis-server.js';
import { runStoreConformance } from './conformance.js';

const redis = withRedisServer();
let stores = 0;

// A fresh prefix per store: each conformance test gets an empty keyspace.
runStoreConformance('redis', async (options): Promise<SwarmStore> => {
  const store = new RedisStore({ ...options, url: redis.url, prefix: `conf${++stores}:` });
  await store.ready(5000);
  return store;
});

import { after, before } from 'node:test';
import { type RedisServerHandle, startRedisServer } from '../helpers/redis-server.js';
import { runHttpSuite } from './http-suite.js';

let redis: RedisServerHandle;
let trackers = 0;
before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  await redis?.stop();
});

// The same scenarios as on the memory store; each tracker gets its own key prefix.
runHttpSuite('the Redis store', async () => ({ redisUrl: redis.url, redisPrefix: `http${++trackers}:` }));

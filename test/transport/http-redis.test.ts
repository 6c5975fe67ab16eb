import { withRedisServer } from '../helpers/redis-server.js';
import { runHttpSuite } from './http-suite.js';

const redis = withRedisServer();
let trackers = 0;

// The same scenarios as on the memory store; each tracker gets its own key prefix.
runHttpSuite('the Redis store', async () => ({ redisUrl: redis.url, redisPrefix: `http${++trackers}:` }));

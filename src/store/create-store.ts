import type { TrackerConfig } from '../config/options.js';
import { type Logger, lineSink, stderrLogger } from '../logging/logger.js';
import { MemoryStore } from './memory/memory-store.js';
import { RedisStore } from './redis/redis-store.js';
import type { SwarmStore } from './swarm-store.js';

/** Picks the store the configuration asks for. Adding a store means adding a branch here. */
export function createStore(
  config: Readonly<TrackerConfig>,
  now: () => number,
  logger: Logger = stderrLogger,
): SwarmStore {
  const options = { peerTtlMs: config.peerTtl * 1000, webrtcTtlMs: config.wsPeerTtl * 1000, now };
  if (config.redisUrl || config.redisCluster.length > 0) {
    // Connects in the background: until Redis answers, announces get "retry in".
    return new RedisStore({
      ...options,
      url: config.redisUrl || undefined,
      clusterUrls: config.redisCluster,
      prefix: config.redisPrefix,
      commandTimeoutMs: config.redisTimeout,
      // Outages, failed commands, and the line that ends an outage, at one level:
      // a filter that shows the start of an outage shows its end.
      log: lineSink(logger, 'error', { store: 'redis' }),
    });
  }
  return new MemoryStore({
    ...options,
    // The state file: not saved, or ignored at start (the tracker then starts empty).
    log: lineSink(logger, 'error', { store: 'memory' }),
    ...(config.stateFile ? { stateFile: config.stateFile, stateIntervalMs: config.stateInterval * 1000 } : {}),
  });
}

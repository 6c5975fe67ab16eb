import type { TrackerConfig } from '../config/options.js';
import { MemoryStore } from './memory/memory-store.js';
import { RedisStore } from './redis/redis-store.js';
import type { SwarmStore } from './swarm-store.js';

/** Picks the store the configuration asks for. Adding a store means adding a branch here. */
export function createStore(config: Readonly<TrackerConfig>, now: () => number): SwarmStore {
  const options = { peerTtlMs: config.peerTtl * 1000, webrtcTtlMs: config.wsPeerTtl * 1000, now };
  if (config.redisUrl || config.redisCluster.length > 0) {
    // Connects in the background: until Redis answers, announces get "retry in".
    return new RedisStore({
      ...options,
      url: config.redisUrl || undefined,
      clusterUrls: config.redisCluster,
      prefix: config.redisPrefix,
      commandTimeoutMs: config.redisTimeout,
    });
  }
  return new MemoryStore({
    ...options,
    ...(config.stateFile ? { stateFile: config.stateFile, stateIntervalMs: config.stateInterval * 1000 } : {}),
  });
}

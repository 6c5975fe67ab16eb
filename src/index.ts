/** Library entry point: `import { createTracker } from 'bitstorm'`. */
export { loadConfig } from './config/load-config.js';
export { ConfigError, DEFAULTS, type TrackerConfig } from './config/options.js';
export { TrackerCore } from './core/tracker.js';
export { PolicyError, ProtocolError, StoreError, TrackerError } from './errors.js';
export type { AnnounceEvent, AnnounceParams, AnnounceReply, RequestContext, ScrapeEntry } from './protocol/types.js';
export { decodePeerClient, formatPeerClient, type PeerClient } from './stats/peer-client.js';
export type { StatsService } from './stats/stats-service.js';
export { MemoryStore } from './store/memory/memory-store.js';
export { RedisStore, type RedisStoreOptions } from './store/redis/redis-store.js';
export type { StoreAnnounce, StoreAnnounceResult, SwarmStore } from './store/swarm-store.js';
export { createTracker, type ListenInfo, Tracker, type TrackerOptions } from './tracker.js';
export type { UdpCounters, UdpDropKind, UdpErrorKind } from './transport/udp/udp-handler.js';
export { UdpTransport } from './transport/udp/udp-transport.js';

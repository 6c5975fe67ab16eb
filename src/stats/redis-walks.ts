import { RedisStore } from '../store/redis/redis-store.js';
import type { RedisWalkSpec } from '../store/swarm-store.js';
import { type SnapshotRows, scanStore } from './snapshot-rows.js';

/** Torrents asked per page of the walk: the same pages as a walk on the event loop (docs/redis-layout.md). */
const PAGE_TORRENTS = 1000;
/** How long a walk waits for a new connection to come up. */
const READY_TIMEOUT_MS = 10_000;
/** Redis stores (connections) kept open on the thread; a tracker has one, a test process many. */
const MAX_STORES = 4;

/**
 * The table thread's own connections to Redis stores, one per store (its
 * address and prefix), kept while the thread lives: a walk of a million
 * torrents is about a thousand pages of round trips, and on the thread that
 * answers announces each page's replies cost it CPU and wait behind the
 * announces queued on its connection. Here they cost that thread nothing.
 * Failures (an outage) fail the walk; the connection remakes itself as the
 * tracker's does.
 */
export class RedisWalks {
  private readonly stores = new Map<string, Kept>();

  /** Reads every torrent into `rows`; true when there were more than MAX_ROWS (the rest left out). */
  async walk(spec: RedisWalkSpec, rows: SnapshotRows): Promise<boolean> {
    const { store, up } = this.storeFor(spec);
    // A new connection fails fast until it is first up; later, an outage fails the walk at once.
    await up;
    return scanStore(store, rows, PAGE_TORRENTS);
  }

  private storeFor(spec: RedisWalkSpec): Kept {
    const key = JSON.stringify([
      spec.url,
      spec.clusterUrls,
      spec.prefix,
      spec.peerTtlMs,
      spec.commandTimeoutMs,
      spec.directWalkAbove,
    ]);
    let kept = this.stores.get(key);
    if (!kept) {
      if (this.stores.size >= MAX_STORES) {
        const [oldest, old] = this.stores.entries().next().value as [string, Kept];
        this.stores.delete(oldest);
        void old.store.close().catch(() => {});
      }
      const clock = { clockOffsetMs: spec.clockOffsetMs };
      const store = new RedisStore({
        url: spec.url,
        clusterUrls: spec.clusterUrls,
        prefix: spec.prefix,
        peerTtlMs: spec.peerTtlMs,
        commandTimeoutMs: spec.commandTimeoutMs,
        directWalkAbove: spec.directWalkAbove,
        now: () => Date.now() + clock.clockOffsetMs,
        clientName: `bitstorm-${process.pid}-table`,
        // An outage shows as the walk's failure on the stats page; the tracker's own connection logs it.
        log: () => {},
      });
      const made: Kept = Object.assign(clock, { store, up: store.ready(READY_TIMEOUT_MS) });
      // A connection that never came up is given up: the next walk makes a new one.
      made.up.catch(() => {
        if (this.stores.get(key) !== made) return;
        this.stores.delete(key);
        void store.close().catch(() => {});
      });
      this.stores.set(key, made);
      kept = made;
    }
    // The store's clock as of this request (an injected clock moves between walks).
    kept.clockOffsetMs = spec.clockOffsetMs;
    return kept;
  }
}

interface Kept {
  store: RedisStore;
  /** Resolves once the connection first came up. */
  up: Promise<void>;
  clockOffsetMs: number;
}

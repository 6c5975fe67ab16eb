import type { AnnounceEvent } from '../protocol/types.js';
import type { AccountStore } from './account-store.js';
import type { SharedTorrentRows } from './shared-torrent-rows.js';
import type { WebRtcStore } from './webrtc-store.js';

/**
 * The store interface. One operation per announce: the store upserts or removes
 * the peer, counts the swarm and samples peers in a single call (on Redis: one
 * script, one round trip), so a response never waits on two store trips.
 *
 * The store trusts its input (the core validated it) and owns no policy beyond
 * the contract below, which test/store/conformance.ts checks for every store.
 *
 * Contract:
 * - A peer is identified by (infoHash, peerId). An announce refreshes its
 *   seeder flag and last-seen time and replaces its endpoint of each family the
 *   announce carries; an endpoint of a family the announce does not carry is
 *   kept (a dual-stack client announces over IPv4 and IPv6 with one peer id).
 *   `stopped` removes the peer.
 * - A peer expires `peerTtlMs` after its last announce: it is never returned,
 *   counted or scraped after that, and its memory is eventually reclaimed.
 *   A torrent with no live peers disappears from listings and totals.
 * - `completed` adds one to the torrent's downloaded count, once per peer
 *   (a repeated `completed` from the same live peer is not counted again).
 *   The count outlives the torrent's peers: scrape reports it for a torrent
 *   with none, and a torrent that comes back keeps it, for 30 days after its
 *   last announce (`downloadedTtlMs` where a store takes it).
 * - Key check (anti-hijack): if the stored peer has a key and the announce comes
 *   from a different IP address with a different (or no) key, nothing changes
 *   and the result is `{ status: 'key-mismatch' }`.
 * - Sampling: at most `numWant` entries in peers4 and at most `numWant` in
 *   peers6 (each family is sampled on its own; a dual-stack peer may appear in
 *   both), chosen at random, never the requester, no duplicates; a seeder is
 *   given leechers only. Only the families asked for (`want4`, `want6`) are
 *   returned.
 * - Counts (`complete` = seeders, `incomplete` = leechers) are taken after the
 *   announce was applied, and include the requester unless it stopped.
 */

export interface StoreAnnounce {
  /** 20 bytes. */
  infoHash: Buffer;
  /** 20 bytes. */
  peerId: Buffer;
  event: AnnounceEvent;
  /** left === 0 */
  seeder: boolean;
  /** 6-byte compact IPv4 endpoint, or null if the peer has no IPv4 address. */
  ipv4: Buffer | null;
  /** 18-byte compact IPv6 endpoint, or null. */
  ipv6: Buffer | null;
  /** The client's `key` as an unsigned 32-bit number, undefined when not sent. */
  key: number | undefined;
  /** Already capped by the core; 0 means counts only. */
  numWant: number;
  want4: boolean;
  want6: boolean;
  /** Return peer ids alongside endpoints (only the HTTP dictionary model needs them). */
  withPeerIds: boolean;
}

export interface SwarmCounts {
  complete: number;
  incomplete: number;
  downloaded: number;
}

export interface StoreAnnounceResult extends SwarmCounts {
  status: 'ok' | 'key-mismatch';
  /** Concatenated 6-byte entries. */
  peers4: Buffer;
  /** Concatenated 18-byte entries. */
  peers6: Buffer;
  /** With withPeerIds: concatenated 20-byte ids, in the order of peers4 / peers6. */
  peerIds4?: Buffer;
  peerIds6?: Buffer;
}

export interface TorrentSummary extends SwarmCounts {
  infoHash: Buffer;
  /** Epoch ms of the last announce to this torrent. */
  lastAnnounce: number;
}

export interface StoredPeer {
  peerId: Buffer;
  ipv4: Buffer | null;
  ipv6: Buffer | null;
  seeder: boolean;
  /** Epoch ms. */
  lastSeen: number;
}

export interface SwarmTotals {
  torrents: number;
  peers: number;
  seeders: number;
  leechers: number;
  /** Peers with an IPv4 / IPv6 endpoint (a dual-stack peer counts in both). */
  peers4: number;
  peers6: number;
  /** Sum of downloaded over live torrents. */
  downloaded: number;
}

export interface TorrentScan {
  /** Opaque; pass back to continue, '0' starts. Done when the returned cursor is '0'. */
  cursor: string;
  torrents: TorrentSummary[];
}

/** A set kept in the store (SwarmStore.sharedSet). */
export interface SharedSet {
  has(member: string): Promise<boolean>;
  /** Pages through the members: cursor '0' starts; done when '0' comes back. */
  scan(cursor: string, count: number): Promise<{ cursor: string; members: string[] }>;
}

export interface SwarmStore {
  /** 'memory', 'redis', 'redis-cluster': shown on the stats page. */
  readonly kind: string;
  /** The WebSocket tracker's swarms, kept apart from these (webrtc-store.ts). */
  readonly webrtc: WebRtcStore;
  /** Per-passkey accounting of a private tracker (account-store.ts). */
  readonly accounts: AccountStore;
  /**
   * A set of strings kept in the store under `name` (the passkeys of
   * `--keys redis`, the info hashes of `--allow-list redis`), so every tracker
   * node and an operator's application share it. Only stores shared between
   * processes offer it.
   */
  sharedSet?(name: string): SharedSet;
  announce(request: StoreAnnounce): Promise<StoreAnnounceResult>;
  /** Counts for each hash, in order; unknown torrents give zeros. */
  scrape(infoHashes: readonly Buffer[]): Promise<SwarmCounts[]>;
  /** Pages through live torrents (for full scrape and the stats page); `count` is a hint. */
  scanTorrents(cursor: string, count: number): Promise<TorrentScan>;
  /**
   * A store whose torrents sit in shared memory (the memory store) hands them
   * over whole, for the stats table's snapshot to walk on its own thread
   * (shared-torrent-rows.ts) instead of the one answering announces.
   */
  sharedTorrents?(): SharedTorrentRows;
  /**
   * A Redis store says how another thread opens a connection of its own to
   * the same keys, for the stats table's snapshot to be walked there instead
   * of on the thread answering announces (structured-cloneable).
   */
  redisWalk?(): RedisWalkSpec;
  /** The live peers of one torrent (stats page detail view), at most `limit`. */
  torrentPeers(infoHash: Buffer, limit: number): Promise<StoredPeer[]>;
  totals(): Promise<SwarmTotals>;
  /**
   * A random secret of `bytes` bytes under `name`, created on first use and the
   * same for every process sharing this store (UDP connection ids are verified
   * by whichever process receives the next packet). The memory store keeps it
   * per process.
   */
  sharedSecret(name: string, bytes: number): Promise<Buffer>;
  /**
   * Resolves once the store can serve (a remote store has connected); rejects
   * after `timeoutMs`. Stores that are always ready may leave it out. A store
   * must work without it being called (failing fast until it is ready).
   */
  ready?(timeoutMs: number): Promise<void>;
  /** Whether the store answers now, and how many outages it had (metrics, /readyz); a store always up may leave it out. */
  health?(): StoreHealth;
  close(): Promise<void>;
}

/** What a worker thread needs to walk a Redis store's torrents on a connection of its own. */
export interface RedisWalkSpec {
  url?: string;
  clusterUrls?: string[];
  prefix: string;
  peerTtlMs: number;
  commandTimeoutMs?: number;
  directWalkAbove?: number;
  /** The store's clock minus Date.now() when the spec was made (an injected clock in tests). */
  clockOffsetMs: number;
}

export interface StoreHealth {
  up: boolean;
  /** Outages since start (each counted once, when it begins). */
  outages: number;
}

export interface StoreOptions {
  /** Peers expire this long after their last announce. */
  peerTtlMs: number;
  /** WebRTC (WebSocket) peers expire this long after their last announce. Default 300 s. */
  webrtcTtlMs?: number;
  /** Injectable clock (epoch ms) so expiry is testable without sleeping. */
  now: () => number;
}

/** WebRTC peers expire this long after their last announce unless the store is told otherwise. */
export const DEFAULT_WEBRTC_TTL_MS = 300_000;

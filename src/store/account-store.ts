import type { AnnounceEvent } from '../protocol/types.js';

/**
 * Per-passkey accounting of a private tracker (`--private`): how much each
 * member uploaded and downloaded, and how many torrents they completed, kept
 * by each store beside its swarms (a Redis hash per key on Redis).
 *
 * Clients report running totals since their `started` announce, so the store
 * keeps, per (passkey, torrent, peer id), the totals of the previous announce
 * and adds the difference (accountDelta). Contract (the store conformance
 * suite checks it on every store):
 * - The first announce of a peer sets its baseline; what it reports then is
 *   not added (a tracker that no longer knows the previous announce cannot
 *   tell what was already counted). `started` resets the baseline too.
 * - A later announce adds the deltas; a negative delta (the client restarted
 *   its counters) or an absurd one (faster than MAX_BYTES_PER_SECOND since the
 *   previous announce) adds nothing; either way the baseline moves on.
 * - `stopped` adds its deltas and forgets the baseline; a baseline not renewed
 *   within the peer TTL is forgotten.
 * - `completed` adds one completion, once per baseline.
 * - Every announce adds one to `announces` and sets `lastAnnounce`.
 */

/** What an announce tells the accounting (AnnounceParams has these fields, so the core passes it as is). */
export interface AccountAnnounce {
  infoHash: Buffer;
  peerId: Buffer;
  event: AnnounceEvent;
  /** The client's running totals, in bytes. */
  uploaded: number;
  downloaded: number;
}

export interface Account {
  passkey: string;
  uploaded: number;
  downloaded: number;
  completed: number;
  announces: number;
  /** Epoch ms; 0 before the first announce. */
  lastAnnounce: number;
}

export interface AccountStore {
  /** Records one announce under `passkey`; a store that works in process memory does it synchronously. */
  record(passkey: string, announce: AccountAnnounce): void | Promise<void>;
  /** Accounts in the order asked; a key never seen gives zeros. */
  read(passkeys: readonly string[]): Promise<Account[]>;
}

export interface AccountStoreOptions {
  /** A peer's baseline is forgotten this long after its last announce (the peer TTL). */
  ttlMs: number;
  now: () => number;
}

/**
 * Faster than this between two announces is not believed: 10 Gbit/s. A client
 * that reports more is lying or broken, and its delta is dropped.
 */
export const MAX_BYTES_PER_SECOND = 1.25e9;

/** Elapsed time below this counts as this much, so two announces in the same millisecond can still add a little. */
export const MIN_ELAPSED_MS = 1000;

/** What one announce adds to a counter: the delta, or 0 when it is negative or absurd. */
export function accountDelta(previous: number, current: number, elapsedMs: number): number {
  const delta = current - previous;
  if (!(delta > 0)) return 0;
  return delta <= (Math.max(elapsedMs, MIN_ELAPSED_MS) / 1000) * MAX_BYTES_PER_SECOND ? delta : 0;
}

export function emptyAccount(passkey: string): Account {
  return { passkey, uploaded: 0, downloaded: 0, completed: 0, announces: 0, lastAnnounce: 0 };
}

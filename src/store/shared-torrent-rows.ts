/**
 * The memory store's torrent rows as another thread reads them.
 *
 * The torrent table (memory/torrent-table.ts) keeps its rows in one growable
 * SharedArrayBuffer, ROW_BYTES a row at row * ROW_BYTES (the offsets below),
 * and the seeder and leecher counts of the torrents whose peers are not
 * inline (a PeerTable, which no other thread can read, or a small swarm) in a
 * second one. Both grow in place and never move, so a SharedTorrentRows names
 * them once and the stats table's snapshot can walk every torrent on its own
 * thread (readSharedTorrents) while the announce thread goes on writing and
 * growing: the walk costs that thread nothing but handing over this
 * descriptor.
 *
 * The walk reads memory that is being written. Counts and times may be a
 * moment old or new, which the stats table does not mind; what it must not do
 * is list a torrent under an info hash nobody announced, which a row freed and
 * reused for another torrent while being read would give. The table writes a
 * row's hash word and then its flags with Atomics.store when it adds or frees a
 * row, and the walk reads flags and hash word atomically before it hands a row
 * to its visitor. The visitor reads the info hash where it lies (most rows are
 * turned away on a comparison or two, and copying every hash out first was a
 * third of a walk); one that keeps a copy asks `unchanged()` after copying, which
 * reads them again: a row that changed between the two reads is left out.
 */

/** A row's flags: live, and its one inline peer, present and a seeder (torrent-table.ts keeps the peer's bits below). */
export const ROW_LIVE = 0x10;
export const INLINE_PEER = 0x20;
export const INLINE_SEEDER = 0x40;

/**
 * A row: 21 words, every field of a torrent side by side, so an announce
 * reads one or two cache lines rather than one in each of a dozen columns.
 * Word offsets (in a Uint32Array over the buffer, at row * ROW_WORDS):
 */
export const ROW_WORDS = 21;
export const ROW_BYTES = ROW_WORDS * 4;
/** The info hash's index hash (SipHash-1-3 under the table's key). */
export const W_HASH = 0;
/** The order by second of last announce: the previous and next rows (for a free row, next is the next free row). */
export const W_PREV = 1;
export const W_NEXT = 2;
/** Completed downloads, saturating at 2^32 - 1. */
export const W_DOWNLOADED = 3;
/** The inline peer's last-seen time as ms before the row's last announce (saturating at 2^32 - 1). */
export const W_SEEN_AGO = 4;
export const W_PEER_KEY = 5;
/** 1 + the row's place when its peers are not inline, else 0. */
export const W_PLACE = 6;
/** Epoch ms of the last announce that was not a stop: the low 32 bits here, the next 16 at B_LAST_HIGH. */
export const W_LAST_LOW = 7;
/** Byte offsets (in a Uint8Array over the buffer, at row * ROW_BYTES): */
export const B_LAST_HIGH = 32;
export const B_FLAGS = 34;
export const B_INFO_HASH = 36;
export const B_PEER_ID = 56;
/** The inline peer's compact IPv4 endpoint (6 bytes, then 2 spare). */
export const B_PEER_EP4 = 76;

/** Epoch ms in a row: 48 bits, past the year 10,000. */
export const MAX_ROW_TIME = 2 ** 48 - 1;

/**
 * The row's last announce (epoch ms) from its two parts. Read on another
 * thread while the row is written, the parts may come from two writes: a
 * time off by 2^32 ms for that read, when the high part just changed (once in
 * 49.7 days).
 */
export function rowLastAnnounce(u32: Uint32Array, u8: Uint8Array, row: number): number {
  const at = row * ROW_BYTES + B_LAST_HIGH;
  const high = (u8[at] as number) | ((u8[at + 1] as number) << 8);
  return high * 2 ** 32 + (u32[row * ROW_WORDS + W_LAST_LOW] as number);
}

/** What crosses to the other thread (structured-cloneable; the buffers are shared, not copied). */
export interface SharedTorrentRows {
  /** The rows (ROW_BYTES each); it grows in place, never moves. */
  buffer: SharedArrayBuffer;
  /** Rows below this had been handed out when the descriptor was made. */
  rowEnd: number;
  /** Seeders and leechers of place p (a row's W_PLACE word - 1) at 2p and 2p + 1; grows in place. */
  tableCounts: SharedArrayBuffer;
  /** Places that had counts when the descriptor was made. */
  places: number;
  /** An inline peer last seen at or before this epoch ms has expired (not counted). */
  expiredBefore: number;
}

/**
 * Visits each live torrent with a peer: its info hash at `bytes[at..at + 20)`,
 * read in place (another thread may be reusing the row meanwhile), and its
 * counts. A visitor that keeps a copy of the hash calls `unchanged()` once it
 * has copied it, and drops the copy when that is false.
 */
export type SharedTorrentVisitor = (
  bytes: Uint8Array,
  at: number,
  seeders: number,
  leechers: number,
  downloaded: number,
  lastAnnounce: number,
  unchanged: () => boolean,
) => void;

/** Walks every row of `rows` (on whatever thread holds the descriptor); returns the torrents visited. */
export function readSharedTorrents(rows: SharedTorrentRows, visit: SharedTorrentVisitor): number {
  const { buffer, rowEnd, places, expiredBefore } = rows;
  if (rowEnd === 0) return 0;
  const u32 = new Uint32Array(buffer, 0, rowEnd * ROW_WORDS);
  const u8 = new Uint8Array(buffer, 0, rowEnd * ROW_BYTES);
  const counts = new Uint32Array(rows.tableCounts, 0, 2 * places);
  // The row being visited, as unchanged() checks it (one closure for the whole walk).
  let w = 0;
  let b = 0;
  let h = 0;
  const unchanged = (): boolean =>
    Atomics.load(u32, w + W_HASH) === h && (Atomics.load(u8, b + B_FLAGS) & ROW_LIVE) !== 0;
  let visited = 0;
  for (let row = 0; row < rowEnd; row++) {
    w = row * ROW_WORDS;
    b = row * ROW_BYTES;
    const f = Atomics.load(u8, b + B_FLAGS);
    if ((f & ROW_LIVE) === 0) continue;
    h = Atomics.load(u32, w + W_HASH);
    const ref = u32[w + W_PLACE] as number;
    const last = rowLastAnnounce(u32, u8, row);
    let seeders: number;
    let leechers: number;
    if (ref !== 0) {
      // A place made after the descriptor has no counts in it yet: left out, as the torrent would be.
      if (ref > places) continue;
      seeders = counts[2 * (ref - 1)] as number;
      leechers = counts[2 * (ref - 1) + 1] as number;
    } else {
      if ((f & INLINE_PEER) === 0) continue;
      // The words may be from different moments: a count a moment old or new.
      if (last - (u32[w + W_SEEN_AGO] as number) <= expiredBefore) continue;
      seeders = (f & INLINE_SEEDER) !== 0 ? 1 : 0;
      leechers = 1 - seeders;
    }
    if (seeders + leechers === 0) continue;
    const d = u32[w + W_DOWNLOADED] as number;
    // The counts read belong to the torrent of hash word h.
    if (!unchanged()) continue;
    visit(u8, b + B_INFO_HASH, seeders, leechers, d, last, unchanged);
    visited++;
  }
  return visited;
}

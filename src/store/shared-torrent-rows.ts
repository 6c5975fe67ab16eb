/**
 * The memory store's torrent rows as another thread reads them.
 *
 * The torrent table (memory/torrent-table.ts) keeps its columns in one
 * SharedArrayBuffer laid out by torrentRowsLayout(), and the seeder and
 * leecher counts of the torrents whose peers are not inline (a PeerTable,
 * which no other thread can read, or a small swarm) in a second shared array. A SharedTorrentRows names
 * both, so the stats table's snapshot can walk every torrent on its own thread
 * (readSharedTorrents) while the announce thread goes on writing: the walk
 * costs that thread nothing but handing over this descriptor.
 *
 * The walk reads memory that is being written. Counts and times may be a
 * moment old or new, which the stats table does not mind; what it must not do
 * is list a torrent under an info hash nobody announced, which a row freed and
 * reused for another torrent while being read would give. The table writes a
 * row's hash word and then its flags with Atomics.store when it adds or frees a
 * row, and the walk reads flags and hash word atomically before and after
 * copying the info hash: a row that changed between them is left out.
 */

/** A row's flags: live, and its one inline peer, present and a seeder (torrent-table.ts keeps the peer's bits below). */
export const ROW_LIVE = 0x10;
export const INLINE_PEER = 0x20;
export const INLINE_SEEDER = 0x40;

const ID_SIZE = 20;
const EP4_SIZE = 6;

/** Byte offsets of the table's columns in its buffer, for a capacity of `capacity` rows. */
export interface TorrentRowsLayout {
  lastAnnounce: number;
  downloaded: number;
  peerSeenAgo: number;
  hashes: number;
  prev: number;
  next: number;
  peerKeys: number;
  tableRefs: number;
  /** The hash index: `indexSize` uint32 entries. */
  index: number;
  indexSize: number;
  infoHashes: number;
  peerIds: number;
  peerEp4: number;
  flags: number;
  bytes: number;
}

/**
 * 8-byte columns first, then 4-byte ones, then bytes: every view aligned. The
 * index is a power of two at least 1.5x the capacity.
 */
export function torrentRowsLayout(capacity: number): TorrentRowsLayout {
  let indexSize = 4;
  while (indexSize * 2 < capacity * 3) indexSize *= 2;
  let at = 0;
  const take = (bytes: number): number => {
    const start = at;
    at += bytes;
    return start;
  };
  return {
    lastAnnounce: take(capacity * 8),
    downloaded: take(capacity * 4),
    peerSeenAgo: take(capacity * 4),
    hashes: take(capacity * 4),
    prev: take(capacity * 4),
    next: take(capacity * 4),
    peerKeys: take(capacity * 4),
    tableRefs: take(capacity * 4),
    index: take(indexSize * 4),
    indexSize,
    infoHashes: take(capacity * ID_SIZE),
    peerIds: take(capacity * ID_SIZE),
    peerEp4: take(capacity * EP4_SIZE),
    flags: take(capacity),
    bytes: at, // evaluated last: the end of the last column
  };
}

/** What crosses to the other thread (structured-cloneable; the buffers are shared, not copied). */
export interface SharedTorrentRows {
  buffer: SharedArrayBuffer;
  capacity: number;
  /** Rows below this had been handed out when the descriptor was made. */
  rowEnd: number;
  /** Seeders and leechers of place p (a row's tableRefs entry - 1) at 2p and 2p + 1. */
  tableCounts: SharedArrayBuffer;
  /** An inline peer last seen at or before this epoch ms has expired (not counted). */
  expiredBefore: number;
}

/** Visits each live torrent with a peer: its info hash (valid during the call) and counts. */
export type SharedTorrentVisitor = (
  infoHash: Uint8Array,
  seeders: number,
  leechers: number,
  downloaded: number,
  lastAnnounce: number,
) => void;

/** Walks every row of `rows` (on whatever thread holds the descriptor); returns the torrents visited. */
export function readSharedTorrents(rows: SharedTorrentRows, visit: SharedTorrentVisitor): number {
  const { buffer, capacity, rowEnd, expiredBefore } = rows;
  if (rowEnd === 0) return 0; // a table that never held a torrent has no columns yet
  const at = torrentRowsLayout(capacity);
  const flags = new Uint8Array(buffer, at.flags, capacity);
  const hashes = new Uint32Array(buffer, at.hashes, capacity);
  const infoHashes = new Uint8Array(buffer, at.infoHashes, capacity * ID_SIZE);
  const tableRefs = new Uint32Array(buffer, at.tableRefs, capacity);
  const lastAnnounce = new Float64Array(buffer, at.lastAnnounce, capacity);
  const downloaded = new Uint32Array(buffer, at.downloaded, capacity);
  const peerSeenAgo = new Uint32Array(buffer, at.peerSeenAgo, capacity);
  const counts = new Uint32Array(rows.tableCounts);
  const places = counts.length >>> 1;
  const hash = new Uint8Array(ID_SIZE);
  let visited = 0;
  for (let row = 0; row < rowEnd; row++) {
    const f = Atomics.load(flags, row);
    if ((f & ROW_LIVE) === 0) continue;
    const h = Atomics.load(hashes, row);
    for (let b = 0, o = row * ID_SIZE; b < ID_SIZE; b++) hash[b] = infoHashes[o + b] as number;
    const ref = tableRefs[row] as number;
    let seeders: number;
    let leechers: number;
    if (ref !== 0) {
      // A place made after the descriptor has no counts in it yet: left out, as the torrent would be.
      if (ref > places) continue;
      seeders = counts[2 * (ref - 1)] as number;
      leechers = counts[2 * (ref - 1) + 1] as number;
    } else {
      if ((f & INLINE_PEER) === 0) continue;
      // The two words may be from different moments: a count a moment old or new.
      if ((lastAnnounce[row] as number) - (peerSeenAgo[row] as number) <= expiredBefore) continue;
      seeders = (f & INLINE_SEEDER) !== 0 ? 1 : 0;
      leechers = 1 - seeders;
    }
    if (seeders + leechers === 0) continue;
    const d = downloaded[row] as number;
    const last = lastAnnounce[row] as number;
    if (Atomics.load(hashes, row) !== h || (Atomics.load(flags, row) & ROW_LIVE) === 0) continue;
    visit(hash, seeders, leechers, d, last);
    visited++;
  }
  return visited;
}

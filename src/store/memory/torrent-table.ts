/**
 * The memory store's torrents, packed in typed arrays, one row a torrent.
 *
 * Most torrents of a public tracker have one peer. As JS objects (a Map entry
 * and its key string, a swarm object, a PeerTable and its region) such a
 * torrent costs ~600 bytes and gives the garbage collector millions of
 * objects to trace; here it is one row of ~100 bytes in a dozen shared
 * arrays, and its one peer lives in the row itself ("inline", as aquatic
 * keeps small swarms). A torrent with more peers gets a place: a number
 * that names either its small swarm (two to eight IPv4 peers in shared
 * columns, small-swarms.ts) or its PeerTable (more peers, or a peer with an
 * IPv6 endpoint, for which neither has room). It goes back inline when it is
 * down to one IPv4 peer (memory-store.ts decides when).
 *
 * Rows are found by info hash through an open-addressing index (linear
 * probing, backward-shift deletion) keyed with SipHash-1-3 under a random key
 * of the table's, since clients choose info hashes (peer-table.ts says why
 * SipHash). Rows never move: a freed row goes on a free list and is reused,
 * so a walk by row number (scans, the sweep, state file saves) sees every
 * torrent that lives throughout the walk exactly once. Live rows are also
 * linked in the order of the second of their last announce (a row whose
 * second changes moves to the tail), so torrents whose peers all expired sit
 * at the head and are dropped in O(dropped).
 */

import { randomFillSync } from 'node:crypto';
import { siphash13Id } from '../../protocol/siphash.js';
import {
  INLINE_PEER,
  INLINE_SEEDER,
  ROW_LIVE,
  type SharedTorrentRows,
  torrentRowsLayout,
} from '../shared-torrent-rows.js';
import {
  COMPLETED,
  copyBytes,
  HAS_KEY,
  HAS4,
  type PeerSlots,
  type PeerTable,
  sameBytesN as sameBytes,
} from './peer-table.js';
import { grown, grownCapacity } from './region-growth.js';

const ID_SIZE = 20;
const EP4_SIZE = 6;
const MAX_U32 = 0xffffffff;
/** No row (list ends, empty free list). */
export const NO_ROW = 0xffffffff;

/**
 * A row's flag byte: the low four bits are the inline peer's, with
 * PeerTable's meanings (HAS4, HAS_KEY, COMPLETED; never HAS6), then ROW_LIVE,
 * INLINE_PEER and INLINE_SEEDER (shared-torrent-rows.ts, which reads them on
 * another thread).
 */
const PEER_BITS = 0x0f;

/** The first capacity (then region-growth.ts). */
const FIRST_CAPACITY = 64;

export class TorrentTable {
  /** Live rows. */
  size = 0;
  /** Rows below this have been handed out at some time; a walk by row number ends here. */
  rowEnd = 0;
  /** The order by second of last announce: oldest first. */
  head = NO_ROW;
  tail = NO_ROW;
  private capacity = 0;
  /** Every column and the index (torrentRowsLayout), shared so the stats snapshot can read them on its own thread. */
  private buffer = new SharedArrayBuffer(0);
  private hashes: Uint32Array = new Uint32Array(0);
  private infoHashes: Uint8Array = new Uint8Array(0);
  /** Completed downloads, saturating at MAX_U32 (four billion: no torrent gets there). */
  private downloadedCol: Uint32Array = new Uint32Array(0);
  /** Epoch ms of the last announce that was not a stop. */
  private lastAnnounceCol: Float64Array = new Float64Array(0);
  private prev: Uint32Array = new Uint32Array(0);
  /** The order's next row; for a free row, the next free row. */
  private next: Uint32Array = new Uint32Array(0);
  private flagsCol: Uint8Array = new Uint8Array(0);
  private peerIds: Uint8Array = new Uint8Array(0);
  private peerEp4: Uint8Array = new Uint8Array(0);
  private peerKeys: Uint32Array = new Uint32Array(0);
  /**
   * The inline peer's last-seen time as ms before the row's last announce
   * (never after it: both are set to the same now), in 4 bytes rather than
   * an epoch ms in 8. Saturates at MAX_U32, 49.7 days: such a peer has
   * expired under any peer TTL the config allows (7 days at most).
   */
  private peerSeenAgo: Uint32Array = new Uint32Array(0);
  /** A row's place, when its peers are not inline, as 1 + the place (0: none). */
  private tableRefs: Uint32Array = new Uint32Array(0);
  /**
   * The PeerTable of each place, undefined where the place holds a small
   * swarm (or is free), one entry a place, and the free places.
   */
  private readonly tableList: (PeerTable | undefined)[] = [];
  private readonly freeTableRefs: number[] = [];
  /**
   * Seeders and leechers of each place (2 words a place), mirrored by
   * setTableCounts() for the stats snapshot's thread, which reads neither a
   * PeerTable nor the small swarms. Shared; grows by doubling with the places.
   */
  private tableCounts = new Uint32Array(new SharedArrayBuffer(0));
  /** Row + 1 by hash position; 0 = empty. A power of two at least 1.5x the capacity. */
  private index: Uint32Array = new Uint32Array(0);
  private mask = 0;
  private freeHead = NO_ROW;
  private readonly key = new Int32Array(4);

  constructor() {
    randomFillSync(this.key);
  }

  /** The row of this info hash, or -1. */
  find(infoHash: Uint8Array): number {
    if (this.size === 0) return -1;
    const index = this.index;
    const mask = this.mask;
    const infoHashes = this.infoHashes;
    for (let i = this.hash(infoHash, 0) & mask; ; i = (i + 1) & mask) {
      const entry = index[i] as number;
      if (entry === 0) return -1;
      const row = entry - 1;
      if (sameBytes(infoHashes, row * ID_SIZE, infoHash, ID_SIZE)) return row;
    }
  }

  /**
   * Adds a torrent (not already present) with no peers and returns its row,
   * at the order's tail with `lastAnnounce` (the caller keeps the order by
   * second: an announce passes now, a load sorts afterwards with sortOrder()).
   */
  add(infoHash: Uint8Array, lastAnnounce: number): number {
    let row = this.freeHead;
    if (row !== NO_ROW) {
      this.freeHead = this.next[row] as number;
    } else {
      if (this.rowEnd === this.capacity) this.grow();
      row = this.rowEnd++;
    }
    copyBytes(infoHash, 0, this.infoHashes, row * ID_SIZE, ID_SIZE);
    const h = this.hash(infoHash, 0);
    // Hash word, then flags, atomically: a reader on another thread that saw
    // neither change around its copy of the info hash copied one torrent's
    // (shared-torrent-rows.ts).
    Atomics.store(this.hashes, row, h);
    this.downloadedCol[row] = 0;
    this.lastAnnounceCol[row] = lastAnnounce;
    Atomics.store(this.flagsCol, row, ROW_LIVE);
    this.indexInsert(row, h);
    this.append(row);
    this.size++;
    return row;
  }

  /** Frees a row and its place; the caller has released its PeerTable or small swarm run (neither is garbage collected). */
  remove(row: number): void {
    Atomics.store(this.flagsCol, row, 0);
    this.indexDelete(row);
    this.unlink(row);
    this.setTable(row, undefined);
    this.next[row] = this.freeHead;
    this.freeHead = row;
    this.size--;
  }

  /** Forgets every row (the caller has released their PeerTables and small swarm runs). */
  clear(): void {
    this.tableRefs.fill(0);
    this.tableList.length = 0;
    this.freeTableRefs.length = 0;
    this.flagsCol.fill(0);
    this.index.fill(0);
    this.size = 0;
    this.freeHead = NO_ROW;
    this.head = this.tail = NO_ROW;
    // Rows below rowEnd stay handed out, as free rows.
    for (let row = this.rowEnd - 1; row >= 0; row--) {
      this.next[row] = this.freeHead;
      this.freeHead = row;
    }
  }

  isLive(row: number): boolean {
    return ((this.flagsCol[row] as number) & ROW_LIVE) !== 0;
  }

  /** The row after this one in the order by second, or NO_ROW. */
  nextInOrder(row: number): number {
    return this.next[row] as number;
  }

  copyInfoHash(row: number, out: Uint8Array, pos: number): void {
    copyBytes(this.infoHashes, row * ID_SIZE, out, pos, ID_SIZE);
  }

  /** The info hash as a 20-character latin1 string (the retired counts' key). */
  infoHashKey(row: number): string {
    const ids = this.infoHashes;
    return Buffer.from(ids.buffer, ids.byteOffset + row * ID_SIZE, ID_SIZE).toString('latin1');
  }

  downloaded(row: number): number {
    return this.downloadedCol[row] as number;
  }

  setDownloaded(row: number, downloaded: number): void {
    this.downloadedCol[row] = Math.min(downloaded, MAX_U32);
  }

  lastAnnounce(row: number): number {
    return this.lastAnnounceCol[row] as number;
  }

  /** Records an announce at `now`; a row whose second changes moves to the order's tail. */
  touch(row: number, now: number): void {
    const before = this.lastAnnounceCol[row] as number;
    const seen = before - (this.peerSeenAgo[row] as number);
    this.lastAnnounceCol[row] = now;
    this.setPeerLastSeen(row, seen);
    if (Math.floor(before / 1000) !== Math.floor(now / 1000) && this.tail !== row) {
      this.unlink(row);
      this.append(row);
    }
  }

  /**
   * Relinks the order by the second of each live row's last announce (rows of
   * one second in row order). For a load, whose rows come in file order.
   */
  sortOrder(): void {
    const rows = new Uint32Array(this.size);
    let n = 0;
    for (let row = 0; row < this.rowEnd; row++) if (this.isLive(row)) rows[n++] = row;
    const seconds = new Float64Array(this.rowEnd);
    for (let i = 0; i < n; i++) {
      const row = rows[i] as number;
      seconds[row] = Math.floor((this.lastAnnounceCol[row] as number) / 1000);
    }
    rows.sort((a, b) => (seconds[a] as number) - (seconds[b] as number) || a - b);
    this.head = this.tail = NO_ROW;
    for (let i = 0; i < n; i++) this.append(rows[i] as number);
  }

  /** The row's PeerTable; undefined when its peers are inline or a small swarm. */
  table(row: number): PeerTable | undefined {
    const ref = this.tableRefs[row] as number;
    return ref === 0 ? undefined : this.tableList[ref - 1];
  }

  /** The row's place, or -1 when its peers (if any) are inline. */
  place(row: number): number {
    return (this.tableRefs[row] as number) - 1;
  }

  /** The place's PeerTable; undefined for a small swarm. */
  tableAt(place: number): PeerTable | undefined {
    return this.tableList[place];
  }

  /** Gives a row without a place one for a small swarm (its inline peer must move there), and returns it. */
  openPlace(row: number): number {
    let ref = this.freeTableRefs.pop();
    if (ref === undefined) {
      this.tableList.push(undefined);
      ref = this.tableList.length;
    }
    this.tableRefs[row] = ref;
    this.setTableCounts(row, 0, 0);
    return ref - 1;
  }

  /** Makes the place's swarm a PeerTable, or a small swarm again (undefined). */
  setPlaceTable(place: number, table: PeerTable | undefined): void {
    this.tableList[place] = table;
  }

  /**
   * Gives the row a PeerTable (its inline peer must have moved there; a row
   * with a place keeps it), or takes its place away (undefined).
   */
  setTable(row: number, table: PeerTable | undefined): void {
    const ref = this.tableRefs[row] as number;
    if (ref !== 0) {
      if (table !== undefined) {
        this.tableList[ref - 1] = table;
        return;
      }
      this.tableList[ref - 1] = undefined;
      this.freeTableRefs.push(ref);
      this.tableRefs[row] = 0;
    } else if (table !== undefined) {
      let place = this.freeTableRefs.pop();
      if (place === undefined) {
        this.tableList.push(table);
        place = this.tableList.length;
      } else {
        this.tableList[place - 1] = table;
      }
      this.tableRefs[row] = place;
      this.setTableCounts(row, 0, 0);
    }
  }

  /** Mirrors the counts of the row's swarm (at its place) for shared() readers; the store calls it whenever they change. */
  setTableCounts(row: number, seeders: number, leechers: number): void {
    const place = (this.tableRefs[row] as number) - 1;
    if (place < 0) return;
    if (2 * place + 1 >= this.tableCounts.length) {
      const grown = new Uint32Array(new SharedArrayBuffer(Math.max(64, 2 * this.tableCounts.length) * 4));
      grown.set(this.tableCounts);
      this.tableCounts = grown;
    }
    this.tableCounts[2 * place] = seeders;
    this.tableCounts[2 * place + 1] = leechers;
  }

  /**
   * The rows as another thread reads them (shared-torrent-rows.ts), as they
   * are now and as they will be written from now on, until the table grows
   * (its rows then stay as they were at that moment, for that reader).
   */
  shared(expiredBefore: number): SharedTorrentRows {
    return {
      buffer: this.buffer,
      capacity: this.capacity,
      rowEnd: this.rowEnd,
      tableCounts: this.tableCounts.buffer as SharedArrayBuffer,
      expiredBefore,
    };
  }

  // The inline peer.

  hasPeer(row: number): boolean {
    return ((this.flagsCol[row] as number) & INLINE_PEER) !== 0;
  }

  /** PeerTable's flag bits of the inline peer (HAS4, HAS_KEY, COMPLETED). */
  peerFlags(row: number): number {
    return (this.flagsCol[row] as number) & PEER_BITS;
  }

  setPeerFlag(row: number, flag: number): void {
    (this.flagsCol[row] as number) |= flag & PEER_BITS;
  }

  peerIsSeeder(row: number): boolean {
    return ((this.flagsCol[row] as number) & INLINE_SEEDER) !== 0;
  }

  /** 1 if the inline peer is there and a seeder, else 0. */
  peerSeeders(row: number): number {
    return ((this.flagsCol[row] as number) & (INLINE_PEER | INLINE_SEEDER)) === (INLINE_PEER | INLINE_SEEDER) ? 1 : 0;
  }

  /** Stores a new inline peer (there is none) with no endpoint, key or flags; `seen` as for setPeerLastSeen(). */
  setPeer(row: number, id: Uint8Array, seeder: boolean, seen: number): void {
    copyBytes(id, 0, this.peerIds, row * ID_SIZE, ID_SIZE);
    this.flagsCol[row] = ROW_LIVE | INLINE_PEER | (seeder ? INLINE_SEEDER : 0);
    this.setPeerLastSeen(row, seen);
  }

  clearPeer(row: number): void {
    this.flagsCol[row] = ROW_LIVE;
  }

  samePeerId(row: number, id: Uint8Array): boolean {
    return sameBytes(this.peerIds, row * ID_SIZE, id, ID_SIZE);
  }

  setPeerSeeder(row: number, seeder: boolean): void {
    const f = this.flagsCol[row] as number;
    this.flagsCol[row] = seeder ? f | INLINE_SEEDER : f & ~INLINE_SEEDER;
  }

  peerLastSeen(row: number): number {
    return (this.lastAnnounceCol[row] as number) - (this.peerSeenAgo[row] as number);
  }

  /**
   * `seen` must not be after the row's last announce: when the peer announces,
   * touch() the row first. (A later time would be kept as the announce's.)
   */
  setPeerLastSeen(row: number, seen: number): void {
    const ago = (this.lastAnnounceCol[row] as number) - seen;
    this.peerSeenAgo[row] = ago <= 0 ? 0 : ago >= MAX_U32 ? MAX_U32 : ago;
  }

  peerKey(row: number): number {
    return this.peerKeys[row] as number;
  }

  setPeerKey(row: number, key: number): void {
    this.peerKeys[row] = key;
    this.setPeerFlag(row, HAS_KEY);
  }

  setPeerEndpoint4(row: number, endpoint: Uint8Array): void {
    copyBytes(endpoint, 0, this.peerEp4, row * EP4_SIZE, EP4_SIZE);
    this.setPeerFlag(row, HAS4);
  }

  /** Same IPv4 address (port ignored) as the inline peer's endpoint. */
  samePeerIp4(row: number, endpoint: Uint8Array): boolean {
    return ((this.flagsCol[row] as number) & HAS4) !== 0 && sameBytes(this.peerEp4, row * EP4_SIZE, endpoint, 4);
  }

  copyPeerId(row: number, out: Uint8Array, pos: number): void {
    copyBytes(this.peerIds, row * ID_SIZE, out, pos, ID_SIZE);
  }

  copyPeerEndpoint4(row: number, out: Uint8Array, pos: number): void {
    copyBytes(this.peerEp4, row * EP4_SIZE, out, pos, EP4_SIZE);
  }

  /** Moves the inline peer into `table` (empty, not yet the row's) with all it carries. */
  movePeerTo(row: number, table: PeerTable): void {
    if (!this.hasPeer(row)) return;
    const flags = this.peerFlags(row);
    const slot = table.insert(
      this.peerIds.subarray(row * ID_SIZE, row * ID_SIZE + ID_SIZE),
      this.peerIsSeeder(row),
      this.peerLastSeen(row),
    );
    if (flags & HAS4) table.setEndpoint4(slot, this.peerEp4.subarray(row * EP4_SIZE, row * EP4_SIZE + EP4_SIZE));
    if (flags & HAS_KEY) table.setKey(slot, this.peerKeys[row] as number);
    if (flags & COMPLETED) table.setFlag(slot, COMPLETED);
    this.clearPeer(row);
  }

  /** Makes the peer in `slot` of `table` (one without an IPv6 endpoint) the row's inline peer. */
  takePeerFrom(row: number, table: PeerSlots, slot: number): void {
    const flags = table.flags(slot);
    this.flagsCol[row] = ROW_LIVE | INLINE_PEER | (table.isSeeder(slot) ? INLINE_SEEDER : 0);
    this.setPeerLastSeen(row, table.lastSeen(slot));
    table.copyId(slot, this.peerIds, row * ID_SIZE);
    if (flags & HAS4) {
      table.copyEndpoint4(slot, this.peerEp4, row * EP4_SIZE);
      this.setPeerFlag(row, HAS4);
    }
    if (flags & HAS_KEY) this.setPeerKey(row, table.key(slot));
    if (flags & COMPLETED) this.setPeerFlag(row, COMPLETED);
  }

  private hash(bytes: Uint8Array, offset: number): number {
    const k = this.key;
    return siphash13Id(k[0] as number, k[1] as number, k[2] as number, k[3] as number, bytes, offset);
  }

  private append(row: number): void {
    this.prev[row] = this.tail;
    this.next[row] = NO_ROW;
    if (this.tail === NO_ROW) this.head = row;
    else this.next[this.tail] = row;
    this.tail = row;
  }

  private unlink(row: number): void {
    const p = this.prev[row] as number;
    const n = this.next[row] as number;
    if (p === NO_ROW) this.head = n;
    else this.next[p] = n;
    if (n === NO_ROW) this.tail = p;
    else this.prev[n] = p;
  }

  /**
   * Moves the rows into a larger region and rebuilds the index from the
   * stored hashes. Every column and the index share one buffer, each
   * region larger than the last: glibc maps such a buffer on its own and
   * unmaps it when freed, where a dozen column arrays of different sizes
   * would be carved from its heap and leave holes there that it never gives
   * back (measured: ~25 bytes a torrent at 1M); region-growth.ts picks the
   * sizes. A new region's pages are the kernel's zero pages until written, so
   * the slack costs address space, not resident memory.
   */
  private grow(): void {
    const old = this.capacity;
    const capacity = grownCapacity(old, FIRST_CAPACITY, old + 1, (n) => torrentRowsLayout(n).bytes);
    const at = torrentRowsLayout(capacity);
    const buffer = new SharedArrayBuffer(at.bytes);
    const u32 = (offset: number, n = capacity) => new Uint32Array(buffer, offset, n);
    const u8 = (offset: number, n: number) => new Uint8Array(buffer, offset, n);
    this.lastAnnounceCol = grown(this.lastAnnounceCol, new Float64Array(buffer, at.lastAnnounce, capacity));
    this.downloadedCol = grown(this.downloadedCol, u32(at.downloaded));
    this.peerSeenAgo = grown(this.peerSeenAgo, u32(at.peerSeenAgo));
    this.hashes = grown(this.hashes, u32(at.hashes));
    this.prev = grown(this.prev, u32(at.prev));
    this.next = grown(this.next, u32(at.next));
    this.peerKeys = grown(this.peerKeys, u32(at.peerKeys));
    this.tableRefs = grown(this.tableRefs, u32(at.tableRefs));
    this.index = u32(at.index, at.indexSize);
    this.infoHashes = grown(this.infoHashes, u8(at.infoHashes, capacity * ID_SIZE));
    this.peerIds = grown(this.peerIds, u8(at.peerIds, capacity * ID_SIZE));
    this.peerEp4 = grown(this.peerEp4, u8(at.peerEp4, capacity * EP4_SIZE));
    this.flagsCol = grown(this.flagsCol, u8(at.flags, capacity));
    this.buffer = buffer;
    this.capacity = capacity;
    this.mask = at.indexSize - 1;
    for (let row = 0; row < this.rowEnd; row++) {
      if (this.isLive(row)) this.indexInsert(row, this.hashes[row] as number);
    }
  }

  private indexInsert(row: number, hash: number): void {
    const index = this.index;
    const mask = this.mask;
    let i = hash & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = row + 1;
  }

  /** Backward-shift deletion (as PeerTable's index): no tombstones. */
  private indexDelete(row: number): void {
    const index = this.index;
    const mask = this.mask;
    const hashes = this.hashes;
    let hole = (hashes[row] as number) & mask;
    while (index[hole] !== row + 1) hole = (hole + 1) & mask;
    let i = hole;
    for (;;) {
      i = (i + 1) & mask;
      const entry = index[i] as number;
      if (entry === 0) break;
      const home = (hashes[entry - 1] as number) & mask;
      const inRange = hole <= i ? home > hole && home <= i : home > hole || home <= i;
      if (!inRange) {
        index[hole] = entry;
        hole = i;
      }
    }
    index[hole] = 0;
  }
}

/**
 * A row's inline peer seen through PeerTable's read interface (slot 0), for
 * code that reads either (the state file, the stats page's peer list).
 * Points at one row at a time; reused.
 */
export class InlinePeer implements PeerSlots {
  private row = 0;

  constructor(private readonly torrents: TorrentTable) {}

  at(row: number): this {
    this.row = row;
    return this;
  }

  get count(): number {
    return this.torrents.hasPeer(this.row) ? 1 : 0;
  }

  flags(_slot: number): number {
    return this.torrents.peerFlags(this.row);
  }

  isSeeder(_slot: number): boolean {
    return this.torrents.peerIsSeeder(this.row);
  }

  key(_slot: number): number {
    return this.torrents.peerKey(this.row);
  }

  lastSeen(_slot: number): number {
    return this.torrents.peerLastSeen(this.row);
  }

  copyId(_slot: number, out: Uint8Array, pos: number): void {
    this.torrents.copyPeerId(this.row, out, pos);
  }

  copyEndpoint4(_slot: number, out: Uint8Array, pos: number): void {
    this.torrents.copyPeerEndpoint4(this.row, out, pos);
  }

  copyEndpoint6(_slot: number, _out: Uint8Array, _pos: number): void {
    throw new Error('an inline peer has no IPv6 endpoint');
  }
}

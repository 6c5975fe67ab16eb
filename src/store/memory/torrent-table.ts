/**
 * The memory store's torrents, packed in one shared buffer, one row a torrent.
 *
 * Most torrents of a public tracker have one peer. As JS objects (a Map entry
 * and its key string, a swarm object, a PeerTable and its region) such a
 * torrent costs ~600 bytes and gives the garbage collector millions of
 * objects to trace; here it is one row of 84 bytes (shared-torrent-rows.ts
 * lays it out: every field of the torrent side by side, so an announce reads
 * a cache line or two), and its one peer lives in the row itself ("inline",
 * as aquatic keeps small swarms). A torrent with more peers gets a place: a
 * number that names either its small swarm (two to eight IPv4 peers in a
 * shared buffer of slots, small-swarms.ts) or its PeerTable (more peers, or a peer with an
 * IPv6 endpoint, for which neither has room). It goes back inline when it is
 * down to one IPv4 peer (swarm-forms.ts moves peers between the forms).
 *
 * The rows are a growable SharedArrayBuffer: growing commits more of the
 * address range reserved for it, in place, so nothing is copied and no old
 * region waits for the garbage collector to be freed. Rows never move: a freed
 * row goes on a free list and is reused, so a walk by row number (scans, the
 * sweep, state file saves, the stats thread) sees every torrent that lives
 * throughout the walk exactly once. Live rows are also linked in the order of
 * the second of their last announce (a row whose second changes moves to the
 * tail), so torrents whose peers all expired sit at the head and are dropped
 * in O(dropped).
 *
 * Rows are found by info hash through an open-addressing index (linear
 * probing, backward-shift deletion) keyed with SipHash-1-3 under a random key
 * of the table's, since clients choose info hashes (peer-table.ts says why
 * SipHash). The index is a resizable buffer of its own, rebuilt in place from
 * the rows' stored hashes when it doubles.
 */

import { randomFillSync } from 'node:crypto';
import { siphash13Id } from '../../protocol/siphash.js';
import {
  B_FLAGS,
  B_INFO_HASH,
  B_LAST_HIGH,
  B_PEER_EP4,
  B_PEER_ID,
  INLINE_PEER,
  INLINE_SEEDER,
  MAX_ROW_TIME,
  ROW_BYTES,
  ROW_LIVE,
  ROW_WORDS,
  rowLastAnnounce,
  type SharedTorrentRows,
  W_DOWNLOADED,
  W_HASH,
  W_LAST_LOW,
  W_NEXT,
  W_PEER_KEY,
  W_PLACE,
  W_PREV,
  W_SEEN_AGO,
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

/** Rows the buffer has room for at first; then it doubles (untouched rows cost address space, not memory). */
const FIRST_CAPACITY = 64;
/**
 * The address range reserved for the rows: V8's largest buffer, 4 GiB, or
 * 51 million torrents. Reserving costs no memory; only rows handed out are.
 */
const MAX_BUFFER_BYTES = 2 ** 32;
export const MAX_TORRENTS = Math.floor(MAX_BUFFER_BYTES / ROW_BYTES);
/** The index's first size; a power of two, at most 2/3 full. */
const FIRST_INDEX_SIZE = 128;
/** Room reserved for the index and the places' counts: 2^27 words each, past what MAX_TORRENTS needs. */
const MAX_SIDE_BYTES = 2 ** 29;

export class TorrentTable {
  /** Live rows. */
  size = 0;
  /** Rows below this have been handed out at some time; a walk by row number ends here. */
  rowEnd = 0;
  /** The order by second of last announce: oldest first. */
  head = NO_ROW;
  tail = NO_ROW;
  private capacity = FIRST_CAPACITY;
  /** The rows (shared-torrent-rows.ts), shared so the stats snapshot can read them on its own thread. */
  private readonly buffer = new SharedArrayBuffer(FIRST_CAPACITY * ROW_BYTES, { maxByteLength: MAX_BUFFER_BYTES });
  /** Fixed-length views of the buffer's room so far (cheaper than length-tracking ones), remade when it grows. */
  private u32 = new Uint32Array(this.buffer, 0, FIRST_CAPACITY * ROW_WORDS);
  private u8 = new Uint8Array(this.buffer, 0, FIRST_CAPACITY * ROW_BYTES);
  /**
   * The PeerTable of each place, undefined where the place holds a small
   * swarm (or is free), one entry a place, and the free places.
   */
  private readonly tableList: (PeerTable | undefined)[] = [];
  private readonly freeTableRefs: number[] = [];
  /**
   * Seeders and leechers of each place (2 words a place), mirrored by
   * setTableCounts() for the stats snapshot's thread, which reads neither a
   * PeerTable nor the small swarms. Shared; grows in place.
   */
  private readonly countsBuffer = new SharedArrayBuffer(0, { maxByteLength: MAX_SIDE_BYTES });
  private tableCounts = new Uint32Array(this.countsBuffer, 0, 0);
  /** Row + 1 by hash position; 0 = empty. A power of two, at most 2/3 full. */
  private readonly indexBuffer = new ArrayBuffer(FIRST_INDEX_SIZE * 4, { maxByteLength: MAX_SIDE_BYTES });
  private index = new Uint32Array(this.indexBuffer, 0, FIRST_INDEX_SIZE);
  private mask = FIRST_INDEX_SIZE - 1;
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
    const u8 = this.u8;
    for (let i = this.hash(infoHash, 0) & mask; ; i = (i + 1) & mask) {
      const entry = index[i] as number;
      if (entry === 0) return -1;
      const row = entry - 1;
      if (sameBytes(u8, row * ROW_BYTES + B_INFO_HASH, infoHash, ID_SIZE)) return row;
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
      this.freeHead = this.u32[row * ROW_WORDS + W_NEXT] as number;
    } else {
      if (this.rowEnd === this.capacity) this.grow();
      row = this.rowEnd++;
    }
    if ((this.size + 1) * 3 > this.index.length * 2) this.growIndex();
    const w = row * ROW_WORDS;
    copyBytes(infoHash, 0, this.u8, row * ROW_BYTES + B_INFO_HASH, ID_SIZE);
    const h = this.hash(infoHash, 0);
    // Hash word, then flags, atomically: a reader on another thread that saw
    // neither change around its copy of the info hash copied one torrent's
    // (shared-torrent-rows.ts).
    Atomics.store(this.u32, w + W_HASH, h);
    this.u32[w + W_DOWNLOADED] = 0;
    this.u32[w + W_PLACE] = 0;
    this.setLastAnnounce(row, lastAnnounce);
    Atomics.store(this.u8, row * ROW_BYTES + B_FLAGS, ROW_LIVE);
    this.indexInsert(row, h);
    this.append(row);
    this.size++;
    return row;
  }

  /** Frees a row and its place; the caller has released its PeerTable or small swarm run (neither is garbage collected). */
  remove(row: number): void {
    Atomics.store(this.u8, row * ROW_BYTES + B_FLAGS, 0);
    this.indexDelete(row);
    this.unlink(row);
    this.closePlace(row);
    this.u32[row * ROW_WORDS + W_NEXT] = this.freeHead;
    this.freeHead = row;
    this.size--;
  }

  /** Forgets every row (the caller has released their PeerTables and small swarm runs). */
  clear(): void {
    this.tableList.length = 0;
    this.freeTableRefs.length = 0;
    this.index.fill(0);
    this.size = 0;
    this.freeHead = NO_ROW;
    this.head = this.tail = NO_ROW;
    // Rows below rowEnd stay handed out, as free rows.
    for (let row = this.rowEnd - 1; row >= 0; row--) {
      Atomics.store(this.u8, row * ROW_BYTES + B_FLAGS, 0);
      this.u32[row * ROW_WORDS + W_PLACE] = 0;
      this.u32[row * ROW_WORDS + W_NEXT] = this.freeHead;
      this.freeHead = row;
    }
  }

  isLive(row: number): boolean {
    return ((this.u8[row * ROW_BYTES + B_FLAGS] as number) & ROW_LIVE) !== 0;
  }

  /** The row after this one in the order by second, or NO_ROW. */
  nextInOrder(row: number): number {
    return this.u32[row * ROW_WORDS + W_NEXT] as number;
  }

  copyInfoHash(row: number, out: Uint8Array, pos: number): void {
    copyBytes(this.u8, row * ROW_BYTES + B_INFO_HASH, out, pos, ID_SIZE);
  }

  /** The info hash as a 20-character latin1 string (the retired counts' key). */
  infoHashKey(row: number): string {
    const u8 = this.u8;
    return Buffer.from(u8.buffer, u8.byteOffset + row * ROW_BYTES + B_INFO_HASH, ID_SIZE).toString('latin1');
  }

  downloaded(row: number): number {
    return this.u32[row * ROW_WORDS + W_DOWNLOADED] as number;
  }

  /** Saturates at 2^32 - 1 (four billion: no torrent gets there). */
  setDownloaded(row: number, downloaded: number): void {
    this.u32[row * ROW_WORDS + W_DOWNLOADED] = Math.min(downloaded, MAX_U32);
  }

  lastAnnounce(row: number): number {
    return rowLastAnnounce(this.u32, this.u8, row);
  }

  /**
   * Records an announce at `now` (an inline peer keeps its own time); a row
   * whose second changes moves to the order's tail.
   */
  touch(row: number, now: number): void {
    const before = this.lastAnnounce(row);
    this.setLastAnnounce(row, now);
    if (this.hasPeer(row)) this.setPeerLastSeen(row, before - (this.u32[row * ROW_WORDS + W_SEEN_AGO] as number));
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
      seconds[row] = Math.floor(this.lastAnnounce(row) / 1000);
    }
    rows.sort((a, b) => (seconds[a] as number) - (seconds[b] as number) || a - b);
    this.head = this.tail = NO_ROW;
    for (let i = 0; i < n; i++) this.append(rows[i] as number);
  }

  /** The row's PeerTable; undefined when its peers are inline or a small swarm. */
  table(row: number): PeerTable | undefined {
    const ref = this.u32[row * ROW_WORDS + W_PLACE] as number;
    return ref === 0 ? undefined : this.tableList[ref - 1];
  }

  /** The row's place, or -1 when its peers (if any) are inline. */
  place(row: number): number {
    return (this.u32[row * ROW_WORDS + W_PLACE] as number) - 1;
  }

  /** The place's PeerTable; undefined for a small swarm. */
  tableAt(place: number): PeerTable | undefined {
    return this.tableList[place];
  }

  /**
   * Gives a row without a place one, holding a small swarm until
   * setPlaceTable() makes it a PeerTable's, and returns it. Its peers must
   * move there from inline.
   */
  openPlace(row: number): number {
    let ref = this.freeTableRefs.pop();
    if (ref === undefined) {
      this.tableList.push(undefined);
      ref = this.tableList.length;
    }
    this.u32[row * ROW_WORDS + W_PLACE] = ref;
    this.setTableCounts(row, 0, 0);
    return ref - 1;
  }

  /** Makes the place's swarm a PeerTable, or a small swarm again (undefined). */
  setPlaceTable(place: number, table: PeerTable | undefined): void {
    this.tableList[place] = table;
  }

  /** Gives the row's place up, if it has one: its peers are inline again, or the row is being freed. */
  closePlace(row: number): void {
    const at = row * ROW_WORDS + W_PLACE;
    const ref = this.u32[at] as number;
    if (ref === 0) return;
    this.tableList[ref - 1] = undefined;
    this.freeTableRefs.push(ref);
    this.u32[at] = 0;
  }

  /** Mirrors the counts of the row's swarm (at its place) for shared() readers; the store calls it whenever they change. */
  setTableCounts(row: number, seeders: number, leechers: number): void {
    const place = (this.u32[row * ROW_WORDS + W_PLACE] as number) - 1;
    if (place < 0) return;
    if (2 * place + 1 >= this.tableCounts.length) {
      const words = Math.max(64, 2 * this.tableCounts.length);
      this.countsBuffer.grow(words * 4);
      this.tableCounts = new Uint32Array(this.countsBuffer, 0, words);
    }
    this.tableCounts[2 * place] = seeders;
    this.tableCounts[2 * place + 1] = leechers;
  }

  /** The rows as another thread reads them (shared-torrent-rows.ts), as they are now and as they will be written from now on. */
  shared(expiredBefore: number): SharedTorrentRows {
    return {
      buffer: this.buffer,
      rowEnd: this.rowEnd,
      tableCounts: this.countsBuffer,
      places: this.tableCounts.length >>> 1,
      expiredBefore,
    };
  }

  // The inline peer.

  hasPeer(row: number): boolean {
    return ((this.u8[row * ROW_BYTES + B_FLAGS] as number) & INLINE_PEER) !== 0;
  }

  /** PeerTable's flag bits of the inline peer (HAS4, HAS_KEY, COMPLETED). */
  peerFlags(row: number): number {
    return (this.u8[row * ROW_BYTES + B_FLAGS] as number) & PEER_BITS;
  }

  setPeerFlag(row: number, flag: number): void {
    (this.u8[row * ROW_BYTES + B_FLAGS] as number) |= flag & PEER_BITS;
  }

  peerIsSeeder(row: number): boolean {
    return ((this.u8[row * ROW_BYTES + B_FLAGS] as number) & INLINE_SEEDER) !== 0;
  }

  /** 1 if the inline peer is there and a seeder, else 0. */
  peerSeeders(row: number): number {
    const f = this.u8[row * ROW_BYTES + B_FLAGS] as number;
    return (f & (INLINE_PEER | INLINE_SEEDER)) === (INLINE_PEER | INLINE_SEEDER) ? 1 : 0;
  }

  /** Stores a new inline peer (there is none) with no endpoint, key or flags; `seen` as for setPeerLastSeen(). */
  setPeer(row: number, id: Uint8Array, seeder: boolean, seen: number): void {
    copyBytes(id, 0, this.u8, row * ROW_BYTES + B_PEER_ID, ID_SIZE);
    this.u8[row * ROW_BYTES + B_FLAGS] = ROW_LIVE | INLINE_PEER | (seeder ? INLINE_SEEDER : 0);
    this.setPeerLastSeen(row, seen);
  }

  clearPeer(row: number): void {
    this.u8[row * ROW_BYTES + B_FLAGS] = ROW_LIVE;
  }

  samePeerId(row: number, id: Uint8Array): boolean {
    return sameBytes(this.u8, row * ROW_BYTES + B_PEER_ID, id, ID_SIZE);
  }

  setPeerSeeder(row: number, seeder: boolean): void {
    const at = row * ROW_BYTES + B_FLAGS;
    const f = this.u8[at] as number;
    this.u8[at] = seeder ? f | INLINE_SEEDER : f & ~INLINE_SEEDER;
  }

  /** Kept as ms before the row's last announce (4 bytes, not an epoch ms's 8). */
  peerLastSeen(row: number): number {
    return this.lastAnnounce(row) - (this.u32[row * ROW_WORDS + W_SEEN_AGO] as number);
  }

  /**
   * `seen` must not be after the row's last announce: when the peer announces,
   * touch() the row first. (A later time would be kept as the announce's.) One
   * more than 2^32 - 1 ms (49.7 days) before it is kept as that long before:
   * expired under any peer TTL the config allows (7 days at most).
   */
  setPeerLastSeen(row: number, seen: number): void {
    const ago = this.lastAnnounce(row) - seen;
    this.u32[row * ROW_WORDS + W_SEEN_AGO] = ago <= 0 ? 0 : ago >= MAX_U32 ? MAX_U32 : ago;
  }

  peerKey(row: number): number {
    return this.u32[row * ROW_WORDS + W_PEER_KEY] as number;
  }

  setPeerKey(row: number, key: number): void {
    this.u32[row * ROW_WORDS + W_PEER_KEY] = key;
    this.setPeerFlag(row, HAS_KEY);
  }

  setPeerEndpoint4(row: number, endpoint: Uint8Array): void {
    copyBytes(endpoint, 0, this.u8, row * ROW_BYTES + B_PEER_EP4, EP4_SIZE);
    this.setPeerFlag(row, HAS4);
  }

  /** Same IPv4 address (port ignored) as the inline peer's endpoint. */
  samePeerIp4(row: number, endpoint: Uint8Array): boolean {
    return (this.peerFlags(row) & HAS4) !== 0 && sameBytes(this.u8, row * ROW_BYTES + B_PEER_EP4, endpoint, 4);
  }

  copyPeerId(row: number, out: Uint8Array, pos: number): void {
    copyBytes(this.u8, row * ROW_BYTES + B_PEER_ID, out, pos, ID_SIZE);
  }

  copyPeerEndpoint4(row: number, out: Uint8Array, pos: number): void {
    copyBytes(this.u8, row * ROW_BYTES + B_PEER_EP4, out, pos, EP4_SIZE);
  }

  /** Moves the inline peer into `table` (empty, not yet the row's) with all it carries. */
  movePeerTo(row: number, table: PeerTable): void {
    if (!this.hasPeer(row)) return;
    const flags = this.peerFlags(row);
    const at = row * ROW_BYTES;
    const slot = table.insert(
      this.u8.subarray(at + B_PEER_ID, at + B_PEER_ID + ID_SIZE),
      this.peerIsSeeder(row),
      this.peerLastSeen(row),
    );
    if (flags & HAS4) table.setEndpoint4(slot, this.u8.subarray(at + B_PEER_EP4, at + B_PEER_EP4 + EP4_SIZE));
    if (flags & HAS_KEY) table.setKey(slot, this.peerKey(row));
    if (flags & COMPLETED) table.setFlag(slot, COMPLETED);
    this.clearPeer(row);
  }

  /** Makes the peer in `slot` of `table` (one without an IPv6 endpoint) the row's inline peer. */
  takePeerFrom(row: number, table: PeerSlots, slot: number): void {
    const flags = table.flags(slot);
    this.u8[row * ROW_BYTES + B_FLAGS] = ROW_LIVE | INLINE_PEER | (table.isSeeder(slot) ? INLINE_SEEDER : 0);
    this.setPeerLastSeen(row, table.lastSeen(slot));
    table.copyId(slot, this.u8, row * ROW_BYTES + B_PEER_ID);
    if (flags & HAS4) {
      table.copyEndpoint4(slot, this.u8, row * ROW_BYTES + B_PEER_EP4);
      this.setPeerFlag(row, HAS4);
    }
    if (flags & HAS_KEY) this.setPeerKey(row, table.key(slot));
    if (flags & COMPLETED) this.setPeerFlag(row, COMPLETED);
  }

  /** Epoch ms, whole and within 0..MAX_ROW_TIME (a state file may hold anything finite). */
  private setLastAnnounce(row: number, ms: number): void {
    const t = ms <= 0 ? 0 : ms >= MAX_ROW_TIME ? MAX_ROW_TIME : Math.floor(ms);
    const high = Math.floor(t / 2 ** 32);
    this.u32[row * ROW_WORDS + W_LAST_LOW] = t - high * 2 ** 32;
    const at = row * ROW_BYTES + B_LAST_HIGH;
    this.u8[at] = high & 0xff;
    this.u8[at + 1] = high >>> 8;
  }

  private hash(bytes: Uint8Array, offset: number): number {
    const k = this.key;
    return siphash13Id(k[0] as number, k[1] as number, k[2] as number, k[3] as number, bytes, offset);
  }

  private append(row: number): void {
    const u32 = this.u32;
    u32[row * ROW_WORDS + W_PREV] = this.tail;
    u32[row * ROW_WORDS + W_NEXT] = NO_ROW;
    if (this.tail === NO_ROW) this.head = row;
    else u32[this.tail * ROW_WORDS + W_NEXT] = row;
    this.tail = row;
  }

  private unlink(row: number): void {
    const u32 = this.u32;
    const p = u32[row * ROW_WORDS + W_PREV] as number;
    const n = u32[row * ROW_WORDS + W_NEXT] as number;
    if (p === NO_ROW) this.head = n;
    else u32[p * ROW_WORDS + W_NEXT] = n;
    if (n === NO_ROW) this.tail = p;
    else u32[n * ROW_WORDS + W_PREV] = p;
  }

  /**
   * Doubles the room for rows, in place: the buffer commits more of its
   * reserved range, whose pages cost nothing until written, and readers on
   * other threads keep their views.
   */
  private grow(): void {
    if (this.capacity >= MAX_TORRENTS) {
      throw new RangeError(`the memory store holds at most ${MAX_TORRENTS.toLocaleString('en')} torrents`);
    }
    const capacity = Math.min(2 * this.capacity, MAX_TORRENTS);
    this.buffer.grow(capacity * ROW_BYTES);
    this.u32 = new Uint32Array(this.buffer, 0, capacity * ROW_WORDS);
    this.u8 = new Uint8Array(this.buffer, 0, capacity * ROW_BYTES);
    this.capacity = capacity;
  }

  /** Doubles the index in place and inserts every live row again from its stored hash. */
  private growIndex(): void {
    const size = 2 * this.index.length;
    this.indexBuffer.resize(size * 4);
    this.index = new Uint32Array(this.indexBuffer, 0, size);
    this.index.fill(0);
    this.mask = size - 1;
    for (let row = 0; row < this.rowEnd; row++) {
      if (this.isLive(row)) this.indexInsert(row, this.u32[row * ROW_WORDS + W_HASH] as number);
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
    const u32 = this.u32;
    let hole = (u32[row * ROW_WORDS + W_HASH] as number) & mask;
    while (index[hole] !== row + 1) hole = (hole + 1) & mask;
    let i = hole;
    for (;;) {
      i = (i + 1) & mask;
      const entry = index[i] as number;
      if (entry === 0) break;
      const home = (u32[(entry - 1) * ROW_WORDS + W_HASH] as number) & mask;
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

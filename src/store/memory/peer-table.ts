/**
 * The peers of one torrent, packed into typed arrays: about 50 bytes a peer
 * (index and growth slack included) instead of the ~250 that a JS object, its
 * strings and a Map entry cost, and no garbage per announce. Peers live in
 * slots 0..count-1, seeders first (slots 0..seeders-1) and leechers after, so
 * "a random leecher" or "a random peer" is a random slot in a range. Removal
 * and seeder/leecher moves swap slots, so the table stays dense.
 *
 * Each field is its own array (struct of arrays): the IPv4 endpoints of a slot
 * range are one contiguous run of 6-byte compact entries, so a reply that
 * takes a whole range is a single copy.
 *
 * A peer is found by its 20-byte id through an open-addressing hash index
 * (linear probing, backward-shift deletion, so no tombstones) that maps the
 * id's hash to slot + 1 (0 = empty). Clients choose their ids, so the hash is
 * keyed with a random secret of the table's own: with an unkeyed hash,
 * anyone could compute thousands of ids that share one home position and make
 * every lookup in that torrent walk them all. See hashId().
 */

import { randomFillSync } from 'node:crypto';
import { siphash13Id } from '../../protocol/siphash.js';
import { ChunkPool } from './slab-chunks.js';

const ID_SIZE = 20;
const EP4_SIZE = 6;
const EP6_SIZE = 18;

export const HAS4 = 1;
export const HAS6 = 2;
export const HAS_KEY = 4;
/** This peer's `completed` was already counted. */
export const COMPLETED = 8;

/**
 * Last-seen times are stored as unsigned 32-bit milliseconds after `base`
 * (4 bytes a peer instead of a float64's 8). A new table puts `base` 2^31 ms
 * (24.8 days) before its first time, so clocks may step back that far; a table
 * that lives until its offsets near 2^32 is rebased (one pass over its peers).
 */
export const BASE_OFFSET = 2 ** 31;
export const REBASE_AT = 2 ** 32 - 2 ** 24;

const EMPTY_U32 = new Uint32Array(0);
const EMPTY_U8 = new Uint8Array(0);

/**
 * Random words for the tables' index keys, four a table: one randomFillSync
 * call per 256 new torrents rather than one each.
 */
const keyPool = new Int32Array(1024);
let keyPoolAt = keyPool.length;

function randomKeyWord(): number {
  if (keyPoolAt === keyPool.length) {
    randomFillSync(keyPool);
    keyPoolAt = 0;
  }
  return keyPool[keyPoolAt++] as number;
}

/**
 * Reading a torrent's peers slot by slot: a PeerTable, or a torrent's one
 * inline peer (torrent-table.ts). For code that reads either: the state
 * file, the stats page's peer list.
 */
export interface PeerSlots {
  readonly count: number;
  flags(slot: number): number;
  isSeeder(slot: number): boolean;
  key(slot: number): number;
  /** Epoch ms. */
  lastSeen(slot: number): number;
  copyId(slot: number, out: Uint8Array, pos: number): void;
  copyEndpoint4(slot: number, out: Uint8Array, pos: number): void;
  copyEndpoint6(slot: number, out: Uint8Array, pos: number): void;
}

export class PeerTable implements PeerSlots {
  count = 0;
  /** Slots 0..seeders-1 hold seeders. */
  seeders = 0;
  /** Peers with an IPv4 / IPv6 endpoint. */
  count4 = 0;
  count6 = 0;
  /** Lower bound of every peer's last-seen time: nothing can have expired before oldest + ttl. */
  oldest = Number.POSITIVE_INFINITY;
  private capacity = 0;
  /**
   * One region per table (one buffer and two views cost far less than an
   * array per field: small swarms are the majority), laid out as
   *   u32: seen[capacity] | keys[capacity] | index[indexSize]
   *   u8:  ids[capacity * 20] | ep4[capacity * 6] | flags[capacity]
   * with the u8 regions after the u32 ones. A small table's region is a chunk
   * of a shared slab (slab-chunks.ts: an ArrayBuffer of its own would cost
   * several times its data); a larger one has an ArrayBuffer to itself. The
   * offsets are positions in `u32` / `u8`, wherever the region starts: the
   * region's start and its ids' are stored, the others are computed from
   * them and the capacity (getters below; fields would cost 8 bytes a table
   * each, in a store where most tables hold two or three peers).
   */
  private u32: Uint32Array = EMPTY_U32;
  /** The same buffer as bytes. */
  private u8: Uint8Array = EMPTY_U8;
  /** The slab chunk holding the region (SMALL_POOLS), or -1 for a buffer of its own. */
  private chunk = -1;
  /** Where the region starts in `u32`: the last-seen offsets, then keys, then the index. */
  private seenAt = 0;
  /** Byte offset of the peer ids, after the index (kept: every hash of an id reads it). */
  private idsAt = 0;
  /** The index size - 1 (a power of two). */
  private mask = 0;
  private ep6: Uint8Array | null = null;
  private base = Number.NaN;
  /**
   * The index's SipHash key, 128 bits as four int32 words (fields rather than
   * an array: a typed array would cost more than the 16 bytes it holds).
   * Random per table, so ids found to collide in one torrent (say, by timing
   * one of the attacker's own) say nothing about another.
   */
  private readonly indexKey0: number;
  private readonly indexKey1: number;
  private readonly indexKey2: number;
  private readonly indexKey3: number;

  /** `indexKey` (four 32-bit words) is for tests that need a reproducible index; by default it is random. */
  constructor(initialCapacity = 2, indexKey?: readonly [number, number, number, number]) {
    this.indexKey0 = indexKey ? indexKey[0] | 0 : randomKeyWord();
    this.indexKey1 = indexKey ? indexKey[1] | 0 : randomKeyWord();
    this.indexKey2 = indexKey ? indexKey[2] | 0 : randomKeyWord();
    this.indexKey3 = indexKey ? indexKey[3] | 0 : randomKeyWord();
    this.allocate(initialCapacity);
  }

  get leechers(): number {
    return this.count - this.seeders;
  }

  private get keysAt(): number {
    return this.seenAt + this.capacity;
  }

  private get indexAt(): number {
    return this.seenAt + 2 * this.capacity;
  }

  /** Byte offset of the compact IPv4 endpoints (4-byte address, 2-byte port), 6 bytes a slot. */
  private get ep4At(): number {
    return this.idsAt + this.capacity * ID_SIZE;
  }

  private get flagsAt(): number {
    return this.idsAt + this.capacity * (ID_SIZE + EP4_SIZE);
  }

  /** The slot of the peer with this id, or -1. */
  find(id: Uint8Array): number {
    const { u32, u8, mask, indexAt, idsAt } = this;
    for (let i = this.hashId(id, 0) & mask; ; i = (i + 1) & mask) {
      const entry = u32[indexAt + i] as number;
      if (entry === 0) return -1;
      const slot = entry - 1;
      if (sameBytes(u8, idsAt + slot * ID_SIZE, id)) return slot;
    }
  }

  /** Adds a peer (not already present) and returns its slot. */
  insert(id: Uint8Array, seeder: boolean, now: number): number {
    if (this.count === this.capacity) this.grow();
    let slot = this.count++;
    copyBytes(id, 0, this.u8, this.idsAt + slot * ID_SIZE, ID_SIZE);
    this.u8[this.flagsAt + slot] = 0;
    this.touch(slot, now);
    if (now < this.oldest) this.oldest = now;
    this.indexInsert(slot);
    if (seeder) {
      // The new slot is the last leecher position: move it to the seeders' end.
      this.swap(slot, this.seeders);
      slot = this.seeders++;
    }
    return slot;
  }

  /** Removes the peer in `slot`; other peers may change slots. */
  remove(slot: number): void {
    const flags = this.flags(slot);
    if (flags & HAS4) this.count4--;
    if (flags & HAS6) this.count6--;
    let last = slot;
    if (slot < this.seeders) {
      // Keep seeders contiguous: the last seeder fills the hole, the last peer fills its place.
      last = --this.seeders;
      this.swap(slot, last);
    }
    this.indexDelete(last);
    const end = --this.count;
    if (last !== end) this.move(end, last);
  }

  /** Moves a peer between the seeders and the leechers; returns its new slot. */
  setSeeder(slot: number, seeder: boolean): number {
    const isSeeder = slot < this.seeders;
    if (isSeeder === seeder) return slot;
    if (seeder) {
      this.swap(slot, this.seeders);
      return this.seeders++;
    }
    const target = --this.seeders;
    this.swap(slot, target);
    return target;
  }

  isSeeder(slot: number): boolean {
    return slot < this.seeders;
  }

  flags(slot: number): number {
    return this.u8[this.flagsAt + slot] as number;
  }

  setFlag(slot: number, flag: number): void {
    (this.u8[this.flagsAt + slot] as number) |= flag;
  }

  key(slot: number): number {
    return this.u32[this.keysAt + slot] as number;
  }

  setKey(slot: number, key: number): void {
    this.u32[this.keysAt + slot] = key;
    this.setFlag(slot, HAS_KEY);
  }

  lastSeen(slot: number): number {
    return this.base + (this.u32[this.seenAt + slot] as number);
  }

  touch(slot: number, now: number): void {
    if (Number.isNaN(this.base)) this.base = now - BASE_OFFSET;
    let offset = now - this.base;
    if (offset >= REBASE_AT) {
      this.rebase(now);
      offset = now - this.base;
    }
    // Clocks stepping back more than 24.8 days clamp to the oldest representable time.
    this.u32[this.seenAt + slot] = offset > 0 ? offset : 0;
  }

  setEndpoint4(slot: number, endpoint: Uint8Array): void {
    copyBytes(endpoint, 0, this.u8, this.ep4At + slot * EP4_SIZE, EP4_SIZE);
    if ((this.flags(slot) & HAS4) === 0) {
      this.count4++;
      this.setFlag(slot, HAS4);
    }
  }

  setEndpoint6(slot: number, endpoint: Uint8Array): void {
    if (!this.ep6) this.ep6 = new Uint8Array(this.capacity * EP6_SIZE);
    copyBytes(endpoint, 0, this.ep6, slot * EP6_SIZE, EP6_SIZE);
    if ((this.flags(slot) & HAS6) === 0) {
      this.count6++;
      this.setFlag(slot, HAS6);
    }
  }

  /** Same IP (port ignored) as the stored endpoint of that family. */
  sameIp4(slot: number, endpoint: Uint8Array): boolean {
    return (this.flags(slot) & HAS4) !== 0 && sameBytesN(this.u8, this.ep4At + slot * EP4_SIZE, endpoint, 4);
  }

  sameIp6(slot: number, endpoint: Uint8Array): boolean {
    return (this.flags(slot) & HAS6) !== 0 && this.ep6 !== null && sameBytesN(this.ep6, slot * EP6_SIZE, endpoint, 16);
  }

  /** Copies the 6-byte endpoint into `out` at `pos`. */
  copyEndpoint4(slot: number, out: Uint8Array, pos: number): void {
    const r = this.u8;
    const b = this.ep4At + slot * EP4_SIZE;
    for (let i = 0; i < EP4_SIZE; i++) out[pos + i] = r[b + i] as number;
  }

  /** Copies the endpoints of slots from..to-1 (all must have one) into `out` at `pos`: one copy, they are contiguous. */
  copyEndpoints4(from: number, to: number, out: Uint8Array, pos: number): void {
    if (to > from) out.set(this.u8.subarray(this.ep4At + from * EP4_SIZE, this.ep4At + to * EP4_SIZE), pos);
  }

  copyEndpoint6(slot: number, out: Uint8Array, pos: number): void {
    const r = this.ep6 as Uint8Array;
    const b = slot * EP6_SIZE;
    for (let i = 0; i < EP6_SIZE; i++) out[pos + i] = r[b + i] as number;
  }

  copyId(slot: number, out: Uint8Array, pos: number): void {
    const r = this.u8;
    const b = this.idsAt + slot * ID_SIZE;
    for (let i = 0; i < ID_SIZE; i++) out[pos + i] = r[b + i] as number;
  }

  /** Removes every peer last seen at or before `cutoff`; returns how many. Recomputes `oldest`. */
  removeSeenBefore(cutoff: number): number {
    let removed = 0;
    let oldest = Number.POSITIVE_INFINITY;
    const rel = cutoff - this.base; // compare offsets: no float per peer
    for (let slot = this.count - 1; slot >= 0; slot--) {
      const seen = this.u32[this.seenAt + slot] as number;
      if (seen <= rel) {
        // Removing fills `slot` from a higher slot (already visited), so walking down visits each peer once.
        this.remove(slot);
        removed++;
      } else if (seen < oldest) {
        oldest = seen;
      }
    }
    this.oldest = oldest === Number.POSITIVE_INFINITY ? oldest : this.base + oldest;
    return removed;
  }

  /** Approximate bytes held (for memory accounting in tests and benches). */
  get bytes(): number {
    const own = this.chunk < 0 ? this.u8.byteLength : (poolFor(this.capacity)?.chunkBytes ?? 0);
    return own + (this.ep6?.byteLength ?? 0);
  }

  /**
   * For tests and diagnostics (O(index size), not for the announce path): the
   * most index entries one find() reads, that is the longest run of occupied
   * index positions plus the empty one that ends it. With the keyed hash it
   * stays what random ids give, whatever ids the clients choose.
   */
  longestProbe(): number {
    const { u32, mask, indexAt } = this;
    // Start at an empty position (the load is at most 2/3, so there is one):
    // then no run wraps past the start of the walk.
    let start = 0;
    while (u32[indexAt + start] !== 0) start++;
    let longest = 0;
    let run = 0;
    for (let n = 1; n <= mask + 1; n++) {
      if (u32[indexAt + ((start + n) & mask)] === 0) {
        run = 0;
      } else if (++run > longest) {
        longest = run;
      }
    }
    return longest + 1;
  }

  /** Moves `base` so that `now` sits 2^31 ms after it; offsets shift down by the same amount. */
  private rebase(now: number): void {
    const shift = now - BASE_OFFSET - this.base;
    for (let slot = 0; slot < this.count; slot++) {
      const at = this.seenAt + slot;
      const seen = (this.u32[at] as number) - shift;
      this.u32[at] = seen > 0 ? seen : 0;
    }
    this.base += shift;
  }

  /**
   * Gives back a slab chunk: the owner calls it when it drops the table (a
   * chunk is not reclaimed by the garbage collector). The table is empty and
   * usable afterwards.
   */
  release(): void {
    if (this.chunk >= 0) (poolFor(this.capacity) as ChunkPool).free(this.chunk);
    this.chunk = -1;
    this.u32 = EMPTY_U32;
    this.u8 = EMPTY_U8;
    this.ep6 = null;
    this.capacity = this.count = this.seeders = this.count4 = this.count6 = 0;
    this.oldest = Number.POSITIVE_INFINITY;
  }

  /** Points the views and offsets at a fresh zeroed region for `capacity` slots (the index empty). */
  private allocate(capacity: number): void {
    const indexSize = indexSizeFor(capacity);
    const words = 2 * capacity + indexSize;
    const pool = poolFor(capacity);
    let wordsAt = 0;
    if (pool) {
      this.chunk = pool.take();
      const slab = pool.slabOf(this.chunk);
      this.u32 = slab.u32;
      this.u8 = slab.u8;
      wordsAt = pool.byteOffset(this.chunk) / 4;
    } else {
      const buffer = new ArrayBuffer(regionBytes(capacity));
      this.chunk = -1;
      this.u32 = new Uint32Array(buffer, 0, words);
      this.u8 = new Uint8Array(buffer);
    }
    this.capacity = capacity;
    this.seenAt = wordsAt;
    this.mask = indexSize - 1;
    this.idsAt = (wordsAt + words) * 4;
  }

  private grow(): void {
    // x1.5 while small (few steps), x1.25 once big: the slack of a big table is
    // what costs memory, and the extra copies are amortised over many inserts.
    const { u32, u8, seenAt, keysAt, idsAt, ep4At, flagsAt, count: n, chunk, capacity } = this;
    const step = capacity >= 1024 ? capacity >> 2 : capacity >> 1;
    this.allocate(capacity + Math.max(2, step));
    this.u32.set(u32.subarray(seenAt, seenAt + n), this.seenAt);
    this.u32.set(u32.subarray(keysAt, keysAt + n), this.keysAt);
    this.u8.set(u8.subarray(idsAt, idsAt + n * ID_SIZE), this.idsAt);
    this.u8.set(u8.subarray(ep4At, ep4At + n * EP4_SIZE), this.ep4At);
    this.u8.set(u8.subarray(flagsAt, flagsAt + n), this.flagsAt);
    if (this.ep6) {
      const ep6 = new Uint8Array(this.capacity * EP6_SIZE);
      ep6.set(this.ep6);
      this.ep6 = ep6;
    }
    for (let slot = 0; slot < n; slot++) this.indexInsert(slot);
    // After the copies: the old region may be the chunk handed out next.
    if (chunk >= 0) (poolFor(capacity) as ChunkPool).free(chunk);
  }

  private indexInsert(slot: number): void {
    const { u32, mask, indexAt } = this;
    let i = this.home(slot);
    while (u32[indexAt + i] !== 0) i = (i + 1) & mask;
    u32[indexAt + i] = slot + 1;
  }

  /**
   * Where the id in `slot` starts probing. Hashes are recomputed rather than
   * stored: an announce of a known peer hashes its id once either way (in
   * find()); stored hashes (4 bytes a peer, 8% of a table) would spare the
   * rehashing of removals, seeder/leecher moves and growth, measured with
   * bench/peer-table-micro.ts at about 140 ns of a new peer's insert and 230
   * ns of a stop and a start, against some 30 µs of CPU an announce costs.
   */
  private home(slot: number): number {
    return this.hashId(this.u8, this.idsAt + slot * ID_SIZE) & this.mask;
  }

  /**
   * The index hash of the 20-byte id at `id[offset]`: SipHash-1-3 under the
   * table's secret key. Linear probing is only as good as its hash is random
   * over the ids it is given, and clients choose their ids. With an unkeyed
   * hash (FNV-1a, say) anyone can compute offline thousands of ids that share
   * a home position; a fast hash with a random seed (MurmurHash3, CityHash)
   * has known collisions that hold whatever the seed. SipHash is a PRF:
   * without the key, where an id lands is a coin toss, and finding ids that
   * share a slot would need feedback that only the tracker's timing gives.
   * siphash.ts says why 1-3 rounds and what a hash costs (48 ns; FNV-1a 12).
   */
  private hashId(id: Uint8Array, offset: number): number {
    return siphash13Id(this.indexKey0, this.indexKey1, this.indexKey2, this.indexKey3, id, offset);
  }

  /** The index position that points at `slot`. */
  private indexPosition(slot: number): number {
    const { u32, mask, indexAt } = this;
    for (let i = this.home(slot); ; i = (i + 1) & mask) {
      if (u32[indexAt + i] === slot + 1) return i;
    }
  }

  /** Backward-shift deletion: later entries of the probe run move up, so lookups never need tombstones. */
  private indexDelete(slot: number): void {
    const { u32, mask, indexAt } = this;
    let hole = this.indexPosition(slot);
    let i = hole;
    for (;;) {
      i = (i + 1) & mask;
      const entry = u32[indexAt + i] as number;
      if (entry === 0) break;
      const home = this.home(entry - 1);
      // Move the entry into the hole if its home is not in (hole, i] (cyclically).
      const inRange = hole <= i ? home > hole && home <= i : home > hole || home <= i;
      if (!inRange) {
        u32[indexAt + hole] = entry;
        hole = i;
      }
    }
    u32[indexAt + hole] = 0;
  }

  /** Exchanges two slots' data and fixes the index entries of both. */
  private swap(a: number, b: number): void {
    if (a === b) return;
    const pa = this.indexPosition(a);
    const pb = this.indexPosition(b);
    const { u32, u8 } = this;
    swapBytes(u8, this.idsAt + a * ID_SIZE, this.idsAt + b * ID_SIZE, ID_SIZE);
    swapBytes(u8, this.ep4At + a * EP4_SIZE, this.ep4At + b * EP4_SIZE, EP4_SIZE);
    swapBytes(u8, this.flagsAt + a, this.flagsAt + b, 1);
    if (this.ep6) swapBytes(this.ep6, a * EP6_SIZE, b * EP6_SIZE, EP6_SIZE);
    swapWords(u32, this.seenAt + a, this.seenAt + b);
    swapWords(u32, this.keysAt + a, this.keysAt + b);
    u32[this.indexAt + pa] = b + 1;
    u32[this.indexAt + pb] = a + 1;
  }

  /** Moves slot `from` (still indexed) into the free slot `to`. */
  private move(from: number, to: number): void {
    const p = this.indexPosition(from);
    const { u32, u8 } = this;
    u8.copyWithin(this.idsAt + to * ID_SIZE, this.idsAt + from * ID_SIZE, this.idsAt + (from + 1) * ID_SIZE);
    u8.copyWithin(this.ep4At + to * EP4_SIZE, this.ep4At + from * EP4_SIZE, this.ep4At + (from + 1) * EP4_SIZE);
    u8[this.flagsAt + to] = u8[this.flagsAt + from] as number;
    if (this.ep6) this.ep6.copyWithin(to * EP6_SIZE, from * EP6_SIZE, from * EP6_SIZE + EP6_SIZE);
    u32[this.seenAt + to] = u32[this.seenAt + from] as number;
    u32[this.keysAt + to] = u32[this.keysAt + from] as number;
    u32[this.indexAt + p] = to + 1;
  }
}

function swapWords(a: Uint32Array, i: number, j: number): void {
  const t = a[i] as number;
  a[i] = a[j] as number;
  a[j] = t;
}

/** Bytes of a table's region for `capacity` slots (the layout above). */
function regionBytes(capacity: number): number {
  return (2 * capacity + indexSizeFor(capacity)) * 4 + capacity * (ID_SIZE + EP4_SIZE + 1);
}

/**
 * Slab chunks for the capacities of small tables: 2 (a new table) and 4 (its
 * first growth), 88 and 172 bytes. Larger tables have a buffer of their own,
 * where its fixed cost is small beside the data.
 */
const SMALL_POOLS: readonly (ChunkPool | undefined)[] = [
  undefined,
  undefined,
  new ChunkPool(align4(regionBytes(2))),
  undefined,
  new ChunkPool(align4(regionBytes(4))),
];

function poolFor(capacity: number): ChunkPool | undefined {
  return SMALL_POOLS[capacity];
}

function align4(n: number): number {
  return (n + 3) & ~3;
}

/** Slab chunks in use and slab bytes held, for tests and diagnostics. */
export function smallTableChunks(): { inUse: number; bytes: number } {
  let inUse = 0;
  let bytes = 0;
  for (const pool of SMALL_POOLS) {
    inUse += pool?.inUse ?? 0;
    bytes += pool?.bytes ?? 0;
  }
  return { inUse, bytes };
}

/** A power of two at least 1.5 times the capacity: probe runs stay short (load ≤ 2/3). */
function indexSizeFor(capacity: number): number {
  let size = 4;
  while (size * 2 < capacity * 3) size *= 2;
  return size;
}

/** A byte loop: for 6 to 20 bytes, cheaper than a subarray (an object per call) and set(). */
export function copyBytes(from: Uint8Array, fromAt: number, to: Uint8Array, toAt: number, n: number): void {
  for (let i = 0; i < n; i++) to[toAt + i] = from[fromAt + i] as number;
}

function sameBytes(a: Uint8Array, offset: number, id: Uint8Array): boolean {
  for (let i = 0; i < ID_SIZE; i++) if (a[offset + i] !== id[i]) return false;
  return true;
}

/** The `n` bytes at `a[offset]` equal `b`'s first `n` (a byte loop, as copyBytes). */
export function sameBytesN(a: Uint8Array, offset: number, b: Uint8Array, n: number): boolean {
  for (let i = 0; i < n; i++) if (a[offset + i] !== b[i]) return false;
  return true;
}

function swapBytes(buf: Uint8Array, a: number, b: number, n: number): void {
  for (let i = 0; i < n; i++) {
    const t = buf[a + i] as number;
    buf[a + i] = buf[b + i] as number;
    buf[b + i] = t;
  }
}

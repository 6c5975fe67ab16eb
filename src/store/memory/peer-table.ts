/**
 * The peers of one torrent, packed into typed arrays: about 50 bytes a peer
 * instead of the ~250 that a JS object, its strings and a Map entry cost, and
 * no garbage per announce. Peers live in slots 0..count-1, seeders first
 * (slots 0..seeders-1) and leechers after, so "a random leecher" or "a random
 * peer" is a random slot in a range. Removal and seeder/leecher moves swap
 * slots, so the table stays dense.
 *
 * A peer is found by its 20-byte id through an open-addressing hash index
 * (linear probing, backward-shift deletion, so no tombstones) that maps the
 * id's hash to slot + 1 (0 = empty).
 */

/** Per-slot record: id (20) | IPv4 endpoint (6) | flags (1) | spare (1) | key (4). */
const RECORD = 32;
const ID = 0;
const EP4 = 20;
const FLAGS = 26;
const KEY = 28;
const EP6_SIZE = 18;

export const HAS4 = 1;
export const HAS6 = 2;
export const HAS_KEY = 4;
/** This peer's `completed` was already counted. */
export const COMPLETED = 8;

/** FNV-1a over the 20 id bytes: cheap, and peer ids end in random bytes. */
function hashId(id: Uint8Array, offset: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < 20; i++) h = Math.imul(h ^ (id[offset + i] as number), 0x01000193);
  return h >>> 0;
}

export class PeerTable {
  count = 0;
  /** Slots 0..seeders-1 hold seeders. */
  seeders = 0;
  /** Peers with an IPv4 / IPv6 endpoint. */
  count4 = 0;
  count6 = 0;
  /** Lower bound of every peer's last-seen time: nothing can have expired before oldest + ttl. */
  oldest = Number.POSITIVE_INFINITY;
  private capacity: number;
  private rec: Uint8Array;
  private ep6: Uint8Array | null = null;
  private seen: Float64Array;
  private index: Int32Array;
  private mask: number;

  constructor(initialCapacity = 2) {
    this.capacity = initialCapacity;
    this.rec = new Uint8Array(initialCapacity * RECORD);
    this.seen = new Float64Array(initialCapacity);
    this.mask = indexSizeFor(initialCapacity) - 1;
    this.index = new Int32Array(this.mask + 1);
  }

  get leechers(): number {
    return this.count - this.seeders;
  }

  /** The slot of the peer with this id, or -1. */
  find(id: Uint8Array): number {
    const { index, mask, rec } = this;
    for (let i = hashId(id, 0) & mask; ; i = (i + 1) & mask) {
      const entry = index[i] as number;
      if (entry === 0) return -1;
      const slot = entry - 1;
      if (sameBytes(rec, slot * RECORD + ID, id)) return slot;
    }
  }

  /** Adds a peer (not already present) and returns its slot. */
  insert(id: Uint8Array, seeder: boolean, now: number): number {
    if (this.count === this.capacity) this.grow();
    let slot = this.count++;
    const base = slot * RECORD;
    this.rec.set(id.subarray(0, 20), base + ID);
    this.rec[base + FLAGS] = 0;
    this.seen[slot] = now;
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
    return this.rec[slot * RECORD + FLAGS] as number;
  }

  setFlag(slot: number, flag: number): void {
    (this.rec[slot * RECORD + FLAGS] as number) |= flag;
  }

  key(slot: number): number {
    const b = slot * RECORD + KEY;
    const r = this.rec;
    return (
      (((r[b] as number) << 24) | ((r[b + 1] as number) << 16) | ((r[b + 2] as number) << 8) | (r[b + 3] as number)) >>>
      0
    );
  }

  setKey(slot: number, key: number): void {
    const b = slot * RECORD + KEY;
    const r = this.rec;
    r[b] = key >>> 24;
    r[b + 1] = key >>> 16;
    r[b + 2] = key >>> 8;
    r[b + 3] = key;
    r[slot * RECORD + FLAGS] = (r[slot * RECORD + FLAGS] as number) | HAS_KEY;
  }

  lastSeen(slot: number): number {
    return this.seen[slot] as number;
  }

  touch(slot: number, now: number): void {
    this.seen[slot] = now;
  }

  setEndpoint4(slot: number, endpoint: Uint8Array): void {
    this.rec.set(endpoint.subarray(0, 6), slot * RECORD + EP4);
    if ((this.flags(slot) & HAS4) === 0) {
      this.count4++;
      this.setFlag(slot, HAS4);
    }
  }

  setEndpoint6(slot: number, endpoint: Uint8Array): void {
    if (!this.ep6) this.ep6 = new Uint8Array(this.capacity * EP6_SIZE);
    this.ep6.set(endpoint.subarray(0, 18), slot * EP6_SIZE);
    if ((this.flags(slot) & HAS6) === 0) {
      this.count6++;
      this.setFlag(slot, HAS6);
    }
  }

  /** Same IP (port ignored) as the stored endpoint of that family. */
  sameIp4(slot: number, endpoint: Uint8Array): boolean {
    return (this.flags(slot) & HAS4) !== 0 && sameBytesN(this.rec, slot * RECORD + EP4, endpoint, 4);
  }

  sameIp6(slot: number, endpoint: Uint8Array): boolean {
    return (this.flags(slot) & HAS6) !== 0 && this.ep6 !== null && sameBytesN(this.ep6, slot * EP6_SIZE, endpoint, 16);
  }

  /** Copies the 6-byte endpoint into `out` at `pos`. */
  copyEndpoint4(slot: number, out: Uint8Array, pos: number): void {
    const r = this.rec;
    const b = slot * RECORD + EP4;
    for (let i = 0; i < 6; i++) out[pos + i] = r[b + i] as number;
  }

  copyEndpoint6(slot: number, out: Uint8Array, pos: number): void {
    const r = this.ep6 as Uint8Array;
    const b = slot * EP6_SIZE;
    for (let i = 0; i < EP6_SIZE; i++) out[pos + i] = r[b + i] as number;
  }

  copyId(slot: number, out: Uint8Array, pos: number): void {
    const r = this.rec;
    const b = slot * RECORD + ID;
    for (let i = 0; i < 20; i++) out[pos + i] = r[b + i] as number;
  }

  /** Removes every peer last seen at or before `cutoff`; returns how many. Recomputes `oldest`. */
  removeSeenBefore(cutoff: number): number {
    let removed = 0;
    let oldest = Number.POSITIVE_INFINITY;
    for (let slot = this.count - 1; slot >= 0; slot--) {
      const seen = this.seen[slot] as number;
      if (seen <= cutoff) {
        // Removing fills `slot` from a higher slot (already visited), so walking down visits each peer once.
        this.remove(slot);
        removed++;
      } else if (seen < oldest) {
        oldest = seen;
      }
    }
    this.oldest = oldest;
    return removed;
  }

  /** Approximate bytes held (for memory accounting in tests and benches). */
  get bytes(): number {
    return this.rec.byteLength + this.seen.byteLength + this.index.byteLength + (this.ep6?.byteLength ?? 0);
  }

  private grow(): void {
    // x1.5 rather than x2: big tables waste less, small ones still grow in few steps.
    const capacity = this.capacity + Math.max(2, this.capacity >> 1);
    const rec = new Uint8Array(capacity * RECORD);
    rec.set(this.rec);
    this.rec = rec;
    const seen = new Float64Array(capacity);
    seen.set(this.seen);
    this.seen = seen;
    if (this.ep6) {
      const ep6 = new Uint8Array(capacity * EP6_SIZE);
      ep6.set(this.ep6);
      this.ep6 = ep6;
    }
    this.capacity = capacity;
    const size = indexSizeFor(capacity);
    if (size !== this.mask + 1) {
      this.mask = size - 1;
      this.index = new Int32Array(size);
      for (let slot = 0; slot < this.count; slot++) this.indexInsert(slot);
    }
  }

  private indexInsert(slot: number): void {
    const { index, mask } = this;
    let i = this.home(slot);
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
  }

  /** Where the id in `slot` starts probing (hashes are recomputed: cheaper than 4 bytes a peer). */
  private home(slot: number): number {
    return hashId(this.rec, slot * RECORD + ID) & this.mask;
  }

  /** The index position that points at `slot`. */
  private indexPosition(slot: number): number {
    const { index, mask } = this;
    for (let i = this.home(slot); ; i = (i + 1) & mask) {
      if (index[i] === slot + 1) return i;
    }
  }

  /** Backward-shift deletion: later entries of the probe run move up, so lookups never need tombstones. */
  private indexDelete(slot: number): void {
    const { index, mask } = this;
    let hole = this.indexPosition(slot);
    let i = hole;
    for (;;) {
      i = (i + 1) & mask;
      const entry = index[i] as number;
      if (entry === 0) break;
      const home = this.home(entry - 1);
      // Move the entry into the hole if its home is not in (hole, i] (cyclically).
      const inRange = hole <= i ? home > hole && home <= i : home > hole || home <= i;
      if (!inRange) {
        index[hole] = entry;
        hole = i;
      }
    }
    index[hole] = 0;
  }

  /** Exchanges two slots' data and fixes the index entries of both. */
  private swap(a: number, b: number): void {
    if (a === b) return;
    const pa = this.indexPosition(a);
    const pb = this.indexPosition(b);
    swapBytes(this.rec, a * RECORD, b * RECORD, RECORD);
    if (this.ep6) swapBytes(this.ep6, a * EP6_SIZE, b * EP6_SIZE, EP6_SIZE);
    const s = this.seen[a] as number;
    this.seen[a] = this.seen[b] as number;
    this.seen[b] = s;
    this.index[pa] = b + 1;
    this.index[pb] = a + 1;
  }

  /** Moves slot `from` (still indexed) into the free slot `to`. */
  private move(from: number, to: number): void {
    const p = this.indexPosition(from);
    this.rec.copyWithin(to * RECORD, from * RECORD, from * RECORD + RECORD);
    if (this.ep6) this.ep6.copyWithin(to * EP6_SIZE, from * EP6_SIZE, from * EP6_SIZE + EP6_SIZE);
    this.seen[to] = this.seen[from] as number;
    this.index[p] = to + 1;
  }
}

/** A power of two at least 1.5 times the capacity: probe runs stay short (load ≤ 2/3). */
function indexSizeFor(capacity: number): number {
  let size = 4;
  while (size * 2 < capacity * 3) size *= 2;
  return size;
}

function sameBytes(a: Uint8Array, offset: number, id: Uint8Array): boolean {
  for (let i = 0; i < 20; i++) if (a[offset + i] !== id[i]) return false;
  return true;
}

function sameBytesN(a: Uint8Array, offset: number, b: Uint8Array, n: number): boolean {
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

/**
 * Swarms of two to eight IPv4 peers, in one buffer of slots shared by all of them.
 *
 * In a long tail most torrents with more than one peer have two or three. As
 * a PeerTable such a torrent costs ~200 bytes of JS object on top of its peers'
 * data (measured: 209 bytes of heap a table, beside its slab chunk; a table
 * past four peers also has an ArrayBuffer of its own, ~700 bytes); here its
 * peers are a run of slots in a buffer, 36 bytes a slot (a peer's fields side
 * by side), and there is no object at all. The swarm is addressed by its torrent's place, the number
 * torrent-table.ts gives a row whose peers are not inline (the same numbering
 * as its PeerTables, so the seeder and leecher counts the stats thread reads
 * are mirrored the same way for both).
 *
 * A swarm's run has 2, 3, 4, 6 or 8 slots: it starts at 2 and moves to the
 * next length when full. Each step is at most 1.5x, so a run is at least two
 * thirds full once it has grown, and a swarm of three peers (a third of the
 * swarms of more than one, in a long tail) takes 3 slots, not 4. Moving a run
 * costs a copy of at most six slots. Freed runs are kept on a free list of
 * their length and reused before the slots grow (which stay at their peak, as
 * a Map's table does). Slots 0..count-1 of the run hold the peers, in no particular
 * order: with at most eight a scan is cheaper than keeping seeders first or
 * an index, and a peer is found by comparing ids, so there is no hash for
 * clients to aim at. A swarm that needs a ninth slot or gets an IPv6 endpoint
 * moves to a PeerTable (swarm-forms.ts moves it, and back).
 */

import { BASE_OFFSET, copyBytes, HAS_KEY, HAS4, type PeerSlots, REBASE_AT, sameBytesN } from './peer-table.js';

/** The most peers a small swarm holds: its longest run. */
export const SMALL_SLOTS = 8;
/** The run a full run of each length moves to (RUN_AFTER[run]). */
const RUN_AFTER = [0, 0, 3, 4, 6, 0, 8];
const FIRST_RUN = 2;
const ID_SIZE = 20;
const EP4_SIZE = 6;
/**
 * A slot: 9 words, a peer's fields side by side. Words: last seen (ms after
 * `base`), key; bytes from 8: id (20), compact endpoint (6), flags (1), one
 * spare.
 */
const SLOT_WORDS = 9;
const SLOT_BYTES = SLOT_WORDS * 4;
const W_SEEN = 0;
const W_KEY = 1;
const B_ID = 8;
const B_EP4 = 28;
const B_FLAGS = 34;
/** A place: its run's first slot (word 0), then its peers (byte 4) and its run's length (byte 5; 0: no run), two spare. */
const PLACE_WORDS = 2;
const PLACE_BYTES = PLACE_WORDS * 4;
const P_COUNT = 4;
const P_RUN = 5;
/** A slot's flags: PeerTable's bits (HAS4, HAS_KEY, COMPLETED; never HAS6) and this one. */
const SEEDER = 0x10;
const PEER_BITS = 0x0f;
const FIRST_PLACES = 64;
const FIRST_SLOTS = 256;
/**
 * The address ranges reserved (reserving costs no memory): for the slots V8's
 * largest buffer, 4 GiB; for the places 512 MiB, past one for each of the
 * torrent table's 51 million rows.
 */
const MAX_SLOT_BYTES = 2 ** 32;
const MAX_PLACE_BYTES = 2 ** 29;

export class SmallSwarms {
  /**
   * Places and slots each in a resizable buffer that grows in place (it
   * commits more of the range reserved for it): nothing is copied when they
   * grow and no old region waits for the garbage collector.
   */
  private readonly placesBuffer = new ArrayBuffer(0, { maxByteLength: MAX_PLACE_BYTES });
  private readonly slotsBuffer = new ArrayBuffer(0, { maxByteLength: MAX_SLOT_BYTES });
  /** Fixed-length views of each (cheaper than length-tracking ones), remade as it grows. */
  private placeU32 = new Uint32Array(0);
  private placeU8 = new Uint8Array(0);
  private slotU32 = new Uint32Array(0);
  private slotU8 = new Uint8Array(0);
  /** Places the per-place buffer has room for. */
  private places = 0;
  /** Slots the slot buffer has room for, and the end of those handed out. */
  private slots = 0;
  private slotEnd = 0;
  /**
   * Last-seen times are ms after `base`, as a PeerTable keeps them (4 bytes
   * rather than a float64's 8), with one base for every slot: it starts
   * 2^31 ms (24.8 days) before the first time, and when offsets near 2^32
   * every slot is rebased in one pass (once in 24.8 days of uptime).
   */
  private base = Number.NaN;
  /** Freed runs by length (index 2, 3, 4, 6, 8). */
  private readonly freeRuns: number[][] = [[], [], [], [], [], [], [], [], []];
  /** Slots in the runs of open places (for tests and diagnostics: a run not given back stays counted). */
  slotsInUse = 0;

  /** Gives `place` an empty run. */
  open(place: number): void {
    if (place >= this.places) this.growPlaces(place + 1);
    const start = this.takeRun(FIRST_RUN);
    this.placeU32[place * PLACE_WORDS] = start;
    this.placeU8[place * PLACE_BYTES + P_COUNT] = 0;
    this.placeU8[place * PLACE_BYTES + P_RUN] = FIRST_RUN;
  }

  /** Gives the place's run back (the place is being given up, or its swarm moved). */
  close(place: number): void {
    if (place >= this.places) return;
    const run = this.run(place);
    if (run === 0) return;
    this.freeRun(this.start(place), run);
    this.placeU8[place * PLACE_BYTES + P_RUN] = 0;
    this.placeU8[place * PLACE_BYTES + P_COUNT] = 0;
  }

  /** Gives every run back (the store is emptied). */
  clear(): void {
    this.placeU8.fill(0);
    for (const list of this.freeRuns) list.length = 0;
    this.slotEnd = 0;
    this.slotsInUse = 0;
  }

  count(place: number): number {
    return this.placeU8[place * PLACE_BYTES + P_COUNT] as number;
  }

  /** No room for another peer: the swarm needs a PeerTable. */
  full(place: number): boolean {
    return this.count(place) === SMALL_SLOTS;
  }

  seeders(place: number): number {
    return this.withFlag(place, SEEDER);
  }

  /** Peers with an IPv4 endpoint. */
  count4(place: number): number {
    return this.withFlag(place, HAS4);
  }

  /** The slot of the peer with this id, or -1. */
  find(place: number, id: Uint8Array): number {
    const u8 = this.slotU8;
    const start = this.start(place);
    const n = this.count(place);
    for (let slot = 0; slot < n; slot++) {
      if (sameBytesN(u8, (start + slot) * SLOT_BYTES + B_ID, id, ID_SIZE)) return slot;
    }
    return -1;
  }

  /** Adds a peer with no endpoint, key or flags; the caller has checked the swarm is not full and has no such id. */
  insert(place: number, id: Uint8Array, seeder: boolean, now: number): number {
    const slot = this.count(place);
    if (slot === this.run(place)) this.lengthenRun(place);
    this.placeU8[place * PLACE_BYTES + P_COUNT] = slot + 1;
    const i = this.start(place) + slot;
    copyBytes(id, 0, this.slotU8, i * SLOT_BYTES + B_ID, ID_SIZE);
    this.slotU8[i * SLOT_BYTES + B_FLAGS] = seeder ? SEEDER : 0;
    this.slotU32[i * SLOT_WORDS + W_SEEN] = this.offset(now);
    return slot;
  }

  /** Removes the peer in `slot`: the last peer takes its slot. */
  remove(place: number, slot: number): void {
    const last = this.count(place) - 1;
    this.placeU8[place * PLACE_BYTES + P_COUNT] = last;
    if (slot === last) return;
    const start = this.start(place);
    this.moveSlot(start + last, start + slot);
  }

  /** Removes every peer last seen at or before `cutoff`; returns how many. */
  removeSeenBefore(place: number, cutoff: number): number {
    let removed = 0;
    const start = this.start(place);
    const rel = cutoff - this.base; // compare offsets
    // Downwards: a removal fills `slot` from a higher slot, already visited.
    for (let slot = this.count(place) - 1; slot >= 0; slot--) {
      if ((this.slotU32[(start + slot) * SLOT_WORDS + W_SEEN] as number) <= rel) {
        this.remove(place, slot);
        removed++;
      }
    }
    return removed;
  }

  /** The earliest last-seen time of the swarm's peers (Infinity when it has none). */
  oldest(place: number): number {
    let oldest = Number.POSITIVE_INFINITY;
    const start = this.start(place);
    const end = start + this.count(place);
    for (let i = start; i < end; i++) {
      const seen = this.slotU32[i * SLOT_WORDS + W_SEEN] as number;
      if (seen < oldest) oldest = seen;
    }
    return oldest === Number.POSITIVE_INFINITY ? oldest : this.base + oldest;
  }

  isSeeder(place: number, slot: number): boolean {
    return ((this.slotU8[this.at(place, slot) + B_FLAGS] as number) & SEEDER) !== 0;
  }

  setSeeder(place: number, slot: number, seeder: boolean): void {
    const at = this.at(place, slot) + B_FLAGS;
    const f = this.slotU8[at] as number;
    this.slotU8[at] = seeder ? f | SEEDER : f & ~SEEDER;
  }

  /** PeerTable's flag bits of the peer (HAS4, HAS_KEY, COMPLETED). */
  flags(place: number, slot: number): number {
    return (this.slotU8[this.at(place, slot) + B_FLAGS] as number) & PEER_BITS;
  }

  setFlag(place: number, slot: number, flag: number): void {
    (this.slotU8[this.at(place, slot) + B_FLAGS] as number) |= flag & PEER_BITS;
  }

  key(place: number, slot: number): number {
    return this.slotU32[(this.start(place) + slot) * SLOT_WORDS + W_KEY] as number;
  }

  setKey(place: number, slot: number, key: number): void {
    this.slotU32[(this.start(place) + slot) * SLOT_WORDS + W_KEY] = key;
    this.setFlag(place, slot, HAS_KEY);
  }

  lastSeen(place: number, slot: number): number {
    return this.base + (this.slotU32[(this.start(place) + slot) * SLOT_WORDS + W_SEEN] as number);
  }

  touch(place: number, slot: number, now: number): void {
    this.slotU32[(this.start(place) + slot) * SLOT_WORDS + W_SEEN] = this.offset(now);
  }

  setEndpoint4(place: number, slot: number, endpoint: Uint8Array): void {
    copyBytes(endpoint, 0, this.slotU8, this.at(place, slot) + B_EP4, EP4_SIZE);
    this.setFlag(place, slot, HAS4);
  }

  /** Same IPv4 address (port ignored) as the peer's endpoint. */
  sameIp4(place: number, slot: number, endpoint: Uint8Array): boolean {
    return (this.flags(place, slot) & HAS4) !== 0 && sameBytesN(this.slotU8, this.at(place, slot) + B_EP4, endpoint, 4);
  }

  copyId(place: number, slot: number, out: Uint8Array, pos: number): void {
    copyBytes(this.slotU8, this.at(place, slot) + B_ID, out, pos, ID_SIZE);
  }

  copyEndpoint4(place: number, slot: number, out: Uint8Array, pos: number): void {
    copyBytes(this.slotU8, this.at(place, slot) + B_EP4, out, pos, EP4_SIZE);
  }

  /** Bytes the buffers have room for (for tests and diagnostics; room never written is address space, not memory). */
  get bytes(): number {
    return this.places * PLACE_BYTES + this.slots * SLOT_BYTES;
  }

  /** The first slot of the place's run. */
  private start(place: number): number {
    return this.placeU32[place * PLACE_WORDS] as number;
  }

  /** Slots of the place's run (0: it has none). */
  private run(place: number): number {
    return this.placeU8[place * PLACE_BYTES + P_RUN] as number;
  }

  /** Byte offset of the place's `slot`. */
  private at(place: number, slot: number): number {
    return (this.start(place) + slot) * SLOT_BYTES;
  }

  /** Peers of the swarm whose flags have `flag`. */
  private withFlag(place: number, flag: number): number {
    let n = 0;
    const start = this.start(place);
    const end = start + this.count(place);
    const u8 = this.slotU8;
    for (let i = start; i < end; i++) if (((u8[i * SLOT_BYTES + B_FLAGS] as number) & flag) !== 0) n++;
    return n;
  }

  /** `now` as an offset after `base`, rebasing first when it nears 2^32. */
  private offset(now: number): number {
    if (Number.isNaN(this.base)) this.base = now - BASE_OFFSET;
    let offset = now - this.base;
    if (offset >= REBASE_AT) {
      this.rebase(now);
      offset = now - this.base;
    }
    // Clocks stepping back more than 24.8 days clamp to the oldest representable time.
    return offset > 0 ? offset : 0;
  }

  /** Moves `base` so that `now` sits 2^31 ms after it; every offset shifts down by the same amount. */
  private rebase(now: number): void {
    const shift = now - BASE_OFFSET - this.base;
    const u32 = this.slotU32;
    for (let i = 0; i < this.slotEnd; i++) {
      const s = (u32[i * SLOT_WORDS + W_SEEN] as number) - shift;
      u32[i * SLOT_WORDS + W_SEEN] = s > 0 ? s : 0;
    }
    this.base += shift;
  }

  /** Moves a full run's peers into a run of the next length. */
  private lengthenRun(place: number): void {
    const run = this.run(place);
    const longer = RUN_AFTER[run] as number;
    const from = this.start(place);
    const to = this.takeRun(longer);
    this.slotU8.copyWithin(to * SLOT_BYTES, from * SLOT_BYTES, (from + run) * SLOT_BYTES);
    this.freeRun(from, run);
    this.placeU8[place * PLACE_BYTES + P_RUN] = longer;
    this.placeU32[place * PLACE_WORDS] = to;
  }

  private moveSlot(from: number, to: number): void {
    this.slotU8.copyWithin(to * SLOT_BYTES, from * SLOT_BYTES, from * SLOT_BYTES + SLOT_BYTES);
  }

  private takeRun(length: number): number {
    this.slotsInUse += length;
    const reused = (this.freeRuns[length] as number[]).pop();
    if (reused !== undefined) return reused;
    if (this.slotEnd + length > this.slots) this.growSlots(this.slotEnd + length);
    const start = this.slotEnd;
    this.slotEnd += length;
    return start;
  }

  private freeRun(start: number, length: number): void {
    this.slotsInUse -= length;
    (this.freeRuns[length] as number[]).push(start);
  }

  /** Room for at least `slots` slots: doubles, in place. */
  private growSlots(slots: number): void {
    const capacity = doubled(this.slots, FIRST_SLOTS, slots, MAX_SLOT_BYTES / SLOT_BYTES);
    this.slotsBuffer.resize(capacity * SLOT_BYTES);
    this.slotU32 = new Uint32Array(this.slotsBuffer, 0, capacity * SLOT_WORDS);
    this.slotU8 = new Uint8Array(this.slotsBuffer, 0, capacity * SLOT_BYTES);
    this.slots = capacity;
  }

  /** Room for at least `places` places: doubles, in place. */
  private growPlaces(places: number): void {
    const capacity = doubled(this.places, FIRST_PLACES, places, MAX_PLACE_BYTES / PLACE_BYTES);
    this.placesBuffer.resize(capacity * PLACE_BYTES);
    this.placeU32 = new Uint32Array(this.placesBuffer, 0, capacity * PLACE_WORDS);
    this.placeU8 = new Uint8Array(this.placesBuffer, 0, capacity * PLACE_BYTES);
    this.places = capacity;
  }
}

/** `old` (or `first`) doubled until it holds `needed`, at most `max`. */
function doubled(old: number, first: number, needed: number, max: number): number {
  let capacity = old === 0 ? first : old;
  while (capacity < needed) capacity *= 2;
  capacity = Math.min(capacity, Math.floor(max));
  if (capacity < needed) throw new RangeError('the memory store has no room for more small swarms');
  return capacity;
}

/**
 * A small swarm seen through PeerTable's read interface, for code that reads
 * either (the state file, the stats page's peer list). Points at one place
 * at a time; reused.
 */
export class SmallSwarmPeers implements PeerSlots {
  private place = 0;

  constructor(private readonly swarms: SmallSwarms) {}

  at(place: number): this {
    this.place = place;
    return this;
  }

  get count(): number {
    return this.swarms.count(this.place);
  }

  flags(slot: number): number {
    return this.swarms.flags(this.place, slot);
  }

  isSeeder(slot: number): boolean {
    return this.swarms.isSeeder(this.place, slot);
  }

  key(slot: number): number {
    return this.swarms.key(this.place, slot);
  }

  lastSeen(slot: number): number {
    return this.swarms.lastSeen(this.place, slot);
  }

  copyId(slot: number, out: Uint8Array, pos: number): void {
    this.swarms.copyId(this.place, slot, out, pos);
  }

  copyEndpoint4(slot: number, out: Uint8Array, pos: number): void {
    this.swarms.copyEndpoint4(this.place, slot, out, pos);
  }

  copyEndpoint6(_slot: number, _out: Uint8Array, _pos: number): void {
    throw new Error('a small swarm has no IPv6 endpoint');
  }
}

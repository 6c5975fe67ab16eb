/**
 * Swarms of two to eight IPv4 peers, in columns shared by all of them.
 *
 * In a long tail most torrents with more than one peer have two or three. As
 * a PeerTable such a torrent costs ~200 bytes of JS object on top of its peers'
 * data (measured: 209 bytes of heap a table, beside its slab chunk; a table
 * past four peers also has an ArrayBuffer of its own, ~700 bytes); here its
 * peers are a run of slots in typed arrays, 35 bytes a slot, and there is no
 * object at all. The swarm is addressed by its torrent's place, the number
 * torrent-table.ts gives a row whose peers are not inline (the same numbering
 * as its PeerTables, so the seeder and leecher counts the stats thread reads
 * are mirrored the same way for both).
 *
 * A swarm's run has 2, 3, 4, 6 or 8 slots: it starts at 2 and moves to the
 * next length when full. Each step is at most 1.5x, so a run is at least two
 * thirds full once it has grown, and a swarm of three peers (a third of the
 * swarms of more than one, in a long tail) takes 3 slots, not 4. Moving a run
 * costs a copy of at most six slots. Freed runs are kept on a free list of their length and
 * reused before the columns grow (the columns stay at their peak, as a Map's
 * table does). Slots 0..count-1 of the run hold the peers, in no particular
 * order: with at most eight a scan is cheaper than keeping seeders first or
 * an index, and a peer is found by comparing ids, so there is no hash for
 * clients to aim at. A swarm that needs a ninth slot or gets an IPv6 endpoint
 * moves to a PeerTable; memory-store.ts decides when, and when it moves back.
 */

import { BASE_OFFSET, copyBytes, HAS_KEY, HAS4, type PeerSlots, REBASE_AT, sameBytesN } from './peer-table.js';
import { grown, grownCapacity } from './region-growth.js';

/** The most peers a small swarm holds: its longest run. */
export const SMALL_SLOTS = 8;
/** The run a full run of each length moves to (RUN_AFTER[run]). */
const RUN_AFTER = [0, 0, 3, 4, 6, 0, 8];
const FIRST_RUN = 2;
const ID_SIZE = 20;
const EP4_SIZE = 6;
/** Bytes of one slot in all columns: last seen, key, id, endpoint, flags. */
const SLOT_BYTES = 4 + 4 + ID_SIZE + EP4_SIZE + 1;
/** A slot's flags: PeerTable's bits (HAS4, HAS_KEY, COMPLETED; never HAS6) and this one. */
const SEEDER = 0x10;
const PEER_BITS = 0x0f;
const FIRST_PLACES = 64;
const FIRST_SLOTS = 256;

export class SmallSwarms {
  /** Places the per-place columns have room for. */
  private places = 0;
  /** Peers per place. */
  private counts = new Uint8Array(0);
  /** Slots of the place's run (0: it has none). */
  private runs = new Uint8Array(0);
  /** The first slot of the place's run. */
  private starts = new Uint32Array(0);
  /** Slots the per-slot columns have room for, and the end of those handed out. */
  private slots = 0;
  private slotEnd = 0;
  private flagsCol = new Uint8Array(0);
  private ids = new Uint8Array(0);
  private ep4 = new Uint8Array(0);
  private keys = new Uint32Array(0);
  /**
   * Last-seen times as ms after `base`, as a PeerTable keeps them (4 bytes
   * rather than a float64's 8), with one base for every slot: it starts
   * 2^31 ms (24.8 days) before the first time, and when offsets near 2^32
   * every slot is rebased in one pass (once in 24.8 days of uptime).
   */
  private seen = new Uint32Array(0);
  private base = Number.NaN;
  /** Freed runs by length (index 2, 3, 4, 6, 8). */
  private readonly freeRuns: number[][] = [[], [], [], [], [], [], [], [], []];
  /** Slots in the runs of open places (for tests and diagnostics: a run not given back stays counted). */
  slotsInUse = 0;

  /** Gives `place` an empty run. */
  open(place: number): void {
    if (place >= this.places) this.growPlaces(place + 1);
    this.counts[place] = 0;
    this.runs[place] = FIRST_RUN;
    this.starts[place] = this.takeRun(FIRST_RUN);
  }

  /** Gives the place's run back (the place is being given up, or its swarm moved). */
  close(place: number): void {
    const run = this.runs[place] as number;
    if (run === 0) return;
    this.freeRun(this.starts[place] as number, run);
    this.runs[place] = 0;
    this.counts[place] = 0;
  }

  /** Gives every run back (the store is emptied). */
  clear(): void {
    this.runs.fill(0);
    this.counts.fill(0);
    for (const list of this.freeRuns) list.length = 0;
    this.slotEnd = 0;
    this.slotsInUse = 0;
  }

  count(place: number): number {
    return this.counts[place] as number;
  }

  /** No room for another peer: the swarm needs a PeerTable. */
  full(place: number): boolean {
    return this.counts[place] === SMALL_SLOTS;
  }

  seeders(place: number): number {
    return this.withFlag(place, SEEDER);
  }

  /** Peers with an IPv4 endpoint. */
  count4(place: number): number {
    return this.withFlag(place, HAS4);
  }

  /** Peers of the swarm whose flags have `flag`. */
  private withFlag(place: number, flag: number): number {
    let n = 0;
    const start = this.starts[place] as number;
    const end = start + (this.counts[place] as number);
    for (let i = start; i < end; i++) if (((this.flagsCol[i] as number) & flag) !== 0) n++;
    return n;
  }

  /** The slot of the peer with this id, or -1. */
  find(place: number, id: Uint8Array): number {
    const ids = this.ids;
    const start = this.starts[place] as number;
    const n = this.counts[place] as number;
    for (let slot = 0; slot < n; slot++) if (sameBytesN(ids, (start + slot) * ID_SIZE, id, ID_SIZE)) return slot;
    return -1;
  }

  /** Adds a peer with no endpoint, key or flags; the caller has checked the swarm is not full and has no such id. */
  insert(place: number, id: Uint8Array, seeder: boolean, now: number): number {
    const slot = this.counts[place] as number;
    if (slot === this.runs[place]) this.lengthenRun(place);
    this.counts[place] = slot + 1;
    const i = (this.starts[place] as number) + slot;
    copyBytes(id, 0, this.ids, i * ID_SIZE, ID_SIZE);
    this.flagsCol[i] = seeder ? SEEDER : 0;
    this.seen[i] = this.offset(now);
    return slot;
  }

  /** Removes the peer in `slot`: the last peer takes its slot. */
  remove(place: number, slot: number): void {
    const last = (this.counts[place] as number) - 1;
    this.counts[place] = last;
    if (slot === last) return;
    const start = this.starts[place] as number;
    this.moveSlot(start + last, start + slot);
  }

  /** Removes every peer last seen at or before `cutoff`; returns how many. */
  removeSeenBefore(place: number, cutoff: number): number {
    let removed = 0;
    const start = this.starts[place] as number;
    const rel = cutoff - this.base; // compare offsets
    // Downwards: a removal fills `slot` from a higher slot, already visited.
    for (let slot = (this.counts[place] as number) - 1; slot >= 0; slot--) {
      if ((this.seen[start + slot] as number) <= rel) {
        this.remove(place, slot);
        removed++;
      }
    }
    return removed;
  }

  /** The earliest last-seen time of the swarm's peers (Infinity when it has none). */
  oldest(place: number): number {
    let oldest = Number.POSITIVE_INFINITY;
    const start = this.starts[place] as number;
    const end = start + (this.counts[place] as number);
    for (let i = start; i < end; i++) if ((this.seen[i] as number) < oldest) oldest = this.seen[i] as number;
    return oldest === Number.POSITIVE_INFINITY ? oldest : this.base + oldest;
  }

  isSeeder(place: number, slot: number): boolean {
    return ((this.flagsCol[(this.starts[place] as number) + slot] as number) & SEEDER) !== 0;
  }

  setSeeder(place: number, slot: number, seeder: boolean): void {
    const i = (this.starts[place] as number) + slot;
    const f = this.flagsCol[i] as number;
    this.flagsCol[i] = seeder ? f | SEEDER : f & ~SEEDER;
  }

  /** PeerTable's flag bits of the peer (HAS4, HAS_KEY, COMPLETED). */
  flags(place: number, slot: number): number {
    return (this.flagsCol[(this.starts[place] as number) + slot] as number) & PEER_BITS;
  }

  setFlag(place: number, slot: number, flag: number): void {
    (this.flagsCol[(this.starts[place] as number) + slot] as number) |= flag & PEER_BITS;
  }

  key(place: number, slot: number): number {
    return this.keys[(this.starts[place] as number) + slot] as number;
  }

  setKey(place: number, slot: number, key: number): void {
    this.keys[(this.starts[place] as number) + slot] = key;
    this.setFlag(place, slot, HAS_KEY);
  }

  lastSeen(place: number, slot: number): number {
    return this.base + (this.seen[(this.starts[place] as number) + slot] as number);
  }

  touch(place: number, slot: number, now: number): void {
    this.seen[(this.starts[place] as number) + slot] = this.offset(now);
  }

  setEndpoint4(place: number, slot: number, endpoint: Uint8Array): void {
    copyBytes(endpoint, 0, this.ep4, ((this.starts[place] as number) + slot) * EP4_SIZE, EP4_SIZE);
    this.setFlag(place, slot, HAS4);
  }

  /** Same IPv4 address (port ignored) as the peer's endpoint. */
  sameIp4(place: number, slot: number, endpoint: Uint8Array): boolean {
    const at = ((this.starts[place] as number) + slot) * EP4_SIZE;
    return (this.flags(place, slot) & HAS4) !== 0 && sameBytesN(this.ep4, at, endpoint, 4);
  }

  copyId(place: number, slot: number, out: Uint8Array, pos: number): void {
    copyBytes(this.ids, ((this.starts[place] as number) + slot) * ID_SIZE, out, pos, ID_SIZE);
  }

  copyEndpoint4(place: number, slot: number, out: Uint8Array, pos: number): void {
    copyBytes(this.ep4, ((this.starts[place] as number) + slot) * EP4_SIZE, out, pos, EP4_SIZE);
  }

  /** Bytes of the columns (for tests and diagnostics). */
  get bytes(): number {
    return this.places * 6 + this.slots * SLOT_BYTES;
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
    const seen = this.seen;
    for (let i = 0; i < this.slotEnd; i++) {
      const s = (seen[i] as number) - shift;
      seen[i] = s > 0 ? s : 0;
    }
    this.base += shift;
  }

  /** Moves a full run's peers into a run of the next length. */
  private lengthenRun(place: number): void {
    const run = this.runs[place] as number;
    const longer = RUN_AFTER[run] as number;
    const from = this.starts[place] as number;
    const to = this.takeRun(longer); // may grow the columns: copy after
    for (let i = 0; i < run; i++) this.moveSlot(from + i, to + i);
    this.freeRun(from, run);
    this.runs[place] = longer;
    this.starts[place] = to;
  }

  private moveSlot(from: number, to: number): void {
    this.ids.copyWithin(to * ID_SIZE, from * ID_SIZE, from * ID_SIZE + ID_SIZE);
    this.ep4.copyWithin(to * EP4_SIZE, from * EP4_SIZE, from * EP4_SIZE + EP4_SIZE);
    this.flagsCol[to] = this.flagsCol[from] as number;
    this.keys[to] = this.keys[from] as number;
    this.seen[to] = this.seen[from] as number;
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

  /**
   * Room for at least `slots` slots (region-growth.ts). All slot columns
   * share one buffer, as torrent-table.ts does and for its reason: glibc
   * maps a large buffer on its own and unmaps it when freed, where separate
   * column arrays would leave holes in its heap.
   */
  private growSlots(slots: number): void {
    const capacity = grownCapacity(this.slots, FIRST_SLOTS, slots, (n) => n * SLOT_BYTES);
    const buffer = new ArrayBuffer(capacity * SLOT_BYTES);
    let at = 0;
    const seen = new Uint32Array(buffer, at, capacity);
    at += capacity * 4;
    const keys = new Uint32Array(buffer, at, capacity);
    at += capacity * 4;
    const ids = new Uint8Array(buffer, at, capacity * ID_SIZE);
    at += capacity * ID_SIZE;
    const ep4 = new Uint8Array(buffer, at, capacity * EP4_SIZE);
    at += capacity * EP4_SIZE;
    this.seen = grown(this.seen, seen);
    this.keys = grown(this.keys, keys);
    this.ids = grown(this.ids, ids);
    this.ep4 = grown(this.ep4, ep4);
    this.flagsCol = grown(this.flagsCol, new Uint8Array(buffer, at, capacity));
    this.slots = capacity;
  }

  private growPlaces(places: number): void {
    const capacity = grownCapacity(this.places, FIRST_PLACES, places, (n) => n * 6);
    const buffer = new ArrayBuffer(capacity * 6);
    this.starts = grown(this.starts, new Uint32Array(buffer, 0, capacity));
    this.counts = grown(this.counts, new Uint8Array(buffer, capacity * 4, capacity));
    this.runs = grown(this.runs, new Uint8Array(buffer, capacity * 5, capacity));
    this.places = capacity;
  }
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

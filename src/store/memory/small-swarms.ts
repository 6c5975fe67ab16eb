/**
 * Swarms of two to four IPv4 peers, in columns shared by all of them.
 *
 * In a long tail most torrents with more than one peer have two or three. As
 * a PeerTable such a torrent costs ~200 bytes of JS object on top of its peers'
 * data (measured: 209 bytes of heap a table, beside its slab chunk); here its
 * peers are four fixed slots in typed arrays (~160 bytes whatever the count)
 * and there is no object at all. The swarm is addressed by its torrent's
 * place, the number torrent-table.ts gives a row whose peers are not inline
 * (the same numbering as its PeerTables, so the seeder and leecher counts the
 * stats thread reads are mirrored the same way for both).
 *
 * Slots 0..count-1 hold the peers, in no particular order: with four slots a
 * scan is cheaper than keeping seeders first or an index. A peer is found by
 * comparing ids, so there is no hash for clients to aim at. A swarm that needs
 * a fifth slot or gets an IPv6 endpoint moves to a PeerTable; memory-store.ts
 * decides when, and when a swarm moves back.
 */

import { copyBytes, HAS_KEY, HAS4, type PeerSlots } from './peer-table.js';

export const SMALL_SLOTS = 4;
const ID_SIZE = 20;
const EP4_SIZE = 6;
/** A slot's flags: PeerTable's bits (HAS4, HAS_KEY, COMPLETED; never HAS6) and this one. */
const SEEDER = 0x10;
const PEER_BITS = 0x0f;
const FIRST_PLACES = 64;

export class SmallSwarms {
  private places = 0;
  /** Peers per place. */
  private counts = new Uint8Array(0);
  private flagsCol = new Uint8Array(0);
  private ids = new Uint8Array(0);
  private ep4 = new Uint8Array(0);
  private keys = new Uint32Array(0);
  /** Last-seen epoch ms. */
  private seen = new Float64Array(0);

  /** Makes `place` usable and empty. */
  open(place: number): void {
    if (place >= this.places) this.grow(place + 1);
    this.counts[place] = 0;
  }

  count(place: number): number {
    return this.counts[place] as number;
  }

  seeders(place: number): number {
    let n = 0;
    const end = place * SMALL_SLOTS + (this.counts[place] as number);
    for (let i = place * SMALL_SLOTS; i < end; i++) if (((this.flagsCol[i] as number) & SEEDER) !== 0) n++;
    return n;
  }

  /** Peers with an IPv4 endpoint. */
  count4(place: number): number {
    let n = 0;
    const end = place * SMALL_SLOTS + (this.counts[place] as number);
    for (let i = place * SMALL_SLOTS; i < end; i++) if (((this.flagsCol[i] as number) & HAS4) !== 0) n++;
    return n;
  }

  /** The slot of the peer with this id, or -1. */
  find(place: number, id: Uint8Array): number {
    const ids = this.ids;
    const n = this.counts[place] as number;
    for (let slot = 0; slot < n; slot++) {
      const at = (place * SMALL_SLOTS + slot) * ID_SIZE;
      let i = 0;
      while (i < ID_SIZE && ids[at + i] === id[i]) i++;
      if (i === ID_SIZE) return slot;
    }
    return -1;
  }

  /** Adds a peer with no endpoint, key or flags; the caller has checked there is room and no such id. */
  insert(place: number, id: Uint8Array, seeder: boolean, now: number): number {
    const slot = this.counts[place] as number;
    this.counts[place] = slot + 1;
    const i = place * SMALL_SLOTS + slot;
    copyBytes(id, 0, this.ids, i * ID_SIZE, ID_SIZE);
    this.flagsCol[i] = seeder ? SEEDER : 0;
    this.seen[i] = now;
    return slot;
  }

  /** Removes the peer in `slot`: the last peer takes its slot. */
  remove(place: number, slot: number): void {
    const last = (this.counts[place] as number) - 1;
    this.counts[place] = last;
    if (slot === last) return;
    const to = place * SMALL_SLOTS + slot;
    const from = place * SMALL_SLOTS + last;
    this.ids.copyWithin(to * ID_SIZE, from * ID_SIZE, from * ID_SIZE + ID_SIZE);
    this.ep4.copyWithin(to * EP4_SIZE, from * EP4_SIZE, from * EP4_SIZE + EP4_SIZE);
    this.flagsCol[to] = this.flagsCol[from] as number;
    this.keys[to] = this.keys[from] as number;
    this.seen[to] = this.seen[from] as number;
  }

  /** Removes every peer last seen at or before `cutoff`; returns how many. */
  removeSeenBefore(place: number, cutoff: number): number {
    let removed = 0;
    // Downwards: a removal fills `slot` from a higher slot, already visited.
    for (let slot = (this.counts[place] as number) - 1; slot >= 0; slot--) {
      if ((this.seen[place * SMALL_SLOTS + slot] as number) <= cutoff) {
        this.remove(place, slot);
        removed++;
      }
    }
    return removed;
  }

  /** The earliest last-seen time of the swarm's peers (Infinity when it has none). */
  oldest(place: number): number {
    let oldest = Number.POSITIVE_INFINITY;
    const end = place * SMALL_SLOTS + (this.counts[place] as number);
    for (let i = place * SMALL_SLOTS; i < end; i++)
      if ((this.seen[i] as number) < oldest) oldest = this.seen[i] as number;
    return oldest;
  }

  isSeeder(place: number, slot: number): boolean {
    return ((this.flagsCol[place * SMALL_SLOTS + slot] as number) & SEEDER) !== 0;
  }

  setSeeder(place: number, slot: number, seeder: boolean): void {
    const i = place * SMALL_SLOTS + slot;
    const f = this.flagsCol[i] as number;
    this.flagsCol[i] = seeder ? f | SEEDER : f & ~SEEDER;
  }

  /** PeerTable's flag bits of the peer (HAS4, HAS_KEY, COMPLETED). */
  flags(place: number, slot: number): number {
    return (this.flagsCol[place * SMALL_SLOTS + slot] as number) & PEER_BITS;
  }

  setFlag(place: number, slot: number, flag: number): void {
    (this.flagsCol[place * SMALL_SLOTS + slot] as number) |= flag & PEER_BITS;
  }

  key(place: number, slot: number): number {
    return this.keys[place * SMALL_SLOTS + slot] as number;
  }

  setKey(place: number, slot: number, key: number): void {
    this.keys[place * SMALL_SLOTS + slot] = key;
    this.setFlag(place, slot, HAS_KEY);
  }

  lastSeen(place: number, slot: number): number {
    return this.seen[place * SMALL_SLOTS + slot] as number;
  }

  touch(place: number, slot: number, now: number): void {
    this.seen[place * SMALL_SLOTS + slot] = now;
  }

  setEndpoint4(place: number, slot: number, endpoint: Uint8Array): void {
    copyBytes(endpoint, 0, this.ep4, (place * SMALL_SLOTS + slot) * EP4_SIZE, EP4_SIZE);
    this.setFlag(place, slot, HAS4);
  }

  /** Same IPv4 address (port ignored) as the peer's endpoint. */
  sameIp4(place: number, slot: number, endpoint: Uint8Array): boolean {
    if ((this.flags(place, slot) & HAS4) === 0) return false;
    const at = (place * SMALL_SLOTS + slot) * EP4_SIZE;
    for (let i = 0; i < 4; i++) if (this.ep4[at + i] !== endpoint[i]) return false;
    return true;
  }

  copyId(place: number, slot: number, out: Uint8Array, pos: number): void {
    copyBytes(this.ids, (place * SMALL_SLOTS + slot) * ID_SIZE, out, pos, ID_SIZE);
  }

  copyEndpoint4(place: number, slot: number, out: Uint8Array, pos: number): void {
    copyBytes(this.ep4, (place * SMALL_SLOTS + slot) * EP4_SIZE, out, pos, EP4_SIZE);
  }

  /** The id of the peer in `slot`, as a view (valid until the swarm changes). */
  idView(place: number, slot: number): Uint8Array {
    const at = (place * SMALL_SLOTS + slot) * ID_SIZE;
    return this.ids.subarray(at, at + ID_SIZE);
  }

  /** The endpoint of the peer in `slot`, as a view (valid until the swarm changes). */
  endpoint4View(place: number, slot: number): Uint8Array {
    const at = (place * SMALL_SLOTS + slot) * EP4_SIZE;
    return this.ep4.subarray(at, at + EP4_SIZE);
  }

  /** Bytes of the columns (for tests and diagnostics). */
  get bytes(): number {
    return this.places * bytesPerPlace();
  }

  /**
   * Room for at least `places` places, by 1.5x (1.25x past a million). All
   * columns share one buffer, as torrent-table.ts does and for its reason:
   * glibc maps a large buffer on its own and unmaps it when freed, where
   * separate column arrays would leave holes in its heap.
   */
  private grow(places: number): void {
    const old = this.places;
    let capacity = old === 0 ? FIRST_PLACES : old;
    while (capacity < places) capacity += capacity >= 1 << 20 ? capacity >> 2 : capacity >> 1;
    const buffer = new ArrayBuffer(capacity * bytesPerPlace());
    const slots = capacity * SMALL_SLOTS;
    let at = 0;
    const seen = new Float64Array(buffer, at, slots);
    at += slots * 8;
    const keys = new Uint32Array(buffer, at, slots);
    at += slots * 4;
    const ids = new Uint8Array(buffer, at, slots * ID_SIZE);
    at += slots * ID_SIZE;
    const ep4 = new Uint8Array(buffer, at, slots * EP4_SIZE);
    at += slots * EP4_SIZE;
    const flags = new Uint8Array(buffer, at, slots);
    at += slots;
    const counts = new Uint8Array(buffer, at, capacity);
    seen.set(this.seen);
    keys.set(this.keys);
    ids.set(this.ids);
    ep4.set(this.ep4);
    flags.set(this.flagsCol);
    counts.set(this.counts);
    this.seen = seen;
    this.keys = keys;
    this.ids = ids;
    this.ep4 = ep4;
    this.flagsCol = flags;
    this.counts = counts;
    this.places = capacity;
  }
}

function bytesPerPlace(): number {
  return SMALL_SLOTS * (8 + 4 + ID_SIZE + EP4_SIZE + 1) + 1;
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

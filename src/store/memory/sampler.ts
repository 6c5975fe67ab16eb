import type { StoreAnnounce, StoreAnnounceResult } from '../swarm-store.js';
import { HAS4, HAS6, type PeerTable } from './peer-table.js';
import { SMALL_SLOTS, type SmallSwarms } from './small-swarms.js';

/**
 * The memory store's peer sampling: which peers an announce is given. Apart
 * from memory-store.ts because it is an algorithm of its own (and the hottest
 * code of an announce); all its state is module-level and reused, so a call
 * allocates only the reply buffers.
 */

const EMPTY = Buffer.alloc(0);
/** Below this many candidates per wanted peer, sampling shuffles the whole range. */
const SHUFFLE_FACTOR = 4;
/** Adjacent slots taken per random draw in big ranges (see samplePeers()). */
const RUN = 8;

/** Scratch for partial Fisher–Yates shuffles; grows to the largest range shuffled. */
let scratch = new Int32Array(1024);

/** What one sampling call fills; one module-level instance, reused (no closures or garbage per announce). */
const pick = {
  table: undefined as unknown as PeerTable,
  self: -1,
  want: 0,
  want4: false,
  want6: false,
  withIds: false,
  /** IPv4 only, no peer ids, and every peer of the table has an IPv4 endpoint (the common case). */
  only4: false,
  buf4: EMPTY,
  buf6: EMPTY,
  ids4: EMPTY,
  ids6: EMPTY,
  n4: 0,
  n6: 0,
};

/**
 * Slots already drawn in this call: an open-addressing set cleared by bumping a
 * generation (a stamp that survives a 2^32 wrap only makes a draw count as a
 * repeat: one fewer peer, never a wrong one). Draws per call are capped at half
 * its size, so probes stay short.
 */
const DRAWN_SIZE = 4096;
const drawnSlot = new Int32Array(DRAWN_SIZE);
const drawnGen = new Uint32Array(DRAWN_SIZE);
let generation = 0;

/** Adds `slot` to this call's drawn set; false if it was already there. */
function drawOnce(slot: number): boolean {
  let i = Math.imul(slot, 0x9e3779b1) >>> 20; // 12 bits: DRAWN_SIZE
  for (;;) {
    if (drawnGen[i] !== generation) {
      drawnGen[i] = generation;
      drawnSlot[i] = slot;
      return true;
    }
    if (drawnSlot[i] === slot) return false;
    i = (i + 1) & (DRAWN_SIZE - 1);
  }
}

function take(slot: number): void {
  const p = pick;
  if (slot === p.self) return;
  if (p.only4) {
    // Every peer has an IPv4 endpoint and only those are wanted: copy, no checks.
    p.table.copyEndpoint4(slot, p.buf4, p.n4++ * 6);
    return;
  }
  const flags = p.table.flags(slot);
  if (p.want4 && (flags & HAS4) !== 0 && p.n4 < p.want) {
    p.table.copyEndpoint4(slot, p.buf4, p.n4 * 6);
    if (p.withIds) p.table.copyId(slot, p.ids4, p.n4 * 20);
    p.n4++;
  }
  if (p.want6 && (flags & HAS6) !== 0 && p.n6 < p.want) {
    p.table.copyEndpoint6(slot, p.buf6, p.n6 * 18);
    if (p.withIds) p.table.copyId(slot, p.ids6, p.n6 * 20);
    p.n6++;
  }
}

function full(): boolean {
  const p = pick;
  return (!p.want4 || p.n4 >= p.want) && (!p.want6 || p.n6 >= p.want);
}

/**
 * A uniform random sample without replacement from the requester's candidates
 * (a seeder's are the leechers; a leecher's are everyone), skipping itself.
 * Each wanted family fills up to numWant entries. Small ranges are shuffled
 * (partial Fisher–Yates); in large ones distinct slots are drawn at random in
 * short runs of adjacent slots (each candidate equally likely; neighbours in a
 * run come together, as in opentracker's bucket walks),
 * with a bounded number of draws so a requester of a family few peers have
 * cannot make one announce walk a huge swarm.
 */
export function samplePeers(table: PeerTable, self: number, req: StoreAnnounce, out: StoreAnnounceResult): void {
  const lo = table.isSeeder(self) ? table.seeders : 0;
  const hi = table.count;
  const range = hi - lo;
  const selfIn = self >= lo ? 1 : 0;
  const want = Math.min(req.numWant, range - selfIn);
  if (want <= 0) return;
  const p = pick;
  p.table = table;
  p.self = self;
  p.want = want;
  p.want4 = req.want4 && table.count4 > 0;
  p.want6 = req.want6 && table.count6 > 0;
  p.withIds = req.withPeerIds;
  p.only4 = p.want4 && !p.want6 && !p.withIds && table.count4 === table.count;
  p.buf4 = p.want4 ? Buffer.allocUnsafe(want * 6) : EMPTY;
  p.buf6 = p.want6 ? Buffer.allocUnsafe(want * 18) : EMPTY;
  p.ids4 = p.want4 && p.withIds ? Buffer.allocUnsafe(want * 20) : EMPTY;
  p.ids6 = p.want6 && p.withIds ? Buffer.allocUnsafe(want * 20) : EMPTY;
  p.n4 = 0;
  p.n6 = 0;

  if (range - selfIn <= want) {
    if (p.only4) {
      // Everyone is wanted: the endpoints are one contiguous run, minus the requester's.
      if (selfIn === 0) table.copyEndpoints4(lo, hi, p.buf4, 0);
      else {
        table.copyEndpoints4(lo, self, p.buf4, 0);
        table.copyEndpoints4(self + 1, hi, p.buf4, (self - lo) * 6);
      }
      p.n4 = range - selfIn;
    } else {
      for (let slot = lo; slot < hi; slot++) take(slot);
    }
  } else if (range <= want * SHUFFLE_FACTOR) {
    if (scratch.length < range) scratch = new Int32Array(range * 2);
    for (let i = 0; i < range; i++) scratch[i] = lo + i;
    for (let i = 0; i < range && !full(); i++) {
      const j = i + Math.floor(Math.random() * (range - i));
      const picked = scratch[j] as number;
      scratch[j] = scratch[i] as number;
      take(picked);
    }
  } else {
    generation = (generation + 1) >>> 0 || 1;
    // Draws are runs of RUN adjacent slots from a random start (wrapping at
    // the range's end): every candidate is still equally likely, and a run is
    // one or two cache lines of endpoints where independent slots would each be
    // a cache miss in a big table.
    const maxDraws = Math.min(want * SHUFFLE_FACTOR + 64, DRAWN_SIZE >> 1);
    for (let i = 0; i < maxDraws && !full(); i += RUN) {
      let slot = lo + Math.floor(Math.random() * range);
      for (let k = 0; k < RUN && !full(); k++) {
        if (drawOnce(slot)) take(slot);
        if (++slot === hi) slot = lo;
      }
    }
  }
  out.peers4 = p.n4 > 0 ? p.buf4.subarray(0, p.n4 * 6) : EMPTY;
  out.peers6 = p.n6 > 0 ? p.buf6.subarray(0, p.n6 * 18) : EMPTY;
  if (req.withPeerIds) {
    out.peerIds4 = p.n4 > 0 ? p.ids4.subarray(0, p.n4 * 20) : EMPTY;
    out.peerIds6 = p.n6 > 0 ? p.ids6.subarray(0, p.n6 * 20) : EMPTY;
  }
  p.table = undefined as unknown as PeerTable; // do not keep a dropped swarm alive
}

/** The candidates of one small-swarm sampling call (reused). */
const smallPicks = new Int32Array(SMALL_SLOTS);

/**
 * samplePeers() for a small swarm (small-swarms.ts): the same candidates (a
 * seeder's are the leechers; a leecher's are everyone), of whom at most seven
 * have an endpoint to give, so they are gathered and, when fewer are wanted,
 * shuffled. A small swarm has no IPv6 endpoints.
 */
export function sampleSmallSwarm(
  swarms: SmallSwarms,
  place: number,
  self: number,
  req: StoreAnnounce,
  out: StoreAnnounceResult,
): void {
  if (!req.want4) return;
  const seederAsks = swarms.isSeeder(place, self);
  let n = 0;
  for (let slot = 0, end = swarms.count(place); slot < end; slot++) {
    if (slot === self || (seederAsks && swarms.isSeeder(place, slot))) continue;
    if ((swarms.flags(place, slot) & HAS4) !== 0) smallPicks[n++] = slot;
  }
  const want = Math.min(req.numWant, n);
  if (want <= 0) return;
  for (let i = 0; i < want && want < n; i++) {
    const j = i + Math.floor(Math.random() * (n - i));
    const picked = smallPicks[j] as number;
    smallPicks[j] = smallPicks[i] as number;
    smallPicks[i] = picked;
  }
  const buf4 = Buffer.allocUnsafe(want * 6);
  const ids4 = req.withPeerIds ? Buffer.allocUnsafe(want * 20) : EMPTY;
  for (let i = 0; i < want; i++) {
    const slot = smallPicks[i] as number;
    swarms.copyEndpoint4(place, slot, buf4, i * 6);
    if (req.withPeerIds) swarms.copyId(place, slot, ids4, i * 20);
  }
  out.peers4 = buf4;
  if (req.withPeerIds) {
    out.peerIds4 = ids4;
    out.peerIds6 = EMPTY;
  }
}

import { randomBytes } from 'node:crypto';
import type {
  StoreAnnounce,
  StoreAnnounceResult,
  StoredPeer,
  StoreOptions,
  SwarmCounts,
  SwarmStore,
  SwarmTotals,
  TorrentScan,
  TorrentSummary,
} from '../swarm-store.js';
import { COMPLETED, HAS_KEY, HAS4, HAS6, PeerTable } from './peer-table.js';

/**
 * The embedded store: swarms in process memory.
 *
 * Each torrent's peers are packed in a PeerTable (typed arrays, ~50 bytes a
 * peer, no garbage per announce). Expiry is exact without timers per peer:
 * every table knows a lower bound of its peers' last-seen times, so an
 * announce or scrape prunes its table only when something there can have
 * expired. The torrent map is kept ordered by the second of each torrent's last
 * announce (re-inserted when that second changes), so torrents whose peers all
 * expired sit at its head and are dropped in O(dropped); a background sweep
 * walks the rest in bounded slices so idle tables release their memory.
 */
class Swarm {
  readonly peers = new PeerTable();
  downloaded = 0;
  /** Epoch ms of the last announce that was not a stop. */
  lastAnnounce = 0;
  /** floor(lastAnnounce / 1000): the torrent map is ordered by it. */
  second = 0;
}

const EMPTY = Buffer.alloc(0);
const SWEEP_TICK_MS = 1000;
const SWEEP_SLICE = 10_000;
/** Below this many candidates per wanted peer, sampling shuffles the whole range. */
const SHUFFLE_FACTOR = 4;
/** Adjacent slots taken per random draw in big ranges (see sample()). */
const RUN = 8;

/** Scratch for partial Fisher–Yates shuffles; grows to the largest range shuffled. */
let scratch = new Int32Array(1024);

export class MemoryStore implements SwarmStore {
  readonly kind = 'memory';
  private readonly swarms = new Map<string, Swarm>();
  /**
   * Downloaded counts of torrents whose last peer left, by info hash, in the
   * order they left (so roughly oldest first): a torrent that comes back
   * within `downloadedTtl` keeps its count (as on Redis). Dropped after the TTL.
   */
  private readonly retired = new Map<string, { downloaded: number; at: number }>();
  private readonly downloadedTtl: number;
  /**
   * At most this many retired counts (about 130 bytes each); past it the
   * oldest go first. Without a cap, `completed` announces to random info
   * hashes would pin memory for the whole downloaded TTL.
   */
  private readonly retiredMax: number;
  private readonly secrets = new Map<string, Buffer>();
  private readonly ttl: number;
  private readonly now: () => number;
  private sweepCursor: Iterator<[string, Swarm]> | undefined;
  private scanState: { position: number; iterator: Iterator<[string, Swarm]> } | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly counts = { peers: 0, seeders: 0, peers4: 0, peers6: 0, downloaded: 0 };

  constructor(options: StoreOptions & { backgroundSweep?: boolean; downloadedTtlMs?: number; retiredMax?: number }) {
    this.ttl = options.peerTtlMs;
    this.downloadedTtl = Math.max(options.downloadedTtlMs ?? 30 * 86_400_000, this.ttl);
    this.retiredMax = options.retiredMax ?? 100_000;
    this.now = options.now;
    if (options.backgroundSweep !== false) {
      this.timer = setInterval(() => this.sweep(SWEEP_SLICE), SWEEP_TICK_MS);
      this.timer.unref();
    }
  }

  async announce(req: StoreAnnounce): Promise<StoreAnnounceResult> {
    return this.announceSync(req);
  }

  /** Synchronous core of announce (the memory store never waits). */
  announceSync(req: StoreAnnounce): StoreAnnounceResult {
    const now = this.now();
    const hashKey = req.infoHash.toString('latin1');
    let swarm = this.swarms.get(hashKey);
    if (swarm === undefined) {
      if (req.event === 'stopped') return result(undefined, 'ok');
      swarm = new Swarm();
      this.swarms.set(hashKey, swarm);
      const back = this.retired.get(hashKey);
      if (back !== undefined) {
        this.retired.delete(hashKey);
        swarm.downloaded = back.downloaded;
        this.counts.downloaded += back.downloaded;
      }
    }
    const table = swarm.peers;
    const before = this.snapshot(table);
    this.prune(swarm, now);
    let slot = table.find(req.peerId);

    if (slot >= 0 && (table.flags(slot) & HAS_KEY) !== 0 && req.key !== table.key(slot)) {
      const same =
        (req.ipv4 !== null && table.sameIp4(slot, req.ipv4)) || (req.ipv6 !== null && table.sameIp6(slot, req.ipv6));
      if (!same) {
        this.account(table, before);
        return result(swarm, 'key-mismatch');
      }
    }

    if (req.event === 'stopped') {
      if (slot >= 0) table.remove(slot);
      this.account(table, before);
      if (table.count === 0) this.dropSwarm(hashKey, swarm);
      return result(swarm, 'ok');
    }

    if (slot < 0) slot = table.insert(req.peerId, req.seeder, now);
    else slot = table.setSeeder(slot, req.seeder);
    table.touch(slot, now);
    // An endpoint replaces the stored one of its family; a family the announce
    // did not speak for is kept (dual-stack clients announce over each family).
    if (req.ipv4 !== null) table.setEndpoint4(slot, req.ipv4);
    if (req.ipv6 !== null) table.setEndpoint6(slot, req.ipv6);
    if (req.key !== undefined) table.setKey(slot, req.key);
    if (req.event === 'completed' && (table.flags(slot) & COMPLETED) === 0) {
      table.setFlag(slot, COMPLETED);
      swarm.downloaded++;
      this.counts.downloaded++;
    }
    this.account(table, before);

    swarm.lastAnnounce = now;
    const second = Math.floor(now / 1000);
    if (swarm.second !== second) {
      swarm.second = second;
      this.swarms.delete(hashKey); // re-insert at the end: the map stays ordered by second
      this.swarms.set(hashKey, swarm);
    }

    const out = result(swarm, 'ok');
    if (req.numWant > 0) sample(table, slot, req, out);
    return out;
  }

  async scrape(infoHashes: readonly Buffer[]): Promise<SwarmCounts[]> {
    const now = this.now();
    return infoHashes.map((hash) => {
      const key = hash.toString('latin1');
      const swarm = this.swarms.get(key);
      if (!swarm) return { complete: 0, incomplete: 0, downloaded: this.retiredDownloaded(key, now) };
      this.pruneCounted(swarm, now);
      return { complete: swarm.peers.seeders, incomplete: swarm.peers.leechers, downloaded: swarm.downloaded };
    });
  }

  async scanTorrents(cursor: string, count: number): Promise<TorrentScan> {
    // The cursor is a position in the torrent map's order. Torrents re-announced
    // during a scan move to the end, so, as with Redis SCAN, one may be seen
    // twice. The last iterator is kept so that a scan continues in O(count).
    const start = Number(cursor) || 0;
    let position = start;
    let iterator: Iterator<[string, Swarm]>;
    if (start > 0 && this.scanState?.position === start) {
      iterator = this.scanState.iterator;
    } else {
      iterator = this.swarms.entries();
      for (let i = 0; i < start && !iterator.next().done; i++);
    }
    const now = this.now();
    const torrents: TorrentSummary[] = [];
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      position++;
      const [key, swarm] = next.value;
      this.pruneCounted(swarm, now);
      if (swarm.peers.count > 0) {
        torrents.push({
          infoHash: Buffer.from(key, 'latin1'),
          complete: swarm.peers.seeders,
          incomplete: swarm.peers.leechers,
          downloaded: swarm.downloaded,
          lastAnnounce: swarm.lastAnnounce,
        });
      }
      if (torrents.length >= count) {
        this.scanState = { position, iterator };
        return { cursor: String(position), torrents };
      }
    }
    this.scanState = undefined;
    return { cursor: '0', torrents };
  }

  async torrentPeers(infoHash: Buffer, limit: number): Promise<StoredPeer[]> {
    const swarm = this.swarms.get(infoHash.toString('latin1'));
    if (!swarm) return [];
    this.pruneCounted(swarm, this.now());
    const table = swarm.peers;
    const out: StoredPeer[] = [];
    for (let slot = 0; slot < table.count && out.length < limit; slot++) {
      const flags = table.flags(slot);
      const peerId = Buffer.allocUnsafe(20);
      table.copyId(slot, peerId, 0);
      let ipv4: Buffer | null = null;
      let ipv6: Buffer | null = null;
      if (flags & HAS4) table.copyEndpoint4(slot, (ipv4 = Buffer.allocUnsafe(6)), 0);
      if (flags & HAS6) table.copyEndpoint6(slot, (ipv6 = Buffer.allocUnsafe(18)), 0);
      out.push({ peerId, ipv4, ipv6, seeder: table.isSeeder(slot), lastSeen: table.lastSeen(slot) });
    }
    return out;
  }

  async totals(): Promise<SwarmTotals> {
    this.dropExpiredSwarms(this.now());
    const c = this.counts;
    return {
      torrents: this.swarms.size,
      peers: c.peers,
      seeders: c.seeders,
      leechers: c.peers - c.seeders,
      peers4: c.peers4,
      peers6: c.peers6,
      downloaded: c.downloaded,
    };
  }

  /** Torrents held in memory, including expired ones the sweep has not reached yet. */
  get heldTorrents(): number {
    return this.swarms.size;
  }

  async sharedSecret(name: string, bytes: number): Promise<Buffer> {
    let secret = this.secrets.get(name);
    if (!secret) {
      secret = randomBytes(bytes);
      this.secrets.set(name, secret);
    }
    return secret;
  }

  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
  }

  /**
   * Drops expired torrents and prunes up to `maxSwarms` torrents in all,
   * continuing where the previous call stopped. Bounded so a sweep never pauses
   * the process for long; exposed for tests that drive the clock by hand.
   */
  sweep(maxSwarms = Number.POSITIVE_INFINITY): void {
    const now = this.now();
    this.dropRetired(now, maxSwarms);
    let visited = this.dropExpiredSwarms(now, maxSwarms);
    while (visited < maxSwarms) {
      if (!this.sweepCursor) this.sweepCursor = this.swarms.entries();
      const next = this.sweepCursor.next();
      if (next.done) {
        this.sweepCursor = undefined;
        return;
      }
      visited++;
      const [key, swarm] = next.value;
      this.pruneCounted(swarm, now);
      if (swarm.peers.count === 0) this.dropSwarm(key, swarm);
    }
  }

  /**
   * Torrents at the head of the map announced in the oldest seconds; those whose
   * last announce is past the TTL have no live peer left. Stops at the first
   * second that may still hold a live torrent, so the cost is O(dropped).
   */
  private dropExpiredSwarms(now: number, max = Number.POSITIVE_INFINITY): number {
    let dropped = 0;
    for (const [key, swarm] of this.swarms) {
      if (swarm.second * 1000 + this.ttl > now || dropped >= max) break;
      if (swarm.lastAnnounce + this.ttl > now) continue; // same second, still live
      dropped++;
      const before = this.snapshot(swarm.peers);
      swarm.peers.removeSeenBefore(Number.POSITIVE_INFINITY);
      this.account(swarm.peers, before);
      this.dropSwarm(key, swarm);
    }
    return dropped;
  }

  /** Removes the swarm's expired peers (the caller accounts for the change). */
  private prune(swarm: Swarm, now: number): void {
    const cutoff = now - this.ttl;
    if (swarm.peers.oldest <= cutoff) swarm.peers.removeSeenBefore(cutoff);
  }

  private pruneCounted(swarm: Swarm, now: number): void {
    const before = this.snapshot(swarm.peers);
    this.prune(swarm, now);
    this.account(swarm.peers, before);
  }

  private dropSwarm(key: string, swarm: Swarm): void {
    this.counts.downloaded -= swarm.downloaded;
    this.swarms.delete(key);
    if (swarm.downloaded > 0 && this.retiredMax > 0) {
      if (this.retired.size >= this.retiredMax) {
        const oldest = this.retired.keys().next();
        if (!oldest.done) this.retired.delete(oldest.value);
      }
      this.retired.set(key, { downloaded: swarm.downloaded, at: swarm.lastAnnounce });
    }
  }

  private retiredDownloaded(key: string, now: number): number {
    const r = this.retired.get(key);
    return r !== undefined && r.at + this.downloadedTtl > now ? r.downloaded : 0;
  }

  /** Forgets retired counts past their TTL (the map is in retirement order, so from its head). */
  private dropRetired(now: number, max: number): void {
    let n = 0;
    for (const [key, r] of this.retired) {
      if (r.at + this.downloadedTtl > now || n++ >= max) break;
      this.retired.delete(key);
    }
  }

  private snapshot(table: PeerTable): [number, number, number, number] {
    return [table.count, table.seeders, table.count4, table.count6];
  }

  /** Moves the global totals by what happened to one table since `before`. */
  private account(table: PeerTable, before: [number, number, number, number]): void {
    const c = this.counts;
    c.peers += table.count - before[0];
    c.seeders += table.seeders - before[1];
    c.peers4 += table.count4 - before[2];
    c.peers6 += table.count6 - before[3];
  }
}

function result(swarm: Swarm | undefined, status: StoreAnnounceResult['status']): StoreAnnounceResult {
  return {
    status,
    complete: swarm ? swarm.peers.seeders : 0,
    incomplete: swarm ? swarm.peers.leechers : 0,
    downloaded: swarm ? swarm.downloaded : 0,
    peers4: EMPTY,
    peers6: EMPTY,
  };
}

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
function sample(table: PeerTable, self: number, req: StoreAnnounce, out: StoreAnnounceResult): void {
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

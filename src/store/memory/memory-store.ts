import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { lineSink, stderrLogger } from '../../logging/logger.js';
import {
  DEFAULT_WEBRTC_TTL_MS,
  type StoreAnnounce,
  type StoreAnnounceResult,
  type StoredPeer,
  type StoreOptions,
  type SwarmCounts,
  type SwarmStore,
  type SwarmTotals,
  type TorrentScan,
  type TorrentSummary,
  type TorrentVisitor,
} from '../swarm-store.js';
import { MemoryAccounts } from './accounts.js';
import { COMPLETED, HAS_KEY, HAS4, HAS6, PeerTable } from './peer-table.js';
import { samplePeers } from './sampler.js';
import { decodeState, StateEncoder } from './state-file.js';
import { readStateBytes, writeFileAtomically } from './state-file-io.js';
import { MemoryWebRtcSwarms } from './webrtc-swarms.js';

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
  readonly peers: PeerTable;
  downloaded = 0;
  /** Epoch ms of the last announce that was not a stop. */
  lastAnnounce = 0;
  /** floor(lastAnnounce / 1000): the torrent map is ordered by it. */
  second = 0;
  /** The state file save that wrote this swarm last (a save walks the live map, where a re-announced swarm comes round again). */
  savedIn = 0;

  /** `capacity`: the peers a state file brings back, so loading does not grow the table step by step. */
  constructor(capacity?: number) {
    this.peers = new PeerTable(capacity);
  }
}

/** What a start got back from the state file. */
export interface StateRestored {
  torrents: number;
  peers: number;
  /** Peers in the file whose TTL ran out while the tracker was down. */
  expired: number;
  retired: number;
  bytes: number;
  ms: number;
}

/** What one save of the state file wrote. */
export interface StateSaved {
  torrents: number;
  peers: number;
  bytes: number;
  ms: number;
}

export interface MemoryStoreOptions extends StoreOptions {
  backgroundSweep?: boolean;
  downloadedTtlMs?: number;
  retiredMax?: number;
  /** --state-file: swarms are loaded from it at start and written to it by close() and every `stateIntervalMs`. */
  stateFile?: string;
  /** Between periodic saves of the state file; default 300 s. */
  stateIntervalMs?: number;
  /** Where problems with the state file are reported (one line each); standard error by default. */
  log?: (line: string) => void;
}

const DEFAULT_STATE_INTERVAL_MS = 300_000;

const EMPTY = Buffer.alloc(0);
const SWEEP_TICK_MS = 1000;
const SWEEP_SLICE = 10_000;

export class MemoryStore implements SwarmStore {
  readonly kind = 'memory';
  readonly webrtc: MemoryWebRtcSwarms;
  readonly accounts: MemoryAccounts;
  /**
   * By info hash as a 20-character latin1 string. Clients choose info hashes,
   * so this map must not let them pick colliding keys: its hash is V8's string
   * hash, seeded at random in each process (Node rehashes its startup
   * snapshot under a fresh seed: V8's --rehash-snapshot, and --hash-seed=0,
   * "random", both the defaults). A 20-character key is never hashed as an
   * array index (those hash to their value, whatever the seed). That hash is
   * weaker than a PeerTable index's SipHash (on Node 20, Jenkins'
   * one-at-a-time started from a 32-bit seed), but we know of no way to find
   * its collisions without the seed, which never leaves the process. The same
   * holds for `retired`, for the WebRTC swarms' maps (webrtc-swarms.ts) and
   * for the accounts' maps (accounts.ts).
   */
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
  /** A visited torrent's info hash (walkTorrents: valid during the visit). */
  private readonly scanHash = Buffer.alloc(20);
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly counts = { peers: 0, seeders: 0, peers4: 0, peers6: 0, downloaded: 0 };
  private readonly stateFile: string | undefined;
  private readonly stateTimer: NodeJS.Timeout | undefined;
  /** The save under way or queued last: saves run one after another. */
  private saving: Promise<StateSaved> | undefined;
  private saveEpoch = 0;
  private readonly log: (line: string) => void;
  /** What the state file gave back at start; undefined without --state-file, or when there was no usable file. */
  readonly restored: StateRestored | undefined;

  constructor(options: MemoryStoreOptions) {
    this.ttl = options.peerTtlMs;
    this.downloadedTtl = Math.max(options.downloadedTtlMs ?? 30 * 86_400_000, this.ttl);
    this.retiredMax = options.retiredMax ?? 100_000;
    this.now = options.now;
    this.webrtc = new MemoryWebRtcSwarms({ ttlMs: options.webrtcTtlMs ?? DEFAULT_WEBRTC_TTL_MS, now: options.now });
    this.accounts = new MemoryAccounts({ ttlMs: options.peerTtlMs, now: options.now });
    if (options.backgroundSweep !== false) {
      this.timer = setInterval(() => this.sweep(SWEEP_SLICE), SWEEP_TICK_MS);
      this.timer.unref();
    }
    this.log = options.log ?? lineSink(stderrLogger, 'error');
    this.stateFile = options.stateFile || undefined;
    if (this.stateFile) {
      // Synchronous: the tracker serves nothing before its swarms are back.
      this.restored = this.restoreState(this.stateFile);
      const file = this.stateFile;
      this.stateTimer = setInterval(() => {
        if (this.saving) return; // a slow disk: let the running save finish rather than queue another
        this.saveState().catch((err: unknown) => {
          this.log(`bitstorm: state file ${file} not saved (${(err as Error).message})`);
        });
      }, options.stateIntervalMs ?? DEFAULT_STATE_INTERVAL_MS);
      this.stateTimer.unref();
    }
  }

  async announce(req: StoreAnnounce): Promise<StoreAnnounceResult> {
    return this.apply(req);
  }

  /** The announce itself, synchronous: the memory store never waits. */
  private apply(req: StoreAnnounce): StoreAnnounceResult {
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
    // The table's counts before this announce (numbers, not an array: no garbage per announce).
    const count = table.count;
    const seeders = table.seeders;
    const count4 = table.count4;
    const count6 = table.count6;
    this.prune(swarm, now);
    let slot = table.find(req.peerId);

    if (slot >= 0 && (table.flags(slot) & HAS_KEY) !== 0 && req.key !== table.key(slot)) {
      const same =
        (req.ipv4 !== null && table.sameIp4(slot, req.ipv4)) || (req.ipv6 !== null && table.sameIp6(slot, req.ipv6));
      if (!same) {
        this.account(table, count, seeders, count4, count6);
        return result(swarm, 'key-mismatch');
      }
    }

    if (req.event === 'stopped') {
      if (slot >= 0) table.remove(slot);
      this.account(table, count, seeders, count4, count6);
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
    this.account(table, count, seeders, count4, count6);

    swarm.lastAnnounce = now;
    const second = Math.floor(now / 1000);
    if (swarm.second !== second) {
      swarm.second = second;
      this.swarms.delete(hashKey); // re-insert at the end: the map stays ordered by second
      this.swarms.set(hashKey, swarm);
    }

    const out = result(swarm, 'ok');
    if (req.numWant > 0) samplePeers(table, slot, req, out);
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
    const torrents: TorrentSummary[] = [];
    const next = this.walkTorrents(cursor, count, (infoHash, complete, incomplete, downloaded, lastAnnounce) => {
      torrents.push({ infoHash: Buffer.from(infoHash), complete, incomplete, downloaded, lastAnnounce });
    });
    return { cursor: next, torrents };
  }

  async visitTorrents(cursor: string, count: number, visit: TorrentVisitor): Promise<string> {
    return this.walkTorrents(cursor, count, visit);
  }

  /**
   * Visits up to `count` live torrents from `cursor`, a position in the
   * torrent map's order. Torrents re-announced during a scan move to the end,
   * so, as with Redis SCAN, one may be seen twice. The last iterator is kept
   * so that a scan continues in O(count).
   */
  private walkTorrents(cursor: string, count: number, visit: TorrentVisitor): string {
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
    const hash = this.scanHash;
    let visited = 0;
    for (let next = iterator.next(); !next.done; next = iterator.next()) {
      position++;
      const [key, swarm] = next.value;
      this.pruneCounted(swarm, now);
      const t = swarm.peers;
      if (t.count > 0) {
        hash.write(key, 0, 20, 'latin1');
        visit(hash, t.seeders, t.leechers, swarm.downloaded, swarm.lastAnnounce);
        visited++;
      }
      if (visited >= count) {
        this.scanState = { position, iterator };
        return String(position);
      }
    }
    this.scanState = undefined;
    return '0';
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

  /** Stops the timers; with a state file, saves the swarms (and rejects if that fails: they would be lost). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.stateTimer) clearInterval(this.stateTimer);
    if (this.stateFile) await this.saveState();
  }

  /**
   * Writes every swarm and retired count to the state file, atomically
   * (state-file-io.ts). Saves run one at a time: a call during a save starts
   * after it. The walk yields to the event loop after each chunk of about
   * 256 KiB (some 7,000 peers; a few ms), so announces are served during a save.
   */
  saveState(): Promise<StateSaved> {
    const path = this.stateFile;
    if (!path) return Promise.reject(new Error('the memory store has no state file'));
    const previous = this.saving;
    const run = (previous ? previous.catch(() => undefined) : Promise.resolve()).then(() => this.writeState(path));
    this.saving = run;
    const clear = (): void => {
      if (this.saving === run) this.saving = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  private async writeState(path: string): Promise<StateSaved> {
    const started = performance.now();
    const encoder = new StateEncoder(this.now());
    const tally = { torrents: 0, peers: 0 };
    const bytes = await writeFileAtomically(path, this.stateChunks(encoder, tally));
    return { ...tally, bytes, ms: performance.now() - started };
  }

  /**
   * The file's chunks. The map is walked live across the writes: a torrent is
   * encoded whole between two chunks, so it is never seen half changed; one
   * re-inserted at the map's end by an announce meanwhile comes round again
   * and is skipped; one created meanwhile is written too.
   */
  private *stateChunks(encoder: StateEncoder, tally: { torrents: number; peers: number }): Generator<Buffer> {
    const epoch = ++this.saveEpoch;
    for (const [key, swarm] of this.swarms) {
      if (swarm.savedIn === epoch) continue;
      swarm.savedIn = epoch;
      encoder.torrent(key, swarm.downloaded, swarm.lastAnnounce, swarm.peers);
      tally.torrents++;
      tally.peers += swarm.peers.count;
      yield* encoder.take();
    }
    for (const [key, r] of this.retired) {
      encoder.retired(key, r.downloaded, r.at);
      yield* encoder.take();
    }
    yield* encoder.finish();
  }

  /**
   * Loads the state file into the (empty) store. A missing file is a first
   * start; any other problem is one log line and an empty store: a tracker
   * that lost its swarms still serves, and clients re-announce within an
   * interval.
   */
  private restoreState(path: string): StateRestored | undefined {
    const started = performance.now();
    try {
      const bytes = readStateBytes(path);
      if (bytes === undefined) return undefined;
      return { ...this.restore(bytes, this.now()), bytes: bytes.length, ms: performance.now() - started };
    } catch (err) {
      for (const swarm of this.swarms.values()) swarm.peers.release();
      this.swarms.clear();
      this.retired.clear();
      const c = this.counts;
      c.peers = c.seeders = c.peers4 = c.peers6 = c.downloaded = 0;
      this.log(`bitstorm: state file ${path} ignored, starting empty: ${(err as Error).message}`);
      return undefined;
    }
  }

  /**
   * Rebuilds the swarms through PeerTable's own API (so each index is built
   * under its table's key), leaving out peers whose TTL ran out while the
   * tracker was down, and retiring torrents left empty.
   */
  private restore(bytes: Buffer, now: number): Omit<StateRestored, 'bytes' | 'ms'> {
    const cutoff = now - this.ttl;
    // By info hash, in file order; a torrent written twice (dropped and created again during a save) keeps its later record.
    const loaded = new Map<string, Swarm>();
    const retired: Array<[string, number, number]> = [];
    let swarm: Swarm | undefined;
    let expired = 0;
    try {
      decodeState(bytes, {
        torrent: (infoHash, downloaded, lastAnnounce, peers) => {
          swarm = new Swarm(Math.max(2, peers));
          swarm.downloaded = downloaded;
          swarm.lastAnnounce = lastAnnounce;
          swarm.second = Math.floor(lastAnnounce / 1000);
          const key = infoHash.toString('latin1');
          loaded.get(key)?.peers.release();
          loaded.delete(key);
          loaded.set(key, swarm);
        },
        peer: (peer) => {
          if (!swarm) throw new Error('a peer before any torrent');
          const table = swarm.peers;
          if (peer.lastSeen <= cutoff) {
            expired++;
            return;
          }
          if (table.find(peer.id) >= 0) return; // only a hand-made file repeats an id
          const slot = table.insert(peer.id, peer.seeder, peer.lastSeen);
          if (peer.ep4) table.setEndpoint4(slot, peer.ep4);
          if (peer.ep6) table.setEndpoint6(slot, peer.ep6);
          if (peer.key !== undefined) table.setKey(slot, peer.key);
          if (peer.completed) table.setFlag(slot, COMPLETED);
        },
        retired: (infoHash, downloaded, at) => retired.push([infoHash.toString('latin1'), downloaded, at]),
      });
    } catch (err) {
      // Small tables hold slab chunks, which only release() gives back.
      for (const s of loaded.values()) s.peers.release();
      throw err;
    }

    // The map is kept ordered by second (dropExpiredSwarms relies on it); a
    // file written while announces moved torrents may be slightly out of order.
    let entries: Iterable<[string, Swarm]> = loaded;
    let last = Number.NEGATIVE_INFINITY;
    for (const s of loaded.values()) {
      if (s.second < last) {
        entries = [...loaded].sort((a, b) => a[1].second - b[1].second);
        break;
      }
      last = s.second;
    }
    let peers = 0;
    const emptied: Swarm[] = [];
    const emptiedKeys: string[] = [];
    for (const [key, s] of entries) {
      if (s.peers.count === 0) {
        emptiedKeys.push(key);
        emptied.push(s);
        s.peers.release();
        continue;
      }
      this.swarms.set(key, s);
      const t = s.peers;
      const c = this.counts;
      c.peers += t.count;
      c.seeders += t.seeders;
      c.peers4 += t.count4;
      c.peers6 += t.count6;
      c.downloaded += s.downloaded;
      peers += t.count;
    }
    // Retired counts in retirement order: the file's, then the torrents that emptied while the tracker was down.
    for (const [key, downloaded, at] of retired) this.retire(key, downloaded, at, now);
    for (let i = 0; i < emptied.length; i++) {
      const s = emptied[i] as Swarm;
      this.retire(emptiedKeys[i] as string, s.downloaded, s.lastAnnounce, now);
    }
    return { torrents: this.swarms.size, peers, expired, retired: this.retired.size };
  }

  /** Keeps a loaded downloaded count unless its torrent is live or its TTL is past. */
  private retire(key: string, downloaded: number, at: number, now: number): void {
    if (downloaded <= 0 || at + this.downloadedTtl <= now || this.swarms.has(key)) return;
    this.keepRetired(key, downloaded, at);
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
      const t = swarm.peers;
      const count = t.count;
      const seeders = t.seeders;
      const count4 = t.count4;
      const count6 = t.count6;
      t.removeSeenBefore(Number.POSITIVE_INFINITY);
      this.account(t, count, seeders, count4, count6);
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
    const t = swarm.peers;
    if (t.oldest > now - this.ttl) return; // nothing can have expired (prune's own test)
    const count = t.count;
    const seeders = t.seeders;
    const count4 = t.count4;
    const count6 = t.count6;
    this.prune(swarm, now);
    this.account(t, count, seeders, count4, count6);
  }

  private dropSwarm(key: string, swarm: Swarm): void {
    this.counts.downloaded -= swarm.downloaded;
    this.swarms.delete(key);
    swarm.peers.release();
    if (swarm.downloaded > 0) this.keepRetired(key, swarm.downloaded, swarm.lastAnnounce);
  }

  private keepRetired(key: string, downloaded: number, at: number): void {
    if (this.retiredMax <= 0) return;
    this.retired.delete(key); // re-set moves it to the end, the newest place
    if (this.retired.size >= this.retiredMax) {
      const oldest = this.retired.keys().next();
      if (!oldest.done) this.retired.delete(oldest.value);
    }
    this.retired.set(key, { downloaded, at });
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

  /** Moves the global totals by what happened to one table since it held these counts. */
  private account(table: PeerTable, count: number, seeders: number, count4: number, count6: number): void {
    const c = this.counts;
    c.peers += table.count - count;
    c.seeders += table.seeders - seeders;
    c.peers4 += table.count4 - count4;
    c.peers6 += table.count6 - count6;
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

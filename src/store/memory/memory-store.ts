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

/**
 * The embedded store: swarms in process memory.
 *
 * Expiry without scans: a swarm's peers live in a Map that we keep ordered by
 * last announce (a re-announce deletes and re-inserts the entry), so expired
 * peers are always at the head and pruning costs O(expired). The torrent map is
 * ordered the same way by last announce. Every announce and scrape prunes the
 * swarm it touches, so counts are exact; a background sweep walks all swarms in
 * bounded slices so idle swarms release their memory too.
 *
 * Peers are also kept in two arrays (seeders, leechers) for O(1) random access
 * when sampling; removal is swap-with-last.
 */
interface Peer {
  /** peer_id as a latin1 string (the Map key). */
  readonly id: string;
  /** Compact endpoints as latin1 strings: cheaper to hold than Buffers, copied with one write. */
  ep4: string | null;
  ep6: string | null;
  /** uint32 key, or -1 when the client sent none. */
  key: number;
  lastSeen: number;
  seeder: boolean;
  /** This peer's `completed` was already counted. */
  completed: boolean;
  /** Index in its swarm's seeders or leechers array. */
  slot: number;
}

class Swarm {
  readonly peers = new Map<string, Peer>();
  readonly seeders: Peer[] = [];
  readonly leechers: Peer[] = [];
  downloaded = 0;
  lastAnnounce = 0;
}

const EMPTY = Buffer.alloc(0);
const SWEEP_TICK_MS = 1000;
const SWEEP_SLICE = 10_000;

export class MemoryStore implements SwarmStore {
  readonly kind = 'memory';
  private readonly swarms = new Map<string, Swarm>();
  private readonly secrets = new Map<string, Buffer>();
  private readonly ttl: number;
  private readonly now: () => number;
  private sweepCursor: Iterator<[string, Swarm]> | undefined;
  private scanState: { position: number; iterator: Iterator<[string, Swarm]> } | undefined;
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly counts = { peers: 0, seeders: 0, peers4: 0, peers6: 0, downloaded: 0 };

  constructor(options: StoreOptions & { backgroundSweep?: boolean }) {
    this.ttl = options.peerTtlMs;
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
    const id = req.peerId.toString('latin1');
    let swarm = this.swarms.get(hashKey);
    if (swarm) this.prune(swarm, now);
    let peer = swarm?.peers.get(id);

    if (peer && peer.key !== -1 && req.key !== peer.key && !sameAddress(peer, req)) {
      return this.result(swarm, 'key-mismatch');
    }

    if (req.event === 'stopped') {
      if (swarm && peer) {
        this.removePeer(swarm, peer);
        if (swarm.peers.size === 0) this.dropSwarm(hashKey, swarm);
      }
      return this.result(swarm, 'ok');
    }

    if (!swarm) {
      swarm = new Swarm();
    } else {
      this.swarms.delete(hashKey); // re-insert below: keeps the map ordered by last announce
    }
    this.swarms.set(hashKey, swarm);
    swarm.lastAnnounce = now;

    const ep4 = req.ipv4 ? req.ipv4.toString('latin1') : null;
    const ep6 = req.ipv6 ? req.ipv6.toString('latin1') : null;
    if (peer) {
      swarm.peers.delete(id); // re-insert below: keeps peers ordered by last seen
      // An endpoint replaces the stored one of its family; a family the announce
      // did not speak for is kept (dual-stack clients announce over each family).
      this.countEndpoints(peer, -1);
      if (ep4 !== null) peer.ep4 = ep4;
      if (ep6 !== null) peer.ep6 = ep6;
      this.countEndpoints(peer, 1);
      if (peer.seeder !== req.seeder) {
        this.unslot(swarm, peer);
        peer.seeder = req.seeder;
        this.slot(swarm, peer);
      }
      if (req.key !== undefined) peer.key = req.key;
    } else {
      peer = { id, ep4, ep6, key: req.key ?? -1, lastSeen: now, seeder: req.seeder, completed: false, slot: -1 };
      this.slot(swarm, peer);
      this.countEndpoints(peer, 1);
      this.counts.peers++;
    }
    peer.lastSeen = now;
    swarm.peers.set(id, peer);

    if (req.event === 'completed' && !peer.completed) {
      peer.completed = true;
      swarm.downloaded++;
      this.counts.downloaded++;
    }

    const result = this.result(swarm, 'ok');
    if (req.numWant > 0) this.sample(swarm, peer, req, result);
    return result;
  }

  async scrape(infoHashes: readonly Buffer[]): Promise<SwarmCounts[]> {
    const now = this.now();
    return infoHashes.map((hash) => {
      const swarm = this.swarms.get(hash.toString('latin1'));
      if (swarm) this.prune(swarm, now);
      return swarm
        ? { complete: swarm.seeders.length, incomplete: swarm.leechers.length, downloaded: swarm.downloaded }
        : { complete: 0, incomplete: 0, downloaded: 0 };
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
      if (swarm.lastAnnounce + this.ttl > now) {
        this.prune(swarm, now);
        if (swarm.peers.size > 0) {
          torrents.push({
            infoHash: Buffer.from(key, 'latin1'),
            complete: swarm.seeders.length,
            incomplete: swarm.leechers.length,
            downloaded: swarm.downloaded,
            lastAnnounce: swarm.lastAnnounce,
          });
        }
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
    this.prune(swarm, this.now());
    const out: StoredPeer[] = [];
    for (const peer of swarm.peers.values()) {
      if (out.length >= limit) break;
      out.push({
        peerId: Buffer.from(peer.id, 'latin1'),
        ipv4: peer.ep4 === null ? null : Buffer.from(peer.ep4, 'latin1'),
        ipv6: peer.ep6 === null ? null : Buffer.from(peer.ep6, 'latin1'),
        seeder: peer.seeder,
        lastSeen: peer.lastSeen,
      });
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
   * Prunes up to `maxSwarms` swarms, continuing where the previous call stopped,
   * and drops the ones left empty. Bounded so a sweep never pauses the process
   * for long; exposed for tests that drive the clock by hand.
   */
  sweep(maxSwarms = Number.POSITIVE_INFINITY): void {
    const now = this.now();
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
      this.prune(swarm, now);
      if (swarm.peers.size === 0) this.dropSwarm(key, swarm);
    }
  }

  /**
   * The torrent map is ordered by last announce, so swarms whose every peer has
   * expired form its head: dropping them costs O(dropped).
   */
  private dropExpiredSwarms(now: number, max = Number.POSITIVE_INFINITY): number {
    let dropped = 0;
    for (const [key, swarm] of this.swarms) {
      if (swarm.lastAnnounce + this.ttl > now || dropped >= max) break;
      dropped++;
      this.pruneAll(swarm);
      this.dropSwarm(key, swarm);
    }
    return dropped;
  }

  private pruneAll(swarm: Swarm): void {
    for (const peer of swarm.peers.values()) this.removePeer(swarm, peer);
  }

  private prune(swarm: Swarm, now: number): void {
    for (const peer of swarm.peers.values()) {
      if (peer.lastSeen + this.ttl > now) break; // ordered by last seen: the rest are live
      this.removePeer(swarm, peer);
    }
  }

  private dropSwarm(key: string, swarm: Swarm): void {
    this.counts.downloaded -= swarm.downloaded;
    this.swarms.delete(key);
  }

  private removePeer(swarm: Swarm, peer: Peer): void {
    swarm.peers.delete(peer.id);
    this.unslot(swarm, peer);
    this.countEndpoints(peer, -1);
    this.counts.peers--;
  }

  private slot(swarm: Swarm, peer: Peer): void {
    const list = peer.seeder ? swarm.seeders : swarm.leechers;
    peer.slot = list.length;
    list.push(peer);
    if (peer.seeder) this.counts.seeders++;
  }

  private unslot(swarm: Swarm, peer: Peer): void {
    const list = peer.seeder ? swarm.seeders : swarm.leechers;
    const last = list.pop() as Peer;
    if (last !== peer) {
      list[peer.slot] = last;
      last.slot = peer.slot;
    }
    peer.slot = -1;
    if (peer.seeder) this.counts.seeders--;
  }

  private countEndpoints(peer: Peer, delta: number): void {
    if (peer.ep4 !== null) this.counts.peers4 += delta;
    if (peer.ep6 !== null) this.counts.peers6 += delta;
  }

  private result(swarm: Swarm | undefined, status: StoreAnnounceResult['status']): StoreAnnounceResult {
    return {
      status,
      complete: swarm ? swarm.seeders.length : 0,
      incomplete: swarm ? swarm.leechers.length : 0,
      downloaded: swarm ? swarm.downloaded : 0,
      peers4: EMPTY,
      peers6: EMPTY,
    };
  }

  /**
   * Uniform random sample without replacement (a lazy Fisher–Yates over the
   * candidate indices), skipping the requester. Each wanted family fills up to
   * numWant entries. Seeders only see leechers. Draws are bounded so a requester
   * of a family few peers have cannot make one announce walk a huge swarm.
   */
  private sample(swarm: Swarm, self: Peer, req: StoreAnnounce, out: StoreAnnounceResult): void {
    const seeders = self.seeder ? [] : swarm.seeders;
    const leechers = swarm.leechers;
    const total = seeders.length + leechers.length;
    const selfIncluded = self.seeder ? 0 : 1; // a seeder is not among its own candidates
    const want = Math.min(req.numWant, total - selfIncluded);
    if (want <= 0) return;
    const picked4: string[] = [];
    const picked6: string[] = [];
    const ids4: string[] = [];
    const ids6: string[] = [];
    const full = (): boolean => (!req.want4 || picked4.length >= want) && (!req.want6 || picked6.length >= want);
    const at = (i: number): Peer => (i < seeders.length ? seeders[i] : leechers[i - seeders.length]) as Peer;
    const take = (peer: Peer): void => {
      if (peer === self) return;
      if (req.want4 && peer.ep4 !== null && picked4.length < want) {
        picked4.push(peer.ep4);
        ids4.push(peer.id);
      }
      if (req.want6 && peer.ep6 !== null && picked6.length < want) {
        picked6.push(peer.ep6);
        ids6.push(peer.id);
      }
    };
    if (total <= want + selfIncluded) {
      for (let i = 0; i < total; i++) take(at(i));
    } else {
      const swapped = new Map<number, number>();
      const maxDraws = Math.min(total, want * 4 + 64);
      for (let i = 0; i < maxDraws && !full(); i++) {
        const j = i + Math.floor(Math.random() * (total - i));
        const picked = swapped.get(j) ?? j;
        swapped.set(j, swapped.get(i) ?? i);
        take(at(picked));
      }
    }
    out.peers4 = joinLatin1(picked4, 6);
    out.peers6 = joinLatin1(picked6, 18);
    if (req.withPeerIds) {
      out.peerIds4 = joinLatin1(ids4, 20);
      out.peerIds6 = joinLatin1(ids6, 20);
    }
  }
}

function joinLatin1(parts: string[], size: number): Buffer {
  if (parts.length === 0) return EMPTY;
  const buf = Buffer.allocUnsafe(parts.length * size);
  for (let i = 0; i < parts.length; i++) buf.write(parts[i] as string, i * size, 'latin1');
  return buf;
}

/** Same IP (ignoring port) on any family both sides have. */
function sameAddress(peer: Peer, req: StoreAnnounce): boolean {
  if (peer.ep4 !== null && req.ipv4 && ipEquals(peer.ep4, req.ipv4, 4)) return true;
  if (peer.ep6 !== null && req.ipv6 && ipEquals(peer.ep6, req.ipv6, 16)) return true;
  return false;
}

function ipEquals(stored: string, incoming: Buffer, length: number): boolean {
  for (let i = 0; i < length; i++) if (stored.charCodeAt(i) !== incoming[i]) return false;
  return true;
}

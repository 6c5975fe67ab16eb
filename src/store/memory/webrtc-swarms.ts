import type {
  RelayedMessage,
  WebRtcAnnounce,
  WebRtcAnnounceResult,
  WebRtcCounts,
  WebRtcPeerRef,
  WebRtcStore,
  WebRtcStoreOptions,
  WebRtcTotals,
} from '../webrtc-store.js';

/** How often expired WebRTC peers are swept (they are also skipped when met before that). */
const SWEEP_EVERY_MS = 30_000;
/** Random draws per wanted target before giving up (a swarm of mostly seeders, for a seeder). */
const DRAWS_PER_TARGET = 4;

interface Peer {
  id: string;
  seeder: boolean;
  node: string;
  expires: number;
  /** Its `completed` was counted. */
  completed: boolean;
  /** Position in Swarm.list. */
  slot: number;
}

/** One torrent's WebRTC peers: a map by id, and a dense list for O(1) random draws. */
class Swarm {
  /**
   * By the client-chosen 20-character peer id (latin1): V8's per-process
   * random string-hash seed is what keeps clients from choosing ids that
   * collide in it, as for the torrent maps (memory-store.ts says more).
   */
  readonly peers = new Map<string, Peer>();
  readonly list: Peer[] = [];
  seeders = 0;
  downloaded = 0;
  lastAnnounce = 0;

  add(peer: Peer): void {
    peer.slot = this.list.length;
    this.list.push(peer);
    this.peers.set(peer.id, peer);
    if (peer.seeder) this.seeders++;
  }

  remove(peer: Peer): void {
    this.peers.delete(peer.id);
    const last = this.list.pop() as Peer;
    if (last !== peer) {
      this.list[peer.slot] = last;
      last.slot = peer.slot;
    }
    if (peer.seeder) this.seeders--;
  }

  counts(): WebRtcCounts {
    return { complete: this.seeders, incomplete: this.peers.size - this.seeders, downloaded: this.downloaded };
  }
}

/**
 * The memory store's WebRTC swarms. One process holds every socket, so
 * publish/subscribe is a direct call (a message for another node is dropped:
 * with the memory store there is no other node).
 */
export class MemoryWebRtcSwarms implements WebRtcStore {
  /** By info hash (latin1), seeded by V8 like the peer maps. */
  private readonly swarms = new Map<string, Swarm>();
  private readonly subscribers = new Map<string, (message: RelayedMessage) => void>();
  private readonly ttl: number;
  private readonly now: () => number;
  private lastSweep = 0;

  constructor(options: WebRtcStoreOptions) {
    this.ttl = options.ttlMs;
    this.now = options.now;
  }

  async announce(req: WebRtcAnnounce): Promise<WebRtcAnnounceResult> {
    const now = this.now();
    this.sweepIfDue(now);
    const key = req.infoHash.toString('latin1');
    const id = req.peerId.toString('latin1');
    let swarm = this.swarms.get(key);
    let peer = swarm?.peers.get(id);
    if (swarm && peer && peer.expires <= now) {
      swarm.remove(peer);
      peer = undefined;
    }
    if (req.event === 'stopped') {
      if (swarm && peer) swarm.remove(peer);
      if (swarm && swarm.peers.size === 0 && swarm.downloaded === 0) this.swarms.delete(key);
      return { ...(swarm ? swarm.counts() : { complete: 0, incomplete: 0, downloaded: 0 }), targets: [] };
    }
    if (!swarm) {
      swarm = new Swarm();
      this.swarms.set(key, swarm);
    }
    swarm.lastAnnounce = now;
    if (!peer) {
      peer = { id, seeder: req.seeder, node: req.node, expires: 0, completed: false, slot: 0 };
      swarm.add(peer);
    } else if (peer.seeder !== req.seeder) {
      swarm.seeders += req.seeder ? 1 : -1;
      peer.seeder = req.seeder;
    }
    peer.node = req.node;
    peer.expires = now + this.ttl;
    if (req.event === 'completed' && !peer.completed) {
      peer.completed = true;
      swarm.downloaded++;
    }
    return { ...swarm.counts(), targets: req.targets > 0 ? this.sample(swarm, peer, req.targets, now) : [] };
  }

  async leave(infoHash: Buffer, peerId: Buffer, node: string): Promise<void> {
    const key = infoHash.toString('latin1');
    const swarm = this.swarms.get(key);
    const peer = swarm?.peers.get(peerId.toString('latin1'));
    if (!swarm || !peer || peer.node !== node) return;
    swarm.remove(peer);
    if (swarm.peers.size === 0 && swarm.downloaded === 0) this.swarms.delete(key);
  }

  async locate(infoHash: Buffer, peerId: Buffer): Promise<string | undefined> {
    const peer = this.swarms.get(infoHash.toString('latin1'))?.peers.get(peerId.toString('latin1'));
    return peer && peer.expires > this.now() ? peer.node : undefined;
  }

  async scrape(infoHashes: readonly Buffer[]): Promise<WebRtcCounts[]> {
    this.sweepIfDue(this.now());
    return infoHashes.map(
      (h) => this.swarms.get(h.toString('latin1'))?.counts() ?? { complete: 0, incomplete: 0, downloaded: 0 },
    );
  }

  async totals(): Promise<WebRtcTotals> {
    this.sweepIfDue(this.now());
    const t: WebRtcTotals = { torrents: 0, peers: 0, seeders: 0, leechers: 0 };
    for (const swarm of this.swarms.values()) {
      if (swarm.peers.size === 0) continue;
      t.torrents++;
      t.peers += swarm.peers.size;
      t.seeders += swarm.seeders;
    }
    t.leechers = t.peers - t.seeders;
    return t;
  }

  async publish(node: string, message: RelayedMessage): Promise<void> {
    this.subscribers.get(node)?.(message);
  }

  async subscribe(node: string, onMessage: (message: RelayedMessage) => void): Promise<() => Promise<void>> {
    this.subscribers.set(node, onMessage);
    return async () => {
      if (this.subscribers.get(node) === onMessage) this.subscribers.delete(node);
    };
  }

  /** Random live peers other than `self`; a seeder gets leechers only. */
  private sample(swarm: Swarm, self: Peer, wanted: number, now: number): WebRtcPeerRef[] {
    const list = swarm.list;
    const out: WebRtcPeerRef[] = [];
    const others = list.length - 1;
    if (others <= 0) return out;
    const pick = (peer: Peer): void => {
      if (peer === self || peer.expires <= now || (self.seeder && peer.seeder)) return;
      out.push({ peerId: Buffer.from(peer.id, 'latin1'), node: peer.node });
    };
    if (others <= wanted * DRAWS_PER_TARGET) {
      // Small swarm: walk it from a random start (no duplicates by construction).
      const start = Math.floor(Math.random() * list.length);
      for (let i = 0; i < list.length && out.length < wanted; i++) pick(list[(start + i) % list.length] as Peer);
      return out;
    }
    const seen = new Set<Peer>();
    for (let draws = wanted * DRAWS_PER_TARGET; draws > 0 && out.length < wanted; draws--) {
      const peer = list[Math.floor(Math.random() * list.length)] as Peer;
      if (seen.has(peer)) continue;
      seen.add(peer);
      pick(peer);
    }
    return out;
  }

  /** Drops expired peers and empty swarms, at most every SWEEP_EVERY_MS (O(peers)). */
  private sweepIfDue(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [key, swarm] of this.swarms) {
      for (let i = swarm.list.length - 1; i >= 0; i--) {
        const peer = swarm.list[i] as Peer;
        if (peer.expires <= now) swarm.remove(peer);
      }
      // A swarm's downloaded count is kept while it has peers; an emptied one goes
      // after a peer TTL without announces (the BitTorrent swarms keep theirs 30 days).
      if (swarm.peers.size === 0 && now - swarm.lastAnnounce > this.ttl) this.swarms.delete(key);
    }
  }
}

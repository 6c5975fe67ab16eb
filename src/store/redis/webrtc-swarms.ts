import type {
  RelayedMessage,
  WebRtcAnnounce,
  WebRtcAnnounceResult,
  WebRtcCounts,
  WebRtcPeerRef,
  WebRtcStore,
  WebRtcTotals,
} from '../webrtc-store.js';
import type { RedisConnection } from './connection.js';
import { webrtcIndexKey, webrtcKeys } from './keys.js';
import type { NodeChannels } from './node-channels.js';
import type { Script } from './scripts.js';

/** The index entry of a torrent is rewritten at most this often by one process. */
const INDEX_REFRESH_MS = 30_000;
/** totals() walks the index at most this often per process (it is for the stats page). */
const TOTALS_CACHE_MS = 2_000;
/** Torrents counted per round trip when walking the index. */
const TOTALS_PAGE = 500;

export interface RedisWebRtcOptions {
  prefix: string;
  ttlMs: number;
  downloadedTtlMs: number;
  now: () => number;
}

/**
 * WebRTC swarms in Redis (scripts/webrtc.lua has the layout), shared by every
 * tracker node on the same Redis and prefix, and the node channels that carry
 * offers and answers between them (node-channels.ts). docs/websocket.md.
 */
export class RedisWebRtcSwarms implements WebRtcStore {
  private readonly keyTtl: number;
  /** Torrents whose index entry this process refreshed in the current period. */
  private indexed = new Set<string>();
  private indexedSince = 0;
  private totalsCache: { at: number; value: Promise<WebRtcTotals> } | undefined;

  constructor(
    private readonly connection: RedisConnection,
    private readonly script: Script,
    private readonly channels: NodeChannels,
    private readonly options: RedisWebRtcOptions,
  ) {
    this.keyTtl = options.ttlMs + INDEX_REFRESH_MS;
  }

  async announce(req: WebRtcAnnounce): Promise<WebRtcAnnounceResult> {
    const now = this.options.now();
    const reply = await this.run(req.infoHash, req.peerId, req.event, req.seeder, req.node, req.targets, now);
    if (req.event !== 'stopped') this.refreshIndex(req.infoHash, now);
    const targets: WebRtcPeerRef[] = [];
    for (let i = 3; i + 1 < reply.length; i += 2) {
      targets.push({ peerId: reply[i] as Buffer, node: (reply[i + 1] as Buffer).toString('latin1') });
    }
    return {
      complete: Number(reply[0]),
      incomplete: Number(reply[1]),
      downloaded: Number(reply[2]),
      targets,
    };
  }

  async leave(infoHash: Buffer, peerId: Buffer, node: string): Promise<void> {
    await this.run(infoHash, peerId, 'leave', false, node, 0, this.options.now());
  }

  /** One run of webrtc.lua (its header lists the arguments). */
  private run(
    infoHash: Buffer,
    peerId: Buffer,
    event: WebRtcAnnounce['event'] | 'leave',
    seeder: boolean,
    node: string,
    targets: number,
    now: number,
  ): Promise<(number | Buffer)[]> {
    return this.connection.evalScript<(number | Buffer)[]>(this.script, webrtcKeys(this.options.prefix, infoHash), [
      String(now),
      String(this.options.ttlMs),
      String(this.keyTtl),
      String(Math.max(this.options.downloadedTtlMs, this.keyTtl)),
      peerId,
      event,
      seeder ? '1' : '0',
      node,
      String(targets),
      String(Math.floor(Math.random() * 0x7fffffff)),
    ]);
  }

  async locate(infoHash: Buffer, peerId: Buffer): Promise<string | undefined> {
    const [s, l, n] = webrtcKeys(this.options.prefix, infoHash) as [string, string, string, string];
    // Written together (one round trip); the node entry counts only while the peer's expiry is ahead.
    const [entry, seederExpiry, leecherExpiry] = await Promise.all([
      this.connection.command<Buffer | null>(n, ['HGET', n, peerId]),
      this.connection.command<Buffer | null>(s, ['ZSCORE', s, peerId]),
      this.connection.command<Buffer | null>(l, ['ZSCORE', l, peerId]),
    ]);
    const expiry = Number((seederExpiry ?? leecherExpiry)?.toString() ?? 0);
    if (!entry || entry.length < 2 || expiry <= this.options.now()) return undefined;
    return entry.subarray(1).toString('latin1');
  }

  async scrape(infoHashes: readonly Buffer[]): Promise<WebRtcCounts[]> {
    const live = `(${this.options.now()}`;
    return Promise.all(
      infoHashes.map(async (infoHash) => {
        const [s, l, , d] = webrtcKeys(this.options.prefix, infoHash) as [string, string, string, string];
        const [complete, incomplete, downloaded] = await Promise.all([
          this.connection.command<number>(s, ['ZCOUNT', s, live, '+inf']),
          this.connection.command<number>(l, ['ZCOUNT', l, live, '+inf']),
          this.connection.command<Buffer | null>(d, ['GET', d]),
        ]);
        return { complete, incomplete, downloaded: downloaded ? Number(downloaded.toString()) : 0 };
      }),
    );
  }

  /** Walks the index of torrents announced to within a peer TTL (cached for a few seconds). */
  totals(): Promise<WebRtcTotals> {
    const now = this.options.now();
    if (this.totalsCache && now - this.totalsCache.at < TOTALS_CACHE_MS) return this.totalsCache.value;
    const value = this.countAll(now);
    this.totalsCache = { at: now, value };
    value.catch(() => {
      if (this.totalsCache?.value === value) this.totalsCache = undefined;
    });
    return value;
  }

  publish(node: string, message: RelayedMessage): Promise<void> {
    return this.channels.publish(node, message);
  }

  subscribe(node: string, onMessage: (message: RelayedMessage) => void): Promise<() => Promise<void>> {
    return this.channels.subscribe(node, onMessage);
  }

  private async countAll(now: number): Promise<WebRtcTotals> {
    const index = webrtcIndexKey(this.options.prefix);
    const cutoff = now - this.keyTtl;
    await this.connection.command(index, ['ZREMRANGEBYSCORE', index, '-inf', String(cutoff)]);
    const totals: WebRtcTotals = { torrents: 0, peers: 0, seeders: 0, leechers: 0 };
    for (let offset = 0; ; offset += TOTALS_PAGE) {
      const page = await this.connection.command<Buffer[]>(index, [
        'ZRANGEBYSCORE',
        index,
        String(cutoff),
        '+inf',
        'LIMIT',
        String(offset),
        String(TOTALS_PAGE),
      ]);
      const counts = await this.scrape(page);
      for (const c of counts) {
        if (c.complete + c.incomplete === 0) continue;
        totals.torrents++;
        totals.seeders += c.complete;
        totals.leechers += c.incomplete;
      }
      if (page.length < TOTALS_PAGE) break;
    }
    totals.peers = totals.seeders + totals.leechers;
    return totals;
  }

  private refreshIndex(infoHash: Buffer, now: number): void {
    if (now - this.indexedSince > INDEX_REFRESH_MS) {
      this.indexed = new Set();
      this.indexedSince = now;
    }
    const key = infoHash.toString('latin1');
    if (this.indexed.has(key)) return;
    this.indexed.add(key);
    const index = webrtcIndexKey(this.options.prefix);
    // Off the announce's path: a lost refresh only hides the torrent from totals until the next.
    this.connection.command(index, ['ZADD', index, String(now), infoHash]).catch(() => this.indexed.delete(key));
  }
}

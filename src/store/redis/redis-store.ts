import { randomBytes } from 'node:crypto';
import { lineSink, stderrLogger } from '../../logging/logger.js';
import {
  DEFAULT_WEBRTC_TTL_MS,
  type RedisWalkSpec,
  type StoreAnnounce,
  type StoreAnnounceResult,
  type StoredPeer,
  type StoreHealth,
  type StoreOptions,
  type SwarmCounts,
  type SwarmStore,
  type SwarmTotals,
  type TorrentScan,
  type TorrentSummary,
} from '../swarm-store.js';
import { RedisAccounts } from './accounts.js';
import { AnnounceBatcher, type Batched, packAnnounces } from './announce-batch.js';
import { type AnnounceReply, announceResult } from './announce-reply.js';
import { type RedisArg, RedisConnection } from './connection.js';
import { bucketTag, secretKey, sharedSetKey, TorrentBuckets, torrentSlot } from './keys.js';
import { NodeChannels } from './node-channels.js';
import { redisScripts, type Scripts } from './scripts.js';
import { RedisSharedSet } from './shared-set.js';
import { TorrentCounter } from './torrent-counts.js';
import { type IndexPage, TorrentIndex } from './torrent-index.js';
import { SharedTotals } from './totals.js';
import { RedisWebRtcSwarms } from './webrtc-swarms.js';

export interface RedisStoreOptions extends StoreOptions {
  /** redis[s]://[user:pass@]host:port[/db] — or clusterUrls. */
  url?: string;
  /** Redis Cluster seed nodes (redis[s]:// URLs). */
  clusterUrls?: readonly string[];
  /** Prefix of every key, so trackers can share a Redis. Default `bitstorm:`. */
  prefix?: string;
  /** How long a torrent's downloaded count outlives its last announce. Default 30 days. */
  downloadedTtlMs?: number;
  /** A Redis command not answered within this fails (the client is told to retry). Default REDIS_TIMEOUT_MS. */
  commandTimeoutMs?: number;
  /** Where outage lines go. Default: standard error (logging/logger.ts' stderrLogger). */
  log?: (line: string) => void;
  /** CLIENT SETNAME of the connection(s). Default `bitstorm-<pid>`. */
  clientName?: string;
  /** totals() is shared between processes when more buckets of torrents than this are indexed. Default 1,000. */
  totalsCacheAbove?: number;
  /**
   * A walk of big pages (the stats table's, full scrape) reads every bucket
   * number rather than the index's once the index lists this many buckets
   * (torrent-index.ts). Default half of them (65,536); tests lower it.
   */
  directWalkAbove?: number;
}

const DAY_MS = 86_400_000;
/**
 * Default deadline of a Redis command (ms). Below a second, with the deadline
 * check's slack (resp-pipe.ts), so a client whose announce meets a Redis that
 * hangs is told to retry within a second, as when Redis is gone; a healthy
 * Redis answers a batch in about a millisecond.
 */
export const REDIS_TIMEOUT_MS = 800;
/** The torrent index is rewritten at most this often per torrent (it is a separate key, off the hot path). */
const MAX_INDEX_REFRESH_MS = 60_000;
/** Key TTLs exceed the peer TTL by this much (at most), absorbing clock skew between tracker processes. */
const MAX_KEY_TTL_SLACK_MS = 60_000;
/** Above this many indexed torrents, totals are shared between processes for a while (totals.ts). */
const BIG_INDEX = 1_000;

/** `now` as the 6 big-endian bytes of a peer record's last-seen field. */
function timeBytes(now: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUIntBE(Math.floor(now), 0, 6);
  return b;
}

/**
 * Swarms in Redis (or Redis Cluster), shared by every tracker process that
 * uses the same Redis and prefix. An announce is one script run: it upserts or
 * removes the peer, prunes the torrent's expired peers, counts and samples, all
 * atomically on the keys of one torrent (one hash slot); the announces of one
 * event-loop turn share one EVALSHA (announce-batch.ts). Layout and rationale:
 * docs/redis-layout.md; the scripts: scripts/*.lua.
 *
 * The constructor does not wait for Redis: the connection is made (and remade
 * after an outage) in the background, and until it is up every call fails
 * fast with a StoreError, which transports answer with "retry in"
 * (connection.ts has the outage policy).
 */
export class RedisStore implements SwarmStore {
  readonly kind: string;
  readonly prefix: string;
  readonly connection: RedisConnection;
  readonly webrtc: RedisWebRtcSwarms;
  readonly accounts: RedisAccounts;
  private readonly channels: NodeChannels;
  private readonly scripts: Scripts;
  private readonly ttl: number;
  private readonly now: () => number;
  private readonly keyTtl: number;
  private readonly downloadedTtl: number;
  private readonly indexRefresh: number;
  /** Which bucket holds each torrent, once its secret is read (torrentBuckets()). */
  private buckets: TorrentBuckets | undefined;
  private bucketsLoad: Promise<TorrentBuckets> | undefined;
  private readonly batcher: AnnounceBatcher<StoreAnnounceResult>;
  private readonly counter: TorrentCounter;
  private readonly index: TorrentIndex;
  private readonly totalsCache: SharedTotals;
  private readonly walkSpec: Omit<RedisWalkSpec, 'clockOffsetMs'>;

  constructor(options: RedisStoreOptions) {
    this.scripts = redisScripts();
    this.ttl = options.peerTtlMs;
    this.now = options.now;
    this.prefix = options.prefix ?? 'bitstorm:';
    this.indexRefresh = Math.max(1, Math.min(MAX_INDEX_REFRESH_MS, Math.floor(this.ttl / 4)));
    // Key TTLs are renewed once per indexRefresh period, not per announce (announce.lua).
    this.keyTtl = this.ttl + Math.min(MAX_KEY_TTL_SLACK_MS, this.ttl) + this.indexRefresh;
    this.downloadedTtl = Math.max(options.downloadedTtlMs ?? 30 * DAY_MS, this.keyTtl);
    this.connection = new RedisConnection({
      url: options.url,
      clusterUrls: options.clusterUrls,
      commandTimeoutMs: options.commandTimeoutMs ?? REDIS_TIMEOUT_MS,
      log: options.log ?? lineSink(stderrLogger, 'error'),
      clientName: options.clientName ?? `bitstorm-${process.pid}`,
    });
    this.kind = this.connection.kind;
    this.walkSpec = {
      url: options.url,
      clusterUrls: options.clusterUrls ? [...options.clusterUrls] : undefined,
      prefix: this.prefix,
      peerTtlMs: this.ttl,
      commandTimeoutMs: options.commandTimeoutMs,
      directWalkAbove: options.directWalkAbove,
    };
    this.channels = new NodeChannels(this.connection, {
      url: options.url,
      clusterUrls: options.clusterUrls,
      prefix: this.prefix,
      log: options.log ?? lineSink(stderrLogger, 'error'),
      clientName: options.clientName ?? `bitstorm-${process.pid}`,
    });
    this.webrtc = new RedisWebRtcSwarms(this.connection, this.scripts.webrtc, this.channels, {
      prefix: this.prefix,
      ttlMs: options.webrtcTtlMs ?? DEFAULT_WEBRTC_TTL_MS,
      downloadedTtlMs: this.downloadedTtl,
      now: this.now,
    });
    this.accounts = new RedisAccounts(this.connection, this.scripts.account, this.prefix, {
      ttlMs: this.ttl,
      now: this.now,
    });
    const cluster = this.kind === 'redis-cluster';
    this.counter = new TorrentCounter(this.connection, this.scripts.count, () => this.torrentBuckets(), cluster);
    bucketTag(0); // makes the slots' bucket tags now (a few ms), not on the first announce
    this.index = new TorrentIndex(
      this.connection,
      this.prefix,
      this.counter,
      this.keyTtl + this.indexRefresh,
      options.directWalkAbove,
    );
    this.totalsCache = new SharedTotals(
      this.connection,
      this.prefix,
      this.index,
      (cursor, count) => this.indexPage(cursor, count),
      options.totalsCacheAbove ?? BIG_INDEX,
    );
    // On a cluster a call may only touch one slot: batch each slot's announces on their own.
    this.batcher = new AnnounceBatcher(
      (batch) => this.sendBatch(batch),
      cluster ? (req) => String(torrentSlot(req.infoHash)) : undefined,
    );
  }

  /** Resolves once connected (tests, CLI start-up); the store works without it, failing fast until then. */
  ready(timeoutMs = 10_000): Promise<void> {
    return this.connection.waitUntilReady(timeoutMs);
  }

  announce(req: StoreAnnounce): Promise<StoreAnnounceResult> {
    return this.batcher.add(req);
  }

  /**
   * Which bucket of its slot holds each torrent (keys.ts): a keyed hash, with a
   * secret shared by every process on this Redis, read once.
   */
  torrentBuckets(): Promise<TorrentBuckets> {
    if (!this.bucketsLoad) {
      const load = this.sharedSecret('torrent-buckets', 32).then((secret) => {
        this.buckets = new TorrentBuckets(this.prefix, secret);
        return this.buckets;
      });
      this.bucketsLoad = load;
      load.catch(() => {
        if (this.bucketsLoad === load) this.bucketsLoad = undefined; // the next call tries again
      });
    }
    return this.bucketsLoad;
  }

  /** One EVALSHA for a batch of announces (announce-batch.ts); each gets its own result or the batch's error. */
  private sendBatch(batch: Batched<StoreAnnounceResult>[]): void {
    if (!this.buckets) {
      this.torrentBuckets().then(
        () => this.sendBatch(batch),
        (err: unknown) => {
          for (const entry of batch) entry.reject(err);
        },
      );
      return;
    }
    try {
      this.trySendBatch(batch, this.buckets);
    } catch (err) {
      // Runs from a setImmediate: a throw here would end the process and leave the batch unanswered.
      for (const entry of batch) entry.reject(err);
    }
  }

  private trySendBatch(batch: Batched<StoreAnnounceResult>[], buckets: TorrentBuckets): void {
    const now = this.now();
    const keys: string[] = [];
    // ARGV of announce.lua.
    const args: RedisArg[] = [
      String(now),
      String(now - this.ttl),
      String(this.keyTtl),
      String(this.downloadedTtl),
      String(this.indexRefresh),
      timeBytes(now),
      packAnnounces(
        batch.map((entry) => entry.req),
        () => Math.floor(Math.random() * 0x7fffffff),
      ),
    ];
    const numbers: number[] = [];
    for (const { req } of batch) {
      const n = buckets.bucketOf(req.infoHash); // one keyed hash per announce
      numbers.push(n);
      for (const k of buckets.scriptKeys(req.infoHash, n)) keys.push(k);
    }
    this.connection.evalScript<AnnounceReply[]>(this.scripts.announce, keys, args).then(
      (replies) => this.settleBatch(batch, replies, numbers),
      (err: unknown) => {
        for (const entry of batch) entry.reject(err);
      },
    );
  }

  /** Hands each announce of a batch its reply; never throws (it runs as a promise reaction). */
  private settleBatch(batch: Batched<StoreAnnounceResult>[], replies: unknown, numbers: number[]): void {
    const indexed: RedisArg[] = [];
    for (let i = 0; i < batch.length; i++) {
      const { req, resolve, reject } = batch[i] as Batched<StoreAnnounceResult>;
      const reply = Array.isArray(replies) ? (replies[i] as AnnounceReply | [-1, Buffer] | undefined) : undefined;
      if (!Array.isArray(reply) || reply[0] === -1) {
        // This announce's script run raised an error (or the reply is not what the script returns).
        const cause = new Error(`announce script: ${Array.isArray(reply) ? String(reply[1]) : 'no reply'}`);
        reject(this.connection.failure(cause));
        continue;
      }
      try {
        resolve(announceResult(req, reply as AnnounceReply));
      } catch (err) {
        reject(this.connection.failure(err)); // a reply not of the expected shape: this announce fails, the others stand
        continue;
      }
      if (reply[6] === 1) {
        const n = String(numbers[i]);
        indexed.push(n, n);
      }
    }
    if (indexed.length > 0) this.index.refresh(indexed);
  }

  async scrape(infoHashes: readonly Buffer[]): Promise<SwarmCounts[]> {
    const counted = await this.counter.count(infoHashes, this.now() - this.ttl);
    return counted.map((c) => ({ complete: c.seeders, incomplete: c.leechers, downloaded: c.downloaded }));
  }

  /**
   * Pages through the torrent index in bucket order (torrent-index.ts has the cursor):
   * a torrent is listed once per walk, but for HSCAN's rare repeat in a big
   * (hashtable-encoded) bucket that Redis rehashes while the walk reads it in steps
   * (its steps land in different pages).
   */
  async scanTorrents(cursor: string, count: number): Promise<TorrentScan> {
    const now = this.now();
    const page = await this.indexPage(cursor, Math.max(1, count));
    const torrents: TorrentSummary[] = [];
    for (const { infoHash, counts } of page.torrents) {
      if (counts.seeders + counts.leechers === 0) continue;
      torrents.push({
        infoHash,
        complete: counts.seeders,
        incomplete: counts.leechers,
        downloaded: counts.downloaded,
        lastAnnounce: counts.lastAnnounce > 0 ? counts.lastAnnounce : now,
      });
    }
    return { cursor: page.cursor, torrents };
  }

  redisWalk(): RedisWalkSpec {
    return { ...this.walkSpec, clockOffsetMs: this.now() - Date.now() };
  }

  async torrentPeers(infoHash: Buffer, limit: number): Promise<StoredPeer[]> {
    const flat = await this.connection.evalScript<(Buffer | number)[]>(
      this.scripts.peers,
      (await this.torrentBuckets()).scriptKeys(infoHash),
      [String(this.now() - this.ttl), String(Math.max(0, limit)), infoHash],
    );
    const out: StoredPeer[] = [];
    for (let i = 0; i + 4 < flat.length; i += 5) {
      const ep4 = flat[i + 3] as Buffer;
      const ep6 = flat[i + 4] as Buffer;
      out.push({
        peerId: flat[i] as Buffer,
        seeder: flat[i + 1] === 1,
        lastSeen: flat[i + 2] as number,
        ipv4: ep4.length > 0 ? ep4 : null,
        ipv6: ep6.length > 0 ? ep6 : null,
      });
    }
    return out;
  }

  /** Exact totals; shared between processes on a big index (totals.ts). */
  totals(): Promise<SwarmTotals> {
    return this.totalsCache.get();
  }

  /** SET NX: the first process to ask creates the secret, every other one reads the same. */
  health(): StoreHealth {
    return { up: this.connection.up, outages: this.connection.outages };
  }

  sharedSet(name: string): RedisSharedSet {
    return new RedisSharedSet(this.connection, sharedSetKey(this.prefix, name));
  }

  async sharedSecret(name: string, bytes: number): Promise<Buffer> {
    const key = secretKey(this.prefix, name);
    await this.connection.command(key, ['SET', key, randomBytes(bytes), 'NX']);
    const secret = await this.connection.command<Buffer | null>(key, ['GET', key]);
    if (!secret) throw new Error(`shared secret ${name} vanished`);
    return secret;
  }

  async close(): Promise<void> {
    await this.channels.close();
    await this.connection.close();
  }

  private indexPage(cursor: string, count: number): Promise<IndexPage> {
    const now = this.now();
    return this.index.page(cursor, count, now - this.ttl, now - this.keyTtl);
  }
}

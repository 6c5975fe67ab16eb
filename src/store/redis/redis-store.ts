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
import { AnnounceBatcher, type Batched, packAnnounces } from './announce-batch.js';
import { type RedisArg, RedisConnection } from './connection.js';
import { secretKey, torrentIndexKey, torrentKeys } from './keys.js';
import { SCRIPTS } from './scripts.js';

export interface RedisStoreOptions extends StoreOptions {
  /** redis[s]://[user:pass@]host:port[/db] — or clusterUrls. */
  url?: string;
  /** Redis Cluster seed nodes (redis[s]:// URLs). */
  clusterUrls?: readonly string[];
  /** Prefix of every key, so trackers can share a Redis. Default `bitstorm:`. */
  prefix?: string;
  /** How long a torrent's downloaded count outlives its last announce. Default 30 days. */
  downloadedTtlMs?: number;
  /** A Redis command not answered within this fails fast (client told to retry). Default 2000. */
  commandTimeoutMs?: number;
  /** Where outage lines go. Default console.error. */
  log?: (line: string) => void;
  /** CLIENT SETNAME of the connection(s). Default `bitstorm-<pid>`. */
  clientName?: string;
  /** totals() is shared between processes when more torrents than this are indexed. Default 1,000. */
  totalsCacheAbove?: number;
}

const EMPTY = Buffer.alloc(0);
const DAY_MS = 86_400_000;
/** The torrent index is rewritten at most this often per torrent (it is a separate key, off the hot path). */
const MAX_INDEX_REFRESH_MS = 60_000;
/** Key TTLs exceed the peer TTL by this much (at most), absorbing clock skew between tracker processes. */
const MAX_KEY_TTL_SLACK_MS = 60_000;
/**
 * Torrents per count call (standalone Redis), and so per page of the totals
 * walk. Pages and windows go one after another, one count call each, so a walk
 * holds Redis (and the announces queued behind it on the same connection) for
 * well under a millisecond at a time: pages of 500 pipelined at once held it
 * for 5 ms and more, which showed in the p99.
 */
const COUNT_BATCH = 64;
/** Above this many indexed torrents, totals() is shared between processes for a while (see totals()). */
const BIG_INDEX = 1_000;

/** Per sampled set: how many to take, then chunks of whole peer records (see ANNOUNCE_SCRIPT). */
type Sample = (number | Buffer[])[];
type AnnounceReply = [number, number, number, number, Sample, Sample, number];
/** Peer record layout (scripts.ts): peer_id, last seen, flags, key, then the endpoint. */
const RECORD_ENDPOINT = 20 + 6 + 1 + 4;
/** seeders, leechers, peers4, peers6, downloaded, last announce */
type CountReply = [number, number, number, number, number, number];

/** `now` as the 6 big-endian bytes of a peer record's last-seen field. */
function timeBytes(now: number): Buffer {
  const b = Buffer.allocUnsafe(6);
  b.writeUIntBE(Math.floor(now), 0, 6);
  return b;
}

/**
 * Cuts the script's sample into endpoints (and ids): for each set, the first
 * `take` records that are not the requester's. Done here, not in Lua, because
 * Lua pays a string allocation per slice and Node does not.
 */
function cutSample(
  sample: Sample,
  endpointSize: number,
  requester: Buffer,
  withIds: boolean,
): { endpoints: Buffer; ids: Buffer } {
  if (sample.length === 0) return { endpoints: EMPTY, ids: EMPTY };
  let total = 0;
  for (let i = 0; i + 1 < sample.length; i += 2) total += sample[i] as number;
  if (total === 0) return { endpoints: EMPTY, ids: EMPTY };
  const size = RECORD_ENDPOINT + endpointSize;
  const endpoints = Buffer.allocUnsafe(total * endpointSize);
  const ids = withIds ? Buffer.allocUnsafe(total * 20) : EMPTY;
  let n = 0;
  for (let i = 0; i + 1 < sample.length; i += 2) {
    let take = sample[i] as number;
    for (const records of sample[i + 1] as Buffer[]) {
      // Byte loops, not Buffer#compare / #copy: a native call per 6-byte copy cost
      // more than the copying (about 10 µs per 50-peer reply).
      for (let off = 0; take > 0 && off + size <= records.length; off += size) {
        if (isRequester(records, off, requester)) continue;
        const to = n * endpointSize;
        const from = off + RECORD_ENDPOINT;
        for (let j = 0; j < endpointSize; j++) endpoints[to + j] = records[from + j] as number;
        if (withIds) for (let j = 0; j < 20; j++) ids[n * 20 + j] = records[off + j] as number;
        n++;
        take--;
      }
    }
  }
  return {
    endpoints: endpoints.subarray(0, n * endpointSize),
    ids: withIds ? ids.subarray(0, n * 20) : EMPTY,
  };
}

/** Whether the record at `off` is the requester's (peer ids often share a client prefix: compare from the end). */
function isRequester(records: Buffer, off: number, requester: Buffer): boolean {
  for (let j = 19; j >= 0; j--) if (records[off + j] !== requester[j]) return false;
  return true;
}

/** The store's answer to one announce from its script reply. */
function announceResult(req: StoreAnnounce, reply: AnnounceReply): StoreAnnounceResult {
  const four = cutSample(reply[4], 6, req.peerId, req.withPeerIds);
  const six = cutSample(reply[5], 18, req.peerId, req.withPeerIds);
  const result: StoreAnnounceResult = {
    status: reply[0] === 1 ? 'key-mismatch' : 'ok',
    complete: reply[1],
    incomplete: reply[2],
    downloaded: reply[3],
    peers4: four.endpoints,
    peers6: six.endpoints,
  };
  if (req.withPeerIds) {
    result.peerIds4 = four.ids;
    result.peerIds6 = six.ids;
  }
  return result;
}

interface CountedTorrent {
  infoHash: Buffer;
  counts: CountReply;
  indexScore: number;
}

/**
 * Swarms in Redis (or Redis Cluster), shared by every tracker process that
 * uses the same Redis and prefix. One announce is one EVALSHA: the script
 * upserts or removes the peer, prunes the torrent's expired peers, counts and
 * samples, all atomically on the keys of one torrent (one hash slot). Layout
 * and rationale: docs/redis-layout.md; the scripts: scripts.ts.
 *
 * The constructor does not wait for Redis: the connection is made (and remade
 * after an outage) in the background, and until it is up every call fails
 * fast with a StoreError, which transports answer with "retry in".
 */
export class RedisStore implements SwarmStore {
  readonly kind: string;
  readonly prefix: string;
  readonly connection: RedisConnection;
  private readonly ttl: number;
  private readonly now: () => number;
  private readonly keyTtl: number;
  private readonly metaTtl: number;
  private readonly indexRefresh: number;
  private readonly indexKey: string;
  private readonly indexTtl: number;
  private readonly totalsCacheAbove: number;
  private readonly batcher: AnnounceBatcher<StoreAnnounceResult>;

  constructor(options: RedisStoreOptions) {
    this.ttl = options.peerTtlMs;
    this.now = options.now;
    this.prefix = options.prefix ?? 'bitstorm:';
    this.indexRefresh = Math.max(1, Math.min(MAX_INDEX_REFRESH_MS, Math.floor(this.ttl / 4)));
    // Key TTLs are refreshed once per indexRefresh period, not per announce (see scripts.ts).
    this.keyTtl = this.ttl + Math.min(MAX_KEY_TTL_SLACK_MS, this.ttl) + this.indexRefresh;
    this.metaTtl = Math.max(options.downloadedTtlMs ?? 30 * DAY_MS, this.keyTtl);
    this.indexKey = torrentIndexKey(this.prefix);
    this.indexTtl = this.keyTtl + this.indexRefresh;
    this.totalsCacheAbove = options.totalsCacheAbove ?? BIG_INDEX;
    this.connection = new RedisConnection({
      url: options.url,
      clusterUrls: options.clusterUrls,
      commandTimeoutMs: options.commandTimeoutMs ?? 2000,
      log: options.log ?? ((line) => console.error(line)),
      clientName: options.clientName ?? `bitstorm-${process.pid}`,
    });
    this.kind = this.connection.kind;
    // On a cluster a call may only touch one slot: batch each torrent's announces on their own.
    this.batcher = new AnnounceBatcher(
      (batch) => this.sendBatch(batch),
      this.kind === 'redis-cluster' ? (req) => req.infoHash.toString('latin1') : undefined,
    );
  }

  /** Resolves once connected (tests, CLI start-up); the store works without it, failing fast until then. */
  ready(timeoutMs = 10_000): Promise<void> {
    return this.connection.waitUntilReady(timeoutMs);
  }

  announce(req: StoreAnnounce): Promise<StoreAnnounceResult> {
    return this.batcher.add(req);
  }

  /** One EVALSHA for a batch of announces (announce-batch.ts); each gets its own result or the batch's error. */
  private sendBatch(batch: Batched<StoreAnnounceResult>[]): void {
    try {
      this.trySendBatch(batch);
    } catch (err) {
      // Runs from a setImmediate: a throw here would end the process and leave the batch unanswered.
      for (const entry of batch) entry.reject(err);
    }
  }

  private trySendBatch(batch: Batched<StoreAnnounceResult>[]): void {
    const now = this.now();
    const keys: string[] = [];
    const args: RedisArg[] = [
      String(now),
      String(now - this.ttl),
      String(this.keyTtl),
      String(this.metaTtl),
      String(this.indexRefresh),
      timeBytes(now),
      packAnnounces(
        batch.map((entry) => entry.req),
        () => Math.floor(Math.random() * 0x7fffffff),
      ),
    ];
    for (const { req } of batch) {
      for (const k of torrentKeys(this.prefix, req.infoHash)) keys.push(k);
    }
    this.connection.evalScript<AnnounceReply[]>(SCRIPTS.announce, keys, args).then(
      (replies) => this.settleBatch(batch, replies, now),
      (err: unknown) => {
        for (const entry of batch) entry.reject(err);
      },
    );
  }

  /** Hands each announce of a batch its reply; never throws (it runs as a promise reaction). */
  private settleBatch(batch: Batched<StoreAnnounceResult>[], replies: unknown, now: number): void {
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
      if (reply[6] === 1) indexed.push(String(now), req.infoHash);
    }
    if (indexed.length > 0) this.refreshIndex(indexed);
  }

  /**
   * Adds (score, info_hash) pairs to the torrent index. The index lives in
   * another slot, so the script cannot write it; a torrent asks for it at most
   * once a minute, it is not awaited, and a failure only delays the torrent's
   * appearance on the stats page. The index expires too once no torrent is
   * announced to.
   */
  private refreshIndex(scoresAndHashes: RedisArg[]): void {
    const index = this.indexKey;
    this.connection.command(index, ['ZADD', index, ...scoresAndHashes]).catch(() => undefined);
    this.connection.command(index, ['PEXPIRE', index, String(this.indexTtl)]).catch(() => undefined);
  }

  async scrape(infoHashes: readonly Buffer[]): Promise<SwarmCounts[]> {
    const counted = await this.countMany(infoHashes);
    return counted.map((c) => ({ complete: c[0], incomplete: c[1], downloaded: c[4] }));
  }

  /**
   * Pages through the torrent index in score order (last index refresh).
   * Cursor: `<score>:<n>` = continue at score `score`, skipping the first `n`
   * members that have exactly that score (keyset paging, stable while torrents
   * are added; a torrent refreshed during a scan may be seen twice, as with SCAN).
   */
  async scanTorrents(cursor: string, count: number): Promise<TorrentScan> {
    const page = await this.scanPage(cursor, Math.max(1, count));
    const torrents: TorrentSummary[] = [];
    for (const t of page.torrents) {
      const [seeders, leechers, , , downloaded, last] = t.counts;
      if (seeders + leechers === 0) continue;
      torrents.push({
        infoHash: t.infoHash,
        complete: seeders,
        incomplete: leechers,
        downloaded,
        lastAnnounce: last > 0 ? last : t.indexScore,
      });
    }
    return { cursor: page.cursor, torrents };
  }

  async torrentPeers(infoHash: Buffer, limit: number): Promise<StoredPeer[]> {
    const flat = await this.connection.evalScript<(Buffer | number)[]>(
      SCRIPTS.peers,
      torrentKeys(this.prefix, infoHash),
      [String(this.now() - this.ttl), String(Math.max(0, limit))],
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

  /**
   * Walks the whole torrent index (pruning and counting each torrent, in
   * pipelined batches). Exact, also on a cluster, because every count comes
   * from the torrent's own keys — but O(torrents), and every tracker process's
   * stats page samples it. So past `totalsCacheAbove` torrents the result is shared
   * through Redis (`Ptotals`) for 10× the time the walk took (5 s to 5 min),
   * and only one process walks at a time: the walking costs at most ~10 % of
   * Redis' time however many processes ask. Small deployments (and tests)
   * always get a fresh, exact walk.
   */
  async totals(): Promise<SwarmTotals> {
    const size = await this.connection.command<number>(this.indexKey, ['ZCARD', this.indexKey]);
    if (size <= this.totalsCacheAbove) return this.walkTotals();
    const cacheKey = `${this.prefix}totals`;
    const lockKey = `${this.prefix}totals:lock`;
    const cached = await this.connection.command<Buffer | null>(cacheKey, ['GET', cacheKey]);
    const parsed = cached ? (JSON.parse(cached.toString()) as { fresh: number; totals: SwarmTotals }) : undefined;
    if (parsed && parsed.fresh > Date.now()) return parsed.totals;
    const lock = await this.connection.command<Buffer | null>(lockKey, ['SET', lockKey, '1', 'NX', 'PX', '300000']);
    if (!lock && parsed) return parsed.totals; // another process is walking: a slightly old answer will do
    const started = Date.now();
    try {
      const totals = await this.walkTotals();
      const took = Date.now() - started;
      const fresh = Date.now() + Math.min(300_000, Math.max(5_000, took * 10));
      await this.connection.command(cacheKey, ['SET', cacheKey, JSON.stringify({ fresh, totals }), 'PX', '600000']);
      return totals;
    } finally {
      if (lock) await this.connection.command(lockKey, ['DEL', lockKey]).catch(() => undefined);
    }
  }

  private async walkTotals(): Promise<SwarmTotals> {
    const totals: SwarmTotals = { torrents: 0, peers: 0, seeders: 0, leechers: 0, peers4: 0, peers6: 0, downloaded: 0 };
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const page = await this.scanPage(cursor, COUNT_BATCH);
      for (const t of page.torrents) {
        const [seeders, leechers, peers4, peers6, downloaded] = t.counts;
        if (seeders + leechers === 0) continue;
        const id = t.infoHash.toString('latin1');
        if (seen.has(id)) continue; // refreshed during the walk
        seen.add(id);
        totals.torrents++;
        totals.seeders += seeders;
        totals.leechers += leechers;
        totals.peers4 += peers4;
        totals.peers6 += peers6;
        totals.downloaded += downloaded;
      }
      cursor = page.cursor;
    } while (cursor !== '0');
    totals.peers = totals.seeders + totals.leechers;
    return totals;
  }

  /** SET NX: the first process to ask creates the secret, every other one reads the same. */
  async sharedSecret(name: string, bytes: number): Promise<Buffer> {
    const key = secretKey(this.prefix, name);
    await this.connection.command(key, ['SET', key, randomBytes(bytes), 'NX']);
    const secret = await this.connection.command<Buffer | null>(key, ['GET', key]);
    if (!secret) throw new Error(`shared secret ${name} vanished`);
    return secret;
  }

  async close(): Promise<void> {
    await this.connection.close();
  }

  /**
   * Counts torrents (pruning them first), COUNT_BATCH at a time, one window
   * after another so that a long scan never holds Redis — and the announces
   * queued behind it — for more than one window: on a single Redis a window is
   * one call; on a cluster, one call per torrent (a call may touch one slot).
   */
  private async countMany(infoHashes: readonly Buffer[]): Promise<CountReply[]> {
    const cutoff = [String(this.now() - this.ttl)];
    const out: CountReply[] = [];
    for (let i = 0; i < infoHashes.length; i += COUNT_BATCH) {
      const window = infoHashes.slice(i, i + COUNT_BATCH);
      if (this.kind === 'redis-cluster') {
        const replies = await Promise.all(
          window.map((hash) =>
            this.connection.evalScript<CountReply[]>(SCRIPTS.count, torrentKeys(this.prefix, hash), cutoff),
          ),
        );
        for (const r of replies) out.push(r[0] as CountReply);
      } else {
        const keys: string[] = [];
        for (const hash of window) keys.push(...torrentKeys(this.prefix, hash));
        out.push(...(await this.connection.evalScript<CountReply[]>(SCRIPTS.count, keys, cutoff)));
      }
    }
    return out;
  }

  /** One page of the index with each torrent's counts (pruned first). */
  private async scanPage(cursor: string, count: number): Promise<{ cursor: string; torrents: CountedTorrent[] }> {
    const now = this.now();
    let min = '-inf';
    let skip = 0;
    if (cursor === '0') {
      // Index entries older than any live peer can be dropped: the entry is
      // refreshed at least every indexRefresh ms while the torrent is announced to.
      const stale = now - this.keyTtl; // peer TTL + slack + refresh period
      await this.connection.command(this.indexKey, ['ZREMRANGEBYSCORE', this.indexKey, '-inf', `(${stale}`]);
    } else {
      const match = /^(-?\d+):(\d+)$/.exec(cursor);
      if (!match) throw new RangeError(`bad cursor "${cursor}"`);
      min = match[1] as string;
      skip = Number(match[2]);
    }
    const flat = await this.connection.command<(Buffer | number)[]>(this.indexKey, [
      'ZRANGE',
      this.indexKey,
      min,
      '+inf',
      'BYSCORE',
      'LIMIT',
      String(skip),
      String(count),
      'WITHSCORES',
    ]);
    const members: { infoHash: Buffer; score: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      members.push({ infoHash: flat[i] as Buffer, score: Number(String(flat[i + 1])) });
    }
    let next = '0';
    const last = members[members.length - 1];
    if (members.length >= count && last) {
      let same = 0;
      for (const m of members) if (m.score === last.score) same++;
      if (String(last.score) === min) same += skip;
      next = `${last.score}:${same}`;
    }
    const counts = await this.countMany(members.map((m) => m.infoHash));
    return {
      cursor: next,
      torrents: members.map((m, i) => ({ infoHash: m.infoHash, indexScore: m.score, counts: counts[i] as CountReply })),
    };
  }
}

import type { RedisArg, RedisConnection } from './connection.js';
import { bucketKey, torrentIndexKey } from './keys.js';
import type { Script } from './scripts.js';
import type { TorrentCounter, TorrentCountReply } from './torrent-counts.js';

export interface IndexedTorrent {
  readonly infoHash: Buffer;
  /** When its bucket's index entry was last refreshed (ms). */
  readonly indexScore: number;
  readonly counts: TorrentCountReply;
}

export interface IndexPage {
  /** '0' after the last page. */
  readonly cursor: string;
  readonly torrents: IndexedTorrent[];
}

/** Buckets per page at most: a page of 16 buckets is ~1,000 torrents at 1M torrents. */
const MAX_BUCKETS_PER_PAGE = 16;

/**
 * The torrent index: one sorted set of the buckets that hold torrents (a bucket
 * per hash slot: keys.ts, scripts/torrent.lua), scored by when each was last
 * refreshed (the announce script asks at most once per refresh period per
 * bucket). A bucket lists its torrents: the inline ones with their one record,
 * the others with a marker. The index lives in another hash slot than any
 * bucket, so the announce script cannot write it: the store adds entries after
 * the script's reply, without waiting, and a failure only delays the bucket's
 * appearance on the stats page. It expires too once nothing is announced to.
 */
export class TorrentIndex {
  readonly key: string;

  constructor(
    private readonly connection: RedisConnection,
    private readonly scan: Script,
    private readonly prefix: string,
    private readonly counter: TorrentCounter,
    private readonly cluster: boolean,
    /** An entry older than this (ms) belongs to a bucket with no live peer (peer TTL + slack + refresh period). */
    private readonly entryTtl: number,
    /** TTL of the index key itself (ms). */
    private readonly keyTtl: number,
  ) {
    this.key = torrentIndexKey(prefix);
  }

  /** Adds or refreshes entries: (score, slot number) pairs. Not awaited by the announce. */
  refresh(scoresAndSlots: RedisArg[]): void {
    this.connection.command(this.key, ['ZADD', this.key, ...scoresAndSlots]).catch(() => undefined);
    this.connection.command(this.key, ['PEXPIRE', this.key, String(this.keyTtl)]).catch(() => undefined);
  }

  /** Buckets in the index (each holds one or more torrents). */
  size(): Promise<number> {
    return this.connection.command<number>(this.key, ['ZCARD', this.key]);
  }

  /**
   * One page of the index: the torrents of a few buckets (about count / 4, at
   * most 16) in the buckets' score order, with each torrent's counts (pruned
   * first). Cursor: `<score>:<n>` = continue at score `score`, skipping the
   * first `n` buckets that have exactly that score (keyset paging, stable while
   * buckets are added; a bucket refreshed during a scan may be seen twice, as
   * with SCAN).
   */
  async page(cursor: string, count: number, now: number, cutoff: number): Promise<IndexPage> {
    let min = '-inf';
    let skip = 0;
    if (cursor === '0') {
      // Entries older than any live peer can go: the entry is refreshed at least
      // once per refresh period while the bucket is announced to.
      await this.connection.command(this.key, ['ZREMRANGEBYSCORE', this.key, '-inf', `(${now - this.entryTtl}`]);
    } else {
      const match = /^(-?\d+):(\d+)$/.exec(cursor);
      if (!match) throw new RangeError(`bad cursor "${cursor}"`);
      min = match[1] as string;
      skip = Number(match[2]);
    }
    const buckets = Math.max(1, Math.min(MAX_BUCKETS_PER_PAGE, Math.ceil(count / 4)));
    const flat = await this.connection.command<(Buffer | number)[]>(this.key, [
      'ZRANGE',
      this.key,
      min,
      '+inf',
      'BYSCORE',
      'LIMIT',
      String(skip),
      String(buckets),
      'WITHSCORES',
    ]);
    const members: { slot: number; score: number }[] = [];
    for (let i = 0; i + 1 < flat.length; i += 2) {
      members.push({ slot: Number(String(flat[i])), score: Number(String(flat[i + 1])) });
    }
    let next = '0';
    const last = members[members.length - 1];
    if (members.length >= buckets && last) {
      let same = 0;
      for (const m of members) if (m.score === last.score) same++;
      if (String(last.score) === min) same += skip;
      next = `${last.score}:${same}`;
    }
    const lists = await this.list(
      members.map((m) => bucketKey(this.prefix, m.slot)),
      cutoff,
    );
    // Torrents with keys of their own (or a downloaded count) are counted by the count script.
    const torrents: IndexedTorrent[] = [];
    const toCount: number[] = [];
    members.forEach((m, b) => {
      const list = lists[b] ?? [];
      for (let i = 0; i + 6 < list.length; i += 7) {
        const infoHash = list[i] as Buffer;
        if (list[i + 1] === 1) {
          const [seeders, leechers, peers4, peers6, lastAnnounce] = list.slice(i + 2, i + 7) as number[];
          torrents.push({
            infoHash,
            indexScore: m.score,
            counts: {
              seeders: seeders as number,
              leechers: leechers as number,
              peers4: peers4 as number,
              peers6: peers6 as number,
              downloaded: 0,
              lastAnnounce: lastAnnounce as number,
            },
          });
        } else {
          toCount.push(torrents.length);
          torrents.push({ infoHash, indexScore: m.score, counts: NO_COUNTS });
        }
      }
    });
    const counts = await this.counter.count(
      toCount.map((i) => (torrents[i] as IndexedTorrent).infoHash),
      cutoff,
    );
    toCount.forEach((i, j) => {
      const t = torrents[i] as IndexedTorrent;
      torrents[i] = { ...t, counts: counts[j] as TorrentCountReply };
    });
    return { cursor: next, torrents };
  }

  /** scan.lua over the buckets: one call on a single Redis, one per bucket on a cluster. */
  private async list(keys: string[], cutoff: number): Promise<(Buffer | number)[][]> {
    if (keys.length === 0) return [];
    const args = [String(cutoff)];
    if (!this.cluster) return this.connection.evalScript<(Buffer | number)[][]>(this.scan, keys, args);
    const replies = await Promise.all(
      keys.map((k) => this.connection.evalScript<(Buffer | number)[][]>(this.scan, [k], args)),
    );
    return replies.map((r) => r[0] ?? []);
  }
}

const NO_COUNTS: TorrentCountReply = { seeders: 0, leechers: 0, peers4: 0, peers6: 0, downloaded: 0, lastAnnounce: 0 };

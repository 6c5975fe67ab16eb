import type { RedisArg, RedisConnection } from './connection.js';
import { torrentIndexKey } from './keys.js';
import type { TorrentCounter, TorrentCountReply } from './torrent-counts.js';

export interface IndexedTorrent {
  readonly infoHash: Buffer;
  /** When its index entry was last refreshed (ms). */
  readonly indexScore: number;
  readonly counts: TorrentCountReply;
}

export interface IndexPage {
  /** '0' after the last page. */
  readonly cursor: string;
  readonly torrents: IndexedTorrent[];
}

/**
 * The torrent index: one sorted set of the live torrents' info hashes, scored
 * by when each asked to be listed (the announce script asks at most once per
 * refresh period). It lives in another hash slot than any torrent, so the
 * announce script cannot write it: the store adds entries after the script's
 * reply, without waiting, and a failure only delays the torrent's appearance
 * on the stats page. It expires too once nothing is announced to.
 */
export class TorrentIndex {
  readonly key: string;

  constructor(
    private readonly connection: RedisConnection,
    prefix: string,
    private readonly counter: TorrentCounter,
    /** An entry older than this (ms) belongs to a torrent with no live peer (peer TTL + slack + refresh period). */
    private readonly entryTtl: number,
    /** TTL of the index key itself (ms). */
    private readonly keyTtl: number,
  ) {
    this.key = torrentIndexKey(prefix);
  }

  /** Adds or refreshes entries: (score, info_hash) pairs. Not awaited by the announce. */
  refresh(scoresAndHashes: RedisArg[]): void {
    this.connection.command(this.key, ['ZADD', this.key, ...scoresAndHashes]).catch(() => undefined);
    this.connection.command(this.key, ['PEXPIRE', this.key, String(this.keyTtl)]).catch(() => undefined);
  }

  size(): Promise<number> {
    return this.connection.command<number>(this.key, ['ZCARD', this.key]);
  }

  /**
   * One page of the index in score order, with each torrent's counts (pruned
   * first). Cursor: `<score>:<n>` = continue at score `score`, skipping the first
   * `n` members that have exactly that score (keyset paging, stable while
   * torrents are added; a torrent refreshed during a scan may be seen twice, as
   * with SCAN).
   */
  async page(cursor: string, count: number, now: number, cutoff: number): Promise<IndexPage> {
    let min = '-inf';
    let skip = 0;
    if (cursor === '0') {
      // Entries older than any live peer can go: the entry is refreshed at least
      // once per refresh period while the torrent is announced to.
      await this.connection.command(this.key, ['ZREMRANGEBYSCORE', this.key, '-inf', `(${now - this.entryTtl}`]);
    } else {
      const match = /^(-?\d+):(\d+)$/.exec(cursor);
      if (!match) throw new RangeError(`bad cursor "${cursor}"`);
      min = match[1] as string;
      skip = Number(match[2]);
    }
    const flat = await this.connection.command<(Buffer | number)[]>(this.key, [
      'ZRANGE',
      this.key,
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
    const counts = await this.counter.count(
      members.map((m) => m.infoHash),
      cutoff,
    );
    return {
      cursor: next,
      torrents: members.map((m, i) => ({
        infoHash: m.infoHash,
        indexScore: m.score,
        counts: counts[i] as TorrentCountReply,
      })),
    };
  }
}

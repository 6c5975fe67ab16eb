import type { RedisArg, RedisConnection } from './connection.js';
import { bucketKey, torrentIndexKey } from './keys.js';
import type { Script } from './scripts.js';
import type { TorrentCounter, TorrentCountReply } from './torrent-counts.js';

export interface IndexedTorrent {
  readonly infoHash: Buffer;
  readonly counts: TorrentCountReply;
}

export interface IndexPage {
  /** '0' when the walk is complete. */
  readonly cursor: string;
  readonly torrents: IndexedTorrent[];
}

/** Buckets per scan call on a single Redis (a cluster takes one per call). */
const BUCKETS_PER_CALL = 16;

/**
 * Torrents per page at most, whatever the caller asks: a page lists at most this many
 * plus one HSCAN step of one bucket (scan.lua), so a page holds Redis for a bounded
 * time however the torrents are spread over buckets.
 */
export const MAX_PAGE_TORRENTS = 1000;

/**
 * The torrent index: one sorted set of the buckets that hold torrents (keys.ts,
 * scripts/torrent.lua), each scored by its own bucket number, so a walk pages in
 * a fixed order and never lists a torrent twice because its bucket was renewed
 * during the walk. A bucket lists its torrents: the inline ones with their one
 * record, the others with a marker. The index lives in another hash slot than any
 * bucket, so the announce script cannot write it: the store adds a bucket after
 * the script's reply (once per refresh period per bucket), without waiting, and a
 * failure only delays the bucket's appearance on the stats page. A walk drops the
 * entries of buckets that expired; the index has at most BUCKETS entries, and it
 * expires too once nothing is announced to.
 */
export class TorrentIndex {
  readonly key: string;

  constructor(
    private readonly connection: RedisConnection,
    private readonly scan: Script,
    private readonly prefix: string,
    private readonly counter: TorrentCounter,
    private readonly cluster: boolean,
    /** TTL of the index key itself (ms). */
    private readonly keyTtl: number,
  ) {
    this.key = torrentIndexKey(prefix);
  }

  /** Adds buckets (their numbers, each given twice: score and member). Not awaited by the announce. */
  refresh(scoresAndBuckets: RedisArg[]): void {
    this.connection.command(this.key, ['ZADD', this.key, ...scoresAndBuckets]).catch(() => undefined);
    this.connection.command(this.key, ['PEXPIRE', this.key, String(this.keyTtl)]).catch(() => undefined);
  }

  /** Buckets in the index (each holds one or more torrents). */
  size(): Promise<number> {
    return this.connection.command<number>(this.key, ['ZCARD', this.key]);
  }

  /**
   * One page of the index: up to about `count` torrents (at most MAX_PAGE_TORRENTS
   * plus one HSCAN step) in bucket order, with each torrent's counts (pruned first).
   * Cursor: `<bucket>:<hscan cursor>` = go on in bucket `bucket` from that HSCAN
   * cursor ('0': its start). A bucket added during a walk behind the cursor is not
   * listed (as with SCAN); none is listed twice. Within one bucket HSCAN may return an
   * entry twice only while Redis rehashes a big (hashtable-encoded) bucket.
   */
  async page(cursor: string, count: number, cutoff: number, markerCutoff: number): Promise<IndexPage> {
    let bucket = 0;
    let hscan = '0';
    if (cursor !== '0') {
      const match = /^(\d+):(\d+)$/.exec(cursor);
      if (!match) throw new Error(`bad torrent index cursor: ${cursor}`);
      bucket = Number(match[1]);
      hscan = match[2] as string;
    }
    const wanted = Math.max(1, Math.min(MAX_PAGE_TORRENTS, Math.floor(count)));
    const torrents: IndexedTorrent[] = [];
    const toCount: number[] = [];
    const gone: string[] = [];
    let next = '0';
    while (torrents.length < wanted) {
      const flat = await this.connection.command<(Buffer | number)[]>(this.key, [
        'ZRANGE',
        this.key,
        String(bucket),
        '+inf',
        'BYSCORE',
        'LIMIT',
        '0',
        String(BUCKETS_PER_CALL),
      ]);
      const numbers = flat.map((m) => Number(String(m)));
      if (numbers.length === 0) break;
      // The cursor's bucket left the index: its HSCAN cursor means nothing in the next one.
      if (numbers[0] !== bucket) hscan = '0';
      const [list, done, rest, missing] = await this.scanBuckets(
        numbers,
        [String(cutoff), String(markerCutoff)],
        hscan,
        wanted - torrents.length,
      );
      for (const i of missing) gone.push(String(numbers[i - 1]));
      for (let i = 0; i + 7 < list.length; i += 8) {
        const infoHash = list[i] as Buffer;
        if (list[i + 1] === 1) {
          const [seeders, leechers, peers4, peers6, lastAnnounce, downloaded] = list.slice(i + 2, i + 8) as number[];
          torrents.push({
            infoHash,
            counts: {
              seeders: seeders as number,
              leechers: leechers as number,
              peers4: peers4 as number,
              peers6: peers6 as number,
              downloaded: downloaded as number,
              lastAnnounce: lastAnnounce as number,
            },
          });
        } else {
          toCount.push(torrents.length);
          torrents.push({ infoHash, counts: NO_COUNTS });
        }
      }
      const lastDone = done > 0 ? (numbers[done - 1] as number) : bucket - 1;
      hscan = String(rest);
      if (hscan !== '0') {
        // Stopped inside bucket `numbers[done]`.
        bucket = numbers[done] as number;
        next = `${bucket}:${hscan}`;
        break;
      }
      bucket = lastDone + 1;
      next = done < numbers.length || numbers.length === BUCKETS_PER_CALL ? `${bucket}:0` : '0';
      if (next === '0') break;
    }
    if (gone.length > 0) this.connection.command(this.key, ['ZREM', this.key, ...gone]).catch(() => undefined);
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

  /** scan.lua over buckets: one call on a single Redis; on a cluster one per bucket, in turn. */
  private async scanBuckets(numbers: number[], args: string[], hscan: string, wanted: number): Promise<ScanReply> {
    const keys = numbers.map((n) => bucketKey(this.prefix, n));
    if (!this.cluster) return this.connection.evalScript<ScanReply>(this.scan, keys, [...args, hscan, String(wanted)]);
    const list: (Buffer | number)[] = [];
    const missing: number[] = [];
    let cursor = hscan;
    for (let i = 0; i < keys.length; i++) {
      const left = wanted - list.length / 8;
      const [l, done, rest, gone] = await this.connection.evalScript<ScanReply>(
        this.scan,
        [keys[i] as string],
        [...args, cursor, String(left)],
      );
      for (const x of l) list.push(x);
      if (gone.length > 0) missing.push(i + 1);
      cursor = String(rest);
      if (done === 0) return [list, i, cursor, missing];
      if (list.length / 8 >= wanted) return [list, i + 1, '0', missing];
    }
    return [list, keys.length, '0', missing];
  }
}

/** scan.lua's reply: the torrents listed, buckets done, the HSCAN cursor in the next one, missing buckets. */
type ScanReply = [(Buffer | number)[], number, Buffer | string | number, number[]];

const NO_COUNTS: TorrentCountReply = { seeders: 0, leechers: 0, peers4: 0, peers6: 0, downloaded: 0, lastAnnounce: 0 };

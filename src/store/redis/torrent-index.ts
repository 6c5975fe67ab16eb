import { readBucketEntry } from './bucket-entry.js';
import type { RedisArg, RedisConnection } from './connection.js';
import { BUCKETS, bucketKey, torrentIndexKey } from './keys.js';
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
 * A walk asked for pages this large or larger runs in lanes: the bucket range
 * cut into up to MAX_LANES parts walked side by side, each page taking about
 * LANE_TORRENTS from each. A page is a dozen or more calls one after another
 * (index range, scan, counts; again for the next buckets), each waiting its turn
 * behind the announces queued on the connection: at a million torrents one lane
 * spent ~14 s on a stats snapshot under load, most of it waiting. Each call still
 * holds Redis as briefly as before; smaller pages (the totals walk's) keep one lane.
 */
const LANE_TORRENTS = 125;
const MAX_LANES = 8;

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
   * plus one HSCAN step a lane) in bucket order within each lane, with each live
   * torrent's counts: an inline torrent's read from its bucket entry
   * (bucket-entry.ts), the others' from count.lua (pruned first). A bucket added
   * during a walk behind its lane's cursor is not listed (as with SCAN); none is
   * listed twice. Within one bucket HSCAN may return an entry twice only while
   * Redis rehashes a big (hashtable-encoded) bucket.
   *
   * Cursor: '0' to start; then the lanes not yet done, comma-separated, each
   * `<bucket>:<hscan cursor>:<end>` = go on in bucket `bucket` from that HSCAN
   * cursor ('0': its start), up to bucket `end` (excluded). `<bucket>:<hscan>`
   * alone is one lane to the last bucket.
   */
  async page(cursor: string, count: number, cutoff: number, markerCutoff: number): Promise<IndexPage> {
    const wanted = Math.max(1, Math.min(MAX_PAGE_TORRENTS, Math.floor(count)));
    const lanes = cursor === '0' ? startLanes(wanted) : parseLanes(cursor);
    const each = Math.max(1, Math.ceil(wanted / lanes.length));
    const pages = await Promise.all(lanes.map((lane) => this.lanePage(lane, each, cutoff, markerCutoff)));
    const torrents = pages.flatMap((p) => p.torrents);
    const next = pages.flatMap((p) => (p.next ? [`${p.next.bucket}:${p.next.hscan}:${p.next.end}`] : []));
    return { cursor: next.length > 0 ? next.join(',') : '0', torrents };
  }

  /** Up to about `wanted` torrents of one lane from where its cursor stands, and where it stands next (none: done). */
  private async lanePage(lane: Lane, wanted: number, cutoff: number, markerCutoff: number): Promise<LanePage> {
    let { bucket, hscan } = lane;
    const { end } = lane;
    const torrents: IndexedTorrent[] = [];
    const toCount: number[] = [];
    const gone: string[] = [];
    let next: Lane | undefined;
    while (torrents.length < wanted) {
      const flat = await this.connection.command<(Buffer | number)[]>(this.key, [
        'ZRANGE',
        this.key,
        String(bucket),
        String(end - 1),
        'BYSCORE',
        'LIMIT',
        '0',
        String(BUCKETS_PER_CALL),
      ]);
      const numbers = flat.map((m) => Number(String(m)));
      if (numbers.length === 0) break;
      // The cursor's bucket left the index: its HSCAN cursor means nothing in the next one.
      if (numbers[0] !== bucket) hscan = '0';
      const [list, done, rest, missing] = await this.scanBuckets(numbers, hscan, wanted - torrents.length);
      for (const i of missing) gone.push(String(numbers[i - 1]));
      for (let i = 0; i + 1 < list.length; i += 2) {
        const infoHash = list[i] as Buffer;
        const entry = readBucketEntry(list[i + 1] as Buffer, cutoff, markerCutoff);
        if (entry === 'dead') continue;
        if (entry === 'count') {
          toCount.push(torrents.length);
          torrents.push({ infoHash, counts: NO_COUNTS });
        } else {
          torrents.push({ infoHash, counts: entry });
        }
      }
      const lastDone = done > 0 ? (numbers[done - 1] as number) : bucket - 1;
      hscan = String(rest);
      if (hscan !== '0') {
        // Stopped inside bucket `numbers[done]`.
        bucket = numbers[done] as number;
        next = { bucket, hscan, end };
        break;
      }
      bucket = lastDone + 1;
      next =
        (done < numbers.length || numbers.length === BUCKETS_PER_CALL) && bucket < end
          ? { bucket, hscan, end }
          : undefined;
      if (!next) break;
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
    return { torrents, next };
  }

  /** scan.lua over buckets: one call on a single Redis; on a cluster one per bucket, in turn. */
  private async scanBuckets(numbers: number[], hscan: string, wanted: number): Promise<ScanReply> {
    const keys = numbers.map((n) => bucketKey(this.prefix, n));
    if (!this.cluster) return this.connection.evalScript<ScanReply>(this.scan, keys, [hscan, String(wanted)]);
    const list: Buffer[] = [];
    const missing: number[] = [];
    let cursor = hscan;
    for (let i = 0; i < keys.length; i++) {
      const left = wanted - list.length / 2;
      const [l, done, rest, gone] = await this.connection.evalScript<ScanReply>(
        this.scan,
        [keys[i] as string],
        [cursor, String(left)],
      );
      for (const x of l) list.push(x);
      if (gone.length > 0) missing.push(i + 1);
      cursor = String(rest);
      if (done === 0) return [list, i, cursor, missing];
      if (list.length / 2 >= wanted) return [list, i + 1, '0', missing];
    }
    return [list, keys.length, '0', missing];
  }
}

/** scan.lua's reply: the torrents listed, buckets done, the HSCAN cursor in the next one, missing buckets. */
type ScanReply = [Buffer[], number, Buffer | string | number, number[]];

/** Where one lane of a walk stands: bucket `bucket` from HSCAN cursor `hscan`, walking up to bucket `end` (excluded). */
interface Lane {
  bucket: number;
  hscan: string;
  end: number;
}

interface LanePage {
  torrents: IndexedTorrent[];
  next: Lane | undefined;
}

/** A walk's lanes: as many as pages of `wanted` torrents fill with LANE_TORRENTS each, equal bucket ranges. */
function startLanes(wanted: number): Lane[] {
  const n = Math.max(1, Math.min(MAX_LANES, Math.floor(wanted / LANE_TORRENTS)));
  const lanes: Lane[] = [];
  for (let k = 0; k < n; k++) {
    lanes.push({ bucket: Math.floor((k * BUCKETS) / n), hscan: '0', end: Math.floor(((k + 1) * BUCKETS) / n) });
  }
  return lanes;
}

function parseLanes(cursor: string): Lane[] {
  const lanes: Lane[] = [];
  for (const part of cursor.split(',', MAX_LANES + 1)) {
    const match = /^(\d{1,7}):(\d{1,20})(?::(\d{1,7}))?$/.exec(part);
    if (!match || lanes.length === MAX_LANES) throw new Error(`bad torrent index cursor: ${cursor}`);
    const bucket = Number(match[1]);
    const end = match[3] === undefined ? BUCKETS : Number(match[3]);
    if (bucket >= end || end > BUCKETS) throw new Error(`bad torrent index cursor: ${cursor}`);
    lanes.push({ bucket, hscan: match[2] as string, end });
  }
  return lanes;
}

const NO_COUNTS: TorrentCountReply = { seeders: 0, leechers: 0, peers4: 0, peers6: 0, downloaded: 0, lastAnnounce: 0 };

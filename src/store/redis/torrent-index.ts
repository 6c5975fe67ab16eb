import { readBucketEntry } from './bucket-entry.js';
import type { RedisArg, RedisConnection } from './connection.js';
import { BUCKETS, bucketKey, torrentIndexKey } from './keys.js';
import type { TorrentCounter, TorrentCountReply } from './torrent-counts.js';

export interface IndexedTorrent {
  readonly infoHash: Buffer;
  readonly counts: TorrentCountReply;
  /**
   * Read from a big (hashtable-encoded) bucket, one HSCAN step at a time: HSCAN may
   * list it again while Redis rehashes that bucket (a walk that must list each
   * torrent once keeps these apart). A listpack bucket comes whole, never twice.
   */
  readonly stepped?: true;
}

export interface IndexPage {
  /** '0' when the walk is complete. */
  readonly cursor: string;
  readonly torrents: IndexedTorrent[];
}

/**
 * Buckets read per round trip of a lane, at most: each is one HSCAN command,
 * sent together. A lane's round trip reads as many buckets as the torrents it
 * still wants need at the torrents per bucket it has seen (carried from page to
 * page in the cursor); the first of a walk reads FIRST_BUCKETS, which bounds a
 * page however full the buckets are (~8 torrents each at a million, ~76 at ten
 * million).
 */
const BUCKETS_PER_CALL = 64;
const FIRST_BUCKETS = 4;
/** HSCAN's COUNT: a hint to Redis; a listpack-encoded bucket (at most 512 fields by default) comes whole. */
const HSCAN_STEP = 128;

/**
 * A walk asked for pages this large or larger runs in lanes: the bucket range
 * cut into up to MAX_LANES parts walked side by side, each page taking about
 * LANE_TORRENTS from each. A page is several round trips one after another
 * (index range, bucket reads, counts; again for the next buckets), each waiting
 * its turn behind the announces queued on the connection: at a million torrents
 * one lane spent ~14 s on a stats snapshot under load, most of it waiting.
 * Smaller pages (the totals walk's) keep one lane.
 */
const LANE_TORRENTS = 125;
const MAX_LANES = 8;

/**
 * A walk of pages this large or larger (the stats table's, full scrape) reads
 * every bucket number in turn, without the index, once the index lists at
 * least `directAbove` buckets (by default half of them: about 90,000 torrents;
 * at a million, nearly every number is a bucket). A lane's page is then one
 * round trip (and the count calls, when some marker cannot tell) where an
 * index page is two one after another, each waiting its turn behind the
 * announces queued in Redis. At a million torrents with no other load it
 * costs Redis about a quarter less (bench/redis-walk.ts: a median of 0.57 s
 * of its CPU against 0.74 s). A number that is no bucket costs Redis an empty
 * HSCAN. Such a walk leaves the index's stale entries to the totals walk,
 * which reads the index.
 */
const DIRECT_TORRENTS = 1000;
/** Buckets read per round trip of a direct walk, at most. */
const DIRECT_BUCKETS_PER_CALL = 512;

/**
 * Torrents per page wanted at most, whatever the caller asks. A page lists whole
 * buckets, so it may hold up to a round trip's buckets more (with the default
 * listpack threshold at most 512 torrents each; a hashtable-encoded bucket is read
 * HSCAN_STEP fields at a time, and a page ends inside it).
 */
export const MAX_PAGE_TORRENTS = 1000;

/**
 * The torrent index: one sorted set of the buckets that hold torrents (keys.ts,
 * scripts/torrent.lua), each scored by its own bucket number, so a walk pages in
 * a fixed order and never lists a torrent twice because its bucket was renewed
 * during the walk. A bucket lists its torrents: the inline ones with their one
 * record, the others with a marker holding their counts. The index lives in
 * another hash slot than any bucket, so the announce script cannot write it: the
 * store adds a bucket after the script's reply (once per refresh period per
 * bucket), without waiting, and a failure only delays the bucket's appearance on
 * the stats page. A walk drops the entries of buckets that expired; the index
 * has at most BUCKETS entries, and it expires too once nothing is announced to.
 *
 * Buckets are read with plain HSCAN commands, not a script: Redis writes the
 * entries straight into the reply, where a script spent about three times as much
 * of Redis' time turning them into Lua strings and back (bench/redis-walk.ts).
 */
export class TorrentIndex {
  readonly key: string;

  constructor(
    private readonly connection: RedisConnection,
    private readonly prefix: string,
    private readonly counter: TorrentCounter,
    /** TTL of the index key itself (ms). */
    private readonly keyTtl: number,
    /** Indexed buckets from which a walk of big pages reads every bucket number (DIRECT_TORRENTS). */
    private readonly directAbove = BUCKETS / 2,
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
   * One page of the index: about `count` torrents (at most MAX_PAGE_TORRENTS, in
   * whole buckets) in bucket order within each lane, with each live torrent's
   * counts: read from its bucket entry (bucket-entry.ts), or for a torrent whose
   * entry cannot tell (a marker that may count expired peers) from count.lua
   * (pruned first). A bucket added during a walk behind its lane's cursor is not
   * listed (as with SCAN); none is listed twice. Within one bucket HSCAN may
   * return an entry twice only while Redis rehashes a big (hashtable-encoded)
   * bucket read in steps, one step a page (`stepped`: the totals walk drops the repeats).
   *
   * Cursor: '0' to start; then the lanes not yet done, comma-separated, each
   * `<bucket>:<hscan cursor>:<end>:<per bucket>` = go on in bucket `bucket` from
   * that HSCAN cursor ('0': its start), up to bucket `end` (excluded), having
   * read `per bucket` / 10 torrents per bucket so far (optional).
   * `<bucket>:<hscan>` alone is one lane to the last bucket. Lanes of a walk
   * that reads every bucket number (DIRECT_TORRENTS) start with `d`.
   */
  async page(cursor: string, count: number, cutoff: number, markerCutoff: number): Promise<IndexPage> {
    const wanted = Math.max(1, Math.min(MAX_PAGE_TORRENTS, Math.floor(count)));
    let lanes: Lane[];
    if (cursor === '0') {
      const direct =
        wanted >= DIRECT_TORRENTS &&
        (await this.connection.command<number>(this.key, ['ZCARD', this.key])) >= this.directAbove;
      lanes = startLanes(wanted, direct);
    } else {
      lanes = parseLanes(cursor);
    }
    const each = Math.max(1, Math.ceil(wanted / lanes.length));
    const pages = await Promise.all(lanes.map((lane) => this.lanePage(lane, each, cutoff, markerCutoff)));
    // concat copies each lane's array whole; flatMap visits every element generically, which at a
    // million torrents was a quarter of a walk's CPU.
    const torrents = ([] as IndexedTorrent[]).concat(...pages.map((p) => p.torrents));
    const next = pages.flatMap(({ next: n }) =>
      n
        ? [
            `${n.direct ? 'd' : ''}${n.bucket}:${n.hscan}:${n.end}${n.perBucket ? `:${Math.min(999_999, Math.round(n.perBucket * 10))}` : ''}`,
          ]
        : [],
    );
    return { cursor: next.length > 0 ? next.join(',') : '0', torrents };
  }

  /** About `wanted` torrents of one lane from where its cursor stands, and where it stands next (none: done). */
  private async lanePage(lane: Lane, wanted: number, cutoff: number, markerCutoff: number): Promise<LanePage> {
    let { bucket, hscan } = lane;
    const { end, direct } = lane;
    const perCall = direct ? DIRECT_BUCKETS_PER_CALL : BUCKETS_PER_CALL;
    const torrents: IndexedTorrent[] = [];
    const toCount: number[] = [];
    const gone: string[] = [];
    let next: Lane | undefined;
    let bucketsRead = 0;
    let entriesRead = 0;
    let perBucket = lane.perBucket;
    for (;;) {
      const left = wanted - torrents.length;
      const take = perBucket ? Math.max(1, Math.min(perCall, Math.ceil(left / perBucket))) : FIRST_BUCKETS;
      const numbers = direct ? range(bucket, Math.min(end, bucket + take)) : await this.indexed(bucket, end, take);
      if (numbers.length === 0) {
        next = undefined;
        break;
      }
      // The cursor's bucket left the index: its HSCAN cursor means nothing in the next one.
      if (numbers[0] !== bucket) hscan = '0';
      const replies = await this.connection.commands<[Buffer, Buffer[]]>(
        numbers.map((n, i) => {
          const key = bucketKey(this.prefix, n);
          return [key, ['HSCAN', key, i === 0 ? hscan : '0', 'COUNT', String(HSCAN_STEP)]];
        }),
      );
      let stoppedIn = -1;
      const continued = hscan !== '0';
      for (let i = 0; i < replies.length; i++) {
        const [rest, items] = replies[i] as [Buffer, Buffer[]];
        const restCursor = String(rest);
        const stepped = restCursor !== '0' || (i === 0 && continued);
        // Redis deletes an empty hash, and a live bucket always has its field 'r'.
        if (items.length === 0 && !stepped && !direct) gone.push(String(numbers[i]));
        bucketsRead++;
        for (let j = 0; j + 1 < items.length; j += 2) {
          const infoHash = items[j] as Buffer;
          // Fields 'r' and 'c' are the bucket's own.
          if (infoHash.length !== 20) continue;
          entriesRead++;
          const entry = readBucketEntry(items[j + 1] as Buffer, cutoff, markerCutoff);
          if (entry === 'dead') continue;
          const counts = entry === 'count' ? NO_COUNTS : entry;
          if (entry === 'count') toCount.push(torrents.length);
          torrents.push(stepped ? { infoHash, counts, stepped: true } : { infoHash, counts });
        }
        if (restCursor !== '0') {
          // A big (hashtable-encoded) bucket, read one step: the lane goes on inside it
          // (the buckets read after it in this round trip are read again then).
          stoppedIn = i;
          hscan = restCursor;
          break;
        }
      }
      if (bucketsRead > 0) perBucket = Math.max(1, entriesRead / bucketsRead);
      if (stoppedIn >= 0) {
        bucket = numbers[stoppedIn] as number;
        next = { bucket, hscan, end, perBucket, direct };
        break;
      }
      hscan = '0';
      bucket = (numbers[numbers.length - 1] as number) + 1;
      next = numbers.length === take && bucket < end ? { bucket, hscan, end, perBucket, direct } : undefined;
      // Three quarters will do: the buckets just read were sized for all of it, and topping up
      // the few missing would be another round trip (under the long-tail load, ~40 % of lane
      // pages made one before this rule).
      if (!next || torrents.length >= wanted - (wanted >> 2)) break;
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

  /** Up to `take` bucket numbers of the index from `bucket` on, below `end`. */
  private async indexed(bucket: number, end: number, take: number): Promise<number[]> {
    const flat = await this.connection.command<(Buffer | number)[]>(this.key, [
      'ZRANGE',
      this.key,
      String(bucket),
      String(end - 1),
      'BYSCORE',
      'LIMIT',
      '0',
      String(take),
    ]);
    return flat.map((m) => Number(String(m)));
  }
}

function range(from: number, to: number): number[] {
  const out: number[] = [];
  for (let n = from; n < to; n++) out.push(n);
  return out;
}

/** Where one lane of a walk stands: bucket `bucket` from HSCAN cursor `hscan`, walking up to bucket `end` (excluded). */
interface Lane {
  bucket: number;
  hscan: string;
  end: number;
  /** Torrent entries per bucket read so far (undefined: none read yet in this walk). */
  perBucket?: number | undefined;
  /** Reads every bucket number, not the index's (DIRECT_TORRENTS). */
  direct?: boolean | undefined;
}

interface LanePage {
  torrents: IndexedTorrent[];
  next: Lane | undefined;
}

/** A walk's lanes: as many as pages of `wanted` torrents fill with LANE_TORRENTS each, equal bucket ranges. */
function startLanes(wanted: number, direct: boolean): Lane[] {
  const n = Math.max(1, Math.min(MAX_LANES, Math.floor(wanted / LANE_TORRENTS)));
  const lanes: Lane[] = [];
  for (let k = 0; k < n; k++) {
    lanes.push({ bucket: Math.floor((k * BUCKETS) / n), hscan: '0', end: Math.floor(((k + 1) * BUCKETS) / n), direct });
  }
  return lanes;
}

function parseLanes(cursor: string): Lane[] {
  const lanes: Lane[] = [];
  for (const part of cursor.split(',', MAX_LANES + 1)) {
    const match = /^(d?)(\d{1,7}):(\d{1,20})(?::(\d{1,7})(?::(\d{1,6}))?)?$/.exec(part);
    if (!match || lanes.length === MAX_LANES) throw new Error(`bad torrent index cursor: ${cursor}`);
    const direct = match[1] === 'd';
    if (lanes.length > 0 && direct !== lanes[0]?.direct) throw new Error(`bad torrent index cursor: ${cursor}`);
    const bucket = Number(match[2]);
    const end = match[4] === undefined ? BUCKETS : Number(match[4]);
    if (bucket >= end || end > BUCKETS) throw new Error(`bad torrent index cursor: ${cursor}`);
    const perBucket = match[5] === undefined ? undefined : Math.max(1, Number(match[5]) / 10);
    lanes.push({ bucket, hscan: match[3] as string, end, perBucket, direct });
  }
  return lanes;
}

const NO_COUNTS: TorrentCountReply = { seeders: 0, leechers: 0, peers4: 0, peers6: 0, downloaded: 0, lastAnnounce: 0 };

import type { SwarmStore, TorrentSummary } from '../store/swarm-store.js';
import type { PageCollector } from './snapshot-preview.js';
import type { TorrentRow } from './table-query.js';

/** Row numbers are uint32; 2^24 rows (about 0.9 GB of snapshot) is plenty and bounds memory. */
export const MAX_ROWS = 2 ** 24;

/** Rows per segment. */
const SEGMENT_BITS = 16;
const SEGMENT_ROWS = 1 << SEGMENT_BITS;
const SEGMENT_MASK = SEGMENT_ROWS - 1;
/** Counts are kept as uint32; a larger one (none is, in practice) shows as this. */
const MAX_COUNT = 0xffffffff;

/** One segment's columns, in shared memory: the snapshot's sorting thread reads them in place. */
interface Segment {
  hashes: Buffer;
  /** Seeders, leechers, completed (uint32: 40 bytes a row, not 52), last announce (epoch ms). */
  values: readonly [Uint32Array, Uint32Array, Uint32Array, Float64Array];
}

/** What crosses to the sorting thread: the segments' shared buffers and the row count. */
export interface SharedRows {
  length: number;
  segments: { hashes: SharedArrayBuffer; values: SharedArrayBuffer[] }[];
}

/**
 * The torrents a snapshot scanned, in scan order, as columns: a 20-byte info
 * hash and four numbers per row, no object per torrent. The columns grow in
 * segments of 65,536 rows that are never copied (doubling arrays would copy
 * tens of MB into fresh memory in one go at a million torrents, and on a VM
 * those first writes block for ~100 ms), and live in SharedArrayBuffers so a
 * worker thread can sort them where they are.
 */
export class SnapshotRows {
  length = 0;
  private readonly segments: Segment[] = [];

  /** The rows another thread shared (SharedRows), read and written in place. */
  static fromShared(shared: SharedRows): SnapshotRows {
    const rows = new SnapshotRows();
    for (const s of shared.segments) {
      const [a, b, c, d] = s.values;
      rows.segments.push({
        hashes: Buffer.from(s.hashes),
        values: [new Uint32Array(a!), new Uint32Array(b!), new Uint32Array(c!), new Float64Array(d!)],
      });
    }
    rows.length = shared.length;
    return rows;
  }

  shared(): SharedRows {
    return { length: this.length, segments: this.segments.map(sharedSegment) };
  }

  push(t: TorrentSummary): void {
    this.add(t.infoHash, t.complete, t.incomplete, t.downloaded, t.lastAnnounce);
  }

  add(infoHash: Uint8Array, complete: number, incomplete: number, downloaded: number, lastAnnounce: number): void {
    if (infoHash.length === 20) this.addFrom(infoHash, 0, complete, incomplete, downloaded, lastAnnounce);
  }

  /** A row whose info hash is `bytes[at..at + 20)`; left out past MAX_ROWS. */
  addFrom(
    bytes: Uint8Array,
    at: number,
    complete: number,
    incomplete: number,
    downloaded: number,
    lastAnnounce: number,
  ): void {
    if (this.length >= MAX_ROWS) return;
    const i = this.length++;
    if ((i & SEGMENT_MASK) === 0) this.segments.push(newSegment());
    const j = i & SEGMENT_MASK;
    const s = this.segments[i >>> SEGMENT_BITS]!;
    // A byte loop: Buffer#copy's fixed cost is several times 20 bytes' worth.
    const to = s.hashes;
    for (let b = 0, o = j * 20; b < 20; b++) to[o + b] = bytes[at + b] as number;
    s.values[0][j] = Math.min(complete, MAX_COUNT);
    s.values[1][j] = Math.min(incomplete, MAX_COUNT);
    s.values[2][j] = Math.min(downloaded, MAX_COUNT);
    s.values[3][j] = lastAnnounce;
  }

  /** Takes the last row back (one whose info hash changed while it was copied). */
  dropLast(): void {
    if (this.length > 0) this.length--;
  }

  /** Column 0 seeders, 1 leechers, 2 completed, 3 last announce, of row i. */
  value(column: number, i: number): number {
    return this.segments[i >>> SEGMENT_BITS]!.values[column]![i & SEGMENT_MASK]!;
  }

  /** Offers row i to a page being collected. */
  offerTo(collector: PageCollector, i: number): void {
    const s = this.segments[i >>> SEGMENT_BITS]!;
    const j = i & SEGMENT_MASK;
    collector.offer(s.hashes, j * 20, s.values[0][j]!, s.values[1][j]!, s.values[2][j]!, s.values[3][j]!);
  }

  /** Row i as the table shows it. */
  row(i: number): TorrentRow {
    return {
      infoHash: this.hashHex(i),
      seeders: this.value(0, i),
      leechers: this.value(1, i),
      completed: this.value(2, i),
      lastAnnounce: this.value(3, i),
    };
  }

  /**
   * Calls `each(segment, first row, rows)` for the segments in row order: the
   * sorts' passes over every row run on the flat arrays, not through value().
   */
  forEachSegment(each: (s: Segment, first: number, rows: number) => void): void {
    for (let k = 0; k < this.segments.length; k++) {
      const first = k * SEGMENT_ROWS;
      each(this.segments[k]!, first, Math.max(0, Math.min(SEGMENT_ROWS, this.length - first)));
    }
  }

  /** The first 4 bytes of row i's hash as a uint32 (big-endian: hash order). */
  hashKey(i: number): number {
    const h = this.segments[i >>> SEGMENT_BITS]!.hashes;
    const o = (i & SEGMENT_MASK) * 20;
    return ((h[o]! << 24) | (h[o + 1]! << 16) | (h[o + 2]! << 8) | h[o + 3]!) >>> 0;
  }

  /** Negative when row a's hash sorts before row b's, 0 when they are the same. */
  compareHashes(a: number, b: number): number {
    const ha = this.segments[a >>> SEGMENT_BITS]!.hashes;
    const hb = this.segments[b >>> SEGMENT_BITS]!.hashes;
    const oa = (a & SEGMENT_MASK) * 20;
    const ob = (b & SEGMENT_MASK) * 20;
    // buf.compare(target, …) orders buf's range against target's.
    return ha.compare(hb, ob, ob + 20, oa, oa + 20);
  }

  hashHex(i: number): string {
    const o = (i & SEGMENT_MASK) * 20;
    return this.segments[i >>> SEGMENT_BITS]!.hashes.toString('hex', o, o + 20);
  }

  /**
   * Compares the first nibbles.length hex digits of row i's hash with
   * `nibbles` (the digits' values): negative when the hash sorts before.
   */
  comparePrefix(i: number, nibbles: Uint8Array): number {
    const h = this.segments[i >>> SEGMENT_BITS]!.hashes;
    const o = (i & SEGMENT_MASK) * 20;
    for (let n = 0; n < nibbles.length; n++) {
      const byte = h[o + (n >> 1)]!;
      const d = (n & 1 ? byte & 15 : byte >> 4) - nibbles[n]!;
      if (d !== 0) return d;
    }
    return 0;
  }
}

function sharedSegment(s: Segment): SharedRows['segments'][number] {
  return { hashes: s.hashes.buffer as SharedArrayBuffer, values: s.values.map((v) => v.buffer as SharedArrayBuffer) };
}

function newSegment(): Segment {
  const count = () => new Uint32Array(new SharedArrayBuffer(SEGMENT_ROWS * 4));
  return {
    hashes: Buffer.from(new SharedArrayBuffer(SEGMENT_ROWS * 20)),
    values: [count(), count(), count(), new Float64Array(new SharedArrayBuffer(SEGMENT_ROWS * 8))],
  };
}

/** The values of lowercase hex digits (already validated), for comparePrefix. */
export function prefixNibbles(prefix: string): Uint8Array {
  const out = new Uint8Array(prefix.length);
  for (let n = 0; n < prefix.length; n++) out[n] = Number.parseInt(prefix[n] as string, 16);
  return out;
}

/**
 * Reads every torrent of the store into `rows`, `pageSize` a call, waiting for
 * `between()` after each page; true when it held more than MAX_ROWS (the rest
 * left out).
 */
export async function scanStore(
  store: Pick<SwarmStore, 'scanTorrents'>,
  rows: SnapshotRows,
  pageSize: number,
  between: () => Promise<void> = async () => {},
): Promise<boolean> {
  let cursor = '0';
  do {
    const page = await store.scanTorrents(cursor, pageSize);
    for (const t of page.torrents) rows.push(t);
    cursor = page.cursor;
    if (rows.length >= MAX_ROWS) return true;
    await between();
  } while (cursor !== '0');
  return false;
}

import type { RedisWalkSpec, SwarmStore, TorrentSummary } from '../store/swarm-store.js';
import { previewSteps } from './snapshot-preview.js';
import { prefixNibbles, SnapshotRows, scanStore } from './snapshot-rows.js';
import { columnOrderSteps, runSync, Slicer, type SnapshotOrder, snapshotOrderSteps } from './snapshot-sort.js';
import { sortThread } from './snapshot-sort-thread.js';
import type { SnapshotPage, SnapshotQuery, TorrentRow } from './table-query.js';

/**
 * A point-in-time copy of every live torrent's counts, laid out for the stats
 * table: the scanned rows in flat typed arrays (a million torrents are ~52 MB,
 * not a million objects), plus one order per column, row numbers sorted once
 * when the snapshot is built. A page of the table in any order is then a slice
 * of an order: O(page), whatever the number of torrents.
 *
 * Search is by info-hash prefix. The matches are one contiguous range of the
 * hash order, found by binary search; its size is exact without looking at the
 * rows. Ordering the matches by another column either walks that column's
 * order keeping matching rows, or sorts just the range (and caches it for the
 * next pages), whichever is cheaper.
 */

/**
 * Past this many rows a snapshot is sorted on a worker thread
 * (snapshot-sort-thread.ts), and a store in shared memory walked there too;
 * below, both happen on the event loop.
 */
export const OFF_THREAD_ABOVE = 20_000;
/**
 * Work between returns to the event loop: while scanning a store on it
 * (announces wait meanwhile) and while sorting a small snapshot on it.
 */
const SCAN_SLICE_MS = 1;
const PREVIEW_SLICE_MS = 1;
const SORT_SLICE_MS = 8;
const MAX_CACHED_RANGES = 8;

export interface BuildOptions {
  /** Torrents per store call (a hint to the store). */
  pageSize?: number;
  /** Work on a worker thread past this many rows (default OFF_THREAD_ABOVE). */
  offThreadAbove?: number;
  /**
   * A page near the top (canPreview) to answer from the scanned rows, before
   * the sorts (snapshot-preview.ts): on the worker thread when a Redis store
   * is walked there, else on the event loop in 1-ms slices. Not for the
   * memory store walked there: its pages near the top are read without a
   * snapshot (shared-store-pages.ts).
   */
  preview?: SnapshotQuery;
  /** Called once the store is scanned (and `preview` answered), before the sorts. */
  onScanned?: (scan: ScannedRows) => void;
}

/** A build's rows once its scan is done, in scan order. */
export interface ScannedRows {
  rows: SnapshotRows;
  /** As TorrentSnapshot's. */
  builtAt: number;
  truncated: boolean;
  /** BuildOptions.preview's page, when asked for (never for the memory store walked on the thread). */
  preview: { query: SnapshotQuery; page: SnapshotPage } | undefined;
}

export class TorrentSnapshot {
  /** Epoch ms when the scan started (rows are at least this fresh). */
  readonly builtAt: number;
  /** Milliseconds the scan and sorts took. */
  buildMs = 0;
  /** True when the store held more torrents than MAX_ROWS and the rest were left out. */
  readonly truncated: boolean;
  /** Distinct torrents. */
  readonly size: number;
  private readonly rows: SnapshotRows;
  private readonly byHash: Uint32Array;
  /** byHash's rows in ascending order of columns 1..4. */
  private readonly byColumn: SnapshotOrder['byColumn'];
  private readonly rangeCache = new Map<string, Uint32Array>();

  private constructor(builtAt: number, truncated: boolean, rows: SnapshotRows, order: SnapshotOrder) {
    this.builtAt = builtAt;
    this.truncated = truncated;
    this.rows = rows;
    this.byHash = order.byHash;
    this.byColumn = order.byColumn;
    this.size = order.byHash.length;
  }

  /**
   * Reads every torrent, then sorts. A store whose torrents sit in shared
   * memory, or a Redis store, when they are many, is walked and sorted on a
   * worker thread (Redis on a connection of the thread's own): the event loop
   * answering announces only hands it over. Any other store is scanned in
   * pages on the event loop, returning to it every millisecond, and sorted on
   * a worker thread when the rows are many.
   */
  static async build(store: SwarmStore, now: () => number, options: BuildOptions = {}): Promise<TorrentSnapshot> {
    const started = now();
    const t0 = performance.now();
    const offThreadAbove = options.offThreadAbove ?? OFF_THREAD_ABOVE;
    let snapshot: TorrentSnapshot;
    const query = options.preview;
    const walkedElsewhere = store.sharedTorrents !== undefined || store.redisWalk !== undefined;
    if (walkedElsewhere && (await store.totals()).torrents > offThreadAbove) {
      // walkedElsewhere: one of the two is there.
      const source = store.sharedTorrents?.() ?? { redis: store.redisWalk?.() as RedisWalkSpec, preview: query };
      const { scanned, order } = sortThread.scan(source);
      const { rows, truncated, preview } = await scanned;
      const page = query && preview && { query, page: preview };
      options.onScanned?.({ rows, builtAt: started, truncated, preview: page });
      snapshot = new TorrentSnapshot(started, truncated, rows, await order);
    } else {
      const rows = new SnapshotRows();
      const slicer = new Slicer(SCAN_SLICE_MS);
      const truncated = await scanStore(store, rows, options.pageSize ?? 1000, () => slicer.pause());
      if (options.onScanned) {
        const page = query && { query, page: await new Slicer(PREVIEW_SLICE_MS).run(previewSteps(rows, query)) };
        options.onScanned({ rows, builtAt: started, truncated, preview: page });
      }
      snapshot = await TorrentSnapshot.sorted(rows, started, truncated, offThreadAbove);
    }
    snapshot.buildMs = performance.now() - t0;
    return snapshot;
  }

  /** Builds from a list (tests, and anything that already holds the summaries). */
  static async fromSummaries(
    torrents: readonly TorrentSummary[],
    builtAt: number,
    offThreadAbove = OFF_THREAD_ABOVE,
  ): Promise<TorrentSnapshot> {
    const rows = new SnapshotRows();
    for (const t of torrents) rows.push(t);
    return TorrentSnapshot.sorted(rows, builtAt, false, offThreadAbove);
  }

  private static async sorted(rows: SnapshotRows, builtAt: number, truncated: boolean, offThreadAbove: number) {
    const order =
      rows.length > offThreadAbove
        ? await sortThread.sort(rows)
        : await new Slicer(SORT_SLICE_MS).run(snapshotOrderSteps(rows));
    return new TorrentSnapshot(builtAt, truncated, rows, order);
  }

  /** The row of one info hash (40 hex digits), or undefined. */
  find(hex: string): TorrentRow | undefined {
    const [lo, hi] = this.prefixRange(hex);
    return hi > lo ? this.rows.row(this.byHash[lo]!) : undefined;
  }

  query(q: SnapshotQuery): SnapshotPage {
    if (q.prefix === null) return { recordsFiltered: 0, rows: [] };
    const [lo, hi] = q.prefix === '' ? [0, this.size] : this.prefixRange(q.prefix);
    const matches = hi - lo;
    const rows: TorrentRow[] = [];
    const end = Math.min(q.start + q.length, matches);
    if (q.start >= end) return { recordsFiltered: matches, rows };
    const asc = q.dir === 'asc';
    const byHash = this.byHash;

    if (q.column === 0) {
      for (let k = q.start; k < end; k++) rows.push(this.rows.row(byHash[asc ? lo + k : hi - 1 - k]!));
      return { recordsFiltered: matches, rows };
    }
    const c = q.column - 1;
    const order = this.byColumn[c] as Uint32Array;
    if (matches === this.size) {
      for (let k = q.start; k < end; k++) rows.push(this.rows.row(order[asc ? k : this.size - 1 - k]!));
      return { recordsFiltered: matches, rows };
    }

    // Walking the column's order visits about size/matches rows per match;
    // sorting the range costs about matches * log2(matches). Pick the cheaper.
    const cacheKey = `${q.prefix}/${c}`;
    let sorted = this.rangeCache.get(cacheKey);
    const walkCost = (end * this.size) / matches;
    if (!sorted && matches * Math.log2(matches + 1) < walkCost) {
      sorted = runSync(columnOrderSteps(this.rows, c, byHash.subarray(lo, hi), false));
      if (this.rangeCache.size >= MAX_CACHED_RANGES) this.rangeCache.delete(this.rangeCache.keys().next().value!);
      this.rangeCache.set(cacheKey, sorted);
    }
    if (sorted) {
      for (let k = q.start; k < end; k++) rows.push(this.rows.row(sorted[asc ? k : matches - 1 - k]!));
      return { recordsFiltered: matches, rows };
    }
    const nibbles = prefixNibbles(q.prefix);
    let seen = 0;
    for (let k = 0; k < this.size && seen < end; k++) {
      const r = order[asc ? k : this.size - 1 - k]!;
      if (this.rows.comparePrefix(r, nibbles) !== 0) continue;
      if (seen >= q.start) rows.push(this.rows.row(r));
      seen++;
    }
    return { recordsFiltered: matches, rows };
  }

  /** [lo, hi): the places in hash order of the hashes that start with `prefix` (lowercase hex, ≤ 40 digits). */
  prefixRange(prefix: string): [number, number] {
    const nibbles = prefixNibbles(prefix);
    return [this.lowerBound(nibbles, false), this.lowerBound(nibbles, true)];
  }

  /** First place in hash order whose hash prefix compares >= (or, with `after`, >) the given prefix. */
  private lowerBound(nibbles: Uint8Array, after: boolean): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const cmp = this.rows.comparePrefix(this.byHash[mid]!, nibbles);
      if (cmp < 0 || (after && cmp === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }
}

import type { SwarmStore, TorrentSummary } from '../store/swarm-store.js';

/**
 * A point-in-time copy of every live torrent's counts, laid out for the stats
 * table: rows in info-hash order in flat typed arrays (a million torrents are
 * ~40 MB, not a million objects), plus one index array per numeric column,
 * sorted once when the snapshot is built. A page of the table in any order is
 * then a slice of an index array: O(page), whatever the number of torrents.
 *
 * Search is by info-hash prefix. Rows are in hash order, so the matches are one
 * contiguous row range found by binary search; its size is exact without
 * looking at the rows. Ordering the matches by another column either walks that
 * column's index array keeping rows inside the range, or sorts just the range
 * (and caches it for the next pages), whichever is cheaper.
 */

/** Table columns, in the order the page's DataTable declares them. */
export const COLUMNS = ['infoHash', 'seeders', 'leechers', 'completed', 'lastAnnounce'] as const;
export type ColumnName = (typeof COLUMNS)[number];

export interface TorrentRow {
  /** 40 lowercase hex digits. */
  infoHash: string;
  seeders: number;
  leechers: number;
  completed: number;
  /** Epoch ms. */
  lastAnnounce: number;
}

export interface SnapshotQuery {
  start: number;
  length: number;
  /** Column index into COLUMNS. */
  column: number;
  dir: 'asc' | 'desc';
  /** Lowercase hex digits (already validated); '' for all rows, null for none. */
  prefix: string | null;
}

export interface SnapshotPage {
  recordsFiltered: number;
  rows: TorrentRow[];
}

/** Row numbers are uint32; 2^24 rows (about 0.7 GB of snapshot) is plenty and bounds memory. */
export const MAX_ROWS = 2 ** 24;
const MAX_KEY = 0xffffffff;
const MAX_CACHED_RANGES = 8;

export class TorrentSnapshot implements TorrentTable {
  /** Epoch ms when the scan started (rows are at least this fresh). */
  readonly builtAt: number;
  /** Milliseconds the scan and sorts took. */
  buildMs = 0;
  /** True when the store held more torrents than MAX_ROWS and the rest were left out. */
  readonly truncated: boolean;
  readonly size: number;
  private readonly hashes: Buffer;
  private readonly values: readonly [Float64Array, Float64Array, Float64Array, Float64Array];
  /** Ascending row order for columns 1..4 (column 0 is the row order itself). */
  private readonly orders: readonly [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
  private readonly rangeCache = new Map<string, Uint32Array>();

  private constructor(
    builtAt: number,
    truncated: boolean,
    hashes: Buffer,
    values: readonly [Float64Array, Float64Array, Float64Array, Float64Array],
    orders: readonly [Uint32Array, Uint32Array, Uint32Array, Uint32Array],
  ) {
    this.builtAt = builtAt;
    this.truncated = truncated;
    this.size = hashes.length / 20;
    this.hashes = hashes;
    this.values = values;
    this.orders = orders;
  }

  /**
   * Scans the whole store in pages. Between pages and between sorts it yields to
   * the event loop, so announces keep being served while a large snapshot builds.
   */
  static async build(
    store: SwarmStore,
    now: () => number,
    pageSize = 1000,
    /** Called once the store is scanned, before the sorts: the rows can already answer a page (ScannedRows). */
    onScanned?: (rows: ScannedRows) => void,
  ): Promise<TorrentSnapshot> {
    const started = now();
    const t0 = performance.now();
    const acc = new Accumulator();
    let cursor = '0';
    let truncated = false;
    // A store that can visits its torrents without an object each (millions of them in process memory).
    const visit = (infoHash: Uint8Array, complete: number, incomplete: number, downloaded: number, last: number) =>
      acc.add(infoHash, complete, incomplete, downloaded, last);
    do {
      if (store.visitTorrents) {
        cursor = await store.visitTorrents(cursor, pageSize, visit);
      } else {
        const page = await store.scanTorrents(cursor, pageSize);
        for (const t of page.torrents) acc.push(t);
        cursor = page.cursor;
      }
      if (acc.length >= MAX_ROWS) {
        truncated = true;
        break;
      }
      await yieldToEventLoop();
    } while (cursor !== '0');
    onScanned?.(new ScannedRows(acc, started, truncated));
    const snapshot = await TorrentSnapshot.fromAccumulator(acc, started, truncated);
    snapshot.buildMs = performance.now() - t0;
    return snapshot;
  }

  /** Builds from a list (tests, and anything that already holds the summaries). */
  static async fromSummaries(torrents: readonly TorrentSummary[], builtAt: number): Promise<TorrentSnapshot> {
    const acc = new Accumulator();
    for (const t of torrents) acc.push(t);
    return TorrentSnapshot.fromAccumulator(acc, builtAt, false);
  }

  private static async fromAccumulator(acc: Accumulator, builtAt: number, truncated: boolean) {
    const slicer = new Slicer();
    const n = Math.min(acc.length, MAX_ROWS);
    const byHash = await slicer.run(sortByHashSteps(acc, n));

    // Copy rows into hash order, merging duplicates: a scan may return a torrent
    // twice (Redis SCAN, or a torrent dropped and created again while the memory
    // store scans); the fresher copy wins. Byte loops, not Buffer calls: this runs per row.
    const hashes = Buffer.allocUnsafe(n * 20);
    const cols = [new Float64Array(n), new Float64Array(n), new Float64Array(n), new Float64Array(n)] as const;
    let rows = 0;
    for (let k = 0; k < n; k++) {
      if ((k & CHUNK_MASK) === CHUNK_MASK) await slicer.pause();
      const from = byHash[k]!;
      let dst = rows;
      if (rows > 0 && acc.sameHash(from, hashes, (rows - 1) * 20)) {
        dst = rows - 1;
        if (acc.value(3, from) < cols[3][dst]!) continue;
      } else {
        acc.copyHash(from, hashes, rows * 20);
        rows++;
      }
      cols[0][dst] = acc.value(0, from);
      cols[1][dst] = acc.value(1, from);
      cols[2][dst] = acc.value(2, from);
      cols[3][dst] = acc.value(3, from);
    }
    // Views, not copies: first writes to fresh memory are what a copy of tens of MB costs (page faults).
    const values = [
      cols[0].subarray(0, rows),
      cols[1].subarray(0, rows),
      cols[2].subarray(0, rows),
      cols[3].subarray(0, rows),
    ] as const;

    const all = new Uint32Array(rows);
    for (let i = 0; i < rows; i++) {
      if ((i & CHUNK_MASK) === CHUNK_MASK) await slicer.pause();
      all[i] = i;
    }
    const orders: Uint32Array[] = [];
    for (let c = 0; c < 4; c++) orders.push(await slicer.run(sortRowsSteps(all, values[c] as Float64Array)));
    return new TorrentSnapshot(
      builtAt,
      truncated,
      hashes.subarray(0, rows * 20),
      values,
      orders as unknown as readonly [Uint32Array, Uint32Array, Uint32Array, Uint32Array],
    );
  }

  row(i: number): TorrentRow {
    return {
      infoHash: this.hashes.toString('hex', i * 20, i * 20 + 20),
      seeders: this.values[0][i]!,
      leechers: this.values[1][i]!,
      completed: this.values[2][i]!,
      lastAnnounce: this.values[3][i]!,
    };
  }

  /** The row of one info hash (40 hex digits), or undefined. */
  find(hex: string): TorrentRow | undefined {
    const [lo, hi] = this.prefixRange(hex);
    return hi > lo ? this.row(lo) : undefined;
  }

  query(q: SnapshotQuery): SnapshotPage {
    if (q.prefix === null) return { recordsFiltered: 0, rows: [] };
    const [lo, hi] = q.prefix === '' ? [0, this.size] : this.prefixRange(q.prefix);
    const matches = hi - lo;
    const rows: TorrentRow[] = [];
    const end = Math.min(q.start + q.length, matches);
    if (q.start >= end) return { recordsFiltered: matches, rows };
    const asc = q.dir === 'asc';

    if (q.column === 0) {
      // Row order is hash order.
      for (let k = q.start; k < end; k++) rows.push(this.row(asc ? lo + k : hi - 1 - k));
      return { recordsFiltered: matches, rows };
    }
    const c = q.column - 1;
    const order = this.orders[c] as Uint32Array;
    if (matches === this.size) {
      for (let k = q.start; k < end; k++) rows.push(this.row(order[asc ? k : this.size - 1 - k]!));
      return { recordsFiltered: matches, rows };
    }

    // Walking the column's order visits about size/matches rows per match;
    // sorting the range costs about matches * log2(matches). Pick the cheaper.
    const cacheKey = `${q.prefix}/${c}`;
    let sorted = this.rangeCache.get(cacheKey);
    const walkCost = (end * this.size) / matches;
    if (!sorted && matches * Math.log2(matches + 1) < walkCost) {
      const range = new Uint32Array(matches);
      for (let i = 0; i < matches; i++) range[i] = lo + i;
      sorted = runSync(sortRowsSteps(range, this.values[c] as Float64Array));
      if (this.rangeCache.size >= MAX_CACHED_RANGES) this.rangeCache.delete(this.rangeCache.keys().next().value!);
      this.rangeCache.set(cacheKey, sorted);
    }
    if (sorted) {
      for (let k = q.start; k < end; k++) rows.push(this.row(sorted[asc ? k : matches - 1 - k]!));
      return { recordsFiltered: matches, rows };
    }
    let seen = 0;
    for (let k = 0; k < this.size && seen < end; k++) {
      const r = order[asc ? k : this.size - 1 - k]!;
      if (r < lo || r >= hi) continue;
      if (seen >= q.start) rows.push(this.row(r));
      seen++;
    }
    return { recordsFiltered: matches, rows };
  }

  /** [lo, hi): the rows whose hex info hash starts with `prefix` (lowercase hex, ≤ 40 digits). */
  prefixRange(prefix: string): [number, number] {
    const lo = this.lowerBound(prefix, false);
    const hi = this.lowerBound(prefix, true);
    return [lo, hi];
  }

  /** First row whose hash prefix compares >= (or, with `after`, >) the given prefix. */
  private lowerBound(prefix: string, after: boolean): number {
    let lo = 0;
    let hi = this.size;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      const cmp = this.comparePrefix(mid, prefix);
      if (cmp < 0 || (after && cmp === 0)) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  }

  /** Compares the first prefix.length nibbles of row i's hash with prefix. */
  private comparePrefix(i: number, prefix: string): number {
    const base = i * 20;
    for (let n = 0; n < prefix.length; n++) {
      const byte = this.hashes[base + (n >> 1)]!;
      const nibble = n & 1 ? byte & 15 : byte >> 4;
      const want = Number.parseInt(prefix[n] as string, 16);
      if (nibble !== want) return nibble - want;
    }
    return 0;
  }
}

/** Pages of the stats table, from a snapshot or from rows not yet sorted. */
export interface TorrentTable {
  readonly builtAt: number;
  readonly truncated: boolean;
  readonly size: number;
  query(q: SnapshotQuery): SnapshotPage;
}

/** Past this many rows (start + length) a preview does not answer: the caller waits for the snapshot. */
export const PREVIEW_MAX_ROWS = 1000;

/**
 * The scanned rows of a snapshot being built, before its sorts: they answer
 * one page in a single pass (keeping the best `start + length` rows), so the
 * first request to a tracker of a million torrents is answered once the store
 * is scanned instead of after every column is sorted. Same order as
 * TorrentSnapshot.query (ties in hash order, reversed for `desc`); a torrent
 * the scan returned twice may appear twice, and `size` counts both.
 */
export class ScannedRows implements TorrentTable {
  readonly size: number;

  constructor(
    private readonly acc: Accumulator,
    readonly builtAt: number,
    readonly truncated: boolean,
  ) {
    this.size = Math.min(acc.length, MAX_ROWS);
  }

  /** Whether this can answer `q` (a page near the top); otherwise wait for the snapshot. */
  canAnswer(q: SnapshotQuery): boolean {
    return q.start + q.length <= PREVIEW_MAX_ROWS;
  }

  query(q: SnapshotQuery): SnapshotPage {
    if (q.prefix === null) return { recordsFiltered: 0, rows: [] };
    const want = q.start + q.length;
    const sign = q.dir === 'asc' ? 1 : -1;
    const column = q.column - 1;
    const acc = this.acc;
    // Negative when row a comes before row b in the requested order.
    const before = (a: number, b: number): number => {
      const byValue = column >= 0 ? acc.value(column, a) - acc.value(column, b) : 0;
      if (byValue !== 0) return sign * byValue;
      // Ties are common (most torrents have 0 or 1 seeder): the hashes' first 4 bytes decide almost all.
      const byKey = acc.hashKey(a) - acc.hashKey(b);
      return sign * (byKey !== 0 ? byKey : acc.compareHashes(a, b));
    };
    const best: number[] = [];
    let matches = 0;
    // The value of the last row kept: a row past it is skipped on one comparison of numbers.
    let worst = Number.NaN;
    for (let i = 0; i < this.size; i++) {
      if (q.prefix !== '' && !acc.hasPrefix(i, q.prefix)) continue;
      matches++;
      if (want <= 0) continue;
      if (best.length === want) {
        if (column >= 0) {
          const d = sign * (acc.value(column, i) - worst);
          if (d > 0) continue;
          if (d === 0 && before(i, best[want - 1] as number) >= 0) continue;
        } else if (before(i, best[want - 1] as number) >= 0) {
          continue;
        }
      }
      // Insertion into a short sorted list: most rows fail the test above.
      let at = best.length === want ? want - 1 : best.length;
      if (best.length < want) best.push(i);
      while (at > 0 && before(i, best[at - 1] as number) < 0) {
        best[at] = best[at - 1] as number;
        at--;
      }
      best[at] = i;
      if (column >= 0) worst = acc.value(column, best[best.length - 1] as number);
    }
    const rows = best.slice(q.start).map((i) => this.row(i));
    return { recordsFiltered: matches, rows };
  }

  private row(i: number): TorrentRow {
    const { acc } = this;
    return {
      infoHash: acc.hashHex(i),
      seeders: acc.value(0, i),
      leechers: acc.value(1, i),
      completed: acc.value(2, i),
      lastAnnounce: acc.value(3, i),
    };
  }
}

/** Whether the 20-byte hash at `offset` starts with the hex digits of `prefix` (lowercase). */
function hashHasPrefix(hashes: Buffer, offset: number, prefix: string): boolean {
  for (let n = 0; n < prefix.length; n++) {
    const byte = hashes[offset + (n >> 1)] as number;
    const nibble = n & 1 ? byte & 15 : byte >> 4;
    if (nibble !== Number.parseInt(prefix[n] as string, 16)) return false;
  }
  return true;
}

/** Rows per Accumulator segment. */
const SEGMENT_BITS = 16;
const SEGMENT_ROWS = 1 << SEGMENT_BITS;
const SEGMENT_MASK = SEGMENT_ROWS - 1;

interface Segment {
  hashes: Buffer;
  /** Seeders, leechers, completed, last announce. */
  values: readonly [Float64Array, Float64Array, Float64Array, Float64Array];
}

/**
 * Columns filled while scanning, so the scan holds no per-torrent objects. In
 * segments of 65,536 rows that are never copied: doubling arrays would copy
 * tens of MB into fresh memory in one go at a million torrents, and on a VM
 * those first writes (page faults) pause the event loop for ~100 ms.
 */
class Accumulator {
  length = 0;
  private readonly segments: Segment[] = [];

  push(t: TorrentSummary): void {
    this.add(t.infoHash, t.complete, t.incomplete, t.downloaded, t.lastAnnounce);
  }

  add(infoHash: Uint8Array, complete: number, incomplete: number, downloaded: number, lastAnnounce: number): void {
    if (this.length >= MAX_ROWS || infoHash.length !== 20) return;
    const i = this.length++;
    const j = i & SEGMENT_MASK;
    if (j === 0) {
      this.segments.push({
        hashes: Buffer.allocUnsafe(SEGMENT_ROWS * 20),
        values: [
          new Float64Array(SEGMENT_ROWS),
          new Float64Array(SEGMENT_ROWS),
          new Float64Array(SEGMENT_ROWS),
          new Float64Array(SEGMENT_ROWS),
        ],
      });
    }
    const s = this.segments[i >>> SEGMENT_BITS]!;
    // A byte loop: Buffer#copy's fixed cost is several times 20 bytes' worth.
    const to = s.hashes;
    for (let b = 0, o = j * 20; b < 20; b++) to[o + b] = infoHash[b] as number;
    s.values[0][j] = complete;
    s.values[1][j] = incomplete;
    s.values[2][j] = downloaded;
    s.values[3][j] = lastAnnounce;
  }

  /** Column 0 seeders, 1 leechers, 2 completed, 3 last announce, of row i. */
  value(column: number, i: number): number {
    return this.segments[i >>> SEGMENT_BITS]!.values[column]![i & SEGMENT_MASK]!;
  }

  /** The first 4 bytes of row i's hash as a uint32 (big-endian: hash order). */
  hashKey(i: number): number {
    const h = this.segments[i >>> SEGMENT_BITS]!.hashes;
    const o = (i & SEGMENT_MASK) * 20;
    return ((h[o]! << 24) | (h[o + 1]! << 16) | (h[o + 2]! << 8) | h[o + 3]!) >>> 0;
  }

  /** Negative when row a's hash sorts before row b's. */
  compareHashes(a: number, b: number): number {
    const ha = this.segments[a >>> SEGMENT_BITS]!.hashes;
    const hb = this.segments[b >>> SEGMENT_BITS]!.hashes;
    const oa = (a & SEGMENT_MASK) * 20;
    const ob = (b & SEGMENT_MASK) * 20;
    // buf.compare(target, …) orders buf's range against target's.
    return ha.compare(hb, ob, ob + 20, oa, oa + 20);
  }

  sameHash(i: number, other: Buffer, offset: number): boolean {
    return sameHash(this.segments[i >>> SEGMENT_BITS]!.hashes, (i & SEGMENT_MASK) * 20, other, offset);
  }

  copyHash(i: number, out: Buffer, offset: number): void {
    const h = this.segments[i >>> SEGMENT_BITS]!.hashes;
    const o = (i & SEGMENT_MASK) * 20;
    for (let b = 0; b < 20; b++) out[offset + b] = h[o + b]!;
  }

  hashHex(i: number): string {
    const o = (i & SEGMENT_MASK) * 20;
    return this.segments[i >>> SEGMENT_BITS]!.hashes.toString('hex', o, o + 20);
  }

  /** Whether row i's hash starts with the hex digits of `prefix` (lowercase). */
  hasPrefix(i: number, prefix: string): boolean {
    return hashHasPrefix(this.segments[i >>> SEGMENT_BITS]!.hashes, (i & SEGMENT_MASK) * 20, prefix);
  }
}

function sameHash(a: Buffer, ao: number, b: Buffer, bo: number): boolean {
  for (let i = 0; i < 20; i++) if (a[ao + i] !== b[bo + i]) return false;
  return true;
}

/**
 * The sorts below are generators that yield between chunks of about CHUNK rows:
 * the snapshot build runs them through a Slicer, which returns to the event loop
 * whenever a few milliseconds of work have accumulated (announces keep flowing
 * while a million rows sort); a search request runs them straight through.
 */
const CHUNK = 16384;
const CHUNK_MASK = CHUNK - 1;
const SLICE_MS = 8;

type Steps<T> = Generator<void, T, void>;

class Slicer {
  private last = performance.now();

  async pause(): Promise<void> {
    if (performance.now() - this.last < SLICE_MS) return;
    await yieldToEventLoop();
    this.last = performance.now();
  }

  async run<T>(steps: Steps<T>): Promise<T> {
    for (;;) {
      const next = steps.next();
      if (next.done) return next.value;
      await this.pause();
    }
  }
}

function runSync<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/**
 * Row indices ordered by info hash: a radix sort on the first 32 bits, then runs
 * sharing those bits (rare among random hashes) ordered by full comparison.
 */
function* sortByHashSteps(acc: Accumulator, n: number): Steps<Uint32Array> {
  const keys = new Uint32Array(n);
  const rows = new Uint32Array(n);
  for (let a = 0; a < n; a += CHUNK) {
    for (let i = a, end = Math.min(n, a + CHUNK); i < end; i++) {
      keys[i] = acc.hashKey(i);
      rows[i] = i;
    }
    yield;
  }
  const state = radixState(keys, rows);
  yield* radixSteps(state, false);
  const out = state.r;
  const sortedKeys = state.k;
  for (let i = 0; i < n; ) {
    if ((i & CHUNK_MASK) === 0) yield;
    let j = i + 1;
    while (j < n && sortedKeys[j] === sortedKeys[i]) j++;
    if (j - i > 1) {
      const run = Array.from(out.subarray(i, j)).sort((a, b) => acc.compareHashes(a, b));
      out.set(run, i);
    }
    i = j;
  }
  return out;
}

/**
 * `rows` (ascending row numbers) ordered by `values`, ties kept in row (hash)
 * order. Values become uint32 keys relative to the smallest, in the finest unit
 * (1, 10, 100, …) that fits: exact for counts, and for timestamps over any
 * realistic peer TTL (2^32 ms is 49 days). When every key fits 16 bits, one
 * radix pass is enough.
 */
function* sortRowsSteps(rows: Uint32Array, values: Float64Array): Steps<Uint32Array> {
  const n = rows.length;
  let base = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  for (let a = 0; a < n; a += CHUNK) {
    for (let i = a, end = Math.min(n, a + CHUNK); i < end; i++) {
      const v = values[rows[i]!]!;
      if (v < base) base = v;
      if (v > max) max = v;
    }
    yield;
  }
  let unit = 1;
  while ((max - base) / unit > MAX_KEY) unit *= 10;
  const keys = new Uint32Array(n);
  for (let a = 0; a < n; a += CHUNK) {
    // (v - base) / unit is in [0, 2^32) by the choice of unit, so >>> 0 is floor.
    for (let i = a, end = Math.min(n, a + CHUNK); i < end; i++) keys[i] = ((values[rows[i]!]! - base) / unit) >>> 0;
    yield;
  }
  const state = radixState(keys, rows);
  yield* radixSteps(state, n === 0 || (max - base) / unit <= 0xffff);
  return state.r;
}

/**
 * Stable LSD radix sort of rows by uint32 keys, 16 bits per pass: O(n) and no
 * comparator calls, unlike Array#sort (a million rows in tens of milliseconds).
 * With `small`, all keys are < 2^16 and one pass does.
 */
interface RadixState {
  k: Uint32Array;
  r: Uint32Array;
  k2: Uint32Array;
  r2: Uint32Array;
  counts: Uint32Array;
}

/** `keys` is consumed (overwritten); callers build it fresh. */
function radixState(keys: Uint32Array, rows: Uint32Array): RadixState {
  const n = keys.length;
  // `rows` is copied: the second pass writes into the first buffers, and callers reuse `rows`.
  return { k: keys, r: rows.slice(), k2: new Uint32Array(n), r2: new Uint32Array(n), counts: new Uint32Array(65537) };
}

function* radixSteps(s: RadixState, small: boolean): Steps<void> {
  for (const shift of small ? [0] : [0, 16]) {
    const { k, r, k2, r2, counts } = s;
    const n = k.length;
    counts.fill(0);
    for (let a = 0; a < n; a += CHUNK) {
      for (let i = a, end = Math.min(n, a + CHUNK); i < end; i++) counts[((k[i]! >>> shift) & 0xffff) + 1]!++;
      yield;
    }
    for (let b = 0; b < 65536; b++) counts[b + 1] = counts[b + 1]! + counts[b]!;
    for (let a = 0; a < n; a += CHUNK) {
      for (let i = a, end = Math.min(n, a + CHUNK); i < end; i++) {
        const key = k[i]!;
        const at = counts[(key >>> shift) & 0xffff]!++;
        k2[at] = key;
        r2[at] = r[i]!;
      }
      yield;
    }
    s.k = k2;
    s.r = r2;
    s.k2 = k;
    s.r2 = r;
  }
}

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

import type { SnapshotRows } from './snapshot-rows.js';

/**
 * The orders of a snapshot's rows (snapshot-rows.ts), computed once per build:
 * the rows stay where the scan put them, and every order is an array of row
 * numbers. Moving the rows themselves into hash order would read every row at
 * random (five cache misses a row, ~0.5 s at a million rows); the sorts below
 * read the columns in row order and gather only 4-byte keys.
 */
export interface SnapshotOrder {
  /** Each distinct info hash's row, in hash order (a torrent scanned twice keeps its fresher row). */
  byHash: Uint32Array;
  /** byHash's rows ordered by seeders, leechers, completed, last announce (ascending, ties in hash order). */
  byColumn: [Uint32Array, Uint32Array, Uint32Array, Uint32Array];
}

/**
 * The sorts are generators that yield between chunks of about CHUNK rows: on
 * the event loop a Slicer returns to it whenever a few milliseconds of work
 * have accumulated; on the sorting thread, and for a search, they run straight
 * through (runSync).
 */
const CHUNK = 16384;
const CHUNK_MASK = CHUNK - 1;
const MAX_KEY = 0xffffffff;

export type Steps<T> = Generator<void, T, void>;

export function* snapshotOrderSteps(rows: SnapshotRows): Steps<SnapshotOrder> {
  const scratch = new SortScratch(rows.length);
  const byHash = yield* hashOrderSteps(rows, scratch);
  const byColumn: Uint32Array[] = [];
  for (let c = 0; c < 4; c++) byColumn.push(yield* columnOrderSteps(rows, c, byHash, true, scratch));
  return { byHash, byColumn: byColumn as SnapshotOrder['byColumn'] };
}

/**
 * The working arrays of a build's five sorts, allocated once and shared by
 * them: only each sort's result is new memory. Fresh memory is what a sort of
 * a million rows mostly costs (every 4 KB page faults on its first write,
 * ~12 µs a page on the 2-core test VM: 12 ms per 4 MB array), and five sorts
 * with arrays of their own wrote ~96 MB of it at a million rows where one
 * scratch set and the results write ~36 MB.
 */
export class SortScratch {
  readonly keys: Uint32Array;
  readonly keys2: Uint32Array;
  readonly rows2: Uint32Array;
  readonly byRow: Uint32Array;
  readonly counts = new Uint32Array(65537);

  /** For sorts of up to `n` rows of a snapshot of `rowCount` (byRow: only the sorts of every row use it). */
  constructor(n: number, rowCount = n) {
    this.keys = new Uint32Array(n);
    this.keys2 = new Uint32Array(n);
    this.rows2 = new Uint32Array(n);
    this.byRow = new Uint32Array(rowCount);
  }
}

/**
 * Each distinct hash's row in hash order: a radix sort on the hashes' first 32
 * bits, then runs sharing those bits (rare among random hashes) ordered by full
 * comparison, where a torrent listed twice (Redis SCAN may repeat one; the
 * memory store lists one dropped and created again during the scan twice)
 * keeps the row with the later last announce (on a tie, the later row).
 */
function* hashOrderSteps(rows: SnapshotRows, scratch: SortScratch): Steps<Uint32Array> {
  const n = rows.length;
  const keys = scratch.keys.subarray(0, n);
  const order = new Uint32Array(n);
  for (let a = 0; a < n; a += CHUNK) {
    for (let i = a, end = Math.min(n, a + CHUNK); i < end; i++) {
      keys[i] = rows.hashKey(i);
      order[i] = i;
    }
    yield;
  }
  // Two passes: the sorted rows end in `order`, the fresh array.
  const sorted = yield* radixSteps(keys, order, false, scratch);
  const out = sorted.rows;
  let dropped = 0;
  for (let i = 0; i < n; ) {
    if ((i & CHUNK_MASK) === 0) yield;
    let j = i + 1;
    while (j < n && sorted.keys[j] === sorted.keys[i]) j++;
    if (j - i > 1) {
      // Stable: rows of one hash stay in row order.
      const run = Array.from(out.subarray(i, j)).sort((a, b) => rows.compareHashes(a, b));
      let kept = 0;
      for (const r of run) {
        const last = run[kept - 1];
        if (kept > 0 && rows.compareHashes(last as number, r) === 0) {
          dropped++;
          if (rows.value(3, r) >= rows.value(3, last as number)) run[kept - 1] = r;
        } else {
          run[kept++] = r;
        }
      }
      // Marks the dropped places; compacted below.
      for (let k = i; k < j; k++) out[k] = k - i < kept ? (run[k - i] as number) : MAX_KEY;
    }
    i = j;
  }
  if (dropped === 0) return out;
  const unique = new Uint32Array(n - dropped);
  let u = 0;
  for (let k = 0; k < n; k++) if (out[k] !== MAX_KEY) unique[u++] = out[k] as number;
  return unique;
}

/**
 * `order` (rows in hash order) ordered by column `c`, ties kept in hash order.
 * Values become uint32 keys relative to the smallest, in the finest unit (1,
 * 10, 100, …) that fits: exact for counts, and for timestamps over any
 * realistic peer TTL (2^32 ms is 49 days). When every key fits 16 bits, one
 * radix pass is enough. With `all` (order holds every row, or every row but
 * duplicates), the passes over values run in row order on the flat columns and
 * only the 4-byte keys are gathered in hash order. `order` is only read; the
 * result is a new array.
 */
export function* columnOrderSteps(
  rows: SnapshotRows,
  c: number,
  order: Uint32Array,
  all: boolean,
  scratch: SortScratch = new SortScratch(order.length, all ? rows.length : 0),
): Steps<Uint32Array> {
  const n = order.length;
  let base = Number.POSITIVE_INFINITY;
  let max = Number.NEGATIVE_INFINITY;
  if (all) {
    rows.forEachSegment((s, _first, count) => {
      const v = s.values[c]!;
      for (let i = 0; i < count; i++) {
        const x = v[i]!;
        if (x < base) base = x;
        if (x > max) max = x;
      }
    });
    yield;
  } else {
    for (let a = 0; a < n; a += CHUNK) {
      for (let i = a, end = Math.min(n, a + CHUNK); i < end; i++) {
        const x = rows.value(c, order[i]!);
        if (x < base) base = x;
        if (x > max) max = x;
      }
      yield;
    }
  }
  let unit = 1;
  while ((max - base) / unit > MAX_KEY) unit *= 10;
  // (v - base) / unit is in [0, 2^32) by the choice of unit, so >>> 0 is floor.
  const keys = scratch.keys.subarray(0, n);
  if (all) {
    const byRow = scratch.byRow;
    rows.forEachSegment((s, first, count) => {
      const v = s.values[c]!;
      for (let i = 0; i < count; i++) byRow[first + i] = ((v[i]! - base) / unit) >>> 0;
    });
    yield;
    for (let a = 0; a < n; a += CHUNK) {
      for (let i = a, end = Math.min(n, a + CHUNK); i < end; i++) keys[i] = byRow[order[i]!]!;
      yield;
    }
  } else {
    for (let a = 0; a < n; a += CHUNK) {
      for (let i = a, end = Math.min(n, a + CHUNK); i < end; i++)
        keys[i] = ((rows.value(c, order[i]!) - base) / unit) >>> 0;
      yield;
    }
  }
  if (n === 0 || (max - base) / unit <= 0xffff) {
    // One pass reads `order` and writes the second rows array: make that the result.
    return (yield* radixSteps(keys, order, true, {
      keys2: scratch.keys2,
      rows2: new Uint32Array(n),
      counts: scratch.counts,
    })).rows;
  }
  // Two passes end where they began: in the copy.
  return (yield* radixSteps(keys, order.slice(), false, scratch)).rows;
}

/**
 * Stable LSD radix sort of `rows` by uint32 `keys`, 16 bits per pass: O(n) and
 * no comparator calls, unlike Array#sort (a million rows in tens of
 * milliseconds). With `small`, all keys are < 2^16 and one pass does. Each pass
 * reads one pair of arrays and writes the other: `keys` and `rows`, then the
 * scratch's keys2 and rows2 (at least n long). With one pass the sorted pair is
 * in the scratch's arrays, and `keys` and `rows` are only read; with two it is
 * back in `keys` and `rows`. The sorted pair is returned, cut to n.
 */
function* radixSteps(
  keys: Uint32Array,
  rows: Uint32Array,
  small: boolean,
  scratch: Pick<SortScratch, 'keys2' | 'rows2' | 'counts'>,
): Steps<{ keys: Uint32Array; rows: Uint32Array }> {
  const n = keys.length;
  let k = keys;
  let r = rows;
  let k2: Uint32Array = scratch.keys2.subarray(0, n);
  let r2: Uint32Array = scratch.rows2.subarray(0, n);
  const counts = scratch.counts;
  for (const shift of small ? [0] : [0, 16]) {
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
    [k, k2] = [k2, k];
    [r, r2] = [r2, r];
  }
  return { keys: k, rows: r };
}

export function runSync<T>(steps: Steps<T>): T {
  for (;;) {
    const next = steps.next();
    if (next.done) return next.value;
  }
}

/** Runs steps on the event loop, returning to it once `sliceMs` of work has accumulated. */
export class Slicer {
  private last = performance.now();

  constructor(private readonly sliceMs: number) {}

  async pause(): Promise<void> {
    if (performance.now() - this.last < this.sliceMs) return;
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

function yieldToEventLoop(): Promise<void> {
  return new Promise((resolve) => setImmediate(resolve));
}

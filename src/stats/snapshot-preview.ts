import { prefixNibbles, type SnapshotRows } from './snapshot-rows.js';
import type { Steps } from './snapshot-sort.js';
import type { SnapshotPage, SnapshotQuery } from './table-query.js';

/** Past this many rows (start + length) a preview does not answer: the caller waits for the snapshot. */
const PREVIEW_MAX_ROWS = 1000;
/** Rows between yields: small, as the first pass of a process runs before V8 has optimised it. */
const CHUNK = 4096;

export function canPreview(q: SnapshotQuery): boolean {
  return q.start + q.length <= PREVIEW_MAX_ROWS;
}

/**
 * One page of the table from a build's scanned rows, before their sorts: one
 * pass keeping the best `start + length` rows, so the first request to a
 * tracker of a million torrents is answered once the store is scanned instead
 * of after every column is sorted. Same order as TorrentSnapshot.query (ties in
 * hash order, reversed for `desc`); a torrent the scan listed twice may appear
 * twice, and the count includes both. Yields every CHUNK rows (a Slicer runs it
 * on the event loop).
 */
export function* previewSteps(rows: SnapshotRows, q: SnapshotQuery): Steps<SnapshotPage> {
  if (q.prefix === null) return { recordsFiltered: 0, rows: [] };
  const want = q.start + q.length;
  const sign = q.dir === 'asc' ? 1 : -1;
  const column = q.column - 1;
  const nibbles = prefixNibbles(q.prefix);
  // Negative when row a comes before row b in the requested order.
  const before = (a: number, b: number): number => {
    const byValue = column >= 0 ? rows.value(column, a) - rows.value(column, b) : 0;
    if (byValue !== 0) return sign * byValue;
    // Ties are common (most torrents have 0 or 1 seeder): the hashes' first 4 bytes decide almost all.
    const byKey = rows.hashKey(a) - rows.hashKey(b);
    return sign * (byKey !== 0 ? byKey : rows.compareHashes(a, b));
  };
  const best: number[] = [];
  let matches = 0;
  // The value of the last row kept: a row past it is skipped on one comparison of numbers.
  let worst = Number.NaN;
  for (let i = 0; i < rows.length; i++) {
    if (i % CHUNK === CHUNK - 1) yield;
    if (nibbles.length > 0 && rows.comparePrefix(i, nibbles) !== 0) continue;
    matches++;
    if (want <= 0) continue;
    if (best.length === want) {
      if (column >= 0) {
        const d = sign * (rows.value(column, i) - worst);
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
    if (column >= 0) worst = rows.value(column, best[best.length - 1] as number);
  }
  return {
    recordsFiltered: matches,
    rows: best.slice(q.start).map((i) => rows.row(i)),
  };
}

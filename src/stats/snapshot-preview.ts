import { prefixNibbles, type SnapshotRows } from './snapshot-rows.js';
import type { Steps } from './snapshot-sort.js';
import type { SnapshotPage, SnapshotQuery } from './table-query.js';

/** Past this many rows (start + length) a page is not collected in one pass: the caller waits for the snapshot. */
export const PREVIEW_MAX_ROWS = 1000;
/** Rows between yields: small, as the first pass of a process runs before V8 has optimised it. */
const CHUNK = 4096;

export function canPreview(q: SnapshotQuery): boolean {
  return q.start + q.length <= PREVIEW_MAX_ROWS;
}

/**
 * One page of the table from torrents offered one at a time, in any order:
 * the best `start + length` of them in the query's order (as
 * TorrentSnapshot.query orders them: ties in hash order, reversed for `desc`),
 * and how many match its prefix. One pass, no sort: most torrents are turned
 * away on one comparison of numbers. A torrent offered twice may appear twice,
 * and the count includes both.
 *
 * It answers a page near the top (canPreview) from a build's scanned rows
 * before their sorts (previewSteps), and straight from a store's shared rows
 * on the table's thread (snapshot-sort-worker.ts), where no snapshot is made.
 */
export class PageCollector {
  /** Torrents matching the prefix. */
  matches = 0;
  private readonly want: number;
  private readonly sign: number;
  private readonly column: number;
  private readonly nibbles: Uint8Array | undefined;
  /** Kept torrents by slot: hashes (20 bytes), the hashes' first 4 bytes, the four values. */
  private readonly hashes: Uint8Array;
  private readonly keys: Float64Array;
  private readonly values: Float64Array;
  /** Slots of the kept torrents, best first; the slot past them is where an offer is written. */
  private readonly order: Int32Array;
  private readonly start: number;
  private kept = 0;
  /** The slot the next offer is written to. */
  private spare = 0;

  constructor(q: SnapshotQuery) {
    this.nibbles = q.prefix === null ? undefined : prefixNibbles(q.prefix);
    this.want = q.prefix === null ? 0 : q.start + q.length;
    this.start = q.start;
    this.sign = q.dir === 'asc' ? 1 : -1;
    this.column = q.column - 1;
    const slots = this.want + 1;
    this.hashes = new Uint8Array(slots * 20);
    this.keys = new Float64Array(slots);
    this.values = new Float64Array(slots * 4);
    this.order = new Int32Array(slots);
  }

  /**
   * A torrent: its info hash at `from[at..at + 20)`, and its counts. With
   * `unchanged` (a store's shared rows, read while written: shared-torrent-rows.ts),
   * a torrent is kept only when that still holds once its hash is copied.
   */
  offer(
    from: Uint8Array,
    at: number,
    seeders: number,
    leechers: number,
    completed: number,
    lastAnnounce: number,
    unchanged?: () => boolean,
  ): void {
    const nibbles = this.nibbles;
    if (nibbles === undefined) return;
    for (let n = 0; n < nibbles.length; n++) {
      const byte = from[at + (n >> 1)] as number;
      if ((n & 1 ? byte & 15 : byte >> 4) !== nibbles[n]) return;
    }
    this.matches++;
    const want = this.want;
    if (want === 0) return;
    const c = this.column;
    const full = this.kept === want;
    const key = ((from[at]! << 24) | (from[at + 1]! << 16) | (from[at + 2]! << 8) | from[at + 3]!) >>> 0;
    if (full) {
      // Most torrents stop here, worse than the last one kept on the value alone, or on the value
      // and the hash's first 4 bytes (ties are common: most torrents have 0 or 1 seeder).
      const last = this.order[want - 1] as number;
      if (c >= 0) {
        const v = c === 0 ? seeders : c === 1 ? leechers : c === 2 ? completed : lastAnnounce;
        const d = this.sign * (v - this.values[last * 4 + c]!);
        if (d > 0) return;
        if (d === 0 && this.sign * (key - this.keys[last]!) > 0) return;
      } else if (this.sign * (key - this.keys[last]!) > 0) return;
    }
    const s = this.spare;
    const h = s * 20;
    for (let b = 0; b < 20; b++) this.hashes[h + b] = from[at + b] as number;
    if (unchanged !== undefined && !unchanged()) {
      // The row was reused for another torrent meanwhile: left out (the spare slot stays spare).
      this.matches--;
      return;
    }
    this.keys[s] = key;
    const v = s * 4;
    this.values[v] = seeders;
    this.values[v + 1] = leechers;
    this.values[v + 2] = completed;
    this.values[v + 3] = lastAnnounce;
    let pos: number;
    if (full) {
      pos = want - 1;
      const last = this.order[pos] as number;
      if (this.before(s, last) >= 0) return;
      this.spare = last;
    } else {
      // Slots 0..want-1 fill in turn; the last offer's (want) is free once they are full.
      pos = this.kept++;
      this.spare = this.kept;
    }
    // Insertion into the short sorted list of slots.
    while (pos > 0 && this.before(s, this.order[pos - 1] as number) < 0) {
      this.order[pos] = this.order[pos - 1] as number;
      pos--;
    }
    this.order[pos] = s;
  }

  page(): SnapshotPage {
    const rows: SnapshotPage['rows'] = [];
    const hashes = Buffer.from(this.hashes.buffer, this.hashes.byteOffset, this.hashes.byteLength);
    for (let k = this.start; k < this.kept; k++) {
      const s = this.order[k] as number;
      const v = s * 4;
      rows.push({
        infoHash: hashes.toString('hex', s * 20, s * 20 + 20),
        seeders: this.values[v] as number,
        leechers: this.values[v + 1] as number,
        completed: this.values[v + 2] as number,
        lastAnnounce: this.values[v + 3] as number,
      });
    }
    return { recordsFiltered: this.matches, rows };
  }

  /** Negative when slot a's torrent comes before slot b's in the query's order. */
  private before(a: number, b: number): number {
    const c = this.column;
    if (c >= 0) {
      const byValue = (this.values[a * 4 + c] as number) - (this.values[b * 4 + c] as number);
      if (byValue !== 0) return this.sign * byValue;
    }
    // Ties are common (most torrents have 0 or 1 seeder): the hashes' first 4 bytes decide almost all.
    const byKey = (this.keys[a] as number) - (this.keys[b] as number);
    if (byKey !== 0) return this.sign * byKey;
    for (let i = 4, ha = a * 20, hb = b * 20; i < 20; i++) {
      const d = (this.hashes[ha + i] as number) - (this.hashes[hb + i] as number);
      if (d !== 0) return this.sign * d;
    }
    return 0;
  }
}

/**
 * A page near the top from a build's scanned rows, before their sorts, so the
 * first request to a tracker of a million torrents is answered once the store
 * is scanned instead of after every column is sorted. Yields every CHUNK rows
 * (a Slicer runs it on the event loop).
 */
export function* previewSteps(rows: SnapshotRows, q: SnapshotQuery): Steps<SnapshotPage> {
  const collector = new PageCollector(q);
  for (let i = 0; i < rows.length; i++) {
    if (i % CHUNK === CHUNK - 1) yield;
    rows.offerTo(collector, i);
  }
  return collector.page();
}

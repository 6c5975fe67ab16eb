import type { SharedTorrentRows } from '../store/shared-torrent-rows.js';
import { sortThread } from './snapshot-sort-thread.js';
import type { SnapshotQuery, TablePage } from './table-query.js';

/** Distinct queries whose last page is kept. */
const MAX_KEPT = 64;
/** Distinct queries one walk answers at most (the rest wait for the next). */
const MAX_BATCH = 64;
/** A kept page is refreshed once older than this many times the last walk took (or the age limit, if longer). */
const WALK_SPACING = 10;
/** warm() walks again once the store's torrents moved by more than a WARM_DRIFT-th of those walked. */
const WARM_DRIFT = 10;

interface Waiting {
  query: SnapshotQuery;
  resolve: (page: TablePage) => void;
  reject: (err: Error) => void;
  promise: Promise<TablePage>;
}

/**
 * Pages near the top of the table (canPreview) for a store whose torrents sit
 * in shared memory, read straight from them on the table's thread: one walk of
 * the rows keeps the best `start + length` torrents of each query asked
 * (PageCollector), with no snapshot at all. At a million torrents a walk is
 * ~0.1 s of that thread's CPU, where a snapshot (every row copied, five
 * sorts) is ~0.6 s, and the announces on the other core are what pays for it
 * on a small machine. Deeper pages still need a snapshot (snapshot-cache.ts).
 *
 * Each query's last page is kept and served until it is older than the age
 * limit (stale-while-revalidate, as the snapshot is); the queries waiting
 * when a walk starts share it, and walks never overlap, so however many
 * requests come, the thread does one walk at a time, and rests as long
 * before the next.
 */
export class SharedStorePages {
  private readonly kept = new Map<string, Kept>();
  /** Queries for the next walk, and the running walk's: a request for either joins it. */
  private readonly waiting = new Map<string, Waiting>();
  private readonly walking = new Map<string, Waiting>();
  private lastWalkMs = 0;
  /** Between walks: the next waits as long as the last took, so walks keep the thread busy half the time at most. */
  private resting = false;
  /** The last walk's failure, cleared by the next success. */
  lastError: Error | undefined;

  constructor(
    private readonly torrents: () => SharedTorrentRows,
    private readonly now: () => number,
    private readonly maxAgeMs: number,
  ) {}

  page(q: SnapshotQuery): Promise<TablePage> {
    const key = keyOf(q);
    const kept = this.freshest(key, q);
    if (!kept) return this.ask(key, q);
    if (this.now() - kept.builtAt >= Math.max(this.maxAgeMs, WALK_SPACING * this.lastWalkMs)) {
      this.ask(key, q).catch(() => {}); // recorded in lastError
    }
    return Promise.resolve(kept);
  }

  /**
   * Keeps `q`'s page fresh whether or not anyone asks (--stats-warm): asks
   * for it when it is `maxAgeMs` old, or when the store's `torrents` moved
   * by more than a tenth from the count it walked (a store filling up or
   * emptying; a walk is cheap here), but never sooner than WALK_SPACING
   * times the last walk after the page was walked; resolves once that walk
   * is done (a failure is left in lastError). Any shorter page of the same
   * order and search is then a slice of it (freshest()). `torrents` counts
   * rows, the walk torrents with a live peer: they differ by the torrents
   * whose peers expired and whose rows have not been dropped yet.
   */
  warm(q: SnapshotQuery, maxAgeMs: number, torrents: number): Promise<void> {
    const key = keyOf(q);
    const kept = this.kept.get(key);
    if (kept) {
      const { builtAt, total } = kept.page;
      const age = this.now() - builtAt;
      const due = age >= maxAgeMs || Math.abs(torrents - total) > total / WARM_DRIFT;
      if (!due || age < WALK_SPACING * this.lastWalkMs) {
        this.touch(key, kept); // a warm page is not evicted by the queries walked between looks
        return Promise.resolve();
      }
    }
    return this.ask(key, q).then(
      () => {},
      () => {},
    );
  }

  /**
   * The freshest kept answer to `q`: its own page, or the rows it asks for
   * from a kept page of the same order and search that starts at the top and
   * reaches as deep (the best n torrents hold the best m < n, in order).
   */
  private freshest(key: string, q: SnapshotQuery): TablePage | undefined {
    const own = this.kept.get(key);
    let best = own?.page;
    let from: [string, Kept] | undefined = own && [key, own];
    for (const [k, kept] of this.kept) {
      const { query: c, page } = kept;
      const covers =
        c.start === 0 &&
        c.length >= q.start + q.length &&
        c.column === q.column &&
        c.dir === q.dir &&
        c.prefix === q.prefix;
      if (covers && (!best || page.builtAt > best.builtAt)) {
        best = { ...page, rows: page.rows.slice(q.start, q.start + q.length) };
        from = [k, kept];
      }
    }
    if (from) this.touch(...from);
    return best;
  }

  /** Moves a kept page to the newest end of the map: the last evicted (keep()). */
  private touch(key: string, kept: Kept): void {
    this.kept.delete(key);
    this.kept.set(key, kept);
  }

  private ask(key: string, query: SnapshotQuery): Promise<TablePage> {
    const joined = this.walking.get(key) ?? this.waiting.get(key);
    if (joined) return joined.promise;
    let resolve: (page: TablePage) => void = () => {};
    let reject: (err: Error) => void = () => {};
    const promise = new Promise<TablePage>((yes, no) => {
      resolve = yes;
      reject = no;
    });
    this.waiting.set(key, { query, resolve, reject, promise });
    if (this.walking.size === 0 && !this.resting) this.walk();
    return promise;
  }

  /** Starts a walk for the waiting queries (one at a time: called when none runs). */
  private walk(): void {
    for (const [key, w] of this.waiting) {
      if (this.walking.size === MAX_BATCH) break;
      this.walking.set(key, w);
      this.waiting.delete(key);
    }
    if (this.walking.size === 0) return;
    const batch = [...this.walking];
    const builtAt = this.now();
    const t0 = performance.now();
    // In a promise, so a store that throws fails this walk's requests like a thread that does.
    Promise.resolve()
      .then(() =>
        sortThread.pages(
          this.torrents(),
          batch.map(([, w]) => w.query),
        ),
      )
      .then(
        ({ pages, torrents }) => {
          this.lastWalkMs = performance.now() - t0;
          this.lastError = undefined;
          batch.forEach(([key, w], i) => {
            const page: TablePage = { ...(pages[i] as TablePage), total: torrents, builtAt, truncated: false };
            this.keep(key, { query: w.query, page });
            w.resolve(page);
          });
        },
        (err: unknown) => {
          this.lastError = err instanceof Error ? err : new Error(String(err));
          for (const [, w] of batch) w.reject(this.lastError);
        },
      )
      .finally(() => {
        this.walking.clear();
        if (this.waiting.size === 0) return;
        this.resting = true;
        setTimeout(() => {
          this.resting = false;
          this.walk();
        }, this.lastWalkMs);
      });
  }

  /** Keeps a walked page, evicting the page least recently walked, read or warmed past MAX_KEPT. */
  private keep(key: string, kept: Kept): void {
    this.kept.delete(key);
    if (this.kept.size >= MAX_KEPT) this.kept.delete(this.kept.keys().next().value as string);
    this.kept.set(key, kept);
  }
}

interface Kept {
  query: SnapshotQuery;
  page: TablePage;
}

function keyOf(q: SnapshotQuery): string {
  return `${q.start}/${q.length}/${q.column}/${q.dir}/${q.prefix}`;
}

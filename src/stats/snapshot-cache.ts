import type { SwarmStore } from '../store/swarm-store.js';
import { SharedStorePages } from './shared-store-pages.js';
import { canPreview, PREVIEW_MAX_ROWS, previewSteps } from './snapshot-preview.js';
import { Slicer } from './snapshot-sort.js';
import type { SnapshotQuery, TablePage, TorrentRow } from './table-query.js';
import { OFF_THREAD_ABOVE, type ScannedRows, TorrentSnapshot } from './torrent-snapshot.js';

/**
 * Answers the stats table. Holds the current TorrentSnapshot and rebuilds it
 * when it is older than `maxAgeMs` and someone asks: no work at all while
 * nobody looks at the page, unless the operator asks for a table kept warm
 * (keepWarm, --stats-warm). On a large memory store only deep pages need the
 * snapshot: the pages near the top come from SharedStorePages.
 *
 * A small store is rebuilt inline (the caller waits a few milliseconds and sees
 * fresh rows); a large one is rebuilt in the background while callers keep
 * getting the previous snapshot (stale-while-revalidate), and the next rebuild
 * waits at least REBUILD_SPACING times as long as the last one took.
 */
const INLINE_BUILD_MS = 50;
/**
 * A tracker of millions of torrents rebuilds the table at most a tenth of the
 * time while someone watches it (the page polls every few seconds). A build
 * there takes ~0.5 s of CPU on the memory store (only for pages past the
 * first thousand rows), and ~0.6 s of Redis' CPU and ~1 s of the tracker's on
 * the Redis store (seconds of wall time under load), taken from the
 * announces: at a million torrents the table shows rows up to ~10 s old on the
 * memory store, about a minute on Redis under load (its time is on the page),
 * instead of keeping a core or Redis busy a third of the time. Smaller
 * trackers are rebuilt every maxAgeMs as before.
 */
const REBUILD_SPACING = 10;
/** The longest a failed build holds the next back. */
const MAX_FAILED_SPACING_MS = 30_000;
/** Work between returns to the event loop while a preview page is computed here. */
const PREVIEW_SLICE_MS = 1;
/** How often keepWarm() looks at the table's age. */
const WARM_CHECK_MS = 5000;
/**
 * What keepWarm() keeps on a large store in shared memory: the first thousand
 * rows in the order the stats page opens in (by seeders, descending:
 * stats-page.js), so its first request and any page of that order within
 * them are served from it.
 */
const WARM_QUERY: SnapshotQuery = { start: 0, length: PREVIEW_MAX_ROWS, column: 1, dir: 'desc', prefix: '' };

export class SnapshotCache {
  private current: TorrentSnapshot | undefined;
  private building: Promise<TorrentSnapshot> | undefined;
  /** The running build's rows once its scan is done (before its sorts). */
  private scanned: Promise<ScannedRows> | undefined;
  private notBefore = 0;
  private buildError: Error | undefined;
  /** Pages near the top without a snapshot, for a store in shared memory. */
  private readonly sharedPages: SharedStorePages | undefined;
  private warmTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly store: SwarmStore,
    private readonly now: () => number,
    private readonly maxAgeMs: number,
  ) {
    const shared = store.sharedTorrents?.bind(store);
    if (shared) this.sharedPages = new SharedStorePages(shared, now, maxAgeMs);
  }

  /**
   * Rebuilds the snapshot in the background once it is older than `warmMs`
   * (--stats-warm), whether or not anyone asks, starting now and looking
   * every WARM_CHECK_MS at most: the first visitor of a big tracker then gets
   * a table at once, about `warmMs` old (plus up to a look's interval and a
   * build's time), rather than waiting for a walk of the whole store
   * (seconds on the Redis store at a million torrents under load). A rebuild
   * still waits REBUILD_SPACING times the last one's time after it, so
   * however short `warmMs` this process's walks take at most about a tenth of
   * the time (each process of --workers keeps its own table); and the
   * snapshot is kept in memory for good (~120 B of RSS per row with what
   * its build leaves resident, measured with 855,000 rows, and a second
   * table while a rebuild runs). On a large store in shared memory, whose
   * pages near the top need no snapshot, it keeps WARM_QUERY's page instead
   * (one walk of its rows, no snapshot).
   */
  keepWarm(warmMs: number): void {
    this.stopWarm();
    const check = (): void => {
      void this.warmNow(warmMs);
    };
    check();
    this.warmTimer = setInterval(check, Math.min(warmMs, WARM_CHECK_MS));
    this.warmTimer.unref();
  }

  /**
   * keepWarm()'s look at the table: rebuilds when it is older than `warmMs`
   * (on a store in shared memory, walks for WARM_QUERY's page then, or when
   * the store's count of torrents moved by a tenth: SharedStorePages.warm),
   * and resolves once that is done. A failure is left in lastError and tried
   * again at the next look.
   */
  async warmNow(warmMs: number): Promise<void> {
    const shared = await this.sharedTorrentCount().catch(() => undefined);
    if (shared !== undefined) return (this.sharedPages as SharedStorePages).warm(WARM_QUERY, warmMs, shared);
    const current = this.current;
    const now = this.now();
    if (this.building || now < this.notBefore || (current && now - current.builtAt < warmMs)) return;
    await this.refresh().then(
      () => {},
      () => {},
    );
  }

  stopWarm(): void {
    if (this.warmTimer) clearInterval(this.warmTimer);
    this.warmTimer = undefined;
  }

  /** The last rebuild's or walk's failure, cleared by the next success (shown on the page). */
  get lastError(): Error | undefined {
    return this.buildError ?? this.sharedPages?.lastError;
  }

  async get(): Promise<TorrentSnapshot> {
    const current = this.current;
    if (!current) return this.refresh();
    const now = this.now();
    if (now - current.builtAt < this.maxAgeMs || now < this.notBefore) return current;
    const rebuild = this.refresh();
    if (current.buildMs < INLINE_BUILD_MS) return rebuild.catch(() => current);
    rebuild.catch(() => {}); // recorded in lastError
    return current;
  }

  /**
   * The table request `q`. A page near the top (canPreview) of a large store
   * in shared memory (the memory store) is read straight from its rows on the
   * table's thread, with no snapshot (shared-store-pages.ts). Otherwise it is
   * answered from the snapshot as get() gives it, or, before the first
   * snapshot exists, from the first build's scanned rows as soon as its scan
   * is done (a page near the top in one pass, snapshot-preview.ts: by the
   * table's thread for the request that started a build there, else here in
   * 1-ms slices), so the first visitor of a large tracker does not wait for
   * the sorts.
   */
  async page(q: SnapshotQuery): Promise<TablePage> {
    if (canPreview(q) && (await this.readsShared())) return (this.sharedPages as SharedStorePages).page(q);
    if (this.current || !canPreview(q)) return pageOf(await this.get(), q);
    const building = this.refresh(q);
    const scanned = this.scanned as Promise<ScannedRows>;
    const preview = scanned.then(async (scan): Promise<TablePage> => {
      const page =
        scan.preview && sameQuery(scan.preview.query, q)
          ? scan.preview.page
          : await new Slicer(PREVIEW_SLICE_MS).run(previewSteps(scan.rows, q));
      return { ...page, total: scan.rows.length, builtAt: scan.builtAt, truncated: scan.truncated };
    });
    return Promise.race([building.then((snapshot) => pageOf(snapshot, q)), preview]);
  }

  /** The row of one info hash (40 lowercase hex digits), or undefined. */
  async find(hex: string): Promise<TorrentRow | undefined> {
    if (await this.readsShared()) {
      const page = await (this.sharedPages as SharedStorePages).page({
        start: 0,
        length: 1,
        column: 0,
        dir: 'asc',
        prefix: hex,
      });
      return page.rows[0];
    }
    return (await this.get()).find(hex);
  }

  /** True when pages near the top are read from shared memory: a store there, past what is sorted inline. */
  private async readsShared(): Promise<boolean> {
    return (await this.sharedTorrentCount()) !== undefined;
  }

  /** The store's torrents when pages near the top are read from shared memory (readsShared), else undefined. */
  private async sharedTorrentCount(): Promise<number | undefined> {
    if (this.sharedPages === undefined) return undefined;
    const { torrents } = await this.store.totals();
    return torrents > OFF_THREAD_ABOVE ? torrents : undefined;
  }

  /**
   * Rebuilds now (joining a rebuild already running) and resolves with the
   * new snapshot; a new build also answers `preview` once it has scanned.
   */
  refresh(preview?: SnapshotQuery): Promise<TorrentSnapshot> {
    if (this.building) return this.building;
    let scannedNow: (scan: ScannedRows) => void = () => {};
    this.scanned = new Promise((resolve) => {
      scannedNow = resolve;
    });
    const started = performance.now();
    const building = TorrentSnapshot.build(this.store, this.now, { preview, onScanned: scannedNow }).then(
      (snapshot) => {
        this.current = snapshot;
        this.buildError = undefined;
        this.notBefore = this.now() + REBUILD_SPACING * snapshot.buildMs;
        return snapshot;
      },
      (err: unknown) => {
        const error = err instanceof Error ? err : new Error(String(err));
        this.buildError = error;
        // Do not hammer a failing store: a walk that failed after seconds (commands timing out on an
        // overloaded Redis) is spaced like one that succeeded, up to half a minute, so a table shown
        // with the error is retried soon after an outage ends.
        const spacing = Math.min(MAX_FAILED_SPACING_MS, REBUILD_SPACING * (performance.now() - started));
        this.notBefore = this.now() + Math.max(1000, spacing);
        throw error;
      },
    );
    this.building = building;
    const clear = () => {
      this.building = undefined;
      this.scanned = undefined; // it holds the scanned rows
    };
    building.then(clear, clear);
    return building;
  }
}

function sameQuery(a: SnapshotQuery, b: SnapshotQuery): boolean {
  return (
    a.start === b.start && a.length === b.length && a.column === b.column && a.dir === b.dir && a.prefix === b.prefix
  );
}

function pageOf(snapshot: TorrentSnapshot, q: SnapshotQuery): TablePage {
  return { ...snapshot.query(q), total: snapshot.size, builtAt: snapshot.builtAt, truncated: snapshot.truncated };
}

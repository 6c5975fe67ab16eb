import type { SwarmStore } from '../store/swarm-store.js';
import { canPreview, previewSteps } from './snapshot-preview.js';
import { Slicer } from './snapshot-sort.js';
import type { SnapshotPage, SnapshotQuery } from './table-query.js';
import { type ScannedRows, TorrentSnapshot } from './torrent-snapshot.js';

/**
 * Holds the current TorrentSnapshot and rebuilds it when it is older than
 * `maxAgeMs` and someone asks: no work at all while nobody looks at the page.
 *
 * A small store is rebuilt inline (the caller waits a few milliseconds and sees
 * fresh rows); a large one is rebuilt in the background while callers keep
 * getting the previous snapshot (stale-while-revalidate), and the next rebuild
 * waits at least REBUILD_SPACING times as long as the last one took.
 */
const INLINE_BUILD_MS = 50;
/**
 * A tracker of millions of torrents rebuilds the table at most a tenth of the
 * time while someone watches the page (the page polls every few seconds). A
 * build there takes 0.5-1 s of CPU on the memory store, and ~0.8 s of Redis'
 * CPU and ~1 s of the tracker's on the Redis store (seconds of wall time under
 * load), taken from the announces: at a million torrents the table shows rows up
 * to ~10 s old on the memory store, about a minute on Redis under load (its time
 * is on the page), instead of keeping a core or Redis busy a
 * third of the time. Smaller trackers are rebuilt every maxAgeMs as before.
 */
const REBUILD_SPACING = 10;
/** Work between returns to the event loop while a preview page is computed here. */
const PREVIEW_SLICE_MS = 1;

/** A page of the table with what the page shows about the whole. */
export interface TablePage extends SnapshotPage {
  /** Torrents in the table. */
  total: number;
  builtAt: number;
  truncated: boolean;
}

export class SnapshotCache {
  private current: TorrentSnapshot | undefined;
  private building: Promise<TorrentSnapshot> | undefined;
  /** The running build's rows once its scan is done (before its sorts). */
  private scanned: Promise<ScannedRows> | undefined;
  private notBefore = 0;
  /** The last rebuild's failure, cleared by the next success (shown on the page). */
  lastError: Error | undefined;

  constructor(
    private readonly store: SwarmStore,
    private readonly now: () => number,
    private readonly maxAgeMs: number,
  ) {}

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
   * The table request `q` answered from the snapshot as get() gives it, or,
   * before the first snapshot exists, from the first build's scanned rows as
   * soon as its scan is done (a page near the top in one pass,
   * snapshot-preview.ts), so the first visitor of a large tracker does not wait
   * for the sorts. The build that this request starts answers it where it
   * scans (on the worker thread for the memory store); a request that joins a
   * build started for another page is answered here, in 1-ms slices.
   */
  async page(q: SnapshotQuery): Promise<TablePage> {
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
    const building = TorrentSnapshot.build(this.store, this.now, { preview, onScanned: scannedNow }).then(
      (snapshot) => {
        this.current = snapshot;
        this.lastError = undefined;
        this.notBefore = this.now() + REBUILD_SPACING * snapshot.buildMs;
        return snapshot;
      },
      (err: unknown) => {
        this.lastError = err instanceof Error ? err : new Error(String(err));
        this.notBefore = this.now() + 1000; // do not hammer a failing store
        throw this.lastError;
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

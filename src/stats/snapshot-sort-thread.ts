import { Worker } from 'node:worker_threads';
import type { SharedTorrentRows } from '../store/shared-torrent-rows.js';
import { type SharedRows, SnapshotRows } from './snapshot-rows.js';
import type { SnapshotOrder } from './snapshot-sort.js';
import type { SnapshotPage, SnapshotQuery } from './table-query.js';

const ENTRY = new URL('./snapshot-sort-worker.js', import.meta.url);

/**
 * What the thread is asked: to walk a store's shared torrents (and answer one
 * page from them before sorting), or to sort rows scanned elsewhere.
 */
export type SortThreadRequest = { scan: SharedTorrentRows; preview: SnapshotQuery | undefined } | { sort: SharedRows };
export type SortReply =
  | { scanned: SharedRows; truncated: boolean; preview: SnapshotPage | undefined }
  | { order: SnapshotOrder }
  | { error: string };

/** A scan done on the thread: its rows, shared with it. */
export interface ThreadScan {
  rows: SnapshotRows;
  /** More torrents than MAX_ROWS: the rest were left out. */
  truncated: boolean;
  /** The page asked for with scan(), from the scanned rows (snapshot-preview.ts). */
  preview: SnapshotPage | undefined;
}

/**
 * A worker thread that builds one snapshot's orders, so a large build (a few
 * hundred ms of CPU at a million torrents) never holds the event loop that
 * answers announces. For a store whose torrents are in shared memory it also
 * walks them (scan()); otherwise it sorts the rows the event loop scanned
 * (sort()). Rows are shared, not copied; the orders come back as transferred
 * buffers.
 *
 * A thread per build, ended once it answers. A thread kept between builds held
 * on to every snapshot's shared rows until its own garbage collector ran,
 * which, with next to nothing allocated on that thread, it did not: 40 MB more
 * resident memory per rebuild at a million torrents. Starting one costs
 * ~100 ms of its own CPU, at most once per rebuild (every few seconds while
 * someone watches the stats page).
 */
export class SortThread {
  private readonly worker = new Worker(ENTRY);
  private readonly scanned: Promise<ThreadScan>;
  private readonly order: Promise<SnapshotOrder>;

  constructor() {
    let scannedNow: (scan: ThreadScan) => void = () => {};
    let scanFailed: (err: Error) => void = () => {};
    this.scanned = new Promise((resolve, reject) => {
      scannedNow = resolve;
      scanFailed = reject;
    });
    this.order = new Promise((resolve, reject) => {
      let answered = false;
      const fail = (err: Error): void => {
        answered = true;
        scanFailed(err);
        reject(err);
      };
      this.worker.on('message', (reply: SortReply) => {
        if ('scanned' in reply) {
          scannedNow({
            rows: SnapshotRows.fromShared(reply.scanned),
            truncated: reply.truncated,
            preview: reply.preview,
          });
          return;
        }
        if ('error' in reply) fail(new Error(`snapshot sort: ${reply.error}`));
        else {
          answered = true;
          resolve(reply.order);
        }
        this.stop();
      });
      this.worker.once('error', fail);
      this.worker.once('exit', (code) => {
        if (!answered) fail(new Error(`the snapshot sorting thread exited with code ${code}`));
      });
    });
    // A failure is reported by whichever promise the build still waits for, or by nobody if it gave up.
    this.scanned.catch(() => {});
    this.order.catch(() => {});
  }

  /**
   * Walks the store's shared torrents on the thread, then sorts what it found:
   * `scanned` resolves once the walk is done, with the page `preview` asks for
   * (a page near the top: canPreview), `order` once the sorts are.
   */
  scan(
    torrents: SharedTorrentRows,
    preview: SnapshotQuery | undefined,
  ): { scanned: Promise<ThreadScan>; order: Promise<SnapshotOrder> } {
    this.worker.postMessage({ scan: torrents, preview } satisfies SortThreadRequest);
    return { scanned: this.scanned, order: this.order };
  }

  /** Sorts rows scanned on the event loop. */
  sort(rows: SnapshotRows): Promise<SnapshotOrder> {
    this.worker.postMessage({ sort: rows.shared() } satisfies SortThreadRequest);
    return this.order;
  }

  /** Ends the thread (once it answered, or unused when a build gives up). */
  stop(): void {
    void this.worker.terminate();
  }
}

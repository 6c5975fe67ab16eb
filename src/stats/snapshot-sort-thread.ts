import { Worker } from 'node:worker_threads';
import type { SharedRows, SnapshotRows } from './snapshot-rows.js';
import type { SnapshotOrder } from './snapshot-sort.js';

const ENTRY = new URL('./snapshot-sort-worker.js', import.meta.url);

/** What the thread is asked: to fault in rows' pages ahead of the scan, then to sort them. */
export type SortThreadRequest = { touch: SharedRows } | { sort: SharedRows };
export type SortReply = { order: SnapshotOrder } | { error: string };

/**
 * A worker thread that sorts one snapshot's rows, so a large build's sorts (a
 * few hundred ms of CPU at a million torrents) never hold the event loop that
 * answers announces. The rows are shared, not copied; the orders come back as
 * transferred buffers. Started when a build starts, it first faults in the
 * pages the scan is about to fill (SnapshotRows.fillAhead), then sorts them.
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
  private readonly reply: Promise<SnapshotOrder>;

  constructor() {
    this.reply = new Promise((resolve, reject) => {
      let answered = false;
      this.worker.once('message', (reply: SortReply) => {
        answered = true;
        if ('error' in reply) reject(new Error(`snapshot sort: ${reply.error}`));
        else resolve(reply.order);
        this.stop();
      });
      this.worker.once('error', (err) => {
        answered = true;
        reject(err);
      });
      this.worker.once('exit', (code) => {
        if (!answered) reject(new Error(`the snapshot sorting thread exited with code ${code}`));
      });
    });
    // A failure before sort() is asked for is reported by sort(), or by nobody if the build gave up.
    this.reply.catch(() => {});
  }

  /** Faults in the pages of these segments (SnapshotRows.fillAhead), while this thread waits for its sort. */
  touch(fresh: SharedRows): void {
    this.post({ touch: fresh });
  }

  sort(rows: SnapshotRows): Promise<SnapshotOrder> {
    this.post({ sort: rows.shared() });
    return this.reply;
  }

  /** Ends the thread (once it answered, or unused when a build gives up). */
  stop(): void {
    void this.worker.terminate();
  }

  private post(request: SortThreadRequest): void {
    this.worker.postMessage(request);
  }
}

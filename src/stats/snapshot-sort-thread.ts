import { Worker } from 'node:worker_threads';
import type { SharedRows, SnapshotRows } from './snapshot-rows.js';
import type { SnapshotOrder } from './snapshot-sort.js';

const ENTRY = new URL('./snapshot-sort-worker.js', import.meta.url);

export type SortReply = { order: SnapshotOrder } | { error: string };

/**
 * Sorts a snapshot's rows on a worker thread, so a large build's sorts (a few
 * hundred ms of CPU at a million torrents) never hold the event loop that
 * answers announces. The rows are shared, not copied; the orders come back as
 * transferred buffers.
 *
 * A thread per sort, ended once it answers. A thread kept between sorts held
 * on to every snapshot's shared rows until its own garbage collector ran,
 * which, with next to nothing allocated on that thread, it did not: 40 MB more
 * resident memory per rebuild at a million torrents. Starting one costs
 * ~100 ms of its own CPU, at most once per rebuild (every few seconds while
 * someone watches the stats page).
 */
export function sortOffThread(rows: SnapshotRows): Promise<SnapshotOrder> {
  return new Promise((resolve, reject) => {
    let answered = false;
    const worker = new Worker(ENTRY);
    worker.once('message', (reply: SortReply) => {
      answered = true;
      if ('error' in reply) reject(new Error(`snapshot sort: ${reply.error}`));
      else resolve(reply.order);
      void worker.terminate();
    });
    worker.once('error', (err) => {
      answered = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!answered) reject(new Error(`the snapshot sorting thread exited with code ${code}`));
    });
    worker.postMessage(rows.shared() satisfies SharedRows);
  });
}

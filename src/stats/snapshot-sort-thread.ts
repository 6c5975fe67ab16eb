import { Worker } from 'node:worker_threads';
import type { SnapshotRows } from './snapshot-rows.js';
import type { SnapshotOrder } from './snapshot-sort.js';

const ENTRY = new URL('./snapshot-sort-worker.js', import.meta.url);

/**
 * Sorts a snapshot's rows on a worker thread, so a large build's sorts (a few
 * hundred ms of CPU at a million torrents) never hold the event loop that
 * answers announces. The rows are shared, not copied; the orders come back as
 * transferred buffers. A thread per build: it costs ~30 ms to start, builds
 * come at most every few seconds, and nothing stays resident between them.
 */
export function sortOffThread(rows: SnapshotRows): Promise<SnapshotOrder> {
  return new Promise((resolve, reject) => {
    let settled = false;
    const worker = new Worker(ENTRY);
    // A process that is shutting down does not wait for a stats table.
    worker.unref();
    worker.once('message', (order: SnapshotOrder) => {
      settled = true;
      resolve(order);
      void worker.terminate();
    });
    worker.once('error', (err) => {
      settled = true;
      reject(err);
    });
    worker.once('exit', (code) => {
      if (!settled) reject(new Error(`the snapshot sorting thread exited with code ${code}`));
    });
    worker.postMessage(rows.shared());
  });
}

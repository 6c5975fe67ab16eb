/**
 * Entry of the thread that sorts a large snapshot (snapshot-sort-thread.ts):
 * faults in the pages of the rows the scan is filling, then takes the scanned
 * rows in shared memory and hands back their orders.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { SnapshotRows, touchPages } from './snapshot-rows.js';
import { runSync, snapshotOrderSteps } from './snapshot-sort.js';
import type { SortReply, SortThreadRequest } from './snapshot-sort-thread.js';

const port = parentPort;
if (!port) throw new Error('snapshot-sort-worker.js runs as a worker thread');
lowerPriority();
port.on('message', (request: SortThreadRequest) => {
  if ('touch' in request) {
    touchPages(request.touch);
    return;
  }
  let reply: SortReply;
  try {
    reply = { order: runSync(snapshotOrderSteps(SnapshotRows.fromShared(request.sort))) };
  } catch (err) {
    reply = { error: err instanceof Error ? err.message : String(err) };
  }
  const moved = 'order' in reply ? [reply.order.byHash.buffer, ...reply.order.byColumn.map((o) => o.buffer)] : [];
  port.postMessage(reply, moved as ArrayBuffer[]);
});

/**
 * Lowers this thread's priority (nice +10, Linux: /proc/thread-self names its
 * thread id, and a thread id is a process id to setpriority), so on a busy
 * machine the threads answering announces win the cores and the table's sorts
 * take what is left. Elsewhere the sorts run at the tracker's priority.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
  } catch {
    // No /proc, or not allowed: same priority as the rest of the tracker.
  }
}

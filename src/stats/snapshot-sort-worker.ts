/**
 * Entry of the thread that builds a large snapshot (snapshot-sort-thread.ts):
 * walks a store's shared torrents into rows (and answers the page asked for
 * first), or takes rows scanned on the event loop, and hands back their orders.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { parentPort } from 'node:worker_threads';
import { readSharedTorrents } from '../store/shared-torrent-rows.js';
import { previewSteps } from './snapshot-preview.js';
import { SnapshotRows } from './snapshot-rows.js';
import { runSync, snapshotOrderSteps } from './snapshot-sort.js';
import type { SortReply, SortThreadRequest } from './snapshot-sort-thread.js';

const port = parentPort;
if (!port) throw new Error('snapshot-sort-worker.js runs as a worker thread');
lowerPriority();
port.on('message', (request: SortThreadRequest) => {
  let reply: SortReply;
  try {
    let rows: SnapshotRows;
    if ('scan' in request) {
      rows = new SnapshotRows();
      const visited = readSharedTorrents(request.scan, (hash, seeders, leechers, downloaded, last) =>
        rows.add(hash, seeders, leechers, downloaded, last),
      );
      const preview = request.preview && runSync(previewSteps(rows, request.preview));
      port.postMessage({ scanned: rows.shared(), truncated: visited > rows.length, preview } satisfies SortReply);
    } else {
      rows = SnapshotRows.fromShared(request.sort);
    }
    reply = { order: runSync(snapshotOrderSteps(rows)) };
  } catch (err) {
    reply = { error: err instanceof Error ? err.message : String(err) };
  }
  const moved = 'order' in reply ? [reply.order.byHash.buffer, ...reply.order.byColumn.map((o) => o.buffer)] : [];
  port.postMessage(reply, moved as ArrayBuffer[]);
});

/**
 * Lowers this thread's priority (nice +10, Linux: /proc/thread-self names its
 * thread id, and a thread id is a process id to setpriority), so on a busy
 * machine the threads answering announces win the cores and the table's walk
 * and sorts take what is left. Elsewhere they run at the tracker's priority.
 */
function lowerPriority(): void {
  try {
    const tid = Number(readlinkSync('/proc/thread-self').split('/').pop());
    if (Number.isInteger(tid) && tid > 0) setPriority(tid, 10);
  } catch {
    // No /proc, or not allowed: same priority as the rest of the tracker.
  }
}

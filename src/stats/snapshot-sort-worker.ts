/**
 * Entry of the thread that builds large snapshots (snapshot-sort-thread.ts):
 * walks a store's shared torrents or a Redis store's keys into rows, or takes
 * rows scanned on the event loop, and hands back their orders; or reads pages
 * of the table straight from a store's shared torrents.
 */
import { readlinkSync } from 'node:fs';
import { setPriority } from 'node:os';
import { setFlagsFromString } from 'node:v8';
import { runInNewContext } from 'node:vm';
import { parentPort } from 'node:worker_threads';
import { readSharedTorrents } from '../store/shared-torrent-rows.js';
import type { RedisWalks } from './redis-walks.js';
import { PageCollector, previewSteps } from './snapshot-preview.js';
import { SnapshotRows } from './snapshot-rows.js';
import { runSync, snapshotOrderSteps } from './snapshot-sort.js';
import type { SortReply, SortThreadRequest } from './snapshot-sort-thread.js';
import type { SnapshotPage } from './table-query.js';

const port = parentPort;
if (!port) throw new Error('snapshot-sort-worker.js runs as a worker thread');
lowerPriority();
const collectGarbage = garbageCollector();
/** Made on the first Redis walk: a thread for the memory store never loads the Redis client. */
let redisWalks: Promise<RedisWalks> | undefined;
port.on('message', (request: SortThreadRequest) => {
  void answer(request).then((reply) => {
    const moved = 'order' in reply ? [reply.order.byHash.buffer, ...reply.order.byColumn.map((o) => o.buffer)] : [];
    port.postMessage(reply, moved as ArrayBuffer[]);
    // This thread's handles on a snapshot's rows are garbage now. It allocates
    // too little for a collection to come by itself, and while the handles live
    // the rows (40 MB at a million torrents) stay resident after the table that
    // used them is gone. A walk for pages holds only the store's own buffers.
    if (!('pages' in request)) collectGarbage();
  });
});

async function answer(request: SortThreadRequest): Promise<SortReply> {
  const { id } = request;
  try {
    if ('pages' in request) {
      const collectors = request.queries.map((q) => new PageCollector(q));
      const torrents = readSharedTorrents(
        request.pages,
        (bytes, at, seeders, leechers, downloaded, last, unchanged) => {
          for (const c of collectors) c.offer(bytes, at, seeders, leechers, downloaded, last, unchanged);
        },
      );
      return { id, pages: collectors.map((c) => c.page()), torrents };
    }
    let rows: SnapshotRows;
    if ('sort' in request) {
      rows = SnapshotRows.fromShared(request.sort);
    } else {
      rows = new SnapshotRows();
      let truncated: boolean;
      let preview: SnapshotPage | undefined;
      if ('scan' in request) {
        let changed = 0;
        const visited = readSharedTorrents(
          request.scan,
          (bytes, at, seeders, leechers, downloaded, last, unchanged) => {
            const before = rows.length;
            rows.addFrom(bytes, at, seeders, leechers, downloaded, last);
            if (unchanged()) return;
            if (rows.length > before) rows.dropLast();
            changed++;
          },
        );
        truncated = visited - changed > rows.length;
      } else {
        redisWalks ??= import('./redis-walks.js').then((m) => new m.RedisWalks());
        truncated = await (await redisWalks).walk(request.scanRedis, rows);
        preview = request.preview && runSync(previewSteps(rows, request.preview));
      }
      port?.postMessage({ id, scanned: rows.shared(), truncated, preview } satisfies SortReply);
    }
    return { id, order: runSync(snapshotOrderSteps(rows)) };
  } catch (err) {
    return { id, error: err instanceof Error ? err.message : String(err) };
  }
}

/**
 * A full garbage collection of this thread's heap (a few ms here, on a heap of
 * a few MB). V8's `--expose-gc` applies to contexts made after it is set, so a
 * new context hands over its `gc`; the flag only exposes a function, it
 * changes no collection.
 */
function garbageCollector(): () => void {
  setFlagsFromString('--expose-gc');
  const gc = runInNewContext('gc') as unknown;
  return typeof gc === 'function' ? (gc as () => void) : () => {};
}

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

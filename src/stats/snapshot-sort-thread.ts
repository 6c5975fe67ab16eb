import { Worker } from 'node:worker_threads';
import type { SharedTorrentRows } from '../store/shared-torrent-rows.js';
import type { RedisWalkSpec } from '../store/swarm-store.js';
import { type SharedRows, SnapshotRows } from './snapshot-rows.js';
import type { SnapshotOrder } from './snapshot-sort.js';
import type { SnapshotPage, SnapshotQuery } from './table-query.js';

const ENTRY = new URL('./snapshot-sort-worker.js', import.meta.url);

/**
 * What the thread is asked, under an id its replies carry: to walk a store's
 * shared torrents, or a Redis store's keys on a connection of its own, into a
 * snapshot's rows and sort them; to sort rows scanned elsewhere; or to walk a
 * store's shared torrents for a few pages of the table (no snapshot).
 */
export type SortThreadRequest = { id: number } & (
  | { scan: SharedTorrentRows }
  | { scanRedis: RedisWalkSpec; preview: SnapshotQuery | undefined }
  | { sort: SharedRows }
  | { pages: SharedTorrentRows; queries: SnapshotQuery[] }
);
export type SortReply = { id: number } & (
  | { scanned: SharedRows; truncated: boolean; preview?: SnapshotPage }
  | { order: SnapshotOrder }
  | { pages: SnapshotPage[]; torrents: number }
  | { error: string }
);

/** A scan done on the thread: its rows, shared with it. */
export interface ThreadScan {
  rows: SnapshotRows;
  /** More torrents than MAX_ROWS: the rest were left out. */
  truncated: boolean;
  /** The page asked for with a Redis walk, from the scanned rows (snapshot-preview.ts). */
  preview: SnapshotPage | undefined;
}

/** Pages of the table read straight from a store's shared torrents. */
export interface ThreadPages {
  /** One per query, in the queries' order. */
  pages: SnapshotPage[];
  /** Torrents walked (each live torrent with a peer). */
  torrents: number;
}

/**
 * The thread ends after this long without a request. The stats page polls
 * every few seconds, and a table is rebuilt at most every few seconds while
 * someone watches it, so the thread lives as long as someone does; when nobody
 * looks, it gives back its ~10 MB (with --stats-warm, which walks every that
 * many seconds, it lives with the process when that is shorter than this,
 * and is started again for each walk when it is longer).
 */
const IDLE_MS = 60_000;

/** Takes a reply to its request; true once the request is answered in full. */
type Pending = (reply: SortReply) => boolean;

/**
 * The worker thread that builds snapshots' orders, so a large build (a few
 * hundred ms of CPU at a million torrents) never holds the event loop that
 * answers announces. For a store whose torrents are in shared memory it also
 * walks them (scan()), or reads a page of the table from them without a
 * snapshot (pages()); for a Redis store it walks the keys on a connection of
 * its own (scan()); otherwise it sorts the rows the event loop scanned
 * (sort()). Rows are shared, not copied; the orders come back as transferred
 * buffers.
 *
 * One thread per process, kept between builds and ended when idle: starting
 * and ending a thread holds the event loop for several milliseconds each time
 * (its isolate is set up and torn down), and at high load a pause that long
 * delays a queue of announces. The thread collects its own garbage after each
 * request (snapshot-sort-worker.ts): it allocates next to nothing, and
 * otherwise its references to every build's shared rows would keep them
 * resident.
 */
class SortThread {
  private worker: Worker | undefined;
  private readonly pending = new Map<number, Pending>();
  private nextId = 1;
  private idle: NodeJS.Timeout | undefined;

  /**
   * Walks a store's torrents on the thread (its shared rows, or a Redis
   * store's keys on a connection of the thread's own), then sorts what it
   * found: `scanned` resolves once the walk is done (with the page `preview`
   * asks for, on Redis), `order` once the sorts are.
   */
  scan(torrents: SharedTorrentRows | { redis: RedisWalkSpec; preview: SnapshotQuery | undefined }): {
    scanned: Promise<ThreadScan>;
    order: Promise<SnapshotOrder>;
  } {
    const scanned = deferred<ThreadScan>();
    const order = deferred<SnapshotOrder>();
    const request =
      'redis' in torrents ? { id: 0, scanRedis: torrents.redis, preview: torrents.preview } : { id: 0, scan: torrents };
    this.ask(request, (reply) => {
      if ('scanned' in reply) {
        const rows = SnapshotRows.fromShared(reply.scanned);
        scanned.resolve({ rows, truncated: reply.truncated, preview: reply.preview });
        return false;
      }
      if ('order' in reply) order.resolve(reply.order);
      else fail(reply, scanned, order);
      return true;
    });
    return { scanned: scanned.promise, order: order.promise };
  }

  /** Sorts rows scanned on the event loop. */
  sort(rows: SnapshotRows): Promise<SnapshotOrder> {
    const order = deferred<SnapshotOrder>();
    this.ask({ id: 0, sort: rows.shared() }, (reply) => {
      if ('order' in reply) order.resolve(reply.order);
      else fail(reply, order);
      return true;
    });
    return order.promise;
  }

  /** One page for each query, in one walk of the store's shared torrents (snapshot-preview.ts). */
  pages(torrents: SharedTorrentRows, queries: SnapshotQuery[]): Promise<ThreadPages> {
    const pages = deferred<ThreadPages>();
    this.ask({ id: 0, pages: torrents, queries }, (reply) => {
      if ('pages' in reply) pages.resolve({ pages: reply.pages, torrents: reply.torrents });
      else fail(reply, pages);
      return true;
    });
    return pages.promise;
  }

  private ask(request: SortThreadRequest, pending: Pending): void {
    const id = this.nextId++;
    this.pending.set(id, pending);
    if (this.idle) clearTimeout(this.idle);
    this.idle = undefined;
    const worker = this.thread();
    // Held open while a request is pending, as any other I/O would be.
    worker.ref();
    worker.postMessage({ ...request, id });
  }

  private thread(): Worker {
    if (this.worker) return this.worker;
    const worker = new Worker(ENTRY);
    worker.on('message', (reply: SortReply) => this.answer(reply));
    const lost = (err: Error): void => {
      // A thread ended when idle had nothing pending; what is pending now is a newer thread's.
      if (this.worker !== worker) return;
      this.worker = undefined;
      for (const p of this.pending.values()) p({ id: 0, error: err.message });
      this.pending.clear();
    };
    worker.once('error', lost);
    worker.once('exit', (code) => lost(new Error(`the snapshot sorting thread exited with code ${code}`)));
    this.worker = worker;
    return worker;
  }

  private answer(reply: SortReply): void {
    const pending = this.pending.get(reply.id);
    if (!pending || !pending(reply)) return;
    this.pending.delete(reply.id);
    if (this.pending.size === 0) {
      // An idle thread does not keep the process alive.
      this.worker?.unref();
      this.idle = setTimeout(() => this.end(), IDLE_MS);
      this.idle.unref();
    }
  }

  /** Ends an idle thread (its timer is cleared whenever a request comes). */
  private end(): void {
    const worker = this.worker;
    this.worker = undefined;
    this.idle = undefined;
    void worker?.terminate();
  }
}

/** Rejects what a request still waits for with the reply's error (or an unexpected reply). */
function fail(reply: SortReply, ...waiting: { reject: (err: Error) => void }[]): void {
  const err = new Error('error' in reply ? `snapshot thread: ${reply.error}` : 'snapshot thread: unexpected reply');
  for (const w of waiting) w.reject(err);
}

/** A promise with its settle functions; a rejection nobody waits for is not reported. */
function deferred<T>(): { promise: Promise<T>; resolve: (value: T) => void; reject: (err: Error) => void } {
  let resolve: (value: T) => void = () => {};
  let reject: (err: Error) => void = () => {};
  const promise = new Promise<T>((yes, no) => {
    resolve = yes;
    reject = no;
  });
  promise.catch(() => {});
  return { promise, resolve, reject };
}

/** The process's sorting thread (started on first use). */
export const sortThread = new SortThread();

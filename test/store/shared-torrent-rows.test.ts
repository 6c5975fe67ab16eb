import assert from 'node:assert/strict';
import { it } from 'node:test';
import { Worker } from 'node:worker_threads';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { torrentHash } from '../helpers/shared-rows-reader.js';
import { storeAnnounce } from '../helpers/store-announce.js';

const READER = new URL('../helpers/shared-rows-reader.js', import.meta.url);

it('a thread walking the shared rows while torrents come and go is never given an info hash no torrent had', async () => {
  const store = new MemoryStore({ peerTtlMs: 3_600_000, now: () => 1_700_000_000_000, backgroundSweep: false });
  // 48 torrents live at a time in the table's first 64 rows (it never grows): each drop frees a row the next start reuses.
  const live = 48;
  const start = (n: number) =>
    store.announce(storeAnnounce({ infoHash: torrentHash(n), peerId: torrentHash(n), event: 'started' }));
  const stop = (n: number) =>
    store.announce(storeAnnounce({ infoHash: torrentHash(n), peerId: torrentHash(n), event: 'stopped' }));
  for (let n = 0; n < live; n++) await start(n);
  const stopFlag = new Int32Array(new SharedArrayBuffer(4));
  const reader = new Worker(READER, { workerData: { rows: store.sharedTorrents(), stop: stopFlag.buffer } });
  const report = new Promise<{ passes: number; visited: number; bad: string[] }>((resolve, reject) => {
    reader.once('message', resolve);
    reader.once('error', reject);
  });
  await new Promise<void>((resolve) => reader.once('online', resolve));
  // Churn for at least 400 ms and 20,000 torrents (a loaded machine takes longer for them), at most 10 s:
  // the oldest torrent leaves, a new one takes its row.
  let next = live;
  const t0 = performance.now();
  const enough = (): boolean => performance.now() - t0 >= 400 && next - live >= 20_000;
  while (!enough() && performance.now() - t0 < 10_000) {
    for (let i = 0; i < 1000; i++, next++) {
      void stop(next - live);
      void start(next);
    }
  }
  Atomics.store(stopFlag, 0, 1);
  const { passes, visited, bad } = await report;
  await reader.terminate();
  assert.deepEqual(bad, [], 'hashes that no torrent had');
  assert.ok(passes > 100 && visited > 0, `the reader walked the rows (${passes} passes, ${visited} torrents)`);
  assert.ok(next - live > 10_000, `torrents came and went meanwhile (${next - live})`);
  await store.close();
});

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { test } from 'node:test';
import { BadRequest, parseTableRequest, searchPrefix } from '../../src/stats/datatables-request.js';
import { SnapshotCache } from '../../src/stats/snapshot-cache.js';
import { canPreview, previewSteps } from '../../src/stats/snapshot-preview.js';
import { runSync } from '../../src/stats/snapshot-sort.js';
import { COLUMNS, type SnapshotQuery, type TablePage, type TorrentRow } from '../../src/stats/table-query.js';
import { type ScannedRows, TorrentSnapshot } from '../../src/stats/torrent-snapshot.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { SwarmStore, TorrentSummary } from '../../src/store/swarm-store.js';
import { storeAnnounce } from '../helpers/store-announce.js';

/** Deterministic pseudo-random summaries with plenty of ties in every column. */
function summaries(n: number, seed = 1): TorrentSummary[] {
  let x = seed;
  const next = () => {
    x = (x * 1103515245 + 12345) % 2 ** 31;
    return x;
  };
  const out: TorrentSummary[] = [];
  for (let i = 0; i < n; i++) {
    out.push({
      infoHash: randomBytes(20),
      complete: next() % 7,
      incomplete: next() % 5,
      downloaded: next() % 11,
      lastAnnounce: 1_700_000_000_000 + (next() % 5000),
    });
  }
  return out;
}

const rowOf = (t: TorrentSummary): TorrentRow => ({
  infoHash: t.infoHash.toString('hex'),
  seeders: t.complete,
  leechers: t.incomplete,
  completed: t.downloaded,
  lastAnnounce: t.lastAnnounce,
});

/** A store of these torrents as far as a scan goes (a snapshot build reads nothing else). */
function scannedStore(all: TorrentSummary[]): SwarmStore {
  return {
    scanTorrents: async (cursor: string, count: number) => {
      const from = Number(cursor);
      const torrents = all.slice(from, from + count);
      return { cursor: from + count >= all.length ? '0' : String(from + count), torrents };
    },
  } as unknown as SwarmStore;
}

/** Table requests for every prefix given, every column, both directions, each [start, length]. */
function everyOrder(prefixes: (string | null)[], ...pages: [number, number][]): SnapshotQuery[] {
  const out: SnapshotQuery[] = [];
  for (const prefix of prefixes)
    for (let column = 0; column < COLUMNS.length; column++)
      for (const dir of ['asc', 'desc'] as const)
        for (const [start, length] of pages) out.push({ start, length, column, dir, prefix });
  return out;
}

/** The reference: sort everything with a comparator (value, then hash), then slice. */
function expected(all: TorrentSummary[], column: number, dir: 'asc' | 'desc', prefix: string): TorrentRow[] {
  const key = COLUMNS[column] as keyof TorrentRow;
  const rows = all.map(rowOf).filter((r) => r.infoHash.startsWith(prefix));
  rows.sort((a, b) => {
    const va = a[key];
    const vb = b[key];
    const c = va < vb ? -1 : va > vb ? 1 : a.infoHash < b.infoHash ? -1 : a.infoHash > b.infoHash ? 1 : 0;
    return dir === 'asc' ? c : -c;
  });
  return rows;
}

test('every column, both directions, with and without a prefix, matches a full sort', async () => {
  const all = summaries(3000);
  // Sorted on the event loop, then on a worker thread.
  for (const offThreadAbove of [Number.POSITIVE_INFINITY, 0]) await matchesFullSort(all, offThreadAbove);
});

async function matchesFullSort(all: TorrentSummary[], offThreadAbove: number): Promise<void> {
  const snap = await TorrentSnapshot.fromSummaries(all, Date.now(), offThreadAbove);
  assert.equal(snap.size, 3000);
  for (const prefix of ['', 'a', '3f', 'c0d', all[17]?.infoHash.toString('hex').slice(0, 6) ?? '', 'ffffff']) {
    for (let column = 0; column < COLUMNS.length; column++) {
      for (const dir of ['asc', 'desc'] as const) {
        const want = expected(all, column, dir, prefix);
        for (const [start, length] of [
          [0, 10],
          [5, 25],
          [want.length - 3, 10],
          [want.length + 5, 10],
        ] as const) {
          const page = snap.query({ start: Math.max(0, start), length, column, dir, prefix });
          assert.equal(page.recordsFiltered, want.length, `count ${prefix}/${column}/${dir}`);
          assert.deepEqual(
            page.rows,
            want.slice(Math.max(0, start), Math.max(0, start) + length),
            `rows ${prefix}/${column}/${dir}/${start}`,
          );
        }
      }
    }
  }
}

test('duplicates from a scan are merged, keeping the fresher copy', async () => {
  const hash = Buffer.alloc(20, 0xab);
  const snap = await TorrentSnapshot.fromSummaries(
    [
      { infoHash: hash, complete: 1, incomplete: 1, downloaded: 0, lastAnnounce: 1000 },
      { infoHash: Buffer.alloc(20, 1), complete: 0, incomplete: 1, downloaded: 0, lastAnnounce: 1500 },
      { infoHash: hash, complete: 5, incomplete: 0, downloaded: 2, lastAnnounce: 2000 },
      { infoHash: hash, complete: 9, incomplete: 9, downloaded: 9, lastAnnounce: 500 },
    ],
    3000,
  );
  assert.equal(snap.size, 2);
  assert.deepEqual(snap.find(hash.toString('hex')), {
    infoHash: hash.toString('hex'),
    seeders: 5,
    leechers: 0,
    completed: 2,
    lastAnnounce: 2000,
  });
  assert.equal(snap.find('00'.repeat(20)), undefined);
});

test('hashes sharing their first 28 bits are still in full hash order', async () => {
  const base = Buffer.from('abcdef12'.repeat(5), 'hex');
  const all: TorrentSummary[] = [];
  for (const last of [9, 3, 7, 1]) {
    const h = Buffer.from(base);
    h[19] = last;
    all.push({ infoHash: h, complete: 0, incomplete: 1, downloaded: 0, lastAnnounce: 1 });
  }
  const snap = await TorrentSnapshot.fromSummaries(all, 1);
  const page = snap.query({ start: 0, length: 10, column: 0, dir: 'asc', prefix: '' });
  assert.deepEqual(
    page.rows.map((r) => r.infoHash.slice(-2)),
    ['01', '03', '07', '09'],
  );
});

test('timestamps spread over weeks still sort exactly (coarser key unit)', async () => {
  const all = summaries(500).map((t, i) => ({ ...t, lastAnnounce: 1_700_000_000_000 + i * 3_600_000 * 5 }));
  const snap = await TorrentSnapshot.fromSummaries(all, 1);
  const page = snap.query({ start: 0, length: 500, column: 4, dir: 'desc', prefix: '' });
  assert.deepEqual(page.rows, expected(all, 4, 'desc', ''));
});

test('DataTables parameters are validated', () => {
  const p = (q: string) => parseTableRequest(new URLSearchParams(q));
  assert.deepEqual(
    p('draw=3&start=20&length=10&search%5Bvalue%5D=AB&order%5B0%5D%5Bcolumn%5D=2&order%5B0%5D%5Bdir%5D=asc'),
    { draw: 3, start: 20, length: 10, column: 2, dir: 'asc', prefix: 'ab' },
  );
  // Defaults: first page of 10, seeders descending.
  assert.deepEqual(p('draw=1'), { draw: 1, start: 0, length: 10, column: 1, dir: 'desc', prefix: '' });
  for (const bad of [
    '',
    'draw=-1',
    'draw=abc',
    'draw=1e3',
    'draw=99999999999',
    'draw=1&start=-5',
    'draw=1&start=1.5',
    'draw=1&length=-1',
    'draw=1&length=0',
    'draw=1&length=1001',
    'draw=1&order%5B0%5D%5Bcolumn%5D=5',
    'draw=1&order%5B0%5D%5Bdir%5D=up',
    `draw=1&search%5Bvalue%5D=${'a'.repeat(201)}`,
  ]) {
    assert.throws(() => p(bad), BadRequest, bad);
  }
});

test('search text becomes an info-hash prefix', () => {
  assert.equal(searchPrefix('  ABcd '), 'abcd');
  assert.equal(searchPrefix(''), '');
  assert.equal(searchPrefix('magnet:?xt=urn:btih:ABCDEF&tr=x'), 'abcdef');
  assert.equal(searchPrefix('xyz'), null);
  assert.equal(searchPrefix('a'.repeat(41)), null);
});

test('a build sorted on a worker thread pages like one sorted on the event loop, duplicates merged', async () => {
  const all = summaries(3000, 5);
  // Torrents the scan lists twice: one fresher copy later, one staler.
  all.push({ ...(all[10] as TorrentSummary), complete: 40, lastAnnounce: 1_800_000_000_000 });
  all.push({ ...(all[20] as TorrentSummary), complete: 50, lastAnnounce: 1 });
  const offThread = await TorrentSnapshot.build(scannedStore(all), () => 1, { pageSize: 700, offThreadAbove: 0 });
  const onLoop = await TorrentSnapshot.fromSummaries(all, 1, Number.POSITIVE_INFINITY);
  assert.equal(offThread.size, 3000);
  assert.equal(onLoop.size, 3000);
  assert.equal(offThread.find(all[10]?.infoHash.toString('hex') ?? '')?.seeders, 40);
  assert.equal(offThread.find(all[20]?.infoHash.toString('hex') ?? '')?.seeders, all[20]?.complete);
  for (const q of everyOrder(['', 'a', '3f', 'ffffff', null], [0, 10], [7, 25], [2990, 20])) {
    assert.deepEqual(offThread.query(q), onLoop.query(q), JSON.stringify(q));
  }
  const deduped = all.slice(0, 3000).map((t, i) => (i === 10 ? (all[3000] as TorrentSummary) : t));
  assert.deepEqual(
    offThread.query({ start: 0, length: 1000, column: 1, dir: 'desc', prefix: '' }).rows,
    expected(deduped, 1, 'desc', '').slice(0, 1000),
  );
});

test('before its sorts, a build answers a page near the top from the scanned rows, as the snapshot will', async () => {
  const all = summaries(3000, 5);
  let scanned: ScannedRows | undefined;
  const snap = await TorrentSnapshot.build(scannedStore(all), () => 1, {
    pageSize: 700,
    onScanned: (scan) => {
      scanned = scan;
    },
  });
  assert.ok(scanned, 'the scan was reported before the build finished');
  assert.equal(scanned.rows.length, 3000);
  for (const q of everyOrder(['', 'a', '3f', 'ffffff'], [0, 10], [7, 25], [990, 10])) {
    assert.ok(canPreview(q));
    assert.deepEqual(runSync(previewSteps(scanned.rows, q)), snap.query(q), JSON.stringify(q));
  }
  assert.equal(canPreview({ start: 995, length: 10, column: 1, dir: 'desc', prefix: '' }), false);
  assert.deepEqual(
    runSync(previewSteps(scanned.rows, { start: 0, length: 10, column: 1, dir: 'desc', prefix: null })),
    {
      recordsFiltered: 0,
      rows: [],
    },
  );
});

/** A memory store past the size walked and sorted off the event loop; one torrent in ten has a second peer (a PeerTable). */
async function largeMemoryStore(clock: { now: number }, torrents: number) {
  const store = new MemoryStore({ peerTtlMs: 3_600_000, now: () => clock.now, backgroundSweep: false });
  const hashOf = (i: number): Buffer => {
    const infoHash = Buffer.alloc(20);
    infoHash.writeUInt32BE(Math.imul(i, 2654435761) >>> 0, 0);
    infoHash.writeUInt32BE(i, 16);
    return infoHash;
  };
  const start = clock.now;
  for (let i = 0; i < torrents; i++) {
    // Last announces a few ms apart, with ties.
    clock.now = start + (i >> 2);
    const infoHash = hashOf(i);
    const ipv4 = Buffer.from([10, (i >> 16) & 255, (i >> 8) & 255, i & 255, 0x1a, 0xe1]);
    await store.announce(storeAnnounce({ infoHash, peerId: infoHash, ipv4, event: 'started', seeder: i % 3 === 0 }));
    if (i % 10 === 0) {
      const second = Buffer.from(infoHash);
      second.writeUInt8(0xff - (second[19] as number), 19);
      await store.announce(storeAnnounce({ infoHash, peerId: second, ipv4, event: 'started', seeder: true }));
    }
  }
  return { store, hashOf, start };
}

test('a large memory store: pages near the top are read from its shared rows on the thread, as its snapshot (walked and sorted there) orders them', async () => {
  const clock = { now: 1_700_000_000_000 };
  const torrents = 25_000;
  const { store, hashOf, start } = await largeMemoryStore(clock, torrents);
  const cache = new SnapshotCache(store, () => clock.now, 5000);
  // Asked at once: the first starts a walk, the rest wait for the next and share it.
  const queries = everyOrder(['', 'a', '3f', 'ffffff', null], [0, 10], [7, 25], [990, 10]);
  const pages = await Promise.all(queries.map((q) => cache.page(q)));
  const snapshot = await cache.get();
  assert.equal(snapshot.size, torrents);
  queries.forEach((q, i) => {
    const page = pages[i];
    assert.equal(page?.total, torrents);
    assert.deepEqual(
      { recordsFiltered: page?.recordsFiltered, rows: page?.rows },
      snapshot.query(q),
      JSON.stringify(q),
    );
  });
  const top = pages[queries.findIndex((q) => q.column === 1 && q.dir === 'desc' && q.prefix === '' && q.start === 0)];
  assert.ok(
    top?.rows.every((r) => r.seeders === 2),
    'torrents with two seeders first',
  );
  // Past the first thousand rows: answered from the snapshot.
  const deep = { start: 990, length: 20, column: 4, dir: 'asc' as const, prefix: '' };
  assert.deepEqual((await cache.page(deep)).rows, snapshot.query(deep).rows);
  // Every torrent's row whole, read from shared memory: one torrent in ten has two peers, in a PeerTable
  // whose counts the table mirrors for that thread.
  for (let i = 0; i < torrents; i++) {
    const row = snapshot.find(hashOf(i).toString('hex'));
    const seeders = (i % 3 === 0 ? 1 : 0) + (i % 10 === 0 ? 1 : 0);
    assert.deepEqual(
      [row?.seeders, row?.leechers, row?.lastAnnounce],
      [seeders, i % 3 === 0 ? 0 : 1, start + (i >> 2)],
      `torrent ${i}`,
    );
  }
  // One torrent's row (the stats page's detail view), read the same way.
  for (const i of [0, 7, 24_999]) {
    const hex = hashOf(i).toString('hex');
    assert.deepEqual(await cache.find(hex), snapshot.find(hex));
  }
  assert.equal(await cache.find('ff'.repeat(20)), undefined);
  await store.close();
});

test('a large memory store: a page read from its shared rows is served until older than the age limit, then refreshed behind it', async () => {
  const clock = { now: 1_700_000_000_000 };
  const torrents = 21_000;
  const { store } = await largeMemoryStore(clock, torrents);
  const cache = new SnapshotCache(store, () => clock.now, 5000);
  const q = { start: 0, length: 10, column: 1, dir: 'desc' as const, prefix: '' };
  const first = await cache.page(q);
  assert.equal(first.builtAt, clock.now);
  // A torrent with three seeders now leads the table.
  const leader = randomBytes(20);
  for (let p = 0; p < 3; p++) {
    await store.announce(storeAnnounce({ infoHash: leader, peerId: randomBytes(20), event: 'started', seeder: true }));
  }
  clock.now += 4000;
  assert.deepEqual(await cache.page(q), first, 'younger than the age limit: the kept page');
  clock.now += 1000;
  assert.deepEqual(await cache.page(q), first, 'stale: still the kept page, while a walk refreshes it');
  let fresh = first;
  for (let i = 0; i < 200 && fresh.builtAt === first.builtAt; i++) {
    await new Promise((r) => setTimeout(r, 10));
    fresh = await cache.page(q);
  }
  assert.equal(fresh.builtAt, clock.now);
  assert.equal(fresh.total, torrents + 1);
  assert.deepEqual(fresh.rows[0], {
    infoHash: leader.toString('hex'),
    seeders: 3,
    leechers: 0,
    completed: 0,
    lastAnnounce: first.builtAt,
  });
  await store.close();
});

test('a large memory store kept warm: the page the stats page opens with, and any page of that order within it, come from a walk nobody waited for', async () => {
  const clock = { now: 1_700_000_000_000 };
  const torrents = 21_000;
  const { store } = await largeMemoryStore(clock, torrents);
  const cache = new SnapshotCache(store, () => clock.now, 5000);
  await cache.warmNow(60_000);
  const warmedAt = clock.now;
  clock.now += 1000;
  const bySeeders = (start: number, length: number): SnapshotQuery => ({
    start,
    length,
    column: 1,
    dir: 'desc',
    prefix: '',
  });
  const asked = [bySeeders(0, 25), bySeeders(10, 10), bySeeders(975, 25), bySeeders(0, 1000)];
  const pages: TablePage[] = [];
  for (const q of asked) pages.push(await cache.page(q));
  const snapshot = await cache.get();
  asked.forEach((q, i) => {
    const page = pages[i];
    assert.equal(page?.builtAt, warmedAt, `${JSON.stringify(q)}: the warm page`);
    assert.equal(page?.total, torrents);
    assert.deepEqual(
      { recordsFiltered: page?.recordsFiltered, rows: page?.rows },
      snapshot.query(q),
      JSON.stringify(q),
    );
  });
  // Another order, or a search, is not kept warm: walked when asked.
  assert.equal((await cache.page({ ...bySeeders(0, 10), dir: 'asc' })).builtAt, clock.now);
  assert.equal((await cache.page({ ...bySeeders(0, 10), prefix: 'a' })).builtAt, clock.now);

  // A torrent with three seeders now leads. The warm page is walked again once older than warmMs, not before.
  const leader = randomBytes(20);
  for (let p = 0; p < 3; p++) {
    await store.announce(storeAnnounce({ infoHash: leader, peerId: randomBytes(20), event: 'started', seeder: true }));
  }
  clock.now += 1000;
  await cache.warmNow(60_000);
  assert.equal((await cache.page(bySeeders(0, 25))).builtAt, warmedAt, 'younger than warmMs: not walked again');
  clock.now += 60_000;
  await cache.warmNow(60_000);
  const fresh = await cache.page(bySeeders(0, 25));
  assert.equal(fresh.builtAt, clock.now, 'walked again, with nobody asking');
  assert.equal(fresh.total, torrents + 1);
  assert.equal(fresh.rows[0]?.infoHash, leader.toString('hex'));
  // A store that grew by more than a tenth is walked again at the next look, long before warmMs (once
  // ten times the last walk has passed: 10 s leaves walks of up to a second).
  for (let i = 0; i < 2200; i++) {
    await store.announce(storeAnnounce({ infoHash: randomBytes(20), peerId: randomBytes(20), event: 'started' }));
  }
  clock.now += 10_000;
  await cache.warmNow(60_000);
  const grown = await cache.page(bySeeders(0, 25));
  assert.equal(grown.builtAt, clock.now, 'walked again: the store grew');
  assert.equal(grown.total, torrents + 1 + 2200);
  await store.close();
});

test('a large memory store: a walk that fails fails its requests and shows as the last error, and the next request walks again', async () => {
  const clock = { now: 1_700_000_000_000 };
  const { store } = await largeMemoryStore(clock, 21_000);
  const rows = store.sharedTorrents.bind(store);
  let broken = true;
  store.sharedTorrents = () => {
    if (broken) throw new Error('rows unavailable');
    return rows();
  };
  const cache = new SnapshotCache(store, () => clock.now, 5000);
  const q = { start: 0, length: 10, column: 3, dir: 'desc' as const, prefix: '' };
  await assert.rejects(cache.page(q), /rows unavailable/);
  assert.match(cache.lastError?.message ?? '', /rows unavailable/);
  broken = false;
  const page = await cache.page(q);
  assert.equal(page.total, 21_000);
  assert.equal(page.rows.length, 10);
  assert.equal(cache.lastError, undefined);
  await store.close();
});

test('the next rebuild waits ten times as long as the last build took, however stale the snapshot', async () => {
  let now = 1_700_000_000_000;
  const store = new MemoryStore({ peerTtlMs: 3_600_000, now: () => now, backgroundSweep: false });
  for (let i = 0; i < 50; i++) {
    await store.announce(storeAnnounce({ infoHash: randomBytes(20), peerId: randomBytes(20), event: 'started' }));
  }
  // maxAgeMs 0: every request finds the snapshot stale, so only the spacing holds a rebuild back.
  const cache = new SnapshotCache(store, () => now, 0);
  const first = await cache.get();
  const gap = 10 * first.buildMs;
  assert.ok(gap > 0);
  now += gap * 0.9;
  assert.equal(await cache.get(), first, 'no rebuild before ten build times');
  now += gap * 0.2;
  let second = await cache.get();
  // A build of 50 ms or more (a loaded machine) runs in the background, get() answering with the previous one meanwhile.
  for (let i = 0; i < 200 && second === first; i++) {
    await new Promise((resolve) => setTimeout(resolve, 10));
    second = await cache.get();
  }
  assert.notEqual(second, first, 'rebuilt after ten build times');
  assert.equal(second.size, 50);
  await store.close();
});

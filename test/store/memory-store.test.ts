import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { smallTableChunks } from '../../src/store/memory/peer-table.js';
import type { StoreAnnounce } from '../../src/store/swarm-store.js';
import { storeAnnounce } from '../helpers/store-announce.js';
import { runStoreConformance } from './conformance.js';

runStoreConformance('memory', async (options) => new MemoryStore({ ...options, backgroundSweep: false }));

it('memory store: the sweep releases expired swarms in bounded slices', async () => {
  let clock = 0;
  const store = new MemoryStore({ peerTtlMs: 1000, now: () => clock, backgroundSweep: false });
  const base = {
    event: 'update' as const,
    seeder: false,
    ipv4: Buffer.from([127, 0, 0, 1, 0x1a, 0xe1]),
    ipv6: null,
    key: undefined,
    numWant: 0,
    want4: true,
    want6: true,
    withPeerIds: false,
  };
  for (let i = 0; i < 50; i++) {
    const infoHash = Buffer.alloc(20, i);
    await store.announce({ ...base, infoHash, peerId: Buffer.alloc(20, 1) });
  }
  assert.equal(store.heldTorrents, 50);
  clock = 1000;
  store.sweep(20);
  assert.equal(store.heldTorrents, 30, 'one slice drops at most its size');
  store.sweep(20);
  store.sweep(20);
  assert.equal(store.heldTorrents, 0);
  const totals = await store.totals();
  assert.equal(totals.torrents, 0);
  assert.equal(totals.peers, 0);
  assert.equal(totals.peers4, 0);
  await store.close();
});

it('memory store: one peer lives inline, two to eight IPv4 peers in a small swarm, more or IPv6 in a PeerTable, and back', async () => {
  let clock = 1_000_000;
  const store = new MemoryStore({ peerTtlMs: 1000, now: () => clock, backgroundSweep: false });
  const announce = (torrent: number, peer: number, fields: Partial<StoreAnnounce> = {}) =>
    store.announce(
      storeAnnounce({
        ipv4: Buffer.from([127, 0, 0, peer, 0x1a, 0xe1]),
        infoHash: Buffer.alloc(20, torrent),
        peerId: Buffer.alloc(20, peer),
        ...fields,
      }),
    );
  const hosts = (peers4: Buffer): number[] => [...peers4].filter((_, i) => i % 6 === 3).sort((a, b) => a - b);
  const v6 = Buffer.concat([Buffer.alloc(15), Buffer.from([1, 0x1a, 0xe1])]);
  const forms = () => store.swarmForms();
  const chunks = (): number => smallTableChunks().inUse - before;
  const before = smallTableChunks().inUse;
  for (let t = 0; t < 30; t++) await announce(t, 1);
  assert.deepEqual(
    forms(),
    { inline: 30, small: 0, tables: 0, smallSlots: 0 },
    'a torrent of one peer keeps it inline',
  );

  // Torrent 0 grows to four peers in a small swarm (a run of 2 slots, then 3, then 4), whose fourth peer is given the other three.
  await announce(0, 2, { seeder: true });
  assert.deepEqual(forms(), { inline: 29, small: 1, tables: 0, smallSlots: 2 });
  await announce(0, 3);
  assert.deepEqual(forms(), { inline: 29, small: 1, tables: 0, smallSlots: 3 });
  const fourth = await announce(0, 4);
  assert.deepEqual(forms(), { inline: 29, small: 1, tables: 0, smallSlots: 4 });
  assert.equal(chunks(), 0, 'a small swarm takes no slab chunk');
  assert.deepEqual(hosts(fourth.peers4), [1, 2, 3]);
  assert.deepEqual({ complete: fourth.complete, incomplete: fourth.incomplete }, { complete: 1, incomplete: 3 });
  // A seeder is given the leechers only; numWant 1 gives one of them.
  assert.deepEqual(hosts((await announce(0, 2, { seeder: true })).peers4), [1, 3, 4]);
  assert.equal((await announce(0, 3, { numWant: 1 })).peers4.length, 6);
  // Past SMALL_SLOTS (8) it moves to a PeerTable with everything its peers carried.
  await announce(0, 1, { event: 'completed', seeder: true, key: 77 });
  for (let p = 5; p <= 8; p++) await announce(0, p);
  assert.deepEqual(forms(), { inline: 29, small: 1, tables: 0, smallSlots: 8 });
  assert.deepEqual(hosts((await announce(0, 8)).peers4), [1, 2, 3, 4, 5, 6, 7]);
  await announce(0, 9);
  assert.deepEqual(forms(), { inline: 29, small: 0, tables: 1, smallSlots: 0 });
  assert.deepEqual(await store.scrape([Buffer.alloc(20, 0)]), [{ complete: 2, incomplete: 7, downloaded: 1 }]);
  const elsewhere = Buffer.from([127, 0, 0, 99, 0, 1]);
  assert.equal((await announce(0, 1, { key: 78, ipv4: elsewhere })).status, 'key-mismatch');
  // Down to four peers it is a small swarm again, down to one inline.
  for (const p of [9, 8, 7, 6, 5]) await announce(0, p, { event: 'stopped' });
  assert.deepEqual(forms(), { inline: 29, small: 1, tables: 0, smallSlots: 4 });
  assert.equal((await announce(0, 1, { key: 78, ipv4: elsewhere })).status, 'key-mismatch', 'the key came along');
  assert.deepEqual(await store.scrape([Buffer.alloc(20, 0)]), [{ complete: 2, incomplete: 2, downloaded: 1 }]);
  for (const p of [4, 3, 2]) await announce(0, p, { event: 'stopped' });
  assert.deepEqual(forms(), { inline: 30, small: 0, tables: 0, smallSlots: 0 });
  const totals = await store.totals();
  assert.deepEqual([totals.peers, totals.seeders, totals.peers4, totals.downloaded], [30, 1, 30, 1]);

  // An IPv6 endpoint needs a PeerTable (a small one is a slab chunk), whatever the count.
  await announce(1, 2, { ipv4: null, ipv6: v6 });
  assert.deepEqual(forms(), { inline: 29, small: 0, tables: 1, smallSlots: 0 });
  assert.equal(chunks(), 1);
  await announce(2, 2);
  await announce(2, 3, { ipv4: null, ipv6: v6 });
  assert.deepEqual(forms(), { inline: 28, small: 0, tables: 2, smallSlots: 0 });
  await announce(1, 2, { event: 'stopped' });
  assert.deepEqual(forms(), { inline: 29, small: 0, tables: 1, smallSlots: 0 });
  assert.equal(chunks(), 1);

  // Expiry (found by the sweep or by totals) empties the rest and gives every chunk and run back.
  await announce(3, 2);
  await announce(4, 2);
  await announce(4, 3);
  clock += 1000;
  store.sweep(5);
  await store.totals();
  store.sweep();
  assert.equal(store.heldTorrents, 0);
  assert.deepEqual(forms(), { inline: 0, small: 0, tables: 0, smallSlots: 0 });
  assert.equal(chunks(), 0);
  // A run handed out again starts empty.
  await announce(40, 9);
  await announce(40, 10);
  assert.deepEqual(await store.scrape([Buffer.alloc(20, 40)]), [{ complete: 0, incomplete: 2, downloaded: 0 }]);
  assert.deepEqual(await store.totals(), {
    torrents: 1,
    peers: 2,
    seeders: 0,
    leechers: 2,
    peers4: 2,
    peers6: 0,
    downloaded: 0,
  });
  await store.close();
});

type CountEvent = 'completed' | 'stopped' | 'started';

/** An IPv4 announce by peer `peer` (its id bytes and address) that wants no peers; only `started` is a leecher. */
function countingAnnounce(infoHash: Buffer, peer: number, event: CountEvent): StoreAnnounce {
  return storeAnnounce({
    infoHash,
    peerId: Buffer.alloc(20, peer),
    event,
    seeder: event !== 'started',
    ipv4: Buffer.from([127, 0, 0, peer, 0x1a, 0xe1]),
    numWant: 0,
    want6: false,
  });
}

it('memory store: a torrent that empties keeps its downloaded count until downloadedTtlMs, then forgets it', async () => {
  let clock = 0;
  const store = new MemoryStore({ peerTtlMs: 1000, downloadedTtlMs: 10_000, now: () => clock, backgroundSweep: false });
  const infoHash = Buffer.alloc(20, 7);
  const announce = (peer: number, event: CountEvent) => store.announce(countingAnnounce(infoHash, peer, event));
  await announce(1, 'completed');
  await announce(2, 'completed');
  await announce(1, 'stopped');
  await announce(2, 'stopped'); // the last peer leaves: the swarm is dropped
  assert.equal(store.heldTorrents, 0);
  assert.deepEqual(await store.scrape([infoHash]), [{ complete: 0, incomplete: 0, downloaded: 2 }]);
  assert.equal((await store.totals()).downloaded, 0, 'totals count live torrents only');
  clock = 5000;
  await announce(3, 'started'); // back within the TTL: the count comes back with it
  assert.deepEqual(await store.scrape([infoHash]), [{ complete: 0, incomplete: 1, downloaded: 2 }]);
  assert.equal((await store.totals()).downloaded, 2);
  // Expired by peer TTL this time (no stop), then forgotten once the downloaded TTL has passed.
  clock = 6000;
  store.sweep();
  assert.equal(store.heldTorrents, 0);
  assert.equal((await store.scrape([infoHash]))[0]?.downloaded, 2);
  clock = 5000 + 10_000;
  store.sweep();
  assert.equal((await store.scrape([infoHash]))[0]?.downloaded, 0);
  await announce(4, 'started');
  assert.equal((await store.scrape([infoHash]))[0]?.downloaded, 0);
  await store.close();
});

it('memory store: retired downloaded counts are capped, the oldest forgotten first', async () => {
  const store = new MemoryStore({ peerTtlMs: 1000, now: () => 0, backgroundSweep: false, retiredMax: 3 });
  const hashes = [1, 2, 3, 4, 5].map((n) => Buffer.alloc(20, n));
  for (const infoHash of hashes) {
    for (const event of ['completed', 'stopped'] as const) await store.announce(countingAnnounce(infoHash, 9, event));
  }
  const counts = (await store.scrape(hashes)).map((c) => c.downloaded);
  assert.deepEqual(counts, [0, 0, 1, 1, 1]);
  await store.close();
});

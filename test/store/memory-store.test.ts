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

it('memory store: one peer lives inline, small swarms share slab chunks, and every way a swarm goes gives its chunk back', async () => {
  let clock = 1_000_000;
  const store = new MemoryStore({ peerTtlMs: 1000, now: () => clock, backgroundSweep: false });
  const announce = (torrent: number, peer: number, event: StoreAnnounce['event'] = 'update') =>
    store.announce(
      storeAnnounce({
        event,
        ipv4: Buffer.from([127, 0, 0, 1, 0x1a, 0xe1]),
        numWant: 0,
        infoHash: Buffer.alloc(20, torrent),
        peerId: Buffer.alloc(20, peer),
      }),
    );
  const chunks = (): number => smallTableChunks().inUse - before;
  const before = smallTableChunks().inUse;
  for (let t = 0; t < 30; t++) await announce(t, 1);
  assert.equal(chunks(), 0, 'a torrent of one peer keeps it inline, with no table');
  // Torrent 0 grows past the small sizes (2, then 4 peers): its table has a buffer of its own.
  for (let p = 2; p <= 8; p++) await announce(0, p);
  assert.equal(chunks(), 0);
  for (let t = 1; t <= 3; t++) await announce(t, 2);
  assert.equal(chunks(), 3, 'a second peer moves a torrent into a table of 2, a slab chunk');
  // A stop takes torrent 1 back to one peer, inline again; another empties torrent 4.
  await announce(1, 2, 'stopped');
  await announce(4, 1, 'stopped');
  assert.equal(chunks(), 2);
  assert.equal(store.heldTorrents, 29);
  // Expiry (found by the sweep or by totals) empties the rest.
  clock += 1000;
  store.sweep(5);
  await store.totals();
  store.sweep();
  assert.equal(store.heldTorrents, 0);
  assert.equal(chunks(), 0);
  // A chunk handed out again starts empty.
  await announce(40, 9);
  await announce(40, 10);
  const [counts] = await store.scrape([Buffer.alloc(20, 40)]);
  assert.deepEqual(counts, { complete: 0, incomplete: 2, downloaded: 0 });
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

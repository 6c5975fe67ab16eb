import assert from 'node:assert/strict';
import { it } from 'node:test';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
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

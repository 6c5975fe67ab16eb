import assert from 'node:assert/strict';
import { it } from 'node:test';
import { COMPLETED, HAS_KEY, HAS4 } from '../../src/store/memory/peer-table.js';
import { SMALL_SLOTS, SmallSwarmPeers, SmallSwarms } from '../../src/store/memory/small-swarms.js';

const id = (place: number, peer: number): Buffer => {
  const b = Buffer.alloc(20, peer);
  b.writeUInt32BE(place, 0);
  return b;
};
const ep = (peer: number): Buffer => Buffer.from([10, 0, 0, peer, 0x1a, 0xe1]);

it('small swarms: peers keep everything they carry across growth of the columns, removals and expiry', () => {
  const swarms = new SmallSwarms();
  const peers = new SmallSwarmPeers(swarms);
  const PLACES = 500; // past the first allocation (64) several times
  for (let place = 0; place < PLACES; place++) {
    swarms.open(place);
    for (let p = 0; p < SMALL_SLOTS; p++) {
      const slot = swarms.insert(place, id(place, p), p % 2 === 0, 1000 + p);
      assert.equal(slot, p);
      swarms.setEndpoint4(place, slot, ep(p));
      if (p === 1) swarms.setKey(place, slot, place);
      if (p === 2) swarms.setFlag(place, slot, COMPLETED);
    }
  }
  for (let place = 0; place < PLACES; place++) {
    assert.equal(swarms.count(place), SMALL_SLOTS);
    assert.equal(swarms.seeders(place), 2);
    assert.equal(swarms.count4(place), SMALL_SLOTS);
    assert.equal(swarms.find(place, id(place, 3)), 3);
    assert.equal(swarms.find(place, id(place + 1, 3)), -1, 'another place’s id is not found here');
    assert.equal(swarms.key(place, 1), place);
    assert.equal(swarms.flags(place, 1), HAS4 | HAS_KEY, 'the seeder bit is not one of the flags handed out');
  }

  // A removal moves the last peer into the hole, with all it carries.
  swarms.remove(7, 1);
  assert.equal(swarms.count(7), 3);
  assert.equal(swarms.find(7, id(7, 3)), 1);
  assert.equal(swarms.lastSeen(7, 1), 1003);
  assert.equal(swarms.isSeeder(7, 1), false);
  const out = Buffer.alloc(6);
  swarms.copyEndpoint4(7, 1, out, 0);
  assert.deepEqual(out, ep(3));
  assert.equal(swarms.find(7, id(7, 1)), -1);
  assert.ok(swarms.sameIp4(7, 1, Buffer.from([10, 0, 0, 3, 0, 1])), 'the address, whatever the port');
  assert.ok(!swarms.sameIp4(7, 1, ep(2)));

  // Expiry removes exactly the peers seen at or before the cutoff; the oldest is recomputed from what is left.
  swarms.touch(9, 0, 5000);
  assert.equal(swarms.oldest(9), 1001);
  assert.equal(swarms.removeSeenBefore(9, 1002), 2);
  assert.equal(swarms.count(9), 2);
  assert.equal(swarms.oldest(9), 1003);
  assert.deepEqual([0, 1].map((s) => swarms.lastSeen(9, s)).sort(), [1003, 5000]);

  // Read through PeerTable's read interface.
  peers.at(7);
  assert.equal(peers.count, 3);
  assert.equal(peers.key(0), 0);
  assert.equal(peers.flags(2) & COMPLETED, COMPLETED);
  const copied = Buffer.alloc(20);
  peers.copyId(2, copied, 0);
  assert.deepEqual(copied, id(7, 2));
  assert.throws(() => peers.copyEndpoint6(0, Buffer.alloc(18), 0));

  // A place opened again is empty.
  swarms.open(7);
  assert.equal(swarms.count(7), 0);
  assert.equal(swarms.oldest(7), Number.POSITIVE_INFINITY);
  assert.equal(swarms.find(7, id(7, 0)), -1);
});

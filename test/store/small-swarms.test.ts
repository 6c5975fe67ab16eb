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

/** Fills `place` with `n` peers: even ones seeders, peer 1 with a key (the place), peer 2 completed. */
function fill(swarms: SmallSwarms, place: number, n: number): void {
  swarms.open(place);
  for (let p = 0; p < n; p++) {
    const slot = swarms.insert(place, id(place, p), p % 2 === 0, 1000 + p);
    assert.equal(slot, p);
    swarms.setEndpoint4(place, slot, ep(p));
    if (p === 1) swarms.setKey(place, slot, place);
    if (p === 2) swarms.setFlag(place, slot, COMPLETED);
  }
}

it('small swarms: peers keep everything they carry as runs lengthen, the columns grow, and peers go', () => {
  const swarms = new SmallSwarms();
  const PLACES = 500; // past the first allocations (64 places, 256 slots) several times
  for (let place = 0; place < PLACES; place++) fill(swarms, place, 1 + (place % SMALL_SLOTS));
  let slots = 0;
  for (let place = 0; place < PLACES; place++) {
    const n = 1 + (place % SMALL_SLOTS);
    slots += n <= 2 ? 2 : n <= 4 ? n : n <= 6 ? 6 : 8;
    assert.equal(swarms.count(place), n);
    assert.equal(swarms.full(place), n === SMALL_SLOTS);
    assert.equal(swarms.seeders(place), Math.ceil(n / 2));
    assert.equal(swarms.count4(place), n);
    for (let p = 0; p < n; p++) {
      assert.equal(swarms.find(place, id(place, p)), p);
      assert.equal(swarms.lastSeen(place, p), 1000 + p);
      const out = Buffer.alloc(6);
      swarms.copyEndpoint4(place, p, out, 0);
      assert.deepEqual(out, ep(p));
    }
    assert.equal(swarms.find(place, id(place + 1, 0)), -1, 'another place’s id is not found here');
    if (n > 1) assert.equal(swarms.key(place, 1), place);
    if (n > 1)
      assert.equal(swarms.flags(place, 1), HAS4 | HAS_KEY, 'the seeder bit is not one of the flags handed out');
  }
  assert.equal(swarms.slotsInUse, slots, 'runs of 2, 3, 4, 6 and 8 slots');

  // A removal moves the last peer into the hole, with all it carries.
  const place = 7; // 8 peers
  swarms.remove(place, 1);
  assert.equal(swarms.count(place), 7);
  assert.equal(swarms.find(place, id(place, 7)), 1);
  assert.equal(swarms.lastSeen(place, 1), 1007);
  assert.equal(swarms.isSeeder(place, 1), false);
  assert.equal(swarms.find(place, id(place, 1)), -1);
  assert.ok(swarms.sameIp4(place, 1, Buffer.from([10, 0, 0, 7, 0, 1])), 'the address, whatever the port');
  assert.ok(!swarms.sameIp4(place, 1, ep(2)));

  // Expiry removes exactly the peers seen at or before the cutoff; the oldest is recomputed from what is left.
  swarms.touch(3, 0, 5000); // 4 peers
  assert.equal(swarms.oldest(3), 1001);
  assert.equal(swarms.removeSeenBefore(3, 1002), 2);
  assert.equal(swarms.count(3), 2);
  assert.equal(swarms.oldest(3), 1003);
  assert.deepEqual([0, 1].map((s) => swarms.lastSeen(3, s)).sort(), [1003, 5000]);

  // Read through PeerTable's read interface.
  const peers = new SmallSwarmPeers(swarms).at(place);
  assert.equal(peers.count, 7);
  assert.equal(peers.flags(2) & COMPLETED, COMPLETED);
  const copied = Buffer.alloc(20);
  peers.copyId(2, copied, 0);
  assert.deepEqual(copied, id(place, 2));
  assert.throws(() => peers.copyEndpoint6(0, Buffer.alloc(18), 0));
});

it('small swarms: closed runs are reused by length, and a reused run starts empty', () => {
  const swarms = new SmallSwarms();
  fill(swarms, 0, 8);
  fill(swarms, 1, 3);
  assert.equal(swarms.slotsInUse, 11);
  const bytes = swarms.bytes;
  swarms.close(0);
  swarms.close(1);
  swarms.close(1); // twice is once
  assert.equal(swarms.slotsInUse, 0);
  // Many more swarms of the same sizes fit in the same columns, opened and closed in turn.
  for (let round = 0; round < 100; round++) {
    fill(swarms, 2, 8);
    fill(swarms, 3, 3);
    assert.equal(swarms.count(2), 8);
    assert.equal(swarms.seeders(3), 2);
    swarms.close(2);
    swarms.close(3);
  }
  assert.equal(swarms.bytes, bytes, 'no growth: freed runs were reused');
  swarms.open(4);
  assert.equal(swarms.count(4), 0);
  assert.equal(swarms.oldest(4), Number.POSITIVE_INFINITY);
  assert.equal(swarms.find(4, id(2, 0)), -1);
  swarms.insert(4, id(4, 0), false, 1);
  assert.equal(swarms.flags(4, 0), 0, 'no flags left over from the run’s last swarm');
  swarms.clear();
  assert.equal(swarms.slotsInUse, 0);
});

it('small swarms: last-seen times stay exact to the ms across a rebase, and the rebase keeps expired peers expired', () => {
  const swarms = new SmallSwarms();
  const DAY = 86_400_000;
  const t0 = 1_700_000_000_123;
  fill(swarms, 0, 3); // seen 1000..1002: long before t0
  swarms.open(1);
  swarms.insert(1, id(1, 0), false, t0);
  swarms.insert(1, id(1, 1), false, t0 + 10 * DAY + 7);
  assert.equal(swarms.lastSeen(1, 1), t0 + 10 * DAY + 7);
  // 30 days on: offsets past 2^32 ms after the first base, so every slot is rebased.
  const now = t0 + 30 * DAY + 1;
  swarms.insert(1, id(1, 2), true, now);
  assert.equal(swarms.lastSeen(1, 2), now);
  assert.equal(swarms.lastSeen(1, 1), t0 + 10 * DAY + 7, 'exact after the rebase');
  assert.ok(swarms.lastSeen(1, 0) <= now - 24 * DAY, 'older than the base: clamped, still expired');
  assert.ok(swarms.oldest(0) <= now - 24 * DAY);
  assert.equal(swarms.removeSeenBefore(1, now - 7 * DAY), 2);
  assert.equal(swarms.find(1, id(1, 2)), 0);
  assert.equal(swarms.removeSeenBefore(0, now - 7 * DAY), 3);
  assert.equal(swarms.oldest(0), Number.POSITIVE_INFINITY);
});

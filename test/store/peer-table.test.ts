import assert from 'node:assert/strict';
import { it } from 'node:test';
import { HAS4, PeerTable } from '../../src/store/memory/peer-table.js';

/** A small deterministic PRNG so a failure reproduces. */
function rng(seed: number): () => number {
  let s = seed >>> 0;
  return () => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return s / 2 ** 32;
  };
}

function id(n: number): Buffer {
  const b = Buffer.alloc(20);
  // Few distinct bytes, so many ids share index home positions (long probe runs).
  b.writeUInt16BE(n, 18);
  return b;
}

it('peer table: random inserts, moves, removals and expiry agree with a Map model', () => {
  const random = rng(42);
  const table = new PeerTable();
  const model = new Map<number, { seeder: boolean; seen: number; port: number }>();
  for (let step = 0; step < 20_000; step++) {
    const n = Math.floor(random() * 600);
    const op = random();
    const slot = table.find(id(n));
    assert.equal(slot >= 0, model.has(n), `step ${step}: find(${n})`);
    if (op < 0.5) {
      const seeder = random() < 0.4;
      const s = slot >= 0 ? table.setSeeder(slot, seeder) : table.insert(id(n), seeder, step);
      table.touch(s, step);
      const port = Math.floor(random() * 65535) + 1;
      table.setEndpoint4(s, Buffer.from([10, 0, n >> 8, n & 0xff, port >> 8, port & 0xff]));
      model.set(n, { seeder, seen: step, port });
    } else if (op < 0.8) {
      if (slot >= 0) table.remove(slot);
      model.delete(n);
    } else if (op < 0.81) {
      const cutoff = step - 2000;
      table.removeSeenBefore(cutoff);
      for (const [k, v] of model) if (v.seen <= cutoff) model.delete(k);
    }
    if (step % 500 === 0 || step === 19_999) {
      assert.equal(table.count, model.size);
      assert.equal(table.count4, model.size);
      let seeders = 0;
      for (const [k, v] of model) {
        const s = table.find(id(k));
        assert.ok(s >= 0, `peer ${k} is found`);
        assert.equal(table.isSeeder(s), v.seeder);
        assert.equal(table.lastSeen(s), v.seen);
        assert.ok(table.flags(s) & HAS4);
        const ep = Buffer.alloc(6);
        table.copyEndpoint4(s, ep, 0);
        assert.equal(ep.readUInt16BE(4), v.port);
        const back = Buffer.alloc(20);
        table.copyId(s, back, 0);
        assert.ok(back.equals(id(k)));
        if (v.seeder) seeders++;
      }
      assert.equal(table.seeders, seeders);
    }
  }
});

it('peer table: last-seen times survive a clock that runs past the 32-bit offset range, and steps back', () => {
  const DAY = 86_400_000;
  const table = new PeerTable();
  const start = 1_700_000_000_000;
  const a = table.insert(id(1), false, start);
  table.touch(a, start);
  // A clock stepping back a little is kept exactly.
  const b = table.insert(id(2), true, start - 5_000);
  table.touch(b, start - 5_000);
  assert.equal(table.lastSeen(table.find(id(1))), start);
  assert.equal(table.lastSeen(table.find(id(2))), start - 5_000);
  // 30, 60 and 90 days on: each step forces a rebase of the stored offsets.
  for (const days of [30, 60, 90]) {
    const now = start + days * DAY;
    const c = table.insert(id(100 + days), false, now);
    table.touch(c, now);
    table.touch(table.find(id(1)), now - 1);
    assert.equal(table.lastSeen(table.find(id(100 + days))), now);
    assert.equal(table.lastSeen(table.find(id(1))), now - 1);
  }
  // Expiry still compares exactly after rebases: peer 2 (90 days old) goes, the rest stay.
  const now = start + 90 * DAY;
  assert.equal(table.removeSeenBefore(now - 2), 3); // peer 2, and the 30- and 60-day peers
  assert.equal(table.count, 2);
  assert.equal(table.oldest, now - 1);
  assert.equal(table.find(id(2)), -1);
});

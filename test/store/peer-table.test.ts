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

import assert from 'node:assert/strict';
import { randomFillSync } from 'node:crypto';
import { describe, it } from 'node:test';
import { BaselineTable } from '../../src/store/memory/baseline-table.js';

function ids(n: number): Buffer[] {
  return Array.from({ length: n }, () => randomFillSync(Buffer.alloc(20)));
}

describe('BaselineTable (the memory store accounting baselines)', () => {
  it('finds what was inserted, by account, info hash and peer id, through growth and removals', () => {
    const table = new BaselineTable();
    const hashes = ids(50);
    const peers = ids(2000);
    const entries: [number, Buffer, Buffer][] = [];
    for (let i = 0; i < peers.length; i++) {
      // The same torrent and peer under two accounts are two entries.
      for (const account of [0, 7]) entries.push([account, hashes[i % 50] as Buffer, peers[i] as Buffer]);
    }
    for (const [n, [account, h, p]] of entries.entries()) {
      assert.equal(table.find(account, h, p), -1);
      const slot = table.insert(account, h, p);
      table.uploaded[slot] = n;
    }
    assert.equal(table.size, entries.length);
    // Remove every third entry; the rest keep their values whatever slot they moved to.
    for (let n = 0; n < entries.length; n += 3) {
      const [account, h, p] = entries[n] as [number, Buffer, Buffer];
      table.remove(table.find(account, h, p));
    }
    for (const [n, [account, h, p]] of entries.entries()) {
      const slot = table.find(account, h, p);
      if (n % 3 === 0) assert.equal(slot, -1);
      else assert.equal(table.uploaded[slot], n);
    }
    assert.equal(table.find(3, hashes[0] as Buffer, peers[0] as Buffer), -1);
  });

  it('drops entries not seen since a time, and gives memory back when few are left', () => {
    const table = new BaselineTable();
    const hashes = ids(20_000);
    const peer = ids(1)[0] as Buffer;
    for (let i = 0; i < hashes.length; i++) {
      const slot = table.insert(1, hashes[i] as Buffer, peer);
      table.seen[slot] = i < 19_000 ? 1000 : 5000;
    }
    const full = table.bytes;
    assert.equal(table.removeOlderThan(2000), 19_000);
    assert.equal(table.size, 1000);
    assert.ok(table.bytes < full / 4, `${table.bytes} bytes after, ${full} before`);
    for (let i = 0; i < hashes.length; i++) {
      const slot = table.find(1, hashes[i] as Buffer, peer);
      if (i < 19_000) assert.equal(slot, -1);
      else assert.equal(table.seen[slot], 5000);
    }
  });
});

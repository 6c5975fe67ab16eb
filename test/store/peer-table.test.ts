import assert from 'node:assert/strict';
import { it } from 'node:test';
import { siphash13Id } from '../../src/protocol/siphash.js';
import { HAS4, PeerTable, smallTableChunks } from '../../src/store/memory/peer-table.js';

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
  b.writeUInt16BE(n, 18);
  return b;
}

/**
 * Random inserts, moves, removals and expiry of peers `id(0)`..`id(599)`,
 * checked against a Map. Returns the table's longest probe seen at the checks.
 */
function agreesWithModel(table: PeerTable, id: (n: number) => Buffer): number {
  let longestProbe = 0;
  const random = rng(42);
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
      longestProbe = Math.max(longestProbe, table.longestProbe());
    }
  }
  return longestProbe;
}

it('peer table: random inserts, moves, removals and expiry agree with a Map model', () => {
  agreesWithModel(new PeerTable(), id);
});

it('peer table: the model still agrees when ids crowd the index (long probe runs, wrapping the end)', () => {
  // With a known index key, ids can be picked whose hashes all end in eight
  // 1 bits: in an index of 256 entries or more, every home is one of a few
  // positions, the last of them the index's last. Runs of over a hundred
  // entries, one wrapping past the end, which backward-shift deletion and
  // slot moves must keep findable.
  const key: [number, number, number, number] = [0x01234567, 0x89abcdef, 0xfedcba98, 0x76543210];
  const crowded: Buffer[] = [];
  for (let n = 0; crowded.length < 600; n++) {
    const candidate = Buffer.alloc(20);
    candidate.writeUInt32BE(n, 16);
    if ((siphash13Id(...key, candidate, 0) & 0xff) === 0xff) crowded.push(candidate);
  }
  const longest = agreesWithModel(new PeerTable(2, key), (n) => crowded[n] as Buffer);
  assert.ok(longest >= 50, `longest probe ${longest}`);
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

const FNV_PRIME = 0x01000193;

/** FNV-1a (32-bit) of bytes[0, length): the classic unkeyed hash of hash tables. */
function fnv1a(bytes: Uint8Array, length: number): number {
  let h = 0x811c9dc5;
  for (let i = 0; i < length; i++) h = Math.imul(h ^ (bytes[i] as number), FNV_PRIME);
  return h >>> 0;
}

/**
 * `count` distinct client-like ids whose FNV-1a hashes share their low 16
 * bits, so an index hashed with FNV-1a would give them all one home position
 * (any index of up to 65,536 entries). Cheap to find, as an attacker would:
 * the last step is h = (h19 ^ lastByte) * PRIME, and multiplying by the odd
 * PRIME is a bijection mod 2^16, so h ends in `target` exactly when h19 ^
 * lastByte ends in target * PRIME^-1. The last byte sets the low 8 of those
 * bits, so one prefix in 256 can be completed.
 */
function fnvCollidingIds(count: number, target: number): Buffer[] {
  // PRIME^-1 mod 2^32 by Newton's iteration (each step doubles the correct low bits).
  let inverse = FNV_PRIME;
  for (let i = 0; i < 5; i++) inverse = Math.imul(inverse, 2 - Math.imul(FNV_PRIME, inverse));
  const want = Math.imul(target, inverse) & 0xffff;
  const ids: Buffer[] = [];
  const candidate = Buffer.alloc(20);
  candidate.write('-qB4650-', 'latin1');
  for (let n = 0; ids.length < count; n++) {
    candidate.writeUInt32BE(n, 12);
    const h19 = fnv1a(candidate, 19);
    if (((h19 ^ want) & 0xff00) !== 0) continue;
    candidate[19] = (h19 ^ want) & 0xff;
    ids.push(Buffer.from(candidate));
  }
  return ids;
}

it('peer table: ids crafted to collide under an unkeyed hash do not make long probe runs', () => {
  const N = 5000;
  const ids = fnvCollidingIds(N, 0x5eed);
  for (const crafted of ids) assert.equal(fnv1a(crafted, 20) & 0xffff, 0x5eed);
  assert.equal(new Set(ids.map((b) => b.toString('hex'))).size, N);
  // Under FNV-1a all N would share a home: the index's longest probe would be
  // N + 1, and every announce of a new peer would read it whole. With the
  // keyed hash they are as good as random ids. At 5,000 peers the index has
  // 8,192 entries, 61% full (the highest load the index reaches is 2/3). For
  // random hashes at such loads the longest probe was 28 to 121 over 2,000
  // keys, its tail falling about tenfold every 25 entries: 300 is out of
  // chance's reach, and far below N.
  const table = new PeerTable();
  let longest = 0;
  ids.forEach((crafted, i) => {
    table.insert(crafted, i % 3 === 0, 1);
    if (i % 250 === 249) longest = Math.max(longest, table.longestProbe());
  });
  assert.ok(longest <= 300, `longest probe ${longest} with ${N} crafted ids`);
  // Still a working table: every id found, and removing half keeps it so.
  for (const crafted of ids) assert.ok(table.find(crafted) >= 0);
  for (let i = 0; i < N; i += 2) table.remove(table.find(ids[i] as Buffer));
  for (let i = 0; i < N; i++) assert.equal(table.find(ids[i] as Buffer) >= 0, i % 2 === 1);
  assert.ok(table.longestProbe() <= 300);
});

it('peer table: small tables sharing slab chunks keep to their own chunk through growth, shrink and release', () => {
  // Many small tables, interleaved, each checked against its own model: a
  // table that wrote outside its chunk would corrupt a neighbour's peers.
  const random = rng(7);
  const tables: PeerTable[] = [];
  const models: Map<number, { seeder: boolean; seen: number; port: number }>[] = [];
  for (let t = 0; t < 300; t++) {
    tables.push(new PeerTable());
    models.push(new Map());
  }
  const before = smallTableChunks().inUse;
  for (let step = 1; step <= 30_000; step++) {
    const t = Math.floor(random() * tables.length);
    const table = tables[t] as PeerTable;
    const model = models[t] as Map<number, { seeder: boolean; seen: number; port: number }>;
    // Ids 0..6: a table lives at 0 to 7 peers, so in a 2-slot chunk, a 4-slot chunk or a buffer of its own.
    const n = Math.floor(random() * 7);
    const op = random();
    const slot = table.find(id(n));
    assert.equal(slot >= 0, model.has(n), `step ${step}: table ${t} find(${n})`);
    if (op < 0.55) {
      const seeder = random() < 0.4;
      const s = slot >= 0 ? table.setSeeder(slot, seeder) : table.insert(id(n), seeder, step);
      table.touch(s, step);
      const port = Math.floor(random() * 65535) + 1;
      table.setEndpoint4(s, Buffer.from([10, t & 255, t >> 8, n, port >> 8, port & 0xff]));
      model.set(n, { seeder, seen: step, port });
    } else if (op < 0.98) {
      if (slot >= 0) table.remove(slot);
      model.delete(n);
    } else {
      // The swarm is dropped; a new one takes its place (and maybe its chunk).
      table.release();
      tables[t] = new PeerTable();
      model.clear();
    }
  }
  for (let t = 0; t < tables.length; t++) {
    const table = tables[t] as PeerTable;
    const model = models[t] as Map<number, { seeder: boolean; seen: number; port: number }>;
    assert.equal(table.count, model.size, `table ${t}`);
    for (const [k, v] of model) {
      const s = table.find(id(k));
      assert.ok(s >= 0, `table ${t}: peer ${k} is found`);
      assert.equal(table.isSeeder(s), v.seeder);
      assert.equal(table.lastSeen(s), v.seen);
      const ep = Buffer.alloc(6);
      table.copyEndpoint4(s, ep, 0);
      assert.deepEqual([...ep], [10, t & 255, t >> 8, k, v.port >> 8, v.port & 0xff]);
    }
  }
  for (const table of tables) table.release();
  assert.ok(smallTableChunks().inUse <= before, 'every chunk given back');
});

/**
 * A microbenchmark of the memory store's PeerTable, run by hand (it is not
 * part of `npm run bench`):
 *
 *   npx tsc -p . && node dist/bench/peer-table-micro.js [path/to/peer-table.js]
 *
 * Times the store's side of an announce in ns per operation, best of 5 runs
 * of about 1M operations each, on one core:
 *
 * - `update`: find() a known peer and touch() it (a regular announce), in
 *   tables of 50 and of 100,000 peers (the big one waits on cache misses);
 * - `miss`: find() an id that is not there, in a table of 1,000 peers;
 * - `insert`: a new peer, 35% of them seeders (so a slot swap), into fresh
 *   tables of 1,000 peers, growth included;
 * - `churn`: find() a peer and remove() it, then insert() a new one (a stop
 *   and a start), in a table of 1,000 peers; a quarter of the new peers seed.
 *
 * The optional argument is another build of peer-table.js (another commit's),
 * so two versions can be timed by the same code; run them alternately, since
 * the 2-core test machine is shared and its figures drift by several percent.
 */
import { randomFillSync } from 'node:crypto';
import { resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { PeerTable } from '../src/store/memory/peer-table.js';

type PeerTableClass = new (initialCapacity?: number) => PeerTable;

const modulePath = process.argv[2];
const { PeerTable: Table } = (await import(
  modulePath ? pathToFileURL(resolve(modulePath)).href : '../src/store/memory/peer-table.js'
)) as { PeerTable: PeerTableClass };

const REPEATS = 5;
const OPS = 1 << 20;

/** `n` client-like ids: an Azureus-style prefix, then random bytes. */
function makeIds(n: number): Buffer[] {
  const random = Buffer.alloc(n * 12);
  randomFillSync(random);
  return Array.from({ length: n }, (_, i) => {
    const id = Buffer.alloc(20);
    id.write('-qB4650-', 'latin1');
    random.copy(id, 8, i * 12, i * 12 + 12);
    return id;
  });
}

/** Random indexes into a list of `n`, drawn up front so the timed loops do no PRNG work. */
function picks(n: number, count: number): Uint32Array {
  const out = new Uint32Array(count);
  randomFillSync(out);
  for (let i = 0; i < count; i++) out[i] = (out[i] as number) % n;
  return out;
}

function filled(ids: Buffer[]): PeerTable {
  const table = new Table();
  for (let i = 0; i < ids.length; i++) table.insert(ids[i] as Buffer, i % 3 === 0, 1);
  return table;
}

/** Best ns per op over the repeats; `run` returns how many ops it did. */
function time(name: string, run: () => number): void {
  run(); // warm-up: optimized code and grown tables before timing
  let best = Number.POSITIVE_INFINITY;
  for (let r = 0; r < REPEATS; r++) {
    const start = process.hrtime.bigint();
    const ops = run();
    best = Math.min(best, Number(process.hrtime.bigint() - start) / ops);
  }
  console.log(`${name.padEnd(24)} ${best.toFixed(1).padStart(7)} ns/op`);
}

let sink = 0;

for (const size of [50, 100_000]) {
  const ids = makeIds(size);
  const table = filled(ids);
  const order = picks(size, OPS);
  time(`update, ${size} peers`, () => {
    for (let i = 0; i < OPS; i++) {
      const slot = table.find(ids[order[i] as number] as Buffer);
      table.touch(slot, 2);
    }
    return OPS;
  });
}

{
  const table = filled(makeIds(1000));
  const absent = makeIds(4096);
  time('miss, 1000 peers', () => {
    for (let i = 0; i < OPS; i++) sink += table.find(absent[i & 4095] as Buffer);
    return OPS;
  });
}

{
  const ids = makeIds(1000);
  const tables = 1000;
  time('insert, 1000-peer tables', () => {
    for (let t = 0; t < tables; t++) {
      const table = new Table();
      for (let i = 0; i < ids.length; i++) table.insert(ids[i] as Buffer, i % 20 < 7, 1);
      sink += table.count;
    }
    return tables * ids.length;
  });
}

{
  // Every id is in the table or in `out`; each op removes a random member and
  // inserts a random outsider in its place.
  const size = 1000;
  const members = makeIds(size);
  const out = makeIds(size);
  const table = filled(members);
  const order = picks(size, OPS);
  time('churn, 1000 peers', () => {
    for (let i = 0; i < OPS; i++) {
      const k = order[i] as number;
      const leaving = members[k] as Buffer;
      table.remove(table.find(leaving));
      const joining = out[k] as Buffer;
      table.insert(joining, (i & 3) === 0, 1);
      members[k] = joining;
      out[k] = leaving;
    }
    return OPS;
  });
}

if (sink === 0.5) console.log(sink); // keeps the results live

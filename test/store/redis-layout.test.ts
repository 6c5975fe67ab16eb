import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { torrentIndexKey, torrentKeys } from '../../src/store/redis/keys.js';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redis/redis-store.js';
import type { StoreAnnounce } from '../../src/store/swarm-store.js';
import { type RedisServerHandle, startRedisServer } from '../helpers/redis-server.js';

/** Redis-specific checks the store conformance suite cannot make: the layout itself. */

let redis: RedisServerHandle;
let prefixes = 0;
const open: RedisStore[] = [];

before(async () => {
  redis = await startRedisServer();
});
after(async () => {
  for (const s of open) await s.close();
  await redis?.stop();
});

async function makeStore(over: Partial<RedisStoreOptions> = {}): Promise<RedisStore> {
  const store = new RedisStore({
    peerTtlMs: 60_000,
    now: Date.now,
    url: redis.url,
    prefix: `layout${++prefixes}:`,
    ...over,
  });
  open.push(store);
  await store.ready(5000);
  return store;
}

function hash(n: number): Buffer {
  const b = Buffer.alloc(20, 0x7d); // '}' bytes: the hex hash tag must not care
  b.writeUInt32BE(n, 0);
  return b;
}

function peer(n: number): Buffer {
  const b = Buffer.alloc(20, 0x2d);
  b.writeUInt32BE(n, 16);
  return b;
}

function req(infoHash: Buffer, n: number, over: Partial<StoreAnnounce> = {}): StoreAnnounce {
  return {
    infoHash,
    peerId: peer(n),
    event: 'update',
    seeder: false,
    ipv4: Buffer.from([10, 0, (n >> 8) & 0xff, n & 0xff, 0x1a, 0xe1]),
    ipv6: null,
    key: undefined,
    numWant: 50,
    want4: true,
    want6: true,
    withPeerIds: false,
    ...over,
  };
}

async function keysOf(prefix: string): Promise<string[]> {
  const keys = (await redis.command('KEYS', `${prefix}*`)) as string[];
  return keys.sort();
}

describe('Redis store layout', () => {
  it('keeps every key of a torrent in one hash slot, under the prefix', async () => {
    const store = await makeStore();
    const h = hash(1);
    await store.announce(req(h, 1, { seeder: true }));
    await store.announce(req(h, 2, { ipv6: Buffer.alloc(18, 1) }));
    const keys = await keysOf(store.prefix);
    const tag = `{${h.toString('hex')}}`;
    const torrentKeyNames = keys.filter((k) => k.includes(tag));
    assert.deepEqual(
      torrentKeyNames,
      [
        `${store.prefix}${tag}:l`,
        `${store.prefix}${tag}:l4`,
        `${store.prefix}${tag}:l6`,
        `${store.prefix}${tag}:m`,
        `${store.prefix}${tag}:s`,
        `${store.prefix}${tag}:s4`,
      ].sort(),
    );
    const slots = new Set<number>();
    for (const k of torrentKeyNames)
      slots.add((await redis.command('CLUSTER', 'KEYSLOT', k).catch(() => null)) as number);
    // CLUSTER KEYSLOT needs no cluster mode; every key of the torrent hashes to one slot.
    assert.equal(slots.size, 1);
    for (const k of keys) assert.ok(k.startsWith(store.prefix), k);
  });

  it('stores peers as binary records, not text', async () => {
    const store = await makeStore();
    const h = hash(2);
    await store.announce(req(h, 1, { key: 0xdeadbeef }));
    await store.announce(req(h, 2, { ipv4: null, ipv6: Buffer.alloc(18, 0xab) }));
    const [, , , l4, , l6] = torrentKeys(store.prefix, h) as string[];
    const rec4 = (await redis.command('HGET', l4 as string, peer(1).toString('latin1'))) as string;
    assert.equal(rec4.length, 6 + 1 + 4, 'endpoint, flags, key');
    assert.equal(Buffer.from(rec4, 'latin1').subarray(7).toString('hex'), 'deadbeef');
    const rec6 = (await redis.command('HGET', l6 as string, peer(2).toString('latin1'))) as string;
    assert.equal(rec6.length, 18 + 1, 'endpoint, flags (no key sent)');
  });

  it('gives every key a TTL: peers by the peer TTL, the downloaded count longer', async () => {
    const store = await makeStore({ peerTtlMs: 10_000, downloadedTtlMs: 3_600_000 });
    const h = hash(3);
    await store.announce(req(h, 1, { event: 'completed', seeder: true }));
    // Keys created between two periodic TTL refreshes get their TTL when created.
    await store.announce(req(h, 2, { ipv4: null, ipv6: Buffer.alloc(18, 2) }));
    const keys = await keysOf(store.prefix);
    assert.ok(keys.some((k) => k.endsWith(':l6')));
    for (const k of keys) {
      const ttl = (await redis.command('PTTL', k)) as number;
      assert.ok(ttl > 0, `${k} has a TTL`);
      if (k.endsWith(':m')) assert.ok(ttl > 3_000_000, `downloaded outlives peers (${ttl})`);
      else assert.ok(ttl <= 30_000, `${k}: ${ttl}`); // peer TTL + slack (+ refresh for the index)
    }
  });

  it('lets an abandoned torrent vanish by key TTL alone, keeping downloaded until its own TTL', async () => {
    const store = await makeStore({ peerTtlMs: 300, downloadedTtlMs: 1500 });
    await store.announce(req(hash(4), 1, { event: 'completed' }));
    await store.announce(req(hash(4), 2));
    assert.ok((await keysOf(store.prefix)).length >= 4);
    await waitFor(async () => (await keysOf(store.prefix)).every((k) => k.endsWith(':m')), 5000);
    assert.ok(
      (await keysOf(store.prefix)).some((k) => k.endsWith(':m')),
      'the downloaded count is still there',
    );
    await waitFor(async () => (await keysOf(store.prefix)).length === 0, 5000);
  });

  it('removes expired peers from every structure on the next announce (no scan)', async () => {
    let clock = Date.now();
    const store = await makeStore({ peerTtlMs: 60_000, now: () => clock });
    const h = hash(5);
    for (let n = 1; n <= 5; n++) await store.announce(req(h, n, { ipv6: Buffer.alloc(18, n) }));
    clock += 61_000;
    const r = await store.announce(req(h, 9));
    assert.equal(r.incomplete, 1);
    assert.equal(r.peers4.length + r.peers6.length, 0);
    const [, l, , l4, , l6] = torrentKeys(store.prefix, h) as string[];
    assert.equal(await redis.command('ZCARD', l as string), 1);
    assert.equal(await redis.command('HLEN', l4 as string), 1);
    assert.equal(await redis.command('HLEN', l6 as string), 0);
  });

  it('isolates stores with different prefixes on one Redis', async () => {
    const a = await makeStore();
    const b = await makeStore();
    const h = hash(6);
    await a.announce(req(h, 1));
    const rb = await b.announce(req(h, 2));
    assert.equal(rb.incomplete, 1);
    assert.equal(rb.peers4.length, 0);
    assert.equal((await b.totals()).peers, 1);
    assert.equal((await a.totals()).peers, 1);
    assert.equal((await b.sharedSecret('s', 16)).equals(await a.sharedSecret('s', 16)), false);
  });

  it('reloads its scripts after SCRIPT FLUSH (NOSCRIPT)', async () => {
    const store = await makeStore();
    await store.announce(req(hash(7), 1));
    await redis.command('SCRIPT', 'FLUSH');
    const r = await store.announce(req(hash(7), 2));
    assert.equal(r.incomplete, 2);
    assert.equal(r.peers4.length, 6);
  });

  it('keeps the torrent index to torrents announced recently, with a TTL', async () => {
    const store = await makeStore();
    await store.announce(req(hash(8), 1));
    await store.announce(req(hash(9), 1));
    const index = torrentIndexKey(store.prefix);
    await waitFor(async () => (await redis.command('ZCARD', index)) === 2, 2000);
    assert.ok(((await redis.command('PTTL', index)) as number) > 0);
  });

  it('shares one secret between stores (processes) on the same prefix', async () => {
    const a = await makeStore();
    const b = await makeStore({ prefix: a.prefix });
    const [x, y] = await Promise.all([a.sharedSecret('udp', 32), b.sharedSecret('udp', 32)]);
    assert.equal(x.length, 32);
    assert.ok(x.equals(y));
  });

  it('uses at most 150 bytes of used_memory per peer in small swarms (2,000 peers)', async () => {
    // A fresh server: nothing else's allocations move used_memory while we measure.
    const own = await startRedisServer();
    const store = await makeStore({ url: own.url });
    try {
      await store.announce(req(hash(999), 1)); // loads the script, opens the client's buffers
      await new Promise((r) => setTimeout(r, 200));
      const before = usedMemory(String(await own.command('INFO', 'memory')));
      for (let t = 0; t < 40; t++) {
        const batch: Promise<unknown>[] = [];
        for (let n = 0; n < 50; n++) {
          batch.push(store.announce(req(hash(1000 + t), n, { numWant: 0, key: n, seeder: n % 4 === 0 })));
        }
        await Promise.all(batch);
      }
      await new Promise((r) => setTimeout(r, 200));
      const afterBytes = usedMemory(String(await own.command('INFO', 'memory')));
      const perPeer = (afterBytes - before) / 2000;
      assert.ok(perPeer > 40 && perPeer <= 150, `${perPeer.toFixed(1)} bytes per peer`);
    } finally {
      await store.close();
      await own.stop();
    }
  });
  it('shares totals between processes once the index is big (one walk per period)', async () => {
    const a = await makeStore({ totalsCacheAbove: 2 });
    const b = await makeStore({ prefix: a.prefix, totalsCacheAbove: 2 });
    const exact = await makeStore({ prefix: a.prefix });
    for (let t = 0; t < 3; t++) await a.announce(req(hash(2000 + t), 1));
    await waitFor(async () => (await redis.command('ZCARD', torrentIndexKey(a.prefix))) === 3, 2000);
    assert.equal((await a.totals()).torrents, 3);
    await a.announce(req(hash(2003), 1));
    assert.equal((await b.totals()).torrents, 3, 'b reads the walk a shared');
    assert.equal((await exact.totals()).torrents, 4, 'below the threshold every call walks');
  });
});

function usedMemory(info: string): number {
  const m = /used_memory:(\d+)/.exec(info);
  if (!m) throw new Error('no used_memory in INFO');
  return Number(m[1]);
}

async function waitFor(check: () => Promise<boolean>, timeoutMs: number): Promise<void> {
  const deadline = Date.now() + timeoutMs;
  while (!(await check())) {
    if (Date.now() > deadline) throw new Error(`condition not met within ${timeoutMs} ms`);
    await new Promise((r) => setTimeout(r, 50));
  }
}

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import { DEFAULTS } from '../../src/config/options.js';
import { TrackerCore } from '../../src/core/tracker.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { MAX_BATCH } from '../../src/store/redis/announce-batch.js';
import {
  bucketKey,
  keySlot,
  SUB_BUCKETS,
  torrentIndexKey,
  torrentKeys,
  torrentSlot,
} from '../../src/store/redis/keys.js';
import { RedisStore, type RedisStoreOptions } from '../../src/store/redis/redis-store.js';
import type { StoreAnnounce, TorrentSummary } from '../../src/store/swarm-store.js';
import { type RedisServerHandle, startRedisServer } from '../helpers/redis-server.js';
import { storeAnnounce } from '../helpers/store-announce.js';

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
  return storeAnnounce({
    infoHash,
    peerId: peer(n),
    ipv4: Buffer.from([10, 0, (n >> 8) & 0xff, n & 0xff, 0x1a, 0xe1]),
    ...over,
  });
}

/** Every torrent a walk of the store lists, by hex info hash (`listed`: how many entries it listed in all). */
async function walk(store: RedisStore, pageSize = 1000): Promise<Map<string, TorrentSummary> & { listed?: number }> {
  const out: Map<string, TorrentSummary> & { listed?: number } = new Map<string, TorrentSummary>();
  let cursor = '0';
  let listed = 0;
  do {
    const page = await store.scanTorrents(cursor, pageSize);
    for (const t of page.torrents) out.set(t.infoHash.toString('hex'), t);
    listed += page.torrents.length;
    cursor = page.cursor;
  } while (cursor !== '0');
  out.listed = listed;
  return out;
}

/** The bucket key that holds torrent h. */
async function tKey(store: RedisStore, h: Buffer): Promise<string> {
  return bucketKey(store.prefix, (await store.torrentBuckets()).bucketOf(h));
}

/**
 * A store on a clock the test moves (`clock.now`), and torrent `hash(n)` with
 * two peers (so keys of its own and a marker in bucket `t`).
 */
async function twoPeerTorrent(n: number): Promise<{ clock: { now: number }; store: RedisStore; h: Buffer; t: string }> {
  const clock = { now: Date.now() };
  const store = await makeStore({ now: () => clock.now });
  const h = hash(n);
  await store.announce(req(h, 1));
  await store.announce(req(h, 2));
  return { clock, store, h, t: await tKey(store, h) };
}

/** A bucket marker: 0, then the 6-byte time of the last key renewal, then the counts (41 bytes). */
function isMarker(v: unknown): boolean {
  return typeof v === 'string' && v.length === 41 && v.charCodeAt(0) === 0;
}

async function keysOf(prefix: string): Promise<string[]> {
  const keys = (await redis.command('KEYS', `${prefix}*`)) as string[];
  // Not the secrets (the buckets' one is made on first use and kept, as the UDP one).
  return keys.filter((k) => !k.startsWith(`${prefix}secret:`)).sort();
}

describe('Redis store layout', () => {
  it('keeps every key of a torrent in one hash slot, under the prefix', async () => {
    const store = await makeStore();
    const h = hash(1);
    await store.announce(req(h, 1, { seeder: true, event: 'completed' }));
    await store.announce(req(h, 2, { ipv6: Buffer.alloc(18, 1) }));
    // Enough peers to split the leechers' buckets: the expiry index appears.
    for (let n = 3; n < 200; n++) await store.announce(req(h, n, { numWant: 0 }));
    const keys = await keysOf(store.prefix);
    const tag = `{${h.toString('hex')}}`;
    const torrentKeyNames = keys.filter((k) => k.includes(tag));
    assert.deepEqual(torrentKeyNames, [
      `${store.prefix}${tag}:d`,
      `${store.prefix}${tag}:e`,
      `${store.prefix}${tag}:p`,
    ]);
    // Its bucket lists it with a marker (its own keys hold it).
    const t = await tKey(store, h);
    assert.ok(keys.includes(t), t);
    assert.ok(isMarker(await redis.command('HGET', t, h.toString('latin1'))));
    // Every key of the torrent, and its bucket, hash to one slot (CLUSTER KEYSLOT needs cluster
    // mode, so the slot is computed here: keySlot() is checked against the Redis spec's test
    // vector, and the cluster suite runs every script on a real cluster).
    assert.equal(keySlot('123456789'), 0x31c3 & 16383);
    const slots = new Set<number>();
    for (const k of [...torrentKeyNames, t]) slots.add(keySlot(/\{([^}]*)\}/.exec(k)?.[1] as string));
    assert.deepEqual([...slots], [torrentSlot(h)]);
    for (const k of keys) assert.ok(k.startsWith(store.prefix), k);
  });

  it('keeps a small torrent of two records in one key: meta and one bucket per set, records in binary', async () => {
    const store = await makeStore();
    const h = hash(2);
    await store.announce(req(h, 1, { key: 0xdeadbeef }));
    await store.announce(req(h, 2, { ipv4: null, ipv6: Buffer.alloc(18, 0xab) }));
    const [p] = torrentKeys(store.prefix, h) as string[];
    assert.deepEqual(
      (await keysOf(store.prefix)).filter((k) => k.includes('{')),
      [p, await tKey(store, h)].sort(),
    );
    const fields = ((await redis.command('HKEYS', p as string)) as string[]).sort();
    assert.deepEqual(fields, ['2:0', '4:0', 'm'], 'meta, leechers IPv4, leechers IPv6');
    const b4 = Buffer.from((await redis.command('HGET', p as string, '2:0')) as string, 'latin1');
    assert.equal(b4.length, 20 + 6 + 1 + 4 + 6, 'peer_id, last seen, flags, key, endpoint');
    assert.ok(b4.subarray(0, 20).equals(peer(1)));
    assert.equal(b4[26], 2, 'flags: key present');
    assert.equal(b4.subarray(27, 31).toString('hex'), 'deadbeef');
    assert.equal(b4.readUIntBE(20, 6) > Date.now() - 60_000, true, 'last seen in ms');
    const b6 = Buffer.from((await redis.command('HGET', p as string, '4:0')) as string, 'latin1');
    assert.equal(b6.length, 20 + 6 + 1 + 4 + 18);
    assert.equal(b6[26], 0, 'flags: no key');
  });

  it('gives every key a TTL: peers by the peer TTL, the downloaded count longer', async () => {
    const store = await makeStore({ peerTtlMs: 10_000, downloadedTtlMs: 3_600_000 });
    const h = hash(3);
    await store.announce(req(h, 1, { event: 'completed', seeder: true }));
    for (let n = 2; n < 100; n++) await store.announce(req(h, n, { numWant: 0 }));
    const keys = await keysOf(store.prefix);
    assert.equal(keys.filter((k) => k.includes('{')).length, 4, keys.join(' ')); // p, e, d and the bucket
    for (const k of keys) {
      const ttl = (await redis.command('PTTL', k)) as number;
      assert.ok(ttl > 0, `${k} has a TTL`);
      if (k.endsWith(':d')) assert.ok(ttl > 3_000_000, `downloaded outlives peers (${ttl})`);
      else assert.ok(ttl <= 30_000, `${k}: ${ttl}`); // peer TTL + slack (+ refresh for the index)
    }
  });

  it('lets an abandoned torrent vanish by key TTL alone, keeping downloaded until its own TTL', async () => {
    const store = await makeStore({ peerTtlMs: 300, downloadedTtlMs: 1500 });
    await store.announce(req(hash(4), 1, { event: 'completed' }));
    for (let n = 2; n < 100; n++) await store.announce(req(hash(4), n, { numWant: 0 }));
    assert.ok((await keysOf(store.prefix)).length >= 3);
    await waitFor(async () => (await keysOf(store.prefix)).every((k) => k.endsWith(':d')), 5000);
    assert.ok(
      (await keysOf(store.prefix)).some((k) => k.endsWith(':d')),
      'the downloaded count is still there',
    );
    await waitFor(async () => (await keysOf(store.prefix)).length === 0, 5000);
  });

  it("keeps a single-peer torrent inline in its slot's bucket: no key of its own, listpack-encoded", async () => {
    let clock = Date.now();
    const store = await makeStore({ now: () => clock });
    const torrents = 2000;
    const batch: Promise<unknown>[] = [];
    for (let t = 0; t < torrents; t++) batch.push(store.announce(req(hash(50_000 + t), t, { key: t })));
    await Promise.all(batch);
    const keys = await keysOf(store.prefix);
    const map = await store.torrentBuckets();
    const buckets = new Set(Array.from({ length: torrents }, (_, t) => map.bucketOf(hash(50_000 + t))));
    // One key per bucket in use and the index: no key per torrent.
    assert.deepEqual(
      keys,
      [...[...buckets].map((n) => bucketKey(store.prefix, n)), torrentIndexKey(store.prefix)].sort(),
    );
    const h = hash(50_000);
    const t = await tKey(store, h);
    assert.equal(await redis.command('OBJECT', 'ENCODING', t), 'listpack');
    const v = Buffer.from((await redis.command('HGET', t, h.toString('latin1'))) as string, 'latin1');
    assert.equal(v.length, 1 + 37, 'set byte, then the record');
    assert.equal(v[0], 2, 'set 2: leechers, IPv4');
    assert.ok(v.subarray(1, 21).equals(peer(0)));
    assert.equal(v[1 + 26], 2, 'flags: key present');
    assert.equal(v.subarray(1 + 31).toString('hex'), req(h, 0).ipv4?.toString('hex'));
    assert.ok(Number(await redis.command('HGET', t, 'r')) > 0, "the bucket's renewal time");
    const ttl = (await redis.command('PTTL', t)) as number;
    assert.ok(ttl > 0 && ttl <= 180_000, `bucket TTL ${ttl}`);
    // The index lists buckets (their numbers, scored by themselves), not torrents.
    await waitFor(async () => (await redis.command('ZCARD', torrentIndexKey(store.prefix))) === buckets.size, 2000);
    const n = map.bucketOf(h);
    assert.equal(Number(await redis.command('ZSCORE', torrentIndexKey(store.prefix), String(n))), n);
    // Every inline torrent is scraped, scanned, listed and summed.
    assert.deepEqual(await store.scrape([h]), [{ complete: 0, incomplete: 1, downloaded: 0 }]);
    assert.equal((await store.torrentPeers(h, 10)).length, 1);
    assert.equal((await store.totals()).torrents, torrents);
    assert.equal((await walk(store, 64)).listed, torrents);
    // After the TTL, one announce to a bucket prunes its expired inline torrents.
    clock += 61_000 + 60_000;
    // Another torrent of the same bucket.
    let same = -1;
    for (let i = 1; i < 1_000_000 && same < 0; i++) if (map.bucketOf(hash(900_000 + i)) === n) same = i;
    await store.announce(req(hash(900_000 + same), 1));
    assert.equal(await redis.command('HEXISTS', t, h.toString('latin1')), 0, 'expired inline torrent pruned');
    assert.equal(await redis.command('HLEN', t), 2, 'the new torrent and r');
  });

  it('moves a torrent out of its bucket when it grows past one record, and back when it shrinks', async () => {
    const store = await makeStore();
    const h = hash(60);
    const [p] = torrentKeys(store.prefix, h) as string[];
    const t = await tKey(store, h);
    const field = h.toString('latin1');
    await store.announce(req(h, 1, { seeder: true, event: 'completed' }));
    let v = (await redis.command('HGET', t, field)) as string;
    assert.equal(v.charCodeAt(0), 1 + 16, 'set 1, and a downloaded count in key d');
    assert.equal(v.slice(38), '1', 'and its copy after the record');
    assert.equal((await store.scrape([h]))[0]?.downloaded, 1);
    await store.announce(req(h, 2));
    assert.ok(isMarker(await redis.command('HGET', t, field)), 'a marker: its own keys hold it');
    assert.deepEqual(((await redis.command('HKEYS', p as string)) as string[]).sort(), ['1:0', '2:0', 'm']);
    assert.ok(((await redis.command('PTTL', p as string)) as number) > 0);
    const r = await store.announce(req(h, 1, { seeder: true, numWant: 10 }));
    assert.equal(r.peers4.length, 6, 'the other peer');
    await store.announce(req(h, 1, { seeder: true, event: 'stopped' }));
    assert.equal(await redis.command('EXISTS', p as string), 0);
    v = (await redis.command('HGET', t, field)) as string;
    assert.equal(v.charCodeAt(0), 2 + 16, 'back inline: set 2, the count kept in key d');
    assert.deepEqual(await store.scrape([h]), [{ complete: 0, incomplete: 1, downloaded: 1 }]);
    // A dual-stack peer alone has two records: keys of its own.
    await store.announce(req(h, 2, { event: 'stopped' }));
    assert.equal(await redis.command('HEXISTS', t, field), 0, 'gone from the bucket');
    await store.announce(req(h, 3, { ipv6: Buffer.alloc(18, 3) }));
    assert.ok(isMarker(await redis.command('HGET', t, field)));
    assert.deepEqual(((await redis.command('HKEYS', p as string)) as string[]).sort(), ['2:0', '4:0', 'm']);
  });

  it('adopts a torrent an older version wrote without a bucket entry, within one refresh period', async () => {
    const { clock, store, h, t } = await twoPeerTorrent(70);
    // As the previous layout left it: keys p (e, d) only, no entry in a bucket.
    await redis.command('DEL', t, torrentIndexKey(store.prefix));
    const r = await store.announce(req(h, 3));
    assert.equal(r.incomplete, 3, 'its peers are read as before');
    clock.now += 16_000; // past the refresh period (peer TTL / 4)
    await store.announce(req(h, 1));
    assert.ok(isMarker(await redis.command('HGET', t, h.toString('latin1'))));
    await waitFor(async () => (await redis.command('ZCARD', torrentIndexKey(store.prefix))) === 1, 2000);
    assert.equal((await store.totals()).peers, 3);
    // Pruned down to one record by a scrape, with no bucket yet: it keeps its own keys
    // (a bucket made by a scrape would have no TTL), and moves inline on its next announce.
    await redis.command('DEL', t);
    clock.now += 50_000; // peers 2 and 3 (last seen 66 s ago) expire; peer 1 (50 s) does not
    assert.deepEqual(await store.scrape([h]), [{ complete: 0, incomplete: 1, downloaded: 0 }]);
    const [p] = torrentKeys(store.prefix, h) as string[];
    assert.equal(await redis.command('EXISTS', p as string), 1);
    assert.equal(await redis.command('EXISTS', t), 0);
    await store.announce(req(h, 1));
    assert.equal(await redis.command('EXISTS', p as string), 0);
    assert.equal(((await redis.command('HGET', t, h.toString('latin1'))) as string).length, 38);
    assert.ok(((await redis.command('PTTL', t)) as number) > 0);
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
    // One record left: the torrent is back inline in its bucket (set 2, then the record).
    const [p] = torrentKeys(store.prefix, h) as string[];
    assert.equal(await redis.command('EXISTS', p as string), 0);
    const v = (await redis.command('HGET', await tKey(store, h), h.toString('latin1'))) as string;
    assert.equal(v.length, 1 + 37);
    assert.equal(v.charCodeAt(0), 2);
    assert.equal(v.slice(1, 21), peer(9).toString('latin1'));
  });

  it('splits a big swarm into buckets, prunes them through the expiry index, merges them back', async () => {
    let clock = Date.now();
    const store = await makeStore({ peerTtlMs: 60_000, now: () => clock });
    const h = hash(10);
    const [p, e] = torrentKeys(store.prefix, h) as string[];
    const peers = 3000;
    for (let n = 0; n < peers; n += 100) {
      const batch: Promise<unknown>[] = [];
      for (let i = n; i < n + 100; i++) {
        batch.push(store.announce(req(h, i, { numWant: 0, seeder: i % 3 === 0, key: i })));
      }
      await Promise.all(batch);
    }
    const fields = (await redis.command('HKEYS', p as string)) as string[];
    const leecherBuckets = fields.filter((f) => f.startsWith('2:'));
    assert.ok(leecherBuckets.length >= 2000 / 32, `${leecherBuckets.length} leecher buckets`);
    let largest = 0;
    for (const f of leecherBuckets) {
      largest = Math.max(largest, ((await redis.command('HSTRLEN', p as string, f)) as number) / 37);
    }
    assert.ok(largest <= 160, `largest bucket: ${largest} records`);
    assert.equal(await redis.command('ZCARD', e as string), fields.length - 1, 'every bucket indexed');
    const all = await store.announce(req(h, 1, { numWant: 50 }));
    assert.equal(all.complete, 1000);
    assert.equal(all.incomplete, 2000);
    assert.equal(new Set(entries(all.peers4, 6)).size, 50);
    // Half of them re-announce later; the others expire.
    clock += 40_000;
    for (let i = 0; i < peers; i += 2) await store.announce(req(h, i, { numWant: 0, seeder: i % 3 === 0, key: i }));
    clock += 30_000;
    const r = await store.announce(req(h, 0, { numWant: 0, seeder: true, key: 0 }));
    assert.equal(r.complete + r.incomplete, 1500);
    assert.equal(r.complete, 500);
    // Then all but one expire: the buckets merge back (one per announce and set).
    clock += 61_000;
    for (let i = 0; i < 300; i++) {
      const x = await store.announce(req(h, 0, { numWant: 0, seeder: true, key: 0 }));
      assert.equal(x.complete + x.incomplete, 1);
    }
    assert.equal(await redis.command('EXISTS', p as string), 0, 'back inline: no peers hash');
    assert.equal(await redis.command('EXISTS', e as string), 0, 'nor expiry index');
    const inline = (await redis.command('HGET', await tKey(store, h), h.toString('latin1'))) as string;
    assert.equal(inline.charCodeAt(0), 1, 'one seeder record, inline');
    const peersNow = await store.torrentPeers(h, 10);
    assert.equal(peersNow.length, 1);
  });

  it('agrees with the memory store under random announces, stops, expiry and dual-stack peers', async () => {
    let clock = 1_700_000_000_000;
    const now = () => clock;
    const store = await makeStore({ peerTtlMs: 60_000, now });
    const model = new MemoryStore({ peerTtlMs: 60_000, now });
    let seed = 12345;
    const rnd = (n: number) => {
      seed = (seed * 1103515245 + 12345) % 2147483648;
      return Math.floor((seed / 2147483648) * n);
    };
    const hashes = [hash(20), hash(21), hash(22)];
    const sizes = [3000, 300, 20];
    try {
      for (let step = 0; step < 12_000; step++) {
        const t = rnd(3);
        const n = rnd(sizes[t] as number);
        const fam = rnd(10);
        const r = rnd(100);
        const request = req(hashes[t] as Buffer, n, {
          seeder: (n + Math.floor(step / 4000)) % 3 === 0,
          event: r < 5 ? 'stopped' : r < 10 ? 'completed' : r < 12 ? 'started' : 'update',
          ipv4: fam < 8 ? Buffer.from([10, 1, (n >> 8) & 0xff, n & 0xff, 0x1a, 0xe1]) : null,
          ipv6: fam >= 7 ? Buffer.alloc(18, n & 0xff) : null,
          key: n % 5 === 0 ? undefined : n,
          numWant: r % 3 === 0 ? 0 : 30,
          withPeerIds: r % 2 === 0,
        });
        const [a, b] = await Promise.all([store.announce(request), model.announce(request)]);
        const tag = `step ${step} torrent ${t} peer ${n}`;
        assert.equal(a.status, b.status, tag);
        assert.equal(a.complete, b.complete, `${tag}: seeders`);
        assert.equal(a.incomplete, b.incomplete, `${tag}: leechers`);
        assert.equal(a.downloaded, b.downloaded, `${tag}: downloaded`);
        // The memory store may return fewer than it could; the Redis store returns exactly
        // min(numwant, eligible peers): check its samples against the model's peer list.
        if (request.withPeerIds && step % 5 === 0) {
          const live = await model.torrentPeers(hashes[t] as Buffer, 1_000_000);
          for (const [fam, ids, eps, size] of [
            [4, a.peerIds4, a.peers4, 6],
            [6, a.peerIds6, a.peers6, 18],
          ] as const) {
            const eligible = new Map<string, string>();
            for (const x of live) {
              const ep = fam === 4 ? x.ipv4 : x.ipv6;
              if (!ep || x.peerId.equals(request.peerId) || (request.seeder && x.seeder)) continue;
              eligible.set(x.peerId.toString('hex'), ep.toString('hex'));
            }
            const got = entries(ids ?? Buffer.alloc(0), 20);
            const gotEps = entries(eps, size);
            const answered = a.status === 'ok' && request.event !== 'stopped'; // a stopped peer gets no peers
            const expected = answered ? Math.min(request.numWant, eligible.size) : 0;
            assert.equal(got.length, expected, `${tag}: peers${fam}`);
            assert.equal(new Set(got).size, got.length, `${tag}: no duplicates`);
            for (const [i, id] of got.entries()) assert.equal(eligible.get(id), gotEps[i], `${tag}: ${id} eligible`);
          }
        }
        if (step % 1000 === 999) {
          clock += 20_000 + rnd(30_000);
          const [sa, sb] = await Promise.all([store.scrape(hashes), model.scrape(hashes)]);
          assert.deepEqual(sa, sb, `scrape at ${step}`);
          const [ta, tb] = await Promise.all([store.totals(), model.totals()]);
          assert.deepEqual(ta, tb, `totals at ${step}`);
        }
      }
      const [pa, pb] = await Promise.all([
        store.torrentPeers(hashes[1] as Buffer, 1000),
        model.torrentPeers(hashes[1] as Buffer, 1000),
      ]);
      const key = (x: { peerId: Buffer; seeder: boolean; ipv4: Buffer | null; ipv6: Buffer | null }) =>
        `${x.peerId.toString('hex')} ${x.seeder} ${x.ipv4?.toString('hex')} ${x.ipv6?.toString('hex')}`;
      assert.deepEqual(pa.map(key).sort(), pb.map(key).sort());
    } finally {
      await model.close();
    }
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

  it('sends the announces of one event-loop turn as one script call, run in order as if alone', async () => {
    const store = await makeStore();
    await store.announce(req(hash(20), 1000)); // loads the script
    await redis.command('CONFIG', 'RESETSTAT');
    // 100 announces in one turn, to 4 torrents: full batches of MAX_BATCH, then the rest.
    const sent = Array.from({ length: 100 }, (_, i) => req(hash(21 + (i % 4)), i + 1, { seeder: i % 5 === 0 }));
    const replies = await Promise.all(sent.map((r) => store.announce(r)));
    const stats = String(await redis.command('INFO', 'commandstats'));
    assert.match(stats, new RegExp(`cmdstat_evalsha:calls=${Math.ceil(100 / MAX_BATCH)},`));
    // Each torrent's announces ran one after another: the k-th saw k peers, and k - 1 others.
    const seen = [0, 0, 0, 0];
    replies.forEach((r, i) => {
      const k = ++seen[i % 4]!;
      assert.equal(r.status, 'ok');
      assert.equal(r.complete + r.incomplete, k);
      const wanted = sent[i]!.seeder ? r.incomplete : k - 1; // a seeder is given leechers only
      assert.equal(r.peers4.length, 6 * Math.min(50, wanted));
    });
    // A stop and a re-announce in the same turn as others still take effect in order.
    const [stopped, after] = await Promise.all([
      store.announce(req(hash(21), 1, { event: 'stopped' })),
      store.announce(req(hash(21), 5)), // already there: still 24 after the stop
    ]);
    assert.equal(stopped.complete + stopped.incomplete, 24);
    assert.equal(after.complete + after.incomplete, 24);
  });

  it('fails the announces of a batch it cannot build, and keeps serving', async () => {
    const store = await makeStore();
    const bad = { ...req(hash(30), 1), peerId: 'not a buffer' as unknown as Buffer };
    const results = await Promise.allSettled([store.announce(bad), store.announce(req(hash(30), 2))]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['rejected', 'rejected'], // one call for both: the store trusts its input, the core checks it
    );
    const r = await store.announce(req(hash(30), 3));
    assert.equal(r.incomplete, 1);
  });

  it('fails only the announce whose script run raised an error; the rest of its batch stands', async () => {
    const store = await makeStore();
    const [pKey] = torrentKeys(store.prefix, hash(32));
    await redis.command('SET', pKey as string, 'not a hash'); // WRONGTYPE for the script
    const results = await Promise.allSettled([
      store.announce(req(hash(31), 1)),
      store.announce(req(hash(32), 1)),
      store.announce(req(hash(31), 2)),
    ]);
    assert.deepEqual(
      results.map((r) => r.status),
      ['fulfilled', 'rejected', 'fulfilled'],
    );
    const [good] = await store.scrape([hash(31)]);
    assert.equal(good?.incomplete, 2);
  });

  it('spreads torrents chosen to share one hash slot over its buckets by a keyed hash', async () => {
    const store = await makeStore();
    const map = await store.torrentBuckets();
    // 160 info hashes of one CRC16 slot: anyone can find them (the slot is a CRC of the hex hash).
    const slot = torrentSlot(hash(0));
    const same: Buffer[] = [];
    for (let n = 1; same.length < 160; n++) {
      const h = Buffer.alloc(20, 0x11);
      h.writeUInt32BE(n, 0);
      if (torrentSlot(h) === slot) same.push(h);
    }
    for (let i = 0; i < same.length; i += 32) {
      await Promise.all(same.slice(i, i + 32).map((h, j) => store.announce(req(h, i + j))));
    }
    const perKey = new Map<string, number>();
    for (let sub = 0; sub < SUB_BUCKETS; sub++) {
      const t = bucketKey(store.prefix, slot * SUB_BUCKETS + sub);
      assert.equal(keySlot(/\{([^}]*)\}/.exec(t)?.[1] as string), slot, 'every bucket of the slot is in the slot');
      const fields = ((await redis.command('HKEYS', t)) as string[]).filter((f) => f.length === 20);
      perKey.set(t, fields.length);
    }
    let listed = 0;
    for (const n of perKey.values()) listed += n;
    assert.equal(listed, same.length);
    // Expected 20 a bucket; a bucket the hash cannot be aimed at stays far below 160.
    for (const [t, n] of perKey) assert.ok(n > 0 && n <= 50, `${t}: ${n} torrents`);
    for (const h of same.slice(0, 5)) assert.equal(map.bucketOf(h) >> 3, slot);
    // Another deployment (secret) sends the same torrents to other buckets of the slot.
    const other = await makeStore();
    const otherMap = await other.torrentBuckets();
    assert.ok(same.some((h) => otherMap.bucketOf(h) !== map.bucketOf(h)));
  });

  it('bounds a scan page and a bucket prune, however many torrents one bucket holds', async () => {
    let clock = Date.now();
    const store = await makeStore({ now: () => clock });
    const h = hash(77);
    await store.announce(req(h, 1));
    const t = await tKey(store, h);
    const n = (await store.torrentBuckets()).bucketOf(h);
    await waitFor(async () => (await redis.command('ZSCORE', torrentIndexKey(store.prefix), String(n))) !== null, 2000);
    // 3,000 inline torrents in that one bucket, written directly (as if the bucket could be aimed at).
    const fill = 3000;
    for (let i = 0; i < fill; i += 500) {
      const args: Buffer[] = [];
      for (let j = i; j < i + 500; j++) {
        const field = Buffer.alloc(20, 0x33);
        field.writeUInt32BE(j, 0);
        const record = Buffer.alloc(37);
        peer(j).copy(record, 0);
        record.writeUIntBE(clock, 20, 6);
        Buffer.from([10, 1, 2, 3, 0x1a, 0xe1]).copy(record, 31);
        args.push(field, Buffer.concat([Buffer.from([2]), record]));
      }
      await redis.command('HSET', t, ...args.map((b) => b.toString('latin1')));
    }
    let cursor = '0';
    const seen = new Set<string>();
    let pages = 0;
    do {
      const page = await store.scanTorrents(cursor, 100);
      assert.ok(page.torrents.length <= 100 + 512, `a page of ${page.torrents.length}`);
      for (const x of page.torrents) seen.add(x.infoHash.toString('hex'));
      cursor = page.cursor;
      pages++;
    } while (cursor !== '0');
    assert.equal(seen.size, fill + 1);
    assert.ok(pages >= 5, `${pages} pages`);
    // They all expire: an announce to the bucket past the refresh period prunes it in bounded
    // steps from a kept cursor, not all at once.
    clock += 61_000 + 60_000;
    await store.announce(req(h, 1));
    const left = (await redis.command('HLEN', t)) as number;
    assert.ok(left > 100 && left < fill, `${left} fields left after one prune`);
    assert.notEqual(await redis.command('HGET', t, 'c'), null, 'the prune cursor is kept');
    for (let i = 0; i < 40 && ((await redis.command('HLEN', t)) as number) > 3; i++) {
      clock += 16_000; // one refresh period (peer TTL / 4)
      await store.announce(req(h, 1));
    }
    assert.deepEqual(
      ((await redis.command('HKEYS', t)) as string[]).filter((f) => f.length === 20),
      [h.toString('latin1')],
    );
  });

  it('lists torrents from their bucket entries as stored: inline ones read by the store, the others counted, dead ones skipped', async () => {
    let clock = Date.now();
    const store = await makeStore({ now: () => clock });
    const listed = (): Promise<Map<string, TorrentSummary>> => walk(store);
    const seeder = hash(501); // inline, with a copy of its downloaded count
    const swarm = hash(502); // two peers: a marker, read for its counts
    const leaving = hash(503); // inline, expires
    const garbled = hash(504); // inline, its downloaded copy unreadable: counted by count.lua
    await store.announce(req(leaving, 1));
    clock += 40_000;
    await store.announce(req(seeder, 1, { seeder: true, event: 'completed' }));
    await store.announce(req(swarm, 1, { seeder: true }));
    await store.announce(req(swarm, 2));
    await store.announce(req(garbled, 1, { seeder: true, event: 'completed' }));
    const t = await tKey(store, garbled);
    const v = Buffer.from((await redis.command('HGET', t, garbled.toString('latin1'))) as string, 'latin1');
    assert.equal(v.subarray(38).toString(), '1');
    await redis.command(
      'HSET',
      t,
      garbled.toString('latin1'),
      Buffer.concat([v.subarray(0, 38), Buffer.from('x')]).toString('latin1'),
    );
    clock += 25_000; // `leaving` is 65 s old, past the 60-s TTL; the others 25 s
    const rows = await listed();
    assert.deepEqual(rows.get(seeder.toString('hex')), {
      infoHash: seeder,
      complete: 1,
      incomplete: 0,
      downloaded: 1,
      lastAnnounce: clock - 25_000,
    });
    assert.equal(rows.get(swarm.toString('hex'))?.complete, 1);
    assert.equal(rows.get(swarm.toString('hex'))?.incomplete, 1);
    assert.equal(rows.get(garbled.toString('hex'))?.downloaded, 1, 'from key d, by count.lua');
    assert.equal(rows.has(leaving.toString('hex')), false, 'its peer expired');
    assert.equal(rows.size, 3);
    assert.equal((await store.totals()).torrents, 3);
  });

  it("reads a torrent's counts from its marker while no record can have expired, and asks count.lua once one may have", async () => {
    const start = Date.now();
    let clock = start;
    const store = await makeStore({ now: () => clock });
    const h = hash(510);
    const field = h.toString('latin1');
    await store.announce(req(h, 1, { seeder: true }));
    await store.announce(req(h, 2));
    const t = await tKey(store, h);
    const markerNow = async (): Promise<Buffer> =>
      Buffer.from((await redis.command('HGET', t, field)) as string, 'latin1');
    /** A marker's seeders, leechers, IPv4 records, IPv6 records, downloaded (torrent.lua). */
    const shown = (m: Buffer): number[] => [
      m.readUInt32BE(19),
      m.readUInt32BE(23),
      m.readUInt32BE(27),
      m.readUInt32BE(31),
      m.readUIntBE(35, 6),
    ];
    assert.deepEqual(shown(await markerNow()), [1, 1, 2, 0, 0]);
    // Within the refresh period (15 s) the marker still follows every change of the counts.
    clock += 1000;
    await store.announce(req(h, 3, { seeder: true, event: 'completed' }));
    await store.announce(req(h, 4, { ipv4: null, ipv6: Buffer.alloc(18, 4) }));
    const m = await markerNow();
    assert.deepEqual(shown(m), [2, 2, 3, 1, 1]);
    assert.equal(m.readUIntBE(7, 6), start, 'its oldest bound');
    // A steady re-announce leaves it as it is.
    clock += 1000;
    await store.announce(req(h, 2));
    assert.deepEqual(await markerNow(), m);
    // The scan lists what the marker says (here edited: 7 seeders), with its last announce.
    const edited = Buffer.from(m);
    edited.writeUInt32BE(7, 19);
    await redis.command('HSET', t, field, edited.toString('latin1'));
    const read = (await walk(store)).get(h.toString('hex'));
    assert.equal(read?.complete, 7, 'read from the marker');
    assert.equal(read?.lastAnnounce, start + 1000);
    // Peer 1 passes the 60-s TTL: the marker's bound is at the cutoff, so count.lua counts
    // (pruning peer 1), and its prune writes the marker anew.
    clock = start + 60_000;
    const counted = (await walk(store)).get(h.toString('hex'));
    assert.deepEqual([counted?.complete, counted?.incomplete, counted?.downloaded], [1, 2, 1]);
    const after = await markerNow();
    assert.deepEqual(shown(after), [1, 2, 2, 1, 1]);
    assert.equal(after.readUIntBE(7, 6), start + 1000, 'the new oldest bound');
    assert.equal((await store.totals()).peers, 3);
  });

  it("gives a bucket its TTL again when a marker's write made it anew (the bucket was lost, its torrent's keys were not)", async () => {
    const { clock, store, h, t } = await twoPeerTorrent(520);
    await redis.command('DEL', t);
    clock.now += 1000; // within the refresh period: no renewal is due
    await store.announce(req(h, 3)); // a new peer: the marker is written
    assert.ok(isMarker(await redis.command('HGET', t, h.toString('latin1'))));
    assert.ok(((await redis.command('PTTL', t)) as number) > 0, 'the bucket has a TTL');
    assert.equal(await redis.command('HGET', t, 'r'), String(clock.now));
  });

  it('walks a big (hashtable-encoded) bucket one HSCAN step at a time, across pages, listing each torrent once', async () => {
    const store = await makeStore();
    const now = Date.now();
    const n = 7; // any bucket
    const t = bucketKey(store.prefix, n);
    // 600 inline torrents (set 2: an IPv4 leecher) written as the announce script would:
    // past the 512 entries of a listpack, so Redis keeps the bucket as a hashtable.
    const args: string[] = ['HSET', t, 'r', String(now)];
    for (let i = 0; i < 600; i++) {
      const record = Buffer.alloc(37);
      peer(i).copy(record, 0);
      record.writeUIntBE(now, 20, 6);
      Buffer.from([10, 9, i >> 8, i & 255, 0x1a, 0xe1]).copy(record, 31);
      args.push(hash(900_000 + i).toString('latin1'), Buffer.concat([Buffer.from([2]), record]).toString('latin1'));
    }
    await redis.command(...(args as [string, ...string[]]));
    await redis.command('PEXPIRE', t, '600000');
    await redis.command('ZADD', torrentIndexKey(store.prefix), String(n), String(n));
    assert.equal(await redis.command('OBJECT', 'ENCODING', t), 'hashtable');
    for (const pageSize of [16, 1000]) {
      const rows = await walk(store, pageSize);
      assert.equal(rows.size, 600, `pages of ${pageSize}`);
      assert.equal(rows.listed, 600, `pages of ${pageSize}: none listed twice`);
      assert.equal(rows.get(hash(900_123).toString('hex'))?.incomplete, 1);
    }
    assert.equal((await store.totals()).leechers, 600);
    assert.equal(
      await redis.command('ZCARD', torrentIndexKey(store.prefix)),
      1,
      'a bucket read in steps is not taken for gone',
    );
  });

  it('drops the marker of a torrent whose own keys expired, with no read of that torrent', async () => {
    const { clock, store, h, t } = await twoPeerTorrent(88);
    const map = await store.torrentBuckets();
    assert.ok(isMarker(await redis.command('HGET', t, h.toString('latin1'))));
    const renewed = Buffer.from((await redis.command('HGET', t, h.toString('latin1'))) as string, 'latin1');
    assert.ok(Math.abs(renewed.readUIntBE(1, 6) - clock.now) < 1000, 'the marker holds the renewal time');
    // Its keys expire (here: deleted, as the key TTL would) and the clock passes the key TTL.
    for (const k of torrentKeys(store.prefix, h)) await redis.command('DEL', k);
    clock.now += 200_000;
    let other = -1;
    for (let i = 1; i < 5_000_000 && other < 0; i++)
      if (map.bucketOf(hash(3_000_000 + i)) === map.bucketOf(h)) other = i;
    await store.announce(req(hash(3_000_000 + other), 1));
    assert.equal(await redis.command('HEXISTS', t, h.toString('latin1')), 0, 'dead marker pruned');
    assert.equal(await redis.command('HEXISTS', t, hash(3_000_000 + other).toString('latin1')), 1);
  });

  // Pages of 16: one lane; of 250: two lanes walked side by side (torrent-index.ts).
  for (const pageSize of [16, 250]) {
    it(`lists each torrent once in a walk, even when buckets are renewed during it (pages of ${pageSize})`, async () => {
      await walkWhileRenewing(pageSize, 300);
    });
  }

  // Pages of 1,000 from a store whose index counts as dense: every bucket number read, in eight lanes.
  it('lists each torrent once in a walk of every bucket number, even when buckets are renewed during it', async () => {
    await walkWhileRenewing(1000, 2500, { directWalkAbove: 1 });
  });

  it('lists the same torrents and counts reading every bucket number as reading the index', async () => {
    const direct = await makeStore({ directWalkAbove: 1 });
    const indexed = await makeStore({ prefix: direct.prefix });
    const torrents = 2500;
    for (let i = 0; i < torrents; i += 250) {
      await Promise.all(
        Array.from({ length: 250 }, (_, j) => direct.announce(req(hash(7_000 + i + j), i + j, { numWant: 0 }))),
      );
    }
    // Some with keys of their own: two peers, a seeder that completed.
    for (let i = 0; i < 50; i++) await direct.announce(req(hash(7_000 + i), 90_000 + i, { numWant: 0 }));
    await direct.announce(req(hash(7_001), 99_998, { numWant: 0, event: 'completed', seeder: true }));
    await waitFor(async () => ((await redis.command('ZCARD', torrentIndexKey(direct.prefix))) as number) > 2000, 5000);
    const first = await direct.scanTorrents('0', 1000);
    assert.match(first.cursor, /^d\d+:\d+:\d+:\d+(,d\d+:\d+:\d+:\d+){7}$/, 'eight lanes of bucket numbers go on');
    const byNumber = await walk(direct, 1000);
    const byIndex = await walk(indexed, 1000);
    assert.equal(byNumber.listed, torrents, 'each torrent once');
    assert.equal(byNumber.size, torrents);
    assert.deepEqual(byNumber, byIndex);
    assert.deepEqual(
      [byNumber.get(hash(7_001).toString('hex'))?.complete, byNumber.get(hash(7_001).toString('hex'))?.downloaded],
      [1, 1],
    );
    assert.equal(byNumber.get(hash(7_002).toString('hex'))?.incomplete, 2);
  });

  async function walkWhileRenewing(
    pageSize: number,
    torrents: number,
    over: Partial<RedisStoreOptions> = {},
  ): Promise<void> {
    let clock = Date.now();
    const store = await makeStore({ now: () => clock, ...over });
    const announceAll = () =>
      Promise.all(Array.from({ length: torrents }, (_, i) => store.announce(req(hash(4_000 + i), i, { numWant: 0 }))));
    await announceAll();
    await waitFor(
      async () => ((await redis.command('ZCARD', torrentIndexKey(store.prefix))) as number) > (torrents * 2) / 3,
      2000,
    );
    let cursor = '0';
    const seen: string[] = [];
    let pages = 0;
    do {
      pages++;
      const page = await store.scanTorrents(cursor, pageSize);
      if (pages === 1 && pageSize === 250)
        assert.match(page.cursor, /^\d+:\d+:\d+:\d+,\d+:\d+:\d+:\d+$/, 'two lanes go on');
      if (pages === 1 && over.directWalkAbove !== undefined) assert.match(page.cursor, /^d/, 'every bucket number');
      for (const x of page.torrents) seen.push(x.infoHash.toString('hex'));
      cursor = page.cursor;
      // Every bucket renewed (and its index entry refreshed) between pages.
      clock += 16_000;
      await announceAll();
      await new Promise((r) => setTimeout(r, 20));
    } while (cursor !== '0');
    assert.equal(seen.length, new Set(seen).size, 'no torrent twice');
    assert.equal(seen.length, torrents);
    assert.ok(pages >= 2, `${pages} pages`);
  }

  it('answers a full scrape with each torrent once, over several pages', async () => {
    const store = await makeStore();
    const torrents = 2500;
    for (let i = 0; i < torrents; i += 250) {
      await Promise.all(
        Array.from({ length: 250 }, (_, j) => store.announce(req(hash(6_000 + i + j), i + j, { numWant: 0 }))),
      );
    }
    // Two of them with keys of their own (two peers), one with a downloaded count.
    await store.announce(req(hash(6_000), 99_999, { numWant: 0 }));
    await store.announce(req(hash(6_001), 99_998, { numWant: 0, event: 'completed', seeder: true }));
    await waitFor(async () => ((await redis.command('ZCARD', torrentIndexKey(store.prefix))) as number) > 2000, 5000);
    const tracker = new TrackerCore({ ...DEFAULTS, fullScrape: true }, store);
    const entries = await tracker.scrape([], 'http');
    const ids = entries.map((e) => e.infoHash.toString('hex'));
    assert.equal(ids.length, new Set(ids).size, 'no info_hash twice');
    assert.equal(ids.length, torrents);
    const byId = new Map(entries.map((e) => [e.infoHash.toString('hex'), e]));
    assert.equal(byId.get(hash(6_000).toString('hex'))?.incomplete, 2);
    const done = byId.get(hash(6_001).toString('hex'));
    assert.deepEqual([done?.complete, done?.incomplete, done?.downloaded], [1, 1, 1]);
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

  it('talks to a standalone Redis over one connection, whatever the command', async () => {
    const store = await makeStore({ clientName: 'bitstorm-one-connection' });
    await store.announce(req(hash(40), 1));
    await store.scrape([hash(40)]);
    await store.scanTorrents('0', 10);
    await store.totals();
    await store.torrentPeers(hash(40), 10);
    await store.sharedSecret('udp', 32);
    const list = String(await redis.command('CLIENT', 'LIST'));
    assert.equal(list.split('\n').filter((line) => line.includes('name=bitstorm-one-connection ')).length, 1, list);
  });

  it('refuses a Redis URL it cannot connect to as written', () => {
    assert.throws(
      () => new RedisStore({ peerTtlMs: 60_000, now: Date.now, url: 'redis://127.0.0.1:6379/x' }),
      /redis:\/\//,
    );
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

function entries(buf: Buffer, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= buf.length; i += size) out.push(buf.subarray(i, i + size).toString('hex'));
  return out;
}

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

import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { ConfigError, DEFAULTS, type TrackerConfig, validateConfig } from '../../src/config/options.js';
import { MemoryStore, type MemoryStoreOptions } from '../../src/store/memory/memory-store.js';
import { decodeState, STATE_VERSION, StateFileError } from '../../src/store/memory/state-file.js';
import { tempPathFor } from '../../src/store/memory/state-file-io.js';
import type { StoredPeer } from '../../src/store/swarm-store.js';
import { storeAnnounce } from '../helpers/store-announce.js';

const dir = mkdtempSync(join(tmpdir(), 'bitstorm-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;
const freshFile = (): string => join(dir, `state-${++files}.bin`);

const T0 = 1_780_000_000_000; // an epoch-ms clock, as in production
const TTL = 1_000_000;

function open(file: string, now: number, extra: Partial<MemoryStoreOptions> = {}): MemoryStore {
  return new MemoryStore({ peerTtlMs: TTL, now: () => now, backgroundSweep: false, stateFile: file, ...extra });
}

const hash = (n: number): Buffer => Buffer.alloc(20, n);
const id = (n: number): Buffer => {
  const b = Buffer.alloc(20, 0x2d);
  b.writeUInt32BE(n, 16);
  return b;
};
const ep4 = (n: number): Buffer => Buffer.from([10, 0, n >> 8, n & 255, 0x1a, 0xe1]);
const ep6 = (n: number): Buffer => {
  const b = Buffer.alloc(18);
  b[0] = 0x20;
  b[1] = 0x01;
  b.writeUInt16BE(n, 14);
  b.writeUInt16BE(6881, 16);
  return b;
};

/** Every peer of a torrent, in a stable order. */
async function peersOf(store: MemoryStore, h: Buffer): Promise<StoredPeer[]> {
  return (await store.torrentPeers(h, 1000)).sort((a, b) => Buffer.compare(a.peerId, b.peerId));
}

/** A mixed swarm: IPv4, IPv6 and dual-stack peers, keys, a completed seeder; and a retired count. */
async function populate(store: MemoryStore): Promise<void> {
  for (let t = 1; t <= 3; t++) {
    for (let p = 1; p <= 5; p++) {
      await store.announce(
        storeAnnounce({
          infoHash: hash(t),
          peerId: id(t * 100 + p),
          event: p === 1 ? 'completed' : 'started',
          seeder: p <= 2,
          ipv4: p % 3 !== 0 ? ep4(t * 100 + p) : null,
          ipv6: p % 2 === 1 ? ep6(t * 100 + p) : null,
          key: p === 4 ? 0xdeadbeef : undefined,
        }),
      );
    }
  }
  // Torrent 9: completed once, then its only peer left: a retired count.
  await store.announce(
    storeAnnounce({ infoHash: hash(9), peerId: id(9), event: 'completed', seeder: true, ipv4: ep4(9) }),
  );
  await store.announce(storeAnnounce({ infoHash: hash(9), peerId: id(9), event: 'stopped', ipv4: ep4(9) }));
}

describe('memory store state file', () => {
  it('round trip: swarms, peers (ids, endpoints, keys, seeders, completed), counts and retired counts come back', async () => {
    const file = freshFile();
    const a = open(file, T0);
    await populate(a);
    const before = await a.totals();
    const scrapeBefore = await a.scrape([hash(1), hash(2), hash(3), hash(9)]);
    const peersBefore = await Promise.all([1, 2, 3].map((t) => peersOf(a, hash(t))));
    await a.close();
    assert.ok(existsSync(file));
    assert.ok(!existsSync(tempPathFor(file)), 'no temporary file after a save');

    const lines: string[] = [];
    const b = open(file, T0 + 1000, { log: (l) => lines.push(l) });
    assert.deepEqual(lines, []);
    assert.equal(b.restored?.torrents, 3);
    assert.equal(b.restored?.peers, 15);
    assert.equal(b.restored?.expired, 0);
    assert.deepEqual(await b.totals(), before);
    assert.deepEqual(await b.scrape([hash(1), hash(2), hash(3), hash(9)]), scrapeBefore);
    assert.equal(scrapeBefore[3]?.downloaded, 1, 'the retired count was there to save');
    for (const t of [1, 2, 3]) assert.deepEqual(await peersOf(b, hash(t)), peersBefore[t - 1]);

    // The key still guards the peer: another address without the key is refused.
    const hijack = await b.announce(storeAnnounce({ infoHash: hash(1), peerId: id(104), ipv4: ep4(999) }));
    assert.equal(hijack.status, 'key-mismatch');
    // A repeated `completed` of a peer already counted is not counted again.
    const again = await b.announce(
      storeAnnounce({ infoHash: hash(1), peerId: id(101), event: 'completed', seeder: true, ipv4: ep4(101) }),
    );
    assert.equal(again.downloaded, 1);
    // The loaded tables serve announces: a new peer gets the old ones.
    const fresh = await b.announce(storeAnnounce({ infoHash: hash(2), peerId: id(7777), ipv4: ep4(7777) }));
    assert.equal(fresh.peers4.length / 6, 4, 'the four IPv4 peers of torrent 2');
    await b.close();
  });

  it('drops peers whose TTL ran out while the tracker was down, and torrents left empty (keeping their downloaded count)', async () => {
    const file = freshFile();
    let clock = T0;
    const a = new MemoryStore({ peerTtlMs: TTL, now: () => clock, backgroundSweep: false, stateFile: file });
    await a.announce(storeAnnounce({ infoHash: hash(1), peerId: id(1), ipv4: ep4(1) }));
    await a.announce(
      storeAnnounce({ infoHash: hash(2), peerId: id(2), event: 'completed', seeder: true, ipv4: ep4(2) }),
    );
    clock = T0 + 500_000;
    await a.announce(storeAnnounce({ infoHash: hash(1), peerId: id(3), ipv4: ep4(3) }));
    await a.close();

    // T0 + TTL: the peers seen at T0 are past their TTL (as the store prunes: last seen + TTL <= now).
    const b = open(file, T0 + TTL);
    assert.equal(b.restored?.expired, 2);
    assert.equal(b.restored?.peers, 1);
    assert.deepEqual(await b.scrape([hash(1), hash(2)]), [
      { complete: 0, incomplete: 1, downloaded: 0 },
      { complete: 0, incomplete: 0, downloaded: 1 },
    ]);
    const totals = await b.totals();
    assert.equal(totals.torrents, 1);
    assert.equal(totals.peers, 1);
    assert.deepEqual(
      (await peersOf(b, hash(1))).map((p) => p.peerId),
      [id(3)],
    );
    await b.close();

    // Everything past its TTL: an empty store, nothing logged.
    const lines: string[] = [];
    const c = open(file, T0 + 10 * TTL, { log: (l) => lines.push(l) });
    assert.equal((await c.totals()).peers, 0);
    assert.deepEqual(lines, []);
    await c.close();
  });

  it('a missing file is a first start: empty, nothing logged', async () => {
    const lines: string[] = [];
    const store = open(freshFile(), T0, { log: (l) => lines.push(l) });
    assert.equal(store.restored, undefined);
    assert.equal((await store.totals()).torrents, 0);
    assert.deepEqual(lines, []);
    await store.close();
  });

  it('a corrupt, truncated or foreign-version file is one log line and an empty store that serves', async () => {
    const file = freshFile();
    const a = open(file, T0);
    await populate(a);
    await a.close();
    const good = readFileSync(file);

    const wrongVersion = Buffer.from(good);
    wrongVersion.writeUInt32LE(STATE_VERSION + 1, 4);
    const flipped = Buffer.from(good);
    const middle = Math.floor(good.length / 2);
    flipped[middle] = (flipped[middle] as number) ^ 0x40;
    const cases: Array<[string, Buffer, RegExp]> = [
      ['random bytes', randomBytes(4096), /bad magic/],
      ['empty', Buffer.alloc(0), /too short/],
      ['truncated by a byte', good.subarray(0, good.length - 1), /checksum/],
      ['cut in half', good.subarray(0, good.length >> 1), /checksum/],
      ['header only', good.subarray(0, 16), /too short/],
      ['wrong version', wrongVersion, /version 2/],
      ['one bit flipped', flipped, /checksum/],
    ];
    for (const [name, bytes, reason] of cases) {
      writeFileSync(file, bytes);
      const lines: string[] = [];
      const store = open(file, T0 + 1000, { log: (l) => lines.push(l) });
      assert.equal(lines.length, 1, `${name}: one line`);
      assert.match(lines[0] as string, /state file .* ignored, starting empty/, name);
      assert.match(lines[0] as string, reason, name);
      assert.equal(store.restored, undefined, name);
      assert.deepEqual(await store.totals(), {
        torrents: 0,
        peers: 0,
        seeders: 0,
        leechers: 0,
        peers4: 0,
        peers6: 0,
        downloaded: 0,
      });
      assert.deepEqual(await store.scrape([hash(9)]), [{ complete: 0, incomplete: 0, downloaded: 0 }], name);
      const r = await store.announce(storeAnnounce({ infoHash: hash(1), peerId: id(1), ipv4: ep4(1) }));
      assert.equal(r.incomplete, 1, `${name}: serves`);
      // Closing saves a good file over the bad one.
      await store.close();
      assert.doesNotThrow(() => decodeState(readFileSync(file), { torrent() {}, peer() {}, retired() {} }));
    }
  });

  it('decodeState refuses before visiting anything when the digest does not match', () => {
    let visited = 0;
    const v = { torrent: () => visited++, peer: () => visited++, retired: () => visited++ };
    assert.throws(() => decodeState(Buffer.concat([Buffer.from('BSSF'), Buffer.alloc(60)]), v), StateFileError);
    assert.equal(visited, 0);
  });

  it('a temporary file left by a crashed save is removed at start and never read', async () => {
    const file = freshFile();
    const a = open(file, T0);
    await a.announce(storeAnnounce({ infoHash: hash(1), peerId: id(1), ipv4: ep4(1) }));
    await a.close();
    writeFileSync(tempPathFor(file), randomBytes(1000)); // a save that died half way
    const lines: string[] = [];
    const b = open(file, T0 + 1000, { log: (l) => lines.push(l) });
    assert.ok(!existsSync(tempPathFor(file)), 'the leftover is gone');
    assert.deepEqual(lines, []);
    assert.equal((await b.totals()).peers, 1, 'the target was read, not the leftover');
    await b.close();

    // A leftover and no state file: a first start.
    const other = freshFile();
    writeFileSync(tempPathFor(other), randomBytes(100));
    const otherLines: string[] = [];
    const c = open(other, T0, { log: (l) => otherLines.push(l) });
    assert.equal(c.restored, undefined);
    assert.ok(!existsSync(tempPathFor(other)));
    assert.deepEqual(otherLines, []);
    await c.close();
  });

  it('while a save is under way the target is the previous complete file, and announces keep being served', async () => {
    const file = freshFile();
    const store = open(file, T0);
    // About 60,000 peers: some 2 MiB, so the save writes several chunks and yields between them.
    for (let t = 0; t < 600; t++) {
      for (let p = 0; p < 100; p++) {
        await store.announce(storeAnnounce({ infoHash: hash1(t), peerId: id(p), ipv4: ep4(p), numWant: 0 }));
      }
    }
    await store.saveState();
    const previous = readFileSync(file);
    const summary = decodeState(previous, { torrent() {}, peer() {}, retired() {} });
    assert.equal(summary.peers, 60_000);

    // Announce new torrents while the next save runs; check the target between its chunks.
    const saving = store.saveState();
    let done = false;
    saving.then(
      () => {
        done = true;
      },
      () => {
        done = true;
      },
    );
    let checks = 0;
    let untouched = 0;
    let served = 0;
    while (!done) {
      // The old complete file until the rename, the new complete one after it; never anything between.
      const target = readFileSync(file);
      if (target.equals(previous)) untouched++;
      else assert.doesNotThrow(() => decodeState(target, { torrent() {}, peer() {}, retired() {} }));
      const r = await store.announce(
        storeAnnounce({ infoHash: hash1(10_000 + served), peerId: id(1), ipv4: ep4(1), numWant: 0 }),
      );
      assert.equal(r.status, 'ok');
      served++;
      checks++;
      await new Promise((resolve) => setImmediate(resolve));
    }
    const saved = await saving;
    assert.ok(checks > 1 && untouched > 1, 'the save yielded to the event loop, the old file in place meanwhile');
    assert.ok(!existsSync(tempPathFor(file)), 'no temporary file after a save');
    const after = decodeState(readFileSync(file), { torrent() {}, peer() {}, retired() {} });
    assert.equal(after.torrents, saved.torrents);
    assert.ok(after.peers >= 60_000, 'every peer present when the save began is in the file');
    await store.close();
    const reloaded = open(file, T0 + 1000);
    assert.equal((await reloaded.totals()).peers, 60_000 + served);
    await reloaded.close();
  });

  it('saves every stateIntervalMs', async () => {
    const file = freshFile();
    const store = open(file, T0, { stateIntervalMs: 20 });
    await store.announce(storeAnnounce({ infoHash: hash(1), peerId: id(1), ipv4: ep4(1) }));
    // Bounded wait for the timer's save: no assertion on how soon it came.
    let peers = 0;
    for (let i = 0; i < 500 && peers === 0; i++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      if (existsSync(file)) peers = decodeState(readFileSync(file), { torrent() {}, peer() {}, retired() {} }).peers;
    }
    assert.equal(peers, 1, 'a periodic save wrote the peer');
    assert.equal(store.restored, undefined);
    await store.close();
  });

  it('a save that cannot write rejects, leaves no temporary file, and close() reports it', async () => {
    const file = join(dir, 'no-such-dir', 'state.bin');
    const lines: string[] = [];
    const store = open(file, T0, { log: (l) => lines.push(l) });
    await store.announce(storeAnnounce({ infoHash: hash(1), peerId: id(1), ipv4: ep4(1) }));
    await assert.rejects(store.saveState(), /ENOENT/);
    await assert.rejects(store.close(), /ENOENT/);
  });

  it('a save whose rename fails removes its temporary file', async () => {
    // The target is a directory: the temporary file is written, the rename over it fails.
    const target = join(dir, 'a-directory');
    mkdirSync(target);
    const store = open(target, T0, { log: () => {} });
    await store.announce(storeAnnounce({ infoHash: hash(1), peerId: id(1), ipv4: ep4(1) }));
    await assert.rejects(store.saveState());
    assert.ok(!existsSync(tempPathFor(target)), 'no temporary file left behind');
    await assert.rejects(store.close());
  });

  it('--state-file is refused with Redis', () => {
    const config = (o: Partial<TrackerConfig>): TrackerConfig => ({ ...DEFAULTS, ...o }) as TrackerConfig;
    assert.throws(
      () => validateConfig(config({ stateFile: 's.bin', redisUrl: 'redis://127.0.0.1:6379' })),
      (err: unknown) => err instanceof ConfigError && /--state-file is for the memory store/.test(err.message),
    );
    assert.throws(
      () => validateConfig(config({ stateFile: 's.bin', redisCluster: ['redis://127.0.0.1:7000'] })),
      ConfigError,
    );
    assert.doesNotThrow(() => validateConfig(config({ stateFile: 's.bin' })));
  });
});

/** Distinct info hashes beyond 255. */
function hash1(n: number): Buffer {
  const h = Buffer.alloc(20, 0xaa);
  h.writeUInt32BE(n, 0);
  return h;
}

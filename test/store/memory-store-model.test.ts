import assert from 'node:assert/strict';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { it } from 'node:test';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { smallTableChunks } from '../../src/store/memory/peer-table.js';
import { readSharedTorrents } from '../../src/store/shared-torrent-rows.js';
import type { StoreAnnounce, StoreAnnounceResult } from '../../src/store/swarm-store.js';
import { storeAnnounce } from '../helpers/store-announce.js';

/**
 * The memory store against a model of what a tracker means (a Map of
 * torrents, each a Map of peers), over random runs of announces, clock
 * steps, scrapes, scans and sweep slices on a few torrents and peers. Few,
 * so that torrents keep moving between one inline peer, a small swarm (a
 * second peer) and a PeerTable (a ninth peer, an IPv6 endpoint) and back, and
 * between live, expired and dropped; every answer is checked as it comes.
 */

const TTL = 10_000;
const TORRENTS = 4;
const PEERS = 10;

interface ModelPeer {
  seeder: boolean;
  ep4: string | null;
  ep6: string | null;
  key: number | undefined;
  completed: boolean;
  lastSeen: number;
}

/** xorshift32: runs that fail can be replayed from their seed. */
function prng(seed: number): (n: number) => number {
  let s = seed | 0 || 1;
  return (n) => {
    s ^= s << 13;
    s ^= s >>> 17;
    s ^= s << 5;
    return (s >>> 0) % n;
  };
}

const hashOf = (t: number): Buffer => Buffer.alloc(20, 0x80 + t);
const idOf = (p: number): Buffer => Buffer.alloc(20, 0x10 + p);
const v4 = (p: number, port: number): Buffer => Buffer.from([10, 0, 0, p, port >> 8, port & 0xff]);
const v6 = (p: number, port: number): Buffer => {
  const b = Buffer.alloc(18);
  b[0] = 0x20;
  b[15] = p;
  b.writeUInt16BE(port, 16);
  return b;
};

class Model {
  readonly torrents = new Map<number, Map<number, ModelPeer>>();
  /** Downloaded counts by torrent; the store keeps them across drops (downloadedTtlMs is longer than any run). */
  readonly downloaded = new Map<number, number>();

  prune(t: number, now: number): Map<number, ModelPeer> {
    const peers = this.torrents.get(t) ?? new Map<number, ModelPeer>();
    for (const [p, peer] of peers) if (peer.lastSeen <= now - TTL) peers.delete(p);
    return peers;
  }

  counts(t: number, now: number): { complete: number; incomplete: number; downloaded: number } {
    const peers = [...this.prune(t, now).values()];
    const complete = peers.filter((p) => p.seeder).length;
    return { complete, incomplete: peers.length - complete, downloaded: this.downloaded.get(t) ?? 0 };
  }

  /** Applies an announce; returns the status and the endpoints the requester must get (all candidates). */
  announce(
    t: number,
    p: number,
    req: StoreAnnounce,
    now: number,
  ): { status: string; want4: string[]; want6: string[] } {
    const peers = this.prune(t, now);
    const peer = peers.get(p);
    if (peer && peer.key !== undefined && req.key !== peer.key) {
      const same =
        (req.ipv4 !== null && peer.ep4 !== null && peer.ep4.slice(0, 8) === req.ipv4.toString('hex').slice(0, 8)) ||
        (req.ipv6 !== null && peer.ep6 !== null && peer.ep6.slice(0, 32) === req.ipv6.toString('hex').slice(0, 32));
      if (!same) return { status: 'key-mismatch', want4: [], want6: [] };
    }
    if (req.event === 'stopped') {
      peers.delete(p);
      if (peers.size === 0) this.torrents.delete(t);
      return { status: 'ok', want4: [], want6: [] };
    }
    this.torrents.set(t, peers);
    const entry: ModelPeer = peer ?? {
      seeder: false,
      ep4: null,
      ep6: null,
      key: undefined,
      completed: false,
      lastSeen: now,
    };
    entry.seeder = req.seeder;
    entry.lastSeen = now;
    if (req.ipv4) entry.ep4 = req.ipv4.toString('hex');
    if (req.ipv6) entry.ep6 = req.ipv6.toString('hex');
    if (req.key !== undefined) entry.key = req.key;
    if (req.event === 'completed' && !entry.completed) {
      entry.completed = true;
      this.downloaded.set(t, (this.downloaded.get(t) ?? 0) + 1);
    }
    peers.set(p, entry);
    const others = [...peers].filter(([q, other]) => q !== p && (!req.seeder || !other.seeder)).map(([, o]) => o);
    return {
      status: 'ok',
      want4: others.flatMap((o) => (req.want4 && o.ep4 ? [o.ep4] : [])).sort(),
      want6: others.flatMap((o) => (req.want6 && o.ep6 ? [o.ep6] : [])).sort(),
    };
  }
}

type Counts = { complete: number; incomplete: number; downloaded: number };

/** Each torrent's counts as readSharedTorrents() gives them, by hex info hash, sorted. */
function sharedCounts(store: MemoryStore): Map<string, Counts> {
  const out = new Map<string, Counts>();
  readSharedTorrents(store.sharedTorrents(), (bytes, at, complete, incomplete, downloaded) => {
    const key = Buffer.from(bytes.subarray(at, at + 20)).toString('hex');
    assert.ok(!out.has(key), `${key} read twice`);
    out.set(key, { complete, incomplete, downloaded });
  });
  return new Map([...out].sort());
}

function entries(buf: Buffer, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= buf.length; i += size) out.push(buf.subarray(i, i + size).toString('hex'));
  return out.sort();
}

async function run(seed: number, steps: number, dir: string): Promise<void> {
  const rand = prng(seed);
  let clock = 1_700_000_000_000;
  const now = (): number => clock;
  const file = join(dir, `model-${seed}.state`);
  const chunksBefore = smallTableChunks().inUse;
  const store = new MemoryStore({ peerTtlMs: TTL, now, backgroundSweep: false, stateFile: file });
  const model = new Model();
  const where = (step: number, what: string): string => `seed ${seed}, step ${step}: ${what}`;

  for (let step = 0; step < steps; step++) {
    const op = rand(100);
    if (op < 70) {
      const t = rand(TORRENTS);
      const p = rand(PEERS);
      // Even seeds: mostly IPv4, some IPv6, some both. Odd seeds: IPv4 but for one announce in 50, so small swarms last.
      const family = seed % 2 === 0 || rand(50) === 0 ? rand(10) : 0;
      const port = 1000 + rand(3);
      const events = ['update', 'update', 'started', 'completed', 'stopped'] as const;
      const req = storeAnnounce({
        infoHash: hashOf(t),
        peerId: idOf(p),
        event: events[rand(events.length)] as StoreAnnounce['event'],
        seeder: rand(3) === 0,
        ipv4: family < 8 ? v4(p, port) : null,
        ipv6: family >= 7 ? v6(p, port) : null,
        key: rand(4) === 0 ? rand(2) : undefined,
        numWant: rand(4) === 0 ? 0 : 50,
        want6: rand(5) !== 0,
      });
      const expected = model.announce(t, p, req, clock);
      const got: StoreAnnounceResult = await store.announce(req);
      assert.equal(got.status, expected.status, where(step, 'status'));
      if (expected.status === 'ok' && req.event !== 'stopped') {
        assert.deepEqual(
          { complete: got.complete, incomplete: got.incomplete, downloaded: got.downloaded },
          model.counts(t, clock),
          where(step, 'counts'),
        );
        if (req.numWant > 0) {
          assert.deepEqual(entries(got.peers4, 6), expected.want4, where(step, 'IPv4 peers'));
          assert.deepEqual(entries(got.peers6, 18), expected.want6, where(step, 'IPv6 peers'));
        }
      }
    } else if (op < 82) {
      clock += rand(TTL / 2);
    } else if (op < 90) {
      const t = rand(TORRENTS);
      const [counts] = await store.scrape([hashOf(t)]);
      assert.deepEqual(counts, model.counts(t, clock), where(step, `scrape of torrent ${t}`));
    } else if (op < 95) {
      store.sweep(1 + rand(3));
    } else {
      // A whole scan, page by page: every torrent with live peers once, with its counts.
      const seen = new Map<string, { complete: number; incomplete: number; downloaded: number }>();
      let cursor = '0';
      do {
        const page = await store.scanTorrents(cursor, 1 + rand(3));
        for (const s of page.torrents) {
          const { complete, incomplete, downloaded } = s;
          assert.ok(!seen.has(s.infoHash.toString('hex')), where(step, 'a torrent scanned twice'));
          seen.set(s.infoHash.toString('hex'), { complete, incomplete, downloaded });
        }
        cursor = page.cursor;
      } while (cursor !== '0');
      const expected = new Map<string, { complete: number; incomplete: number; downloaded: number }>();
      for (let t = 0; t < TORRENTS; t++) {
        const c = model.counts(t, clock);
        if (c.complete + c.incomplete > 0) expected.set(hashOf(t).toString('hex'), c);
      }
      assert.deepEqual(new Map([...seen].sort()), new Map([...expected].sort()), where(step, 'scan'));
      // The same torrents as another thread reads them in shared memory (the scan has pruned every swarm).
      assert.deepEqual(sharedCounts(store), new Map([...expected].sort()), where(step, 'shared rows'));
      // Every small swarm holds one run of 2 to 8 slots: runs not given back would show here.
      const forms = store.swarmForms();
      assert.ok(forms.smallSlots >= 2 * forms.small && forms.smallSlots <= 8 * forms.small, where(step, 'small runs'));
    }
  }

  // Totals are exact once a full sweep has pruned every table.
  store.sweep();
  const totals = await store.totals();
  let peers = 0;
  let seeders = 0;
  let peers4 = 0;
  let peers6 = 0;
  let torrents = 0;
  let downloaded = 0;
  for (let t = 0; t < TORRENTS; t++) {
    const live = [...model.prune(t, clock).values()];
    if (live.length === 0) continue;
    torrents++;
    peers += live.length;
    seeders += live.filter((p) => p.seeder).length;
    peers4 += live.filter((p) => p.ep4).length;
    peers6 += live.filter((p) => p.ep6).length;
    downloaded += model.downloaded.get(t) ?? 0;
  }
  assert.deepEqual(
    totals,
    { torrents, peers, seeders, leechers: peers - seeders, peers4, peers6, downloaded },
    `seed ${seed}: totals`,
  );

  // The state file brings back the same swarms: counts, and each torrent's peers with their endpoints.
  await store.close();
  const loaded = new MemoryStore({ peerTtlMs: TTL, now, backgroundSweep: false, stateFile: file });
  assert.deepEqual(await loaded.totals(), totals, `seed ${seed}: totals after a load`);
  const live = new Map<string, Counts>();
  for (let t = 0; t < TORRENTS; t++) {
    const c = model.counts(t, clock);
    if (c.complete + c.incomplete > 0) live.set(hashOf(t).toString('hex'), c);
  }
  assert.deepEqual(sharedCounts(loaded), new Map([...live].sort()), `seed ${seed}: shared rows after a load`);
  for (let t = 0; t < TORRENTS; t++) {
    const [counts] = await loaded.scrape([hashOf(t)]);
    assert.deepEqual(counts, model.counts(t, clock), `seed ${seed}: torrent ${t} after a load`);
    const listed = (await loaded.torrentPeers(hashOf(t), 100))
      .map((p) => `${p.peerId.toString('hex')} ${p.seeder} ${p.ipv4?.toString('hex')} ${p.ipv6?.toString('hex')}`)
      .sort();
    const expected = [...model.prune(t, clock)]
      .map(([p, m]) => `${idOf(p).toString('hex')} ${m.seeder} ${m.ep4 ?? undefined} ${m.ep6 ?? undefined}`)
      .sort();
    assert.deepEqual(listed, expected, `seed ${seed}: peers of torrent ${t} after a load`);
  }

  // Once every peer has expired, both stores have given back every slab chunk and small swarm run they took.
  clock += TTL;
  store.sweep();
  loaded.sweep();
  assert.equal(store.heldTorrents + loaded.heldTorrents, 0, `seed ${seed}: torrents left after expiry`);
  assert.equal(smallTableChunks().inUse, chunksBefore, `seed ${seed}: slab chunks not given back`);
  assert.equal(store.swarmForms().smallSlots, 0, `seed ${seed}: small swarm runs not given back`);
  assert.equal(loaded.swarmForms().smallSlots, 0, `seed ${seed}: small swarm runs not given back after a load`);
  await loaded.close();
}

it('memory store: random announces, expiry, sweeps, scans and a state file agree with a model', async () => {
  const dir = mkdtempSync(join(tmpdir(), 'bitstorm-model-'));
  try {
    for (let seed = 1; seed <= 200; seed++) await run(seed, 500, dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { AccountAnnounce } from '../../src/store/account-store.js';
import type { StoreAnnounce, StoreOptions, SwarmStore } from '../../src/store/swarm-store.js';
import type { RelayedMessage, WebRtcAnnounce } from '../../src/store/webrtc-store.js';
import { storeAnnounce } from '../helpers/store-announce.js';

/**
 * The store contract (src/store/swarm-store.ts), checked for every store.
 * `makeStore` is called once per test and must return a store with a fresh,
 * empty keyspace (e.g. a unique key prefix) driven by the given clock.
 */
export type StoreFactory = (options: StoreOptions) => Promise<SwarmStore>;

const TTL_MS = 60_000;

interface Harness {
  store: SwarmStore;
  /** Moves the injected clock forward. */
  advance(ms: number): void;
}

function hash(n: number): Buffer {
  const b = Buffer.alloc(20, 0xa5);
  b.writeUInt32BE(n, 0);
  b[19] = 0xff; // a byte >= 0x80 in every hash: stores must be binary-safe
  return b;
}

function peerId(n: number): Buffer {
  const b = Buffer.from('-BS0001-000000000000', 'latin1');
  b.writeUInt32BE(n, 16);
  return b;
}

function v4(n: number, port = 6881): Buffer {
  return Buffer.from([10, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, port >> 8, port & 0xff]);
}

function v6(n: number, port = 6881): Buffer {
  const b = Buffer.alloc(18);
  b.writeUInt16BE(0x2001, 0);
  b.writeUInt16BE(0x0db8, 2);
  b.writeUInt32BE(n, 12);
  b.writeUInt16BE(port, 16);
  return b;
}

function req(infoHash: Buffer, n: number, over: Partial<StoreAnnounce> = {}): StoreAnnounce {
  return storeAnnounce({ infoHash, peerId: peerId(n), ipv4: v4(n), ...over });
}

function entries(buf: Buffer, size: number): string[] {
  const out: string[] = [];
  for (let i = 0; i + size <= buf.length; i += size) out.push(buf.subarray(i, i + size).toString('hex'));
  return out;
}

export function runStoreConformance(name: string, makeStore: StoreFactory): void {
  describe(`store conformance: ${name}`, () => {
    const open: SwarmStore[] = [];
    after(async () => {
      for (const s of open) await s.close();
    });

    async function harness(): Promise<Harness> {
      let clock = 1_700_000_000_000;
      const store = await makeStore({ peerTtlMs: TTL_MS, now: () => clock });
      open.push(store);
      return { store, advance: (ms) => (clock += ms) };
    }

    it('counts a new leecher and never returns the requester to itself', async () => {
      const { store } = await harness();
      const r = await store.announce(req(hash(1), 1, { event: 'started' }));
      assert.equal(r.status, 'ok');
      assert.equal(r.complete, 0);
      assert.equal(r.incomplete, 1);
      assert.equal(r.peers4.length, 0);
      assert.equal(r.peers6.length, 0);
    });

    it('returns other peers in compact form, both ways', async () => {
      const { store } = await harness();
      const h = hash(2);
      await store.announce(req(h, 1, { event: 'started' }));
      const second = await store.announce(req(h, 2, { event: 'started' }));
      assert.deepEqual(entries(second.peers4, 6), [v4(1).toString('hex')]);
      const first = await store.announce(req(h, 1));
      assert.deepEqual(entries(first.peers4, 6), [v4(2).toString('hex')]);
      assert.equal(first.incomplete, 2);
    });

    it('gives a seeder only leechers, and a leecher both', async () => {
      const { store } = await harness();
      const h = hash(3);
      for (let n = 1; n <= 3; n++) await store.announce(req(h, n, { seeder: true }));
      for (let n = 4; n <= 5; n++) await store.announce(req(h, n));
      const seeder = await store.announce(req(h, 1, { seeder: true }));
      assert.deepEqual(entries(seeder.peers4, 6).sort(), [v4(4), v4(5)].map((b) => b.toString('hex')).sort());
      assert.equal(seeder.complete, 3);
      assert.equal(seeder.incomplete, 2);
      const leecher = await store.announce(req(h, 4));
      assert.deepEqual(
        entries(leecher.peers4, 6).sort(),
        [v4(1), v4(2), v4(3), v4(5)].map((b) => b.toString('hex')).sort(),
      );
    });

    it('caps the sample at numWant, without duplicates or the requester, and samples at random', async () => {
      const { store } = await harness();
      const h = hash(4);
      for (let n = 1; n <= 40; n++) await store.announce(req(h, n));
      const seen = new Set<string>();
      for (let i = 0; i < 8; i++) {
        const r = await store.announce(req(h, 1, { numWant: 10 }));
        const list = entries(r.peers4, 6);
        assert.equal(list.length, 10);
        assert.equal(new Set(list).size, 10, 'no duplicates');
        assert.ok(!list.includes(v4(1).toString('hex')), 'never the requester');
        for (const e of list) seen.add(e);
      }
      assert.ok(seen.size > 15, `8 samples of 10 from 39 peers should not all be the same (saw ${seen.size})`);
    });

    it('fills each family up to numWant on its own', async () => {
      const { store } = await harness();
      const h = hash(20);
      for (let n = 1; n <= 6; n++) await store.announce(req(h, n, { ipv6: v6(n) }));
      for (let n = 7; n <= 9; n++) await store.announce(req(h, n, { ipv4: null, ipv6: v6(n) }));
      const r = await store.announce(req(h, 10, { numWant: 4 }));
      assert.equal(entries(r.peers4, 6).length, 4);
      assert.equal(entries(r.peers6, 18).length, 4);
      const all = await store.announce(req(h, 10, { numWant: 50 }));
      assert.equal(entries(all.peers4, 6).length, 6);
      assert.equal(entries(all.peers6, 18).length, 9);
    });

    it('returns counts only for numWant 0', async () => {
      const { store } = await harness();
      const h = hash(5);
      await store.announce(req(h, 1));
      const r = await store.announce(req(h, 2, { numWant: 0 }));
      assert.equal(r.peers4.length + r.peers6.length, 0);
      assert.equal(r.incomplete, 2);
    });

    it('removes a stopped peer; stopping an unknown peer changes nothing', async () => {
      const { store } = await harness();
      const h = hash(6);
      await store.announce(req(h, 1));
      await store.announce(req(h, 2));
      const stopped = await store.announce(req(h, 1, { event: 'stopped' }));
      assert.equal(stopped.status, 'ok');
      assert.equal(stopped.incomplete, 1);
      assert.equal(stopped.peers4.length, 0, 'a stopping peer needs no peers');
      const other = await store.announce(req(h, 2));
      assert.equal(other.peers4.length, 0);
      const unknown = await store.announce(req(h, 99, { event: 'stopped' }));
      assert.equal(unknown.incomplete, 1);
      const [counts] = await store.scrape([h]);
      assert.deepEqual(counts, { complete: 0, incomplete: 1, downloaded: 0 });
    });

    it('counts completed once per peer and moves the peer to the seeders', async () => {
      const { store } = await harness();
      const h = hash(7);
      await store.announce(req(h, 1, { event: 'started' }));
      await store.announce(req(h, 2, { event: 'started' }));
      const done = await store.announce(req(h, 1, { event: 'completed', seeder: true }));
      assert.equal(done.downloaded, 1);
      assert.equal(done.complete, 1);
      assert.equal(done.incomplete, 1);
      const again = await store.announce(req(h, 1, { event: 'completed', seeder: true }));
      assert.equal(again.downloaded, 1, 'a repeated completed is not counted again');
      const other = await store.announce(req(h, 2, { event: 'completed', seeder: true }));
      assert.equal(other.downloaded, 2);
      assert.equal(other.complete, 2);
      assert.equal(other.incomplete, 0);
    });

    it('keeps the downloaded count when the last peer leaves and the torrent comes back', async () => {
      const { store } = await harness();
      const h = hash(30);
      await store.announce(req(h, 1, { event: 'completed', seeder: true }));
      await store.announce(req(h, 2, { event: 'completed', seeder: true }));
      await store.announce(req(h, 1, { event: 'stopped', seeder: true }));
      await store.announce(req(h, 2, { event: 'stopped', seeder: true }));
      assert.deepEqual(await store.scrape([h]), [{ complete: 0, incomplete: 0, downloaded: 2 }]);
      const back = await store.announce(req(h, 3, { event: 'started' }));
      assert.deepEqual([back.complete, back.incomplete, back.downloaded], [0, 1, 2]);
    });

    it('moves a peer between seeders and leechers without double counting', async () => {
      const { store } = await harness();
      const h = hash(8);
      await store.announce(req(h, 1));
      let r = await store.announce(req(h, 1, { seeder: true }));
      assert.deepEqual([r.complete, r.incomplete], [1, 0]);
      r = await store.announce(req(h, 1, { seeder: false }));
      assert.deepEqual([r.complete, r.incomplete], [0, 1]);
    });

    it('a torrent that grows from one peer to many and back keeps the last peer whole (key, completed, endpoint, seeder)', async () => {
      const { store } = await harness();
      const h = hash(40);
      await store.announce(req(h, 1, { event: 'completed', seeder: true, key: 0x77 }));
      for (let n = 2; n <= 12; n++) await store.announce(req(h, n));
      let r = await store.announce(req(h, 13, { numWant: 0 }));
      assert.deepEqual([r.complete, r.incomplete, r.downloaded], [1, 12, 1]);
      for (let n = 2; n <= 13; n++) await store.announce(req(h, n, { event: 'stopped' }));
      const [one] = await store.scrape([h]);
      assert.deepEqual(one, { complete: 1, incomplete: 0, downloaded: 1 });
      const hijack = await store.announce(req(h, 1, { key: 0x78, ipv4: v4(900) }));
      assert.equal(hijack.status, 'key-mismatch', 'the key survived the way back');
      const again = await store.announce(req(h, 1, { event: 'completed', seeder: true, key: 0x77 }));
      assert.equal(again.downloaded, 1, 'so did the completed mark');
      r = await store.announce(req(h, 14));
      assert.deepEqual(entries(r.peers4, 6), [v4(1).toString('hex')], 'and the endpoint');
      assert.deepEqual([r.complete, r.incomplete], [1, 1]);
      const peers = await store.torrentPeers(h, 10);
      assert.deepEqual(peers.map((p) => [p.peerId.toString('hex'), p.seeder]).sort(), [
        [peerId(1).toString('hex'), true],
        [peerId(14).toString('hex'), false],
      ]);
      await store.announce(req(h, 14, { event: 'stopped' }));
      await store.announce(req(h, 1, { event: 'stopped', key: 0x77 }));
      assert.deepEqual(await store.scrape([h]), [{ complete: 0, incomplete: 0, downloaded: 1 }]);
      assert.equal((await store.totals()).torrents, 0);
    });

    it('samples by the same rules at every swarm size', async () => {
      const { store } = await harness();
      for (const size of [1, 2, 3, 5, 40]) {
        const h = hash(1000 + size);
        // Peers 1..size; the odd ones seed.
        for (let n = 1; n <= size; n++) await store.announce(req(h, n, { seeder: n % 2 === 1, numWant: 0 }));
        const seeders = Math.ceil(size / 2);
        for (const [who, seeder] of [
          [1, true],
          [size + 1, false],
          [size + 2, true],
        ] as const) {
          const r = await store.announce(req(h, who, { seeder, numWant: 25 }));
          const got = entries(r.peers4, 6);
          const candidates: string[] = [];
          for (let n = 1; n <= size; n++) {
            if (n !== who && (!seeder || n % 2 === 0)) candidates.push(v4(n).toString('hex'));
          }
          assert.equal(got.length, Math.min(25, candidates.length), `size ${size}, peer ${who}`);
          assert.equal(new Set(got).size, got.length, `size ${size}: no duplicates`);
          for (const e of got) assert.ok(candidates.includes(e), `size ${size}, peer ${who}: ${e} is a candidate`);
          await store.announce(req(h, who, { event: 'stopped', seeder }));
          const [counts] = await store.scrape([h]);
          assert.deepEqual([counts?.complete, counts?.incomplete], [seeders - (who === 1 ? 1 : 0), size - seeders]);
          if (who === 1) await store.announce(req(h, 1, { seeder: true, numWant: 0 }));
        }
      }
    });

    it('never returns, counts or scrapes a peer after its TTL', async () => {
      const h = hash(9);
      const { store, advance } = await harness();
      await store.announce(req(h, 1, { seeder: true }));
      advance(TTL_MS / 2);
      await store.announce(req(h, 2));
      advance(TTL_MS / 2 + 1); // peer 1 is now past its TTL, peer 2 is not
      const r = await store.announce(req(h, 3));
      assert.deepEqual(entries(r.peers4, 6), [v4(2).toString('hex')]);
      assert.equal(r.complete, 0);
      assert.equal(r.incomplete, 2);
      const [counts] = await store.scrape([h]);
      assert.equal(counts?.complete, 0);
      assert.equal(counts?.incomplete, 2);
    });

    it('keeps a peer alive while it re-announces', async () => {
      const h = hash(10);
      const { store, advance } = await harness();
      await store.announce(req(h, 1));
      for (let i = 0; i < 4; i++) {
        advance(TTL_MS * 0.75);
        await store.announce(req(h, 1));
      }
      const r = await store.announce(req(h, 2));
      assert.deepEqual(entries(r.peers4, 6), [v4(1).toString('hex')]);
    });

    it('drops a torrent whose peers all expired from scans and totals', async () => {
      const { store, advance } = await harness();
      await store.announce(req(hash(11), 1));
      await store.announce(req(hash(12), 1));
      advance(TTL_MS / 2);
      await store.announce(req(hash(12), 1));
      advance(TTL_MS / 2 + 1);
      const seen: string[] = [];
      let cursor = '0';
      do {
        const page = await store.scanTorrents(cursor, 10);
        for (const t of page.torrents) seen.push(t.infoHash.toString('hex'));
        cursor = page.cursor;
      } while (cursor !== '0');
      assert.deepEqual(seen, [hash(12).toString('hex')]);
      const totals = await store.totals();
      assert.equal(totals.torrents, 1);
      assert.equal(totals.peers, 1);
    });

    it('keeps IPv4 and IPv6 endpoints apart and returns only the families asked for', async () => {
      const { store } = await harness();
      const h = hash(13);
      await store.announce(req(h, 1, { ipv4: null, ipv6: v6(1) }));
      await store.announce(req(h, 2));
      const both = await store.announce(req(h, 3));
      assert.deepEqual(entries(both.peers6, 18), [v6(1).toString('hex')]);
      assert.deepEqual(entries(both.peers4, 6), [v4(2).toString('hex')]);
      const only4 = await store.announce(req(h, 3, { want6: false }));
      assert.equal(only4.peers6.length, 0);
      assert.deepEqual(entries(only4.peers4, 6), [v4(2).toString('hex')]);
      const only6 = await store.announce(req(h, 3, { want4: false }));
      assert.equal(only6.peers4.length, 0);
      assert.deepEqual(entries(only6.peers6, 18), [v6(1).toString('hex')]);
    });

    it('keeps both endpoints of a dual-stack peer that announces over each family', async () => {
      const { store } = await harness();
      const h = hash(14);
      await store.announce(req(h, 1, { ipv4: v4(1), ipv6: null }));
      await store.announce(req(h, 1, { ipv4: null, ipv6: v6(1) }));
      const r = await store.announce(req(h, 2));
      assert.deepEqual(entries(r.peers4, 6), [v4(1).toString('hex')]);
      assert.deepEqual(entries(r.peers6, 18), [v6(1).toString('hex')]);
      assert.equal(r.incomplete, 2, 'one peer, not two');
      const totals = await store.totals();
      assert.equal(totals.peers, 2);
      assert.equal(totals.peers4, 2);
      assert.equal(totals.peers6, 1);
    });

    it('refuses a peer id from another address with another key, and changes nothing', async () => {
      const { store } = await harness();
      const h = hash(15);
      await store.announce(req(h, 1, { key: 0x1234 }));
      const hijack = await store.announce(req(h, 1, { key: 0x9999, ipv4: v4(500), event: 'stopped' }));
      assert.equal(hijack.status, 'key-mismatch');
      const noKey = await store.announce(req(h, 1, { key: undefined, ipv4: v4(500) }));
      assert.equal(noKey.status, 'key-mismatch');
      let r = await store.announce(req(h, 2));
      assert.deepEqual(entries(r.peers4, 6), [v4(1).toString('hex')], 'the original endpoint is kept');
      const sameAddress = await store.announce(req(h, 1, { key: undefined }));
      assert.equal(sameAddress.status, 'ok', 'same address without key is the same client');
      const moved = await store.announce(req(h, 1, { key: 0x1234, ipv4: v4(500) }));
      assert.equal(moved.status, 'ok', 'the right key may move the peer');
      r = await store.announce(req(h, 2));
      assert.deepEqual(entries(r.peers4, 6), [v4(500).toString('hex')]);
    });

    it('returns peer ids aligned with endpoints when asked', async () => {
      const { store } = await harness();
      const h = hash(16);
      for (let n = 1; n <= 5; n++) await store.announce(req(h, n, n === 5 ? { ipv4: null, ipv6: v6(5) } : {}));
      const r = await store.announce(req(h, 9, { withPeerIds: true }));
      const ids4 = entries(r.peerIds4 ?? Buffer.alloc(0), 20);
      const ids6 = entries(r.peerIds6 ?? Buffer.alloc(0), 20);
      const eps4 = entries(r.peers4, 6);
      assert.equal(ids4.length, eps4.length);
      assert.equal(ids4.length, 4);
      for (let i = 0; i < eps4.length; i++) {
        const n = Buffer.from(eps4[i] as string, 'hex').readUInt16BE(2);
        assert.equal(ids4[i], peerId(n).toString('hex'));
      }
      assert.deepEqual(ids6, [peerId(5).toString('hex')]);
    });

    it('scrapes several torrents in order, unknown ones as zeros', async () => {
      const { store } = await harness();
      await store.announce(req(hash(17), 1, { seeder: true }));
      await store.announce(req(hash(17), 2));
      await store.announce(req(hash(18), 1, { event: 'completed', seeder: true }));
      const counts = await store.scrape([hash(18), hash(999), hash(17)]);
      assert.deepEqual(counts, [
        { complete: 1, incomplete: 0, downloaded: 1 },
        { complete: 0, incomplete: 0, downloaded: 0 },
        { complete: 1, incomplete: 1, downloaded: 0 },
      ]);
    });

    it('pages through every live torrent with scanTorrents and sums them in totals', async () => {
      const { store, advance } = await harness();
      const expected = new Map<string, number>();
      for (let t = 0; t < 25; t++) {
        advance(10);
        for (let n = 0; n <= t % 3; n++) await store.announce(req(hash(100 + t), n, { seeder: n === 0 }));
        expected.set(hash(100 + t).toString('hex'), (t % 3) + 1);
      }
      const seen = new Map<string, number>();
      let cursor = '0';
      let pages = 0;
      do {
        const page = await store.scanTorrents(cursor, 7);
        for (const t of page.torrents) {
          seen.set(t.infoHash.toString('hex'), t.complete + t.incomplete);
          assert.equal(t.complete, 1);
          assert.ok(t.lastAnnounce > 0);
        }
        cursor = page.cursor;
        assert.ok(++pages < 100, 'scan terminates');
      } while (cursor !== '0');
      assert.deepEqual(new Map([...seen].sort()), new Map([...expected].sort()));
      const totals = await store.totals();
      assert.equal(totals.torrents, 25);
      assert.equal(totals.seeders, 25);
      assert.equal(
        totals.peers,
        [...expected.values()].reduce((a, b) => a + b, 0),
      );
      assert.equal(totals.leechers, totals.peers - totals.seeders);
      assert.equal(totals.peers4, totals.peers);
      assert.equal(totals.peers6, 0);
    });

    it('lists the live peers of one torrent', async () => {
      const { store } = await harness();
      const h = hash(19);
      await store.announce(req(h, 1, { seeder: true }));
      await store.announce(req(h, 2, { ipv4: null, ipv6: v6(2) }));
      const peers = await store.torrentPeers(h, 10);
      const byId = new Map(peers.map((p) => [p.peerId.toString('hex'), p]));
      assert.equal(peers.length, 2);
      assert.equal(byId.get(peerId(1).toString('hex'))?.seeder, true);
      assert.equal(byId.get(peerId(1).toString('hex'))?.ipv4?.toString('hex'), v4(1).toString('hex'));
      assert.equal(byId.get(peerId(2).toString('hex'))?.ipv6?.toString('hex'), v6(2).toString('hex'));
      assert.deepEqual(await store.torrentPeers(hash(998), 10), []);
    });

    it('hands out one shared secret per name', async () => {
      const { store } = await harness();
      const a = await store.sharedSecret('test-secret', 32);
      const b = await store.sharedSecret('test-secret', 32);
      assert.equal(a.length, 32);
      assert.ok(a.equals(b));
      const other = await store.sharedSecret('other-secret', 32);
      assert.ok(!other.equals(a));
    });

    describe('per-passkey accounting (account-store.ts)', () => {
      const KEY = 'member-key-0001';
      const acct = (
        n: number,
        event: AccountAnnounce['event'],
        uploaded: number,
        downloaded: number,
        key = KEY,
      ): [string, AccountAnnounce] => [key, { infoHash: hash(200), peerId: peerId(n), event, uploaded, downloaded }];
      const totals = async (store: SwarmStore, key = KEY) => {
        const [a] = await store.accounts.read([key]);
        return [a?.uploaded, a?.downloaded, a?.completed, a?.announces];
      };

      it("adds the deltas between a peer's announces, not the totals", async () => {
        const { store, advance } = await harness();
        await store.accounts.record(...acct(1, 'started', 0, 0));
        advance(60_000);
        await store.accounts.record(...acct(1, 'update', 1000, 5000));
        advance(60_000);
        await store.accounts.record(...acct(1, 'update', 3000, 5000));
        assert.deepEqual(await totals(store), [3000, 5000, 0, 3]);
        // Another peer of the same key, and another key, are kept apart.
        await store.accounts.record(...acct(2, 'update', 7777, 7777));
        advance(60_000);
        await store.accounts.record(...acct(2, 'stopped', 7778, 7787));
        await store.accounts.record(...acct(1, 'update', 99, 99, 'other-key-0001'));
        assert.deepEqual(await totals(store), [3001, 5010, 0, 5]);
        assert.deepEqual(await totals(store, 'other-key-0001'), [0, 0, 0, 1]);
        const [never] = await store.accounts.read(['never-seen-key']);
        assert.deepEqual(never, {
          passkey: 'never-seen-key',
          uploaded: 0,
          downloaded: 0,
          completed: 0,
          announces: 0,
          lastAnnounce: 0,
        });
      });

      it('ignores negative and absurd deltas, but moves the baseline on', async () => {
        const { store, advance } = await harness();
        await store.accounts.record(...acct(1, 'update', 10_000, 10_000));
        advance(10_000);
        // The client restarted its counters without a started event.
        await store.accounts.record(...acct(1, 'update', 100, 100));
        assert.deepEqual(await totals(store), [0, 0, 0, 2]);
        advance(10_000);
        await store.accounts.record(...acct(1, 'update', 600, 100));
        assert.deepEqual(await totals(store), [500, 0, 0, 3]);
        // 10 s later, a claim of 1 PB uploaded: far beyond 10 Gbit/s.
        advance(10_000);
        await store.accounts.record(...acct(1, 'update', 1e15, 100));
        assert.deepEqual(await totals(store), [500, 0, 0, 4]);
        advance(10_000);
        await store.accounts.record(...acct(1, 'update', 1e15 + 1000, 100));
        assert.deepEqual(await totals(store), [1500, 0, 0, 5]);
      });

      it('counts a completion once per baseline; stopped and expiry forget the baseline', async () => {
        const { store, advance } = await harness();
        await store.accounts.record(...acct(1, 'started', 0, 0));
        await store.accounts.record(...acct(1, 'completed', 0, 100));
        await store.accounts.record(...acct(1, 'completed', 0, 100));
        assert.deepEqual((await totals(store)).slice(0, 3), [0, 100, 1]);
        await store.accounts.record(...acct(1, 'stopped', 0, 100));
        // After a stop the next announce is a new baseline: its totals are not added.
        await store.accounts.record(...acct(1, 'update', 50, 500));
        assert.deepEqual((await totals(store)).slice(0, 3), [0, 100, 1]);
        advance(TTL_MS + 1);
        await store.accounts.record(...acct(1, 'update', 80, 900));
        assert.deepEqual(await totals(store), [0, 100, 1, 6]);
        const [a] = await store.accounts.read([KEY]);
        assert.equal(a?.lastAnnounce, 1_700_000_000_000 + TTL_MS + 1);
      });
    });

    describe('WebRTC swarms (webrtc-store.ts)', () => {
      const WS_TTL = 300_000;
      async function rtc(): Promise<Harness> {
        let clock = 1_700_000_000_000;
        const store = await makeStore({ peerTtlMs: TTL_MS, webrtcTtlMs: WS_TTL, now: () => clock });
        open.push(store);
        return { store, advance: (ms) => (clock += ms) };
      }
      const ws = (infoHash: Buffer, n: number, over: Partial<WebRtcAnnounce> = {}): WebRtcAnnounce => ({
        infoHash,
        peerId: peerId(n),
        event: 'update',
        seeder: false,
        node: `node-${n % 3}`,
        targets: 0,
        ...over,
      });
      const ids = (targets: { peerId: Buffer }[]): number[] =>
        targets.map((t) => t.peerId.readUInt32BE(16)).sort((a, b) => a - b);

      it('counts peers apart from the BitTorrent swarm, and stops', async () => {
        const { store } = await rtc();
        const h = hash(100);
        await store.announce(req(h, 1, { event: 'started' }));
        let r = await store.webrtc.announce(ws(h, 2, { event: 'started' }));
        assert.deepEqual([r.complete, r.incomplete, r.targets.length], [0, 1, 0]);
        r = await store.webrtc.announce(ws(h, 3, { seeder: true }));
        assert.deepEqual([r.complete, r.incomplete], [1, 1]);
        const [bt] = await store.scrape([h]);
        assert.deepEqual([bt?.complete, bt?.incomplete], [0, 1], 'the BitTorrent swarm does not count WebRTC peers');
        r = await store.webrtc.announce(ws(h, 2, { event: 'stopped' }));
        assert.deepEqual([r.complete, r.incomplete], [1, 0]);
        assert.deepEqual(await store.webrtc.scrape([h, hash(101)]), [
          { complete: 1, incomplete: 0, downloaded: 0 },
          { complete: 0, incomplete: 0, downloaded: 0 },
        ]);
      });

      it('picks distinct other peers as targets, never the requester; a seeder gets leechers only', async () => {
        const { store } = await rtc();
        const h = hash(102);
        for (let n = 1; n <= 6; n++) await store.webrtc.announce(ws(h, n, { seeder: n <= 3 }));
        const leecher = await store.webrtc.announce(ws(h, 6, { targets: 10 }));
        assert.deepEqual(ids(leecher.targets), [1, 2, 3, 4, 5]);
        for (const t of leecher.targets) assert.equal(t.node, `node-${t.peerId.readUInt32BE(16) % 3}`);
        const seeder = await store.webrtc.announce(ws(h, 1, { seeder: true, targets: 10 }));
        assert.deepEqual(ids(seeder.targets), [4, 5, 6]);
        const few = await store.webrtc.announce(ws(h, 6, { targets: 2 }));
        assert.equal(new Set(ids(few.targets)).size, 2);
        assert.ok(!ids(few.targets).includes(6));
      });

      it('locates a live peer on its node, and no longer once it expired', async () => {
        const { store, advance } = await rtc();
        const h = hash(103);
        await store.webrtc.announce(ws(h, 4, { node: 'far-node' }));
        assert.equal(await store.webrtc.locate(h, peerId(4)), 'far-node');
        assert.equal(await store.webrtc.locate(h, peerId(5)), undefined);
        advance(WS_TTL + 31_000);
        assert.equal(await store.webrtc.locate(h, peerId(4)), undefined);
        const r = await store.webrtc.announce(ws(h, 5, { targets: 5 }));
        assert.deepEqual([r.incomplete, r.targets.length], [1, 0]);
      });

      it('leave removes a peer only while the leaving node holds it', async () => {
        const { store } = await rtc();
        const h = hash(107);
        await store.webrtc.announce(ws(h, 1, { node: 'node-a' }));
        // The client reconnected to node-b; node-a notices its old socket closing afterwards.
        await store.webrtc.announce(ws(h, 1, { node: 'node-b' }));
        await store.webrtc.leave(h, peerId(1), 'node-a');
        assert.equal(await store.webrtc.locate(h, peerId(1)), 'node-b');
        assert.deepEqual(await store.webrtc.scrape([h]), [{ complete: 0, incomplete: 1, downloaded: 0 }]);
        await store.webrtc.leave(h, peerId(1), 'node-b');
        assert.equal(await store.webrtc.locate(h, peerId(1)), undefined);
        assert.deepEqual(await store.webrtc.scrape([h]), [{ complete: 0, incomplete: 0, downloaded: 0 }]);
        await store.webrtc.leave(h, peerId(2), 'node-b');
      });

      it('counts completed once per peer; a first completed makes a new seeder', async () => {
        const { store } = await rtc();
        const h = hash(104);
        let r = await store.webrtc.announce(ws(h, 1, { event: 'completed', seeder: true }));
        assert.deepEqual([r.complete, r.incomplete, r.downloaded], [1, 0, 1]);
        r = await store.webrtc.announce(ws(h, 1, { event: 'completed', seeder: true }));
        assert.equal(r.downloaded, 1);
        r = await store.webrtc.announce(ws(h, 2, { event: 'completed', seeder: true }));
        assert.equal(r.downloaded, 2);
      });

      it('totals live WebRTC swarms', async () => {
        const { store } = await rtc();
        await store.webrtc.announce(ws(hash(105), 1, { seeder: true }));
        await store.webrtc.announce(ws(hash(105), 2));
        await store.webrtc.announce(ws(hash(106), 3));
        assert.deepEqual(await store.webrtc.totals(), { torrents: 2, peers: 3, seeders: 1, leechers: 2 });
      });

      it('carries a message to the node that subscribed, binary ids intact', async () => {
        const { store } = await rtc();
        const got: RelayedMessage[] = [];
        const unsubscribe = await store.webrtc.subscribe('node-x', (m) => got.push(m));
        try {
          const message = { infoHash: hash(107), peerId: peerId(9), text: '{"a":"é\\u0000"}' };
          const deadline = Date.now() + 5000;
          // A new Redis subscription takes a moment to be in place; publish until one arrives.
          while (got.length === 0 && Date.now() < deadline) {
            await store.webrtc.publish('node-x', message);
            await store.webrtc.publish('node-y', { ...message, text: 'not for x' });
            await new Promise((resolve) => setTimeout(resolve, 50));
          }
          assert.ok(got.length > 0, 'no message arrived within 5 s');
          const m = got[0] as RelayedMessage;
          assert.ok(m.infoHash.equals(message.infoHash));
          assert.ok(m.peerId.equals(message.peerId));
          assert.equal(m.text, message.text);
          assert.ok(got.every((g) => g.text !== 'not for x'));
        } finally {
          await unsubscribe();
        }
      });
    });
  });
}

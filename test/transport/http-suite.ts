import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import type { DecodedDict } from '../../src/protocol/bencode.js';
import { decodeBencode } from '../../src/protocol/bencode.js';
import { unpackPeers } from '../../src/protocol/compact.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { announce, announceQuery, encodeBytes, httpGet, makeId, scrape } from '../helpers/http-tracker-client.js';

/**
 * HTTP announce/scrape scenarios over real sockets, on 127.0.0.1 and ::1.
 * `storeOptions` gives each tracker its store (memory by default; the Redis
 * suite passes a redisUrl and a unique prefix), so every store runs the same
 * scenarios.
 */
export type StoreSetup = () => Promise<Partial<TrackerOptions>>;

let hashCounter = 0;
/** A fresh info_hash per test, with bytes that URL-decoding bugs would corrupt. */
function freshHash(): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt32BE(++hashCounter, 0);
  h.writeUInt32BE(process.pid, 4);
  for (let i = 8; i < 20; i++)
    h[i] = [0x00, 0xff, 0x2b, 0x25, 0x26, 0x3d, 0x20, 0x80, 0x7f, 0xc3, 0xa9, 0x3f][i - 8] as number;
  return h;
}

function peersOf(reply: DecodedDict): { ip: string; port: number }[] {
  return unpackPeers(reply.peers as Buffer, 4);
}

export function runHttpSuite(storeName: string, storeOptions: StoreSetup): void {
  for (const [family, host] of [
    ['IPv4', '127.0.0.1'],
    ['IPv6', '::1'],
  ] as const) {
    describe(`HTTP tracker on ${storeName}, over ${family}`, () => {
      let tracker: Tracker;
      let base: string;
      before(async () => {
        tracker = createTracker({ host: '::', port: 0, maxNumwant: 30, ...(await storeOptions()) });
        const info = await tracker.listen();
        base = family === 'IPv4' ? `http://127.0.0.1:${info.http.port}` : `http://[::1]:${info.http.port}`;
      });
      after(async () => {
        await tracker.close();
      });

      it('lets a swarm of peers find each other, never handing a peer itself', async () => {
        const h = freshHash();
        const n = 12;
        for (let i = 0; i < n; i++) {
          const r = await announce(base, {
            infoHash: h,
            peerId: makeId('-SW0001-', i),
            port: 7000 + i,
            event: 'started',
          });
          const reply = family === 'IPv4' ? peersOf(r) : unpackPeers((r.peers6 as Buffer) ?? Buffer.alloc(0), 6);
          assert.equal(reply.length, i, `peer ${i} sees every earlier peer`);
          assert.ok(!reply.some((p) => p.port === 7000 + i), 'never itself');
          assert.equal(r.incomplete, i + 1);
          assert.equal(r.interval, 1800);
          assert.equal(r['min interval'], 300);
          for (const p of reply) assert.equal(p.ip, host);
        }
      });

      it('gives seeders only leechers and counts completed once', async () => {
        const h = freshHash();
        const seeder = { infoHash: h, peerId: makeId('-SE0001-', 1), port: 7100, left: 0, event: 'started' };
        await announce(base, seeder);
        await announce(base, { infoHash: h, peerId: makeId('-SE0001-', 2), port: 7101, left: 0 });
        const leecher = { infoHash: h, peerId: makeId('-LE0001-', 3), port: 7102, left: 10 };
        await announce(base, { ...leecher, event: 'started' });
        const s = await announce(base, seeder);
        const sp = [...peersOf(s), ...unpackPeers((s.peers6 as Buffer) ?? Buffer.alloc(0), 6)];
        assert.deepEqual(
          sp.map((p) => p.port),
          [7102],
        );
        let r = await announce(base, { ...leecher, left: 0, event: 'completed' });
        assert.equal(r.downloaded, 1);
        assert.equal(r.complete, 3);
        r = await announce(base, { ...leecher, left: 0, event: 'completed' });
        assert.equal(r.downloaded, 1, 'a repeated completed is not counted again');
        const sc = await scrape(base, [h]);
        const entry = (sc.files as DecodedDict)[h.toString('latin1')] as DecodedDict;
        assert.deepEqual(entry, { complete: 3, downloaded: 1, incomplete: 0 });
      });

      it('removes a stopped peer', async () => {
        const h = freshHash();
        const a = { infoHash: h, peerId: makeId('-ST0001-', 1), port: 7200 };
        await announce(base, a);
        await announce(base, { ...a, event: 'stopped' });
        const b = await announce(base, { infoHash: h, peerId: makeId('-ST0001-', 2), port: 7201 });
        assert.equal(b.incomplete, 1);
        assert.equal((b.peers as Buffer).length + ((b.peers6 as Buffer | undefined)?.length ?? 0), 0);
      });

      it('honours numwant and caps it at --max-numwant', async () => {
        const h = freshHash();
        for (let i = 0; i < 40; i++)
          await announce(base, { infoHash: h, peerId: makeId('-NW0001-', i), port: 8000 + i });
        const me = { infoHash: h, peerId: makeId('-NW0001-', 0), port: 8000 };
        const count = (r: DecodedDict): number =>
          (r.peers as Buffer).length / 6 + ((r.peers6 as Buffer | undefined)?.length ?? 0) / 18;
        assert.equal(count(await announce(base, { ...me, numwant: 5 })), 5);
        assert.equal(count(await announce(base, { ...me, numwant: 0 })), 0);
        assert.equal(count(await announce(base, { ...me, numwant: 1000 })), 30, 'capped');
        assert.equal(count(await announce(base, me)), 30, 'default 50, capped at 30');
      });

      it('speaks the dictionary model for compact=0, with and without peer ids', async () => {
        const h = freshHash();
        await announce(base, { infoHash: h, peerId: makeId('-DM0001-', 1), port: 7301 });
        const r = await announce(base, { infoHash: h, peerId: makeId('-DM0001-', 2), port: 7302, compact: 0 });
        const list = r.peers as DecodedDict[];
        assert.equal(list.length, 1);
        assert.equal((list[0]?.ip as Buffer).toString(), host);
        assert.equal(list[0]?.port, 7301);
        assert.ok((list[0]?.['peer id'] as Buffer).equals(makeId('-DM0001-', 1)));
        const noId = await announce(base, {
          infoHash: h,
          peerId: makeId('-DM0001-', 2),
          port: 7302,
          compact: 0,
          noPeerId: true,
        });
        assert.equal((noId.peers as DecodedDict[])[0]?.['peer id'], undefined);
      });

      it('scrapes several torrents at once, on /scrape and /scrape.php', async () => {
        const [h1, h2, h3] = [freshHash(), freshHash(), freshHash()] as [Buffer, Buffer, Buffer];
        await announce(base, { infoHash: h1, peerId: makeId('-SC0001-', 1), port: 7401, left: 0 });
        await announce(base, { infoHash: h2, peerId: makeId('-SC0001-', 1), port: 7401 });
        await announce(base, { infoHash: h2, peerId: makeId('-SC0001-', 2), port: 7402 });
        for (const path of ['/scrape', '/scrape.php']) {
          const files = (await scrape(base, [h1, h2, h3], path)).files as DecodedDict;
          assert.deepEqual(files[h1.toString('latin1')], { complete: 1, downloaded: 0, incomplete: 0 });
          assert.deepEqual(files[h2.toString('latin1')], { complete: 0, downloaded: 0, incomplete: 2 });
          assert.deepEqual(files[h3.toString('latin1')], { complete: 0, downloaded: 0, incomplete: 0 });
        }
      });

      it('answers on /announce.php like /announce', async () => {
        const h = freshHash();
        await announce(base, { infoHash: h, peerId: makeId('-PH0001-', 1), port: 7501 }, '/announce.php');
        const r = await announce(base, { infoHash: h, peerId: makeId('-PH0001-', 2), port: 7502 });
        assert.equal(r.incomplete, 2);
      });
    });
  }
}

export { announceQuery, connect, decodeBencode, encodeBytes, freshHash, httpGet };

import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import type { DecodedDict } from '../../src/protocol/bencode.js';
import { unpackPeers } from '../../src/protocol/compact.js';
import type { UdpAnnounceParams } from '../../src/protocol/udp.js';
import {
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  encodeUdpUrlDataOptions,
  parseUdpReply,
  type UdpReply,
} from '../../src/protocol/udp-client-codec.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { announce as httpAnnounce, makeId } from '../helpers/http-tracker-client.js';
import { UdpTrackerClient } from './udp-client.js';

/**
 * UDP tracker scenarios over real sockets on 127.0.0.1 and ::1, run once per
 * store (`storeOptions` gives each tracker its store, as in http-suite.ts).
 */
export type StoreSetup = () => Promise<Partial<TrackerOptions>>;

let hashCounter = 0;
export function freshHash(): Buffer {
  const h = Buffer.alloc(20);
  h.writeUInt32BE(++hashCounter, 0);
  h.writeUInt32BE(process.pid, 4);
  for (let i = 8; i < 20; i++) h[i] = (0xf0 + i) & 0xff;
  return h;
}

export function asAnnounce(reply: UdpReply): Extract<UdpReply, { action: 'announce' }> {
  if (reply.action !== 'announce') throw new Error(`expected an announce reply, got ${JSON.stringify(reply)}`);
  return reply;
}

export function asScrape(reply: UdpReply): Extract<UdpReply, { action: 'scrape' }> {
  if (reply.action !== 'scrape') throw new Error(`expected a scrape reply, got ${JSON.stringify(reply)}`);
  return reply;
}

export function asError(reply: UdpReply): Extract<UdpReply, { action: 'error' }> {
  if (reply.action !== 'error') throw new Error(`expected an error reply, got ${JSON.stringify(reply)}`);
  return reply;
}

/** UDP event numbers (BEP 15). */
const NONE = 0;
const COMPLETED = 1;
const STARTED = 2;
const STOPPED = 3;

export function runUdpSuite(storeName: string, storeOptions: StoreSetup): void {
  for (const [family, host] of [
    ['IPv4', '127.0.0.1'],
    ['IPv6', '::1'],
  ] as const) {
    const size = family === 'IPv4' ? 6 : 18;
    const fam = family === 'IPv4' ? 4 : 6;

    describe(`UDP tracker on ${storeName}, over ${family}`, () => {
      let tracker: Tracker;
      let udpPort: number;
      let httpBase: string;
      const clients: UdpTrackerClient[] = [];
      const client = async (): Promise<UdpTrackerClient> => {
        const c = await UdpTrackerClient.open(host, udpPort);
        clients.push(c);
        return c;
      };

      before(async () => {
        tracker = createTracker({ host: '::', port: 0, maxNumwant: 1000, quiet: true, ...(await storeOptions()) });
        const info = await tracker.listen();
        assert.ok(info.udp, 'UDP is on by default');
        udpPort = info.udp.port;
        httpBase = family === 'IPv4' ? `http://127.0.0.1:${info.http.port}` : `http://[::1]:${info.http.port}`;
      });
      after(async () => {
        for (const c of clients) await c.close();
        await tracker.close();
      });

      it('connect → announce → scrape, with peers of the request family', async () => {
        const a = await client();
        const b = await client();
        const h = freshHash();
        const cid = await a.connect();
        assert.equal(cid.length, 8);
        const first = asAnnounce(
          await a.announce({ infoHash: h, peerId: makeId('-UA0001-', 1), port: 6001, left: 100, event: STARTED }),
        );
        assert.equal(first.interval, 1800);
        assert.equal(first.leechers, 1);
        assert.equal(first.seeders, 0);
        assert.equal(first.peers.length, 0, 'never the requester itself');

        const second = asAnnounce(
          await b.announce({ infoHash: h, peerId: makeId('-UA0001-', 2), port: 6002, left: 0, event: STARTED }),
        );
        assert.equal(second.leechers, 1, 'leechers come first in the announce reply');
        assert.equal(second.seeders, 1, 'seeders second');
        assert.equal(second.peers.length, size, `one ${size}-byte peer`);
        assert.deepEqual(unpackPeers(second.peers, fam), [{ ip: host, port: 6001 }]);

        const s = asScrape(await a.scrape([h, freshHash()]));
        assert.deepEqual(s.files, [
          { seeders: 1, completed: 0, leechers: 1 },
          { seeders: 0, completed: 0, leechers: 0 },
        ]);
      });

      it('numbers events the UDP way: 0 none, 1 completed, 2 started, 3 stopped', async () => {
        const c = await client();
        const h = freshHash();
        const id = makeId('-UE0001-', 1);
        const other = await client();
        await other.announce({ infoHash: h, peerId: makeId('-UE0001-', 2), port: 6102, left: 5, event: STARTED });

        asAnnounce(await c.announce({ infoHash: h, peerId: id, port: 6101, left: 10, event: STARTED }));
        asAnnounce(await c.announce({ infoHash: h, peerId: id, port: 6101, left: 0, event: COMPLETED }));
        // A repeated completed, and a plain update, do not count again.
        asAnnounce(await c.announce({ infoHash: h, peerId: id, port: 6101, left: 0, event: COMPLETED }));
        const upd = asAnnounce(await c.announce({ infoHash: h, peerId: id, port: 6101, left: 0, event: NONE }));
        assert.equal(upd.seeders, 1);
        assert.deepEqual(asScrape(await c.scrape([h])).files, [{ seeders: 1, completed: 1, leechers: 1 }]);

        const stop = asAnnounce(await c.announce({ infoHash: h, peerId: id, port: 6101, left: 0, event: STOPPED }));
        assert.equal(stop.seeders, 0, 'stopped removes the peer');
        assert.deepEqual(asScrape(await c.scrape([h])).files, [{ seeders: 0, completed: 1, leechers: 1 }]);

        // Event 4 does not exist.
        const bad = asError(await c.announce({ infoHash: h, peerId: id, port: 6101, left: 0, event: 4 }));
        assert.match(bad.message, /event/);
      });

      it('caps numwant so the reply fits one unfragmented datagram', async () => {
        const h = freshHash();
        // 250 leechers of the request's family, put in through the core.
        const address =
          family === 'IPv4'
            ? { family: 4 as const, bytes: Buffer.from([127, 0, 0, 1]) }
            : { family: 6 as const, bytes: Buffer.from('00000000000000000000000000000001', 'hex') };
        for (let i = 0; i < 250; i++) {
          await tracker.core.announce(
            {
              infoHash: h,
              peerId: makeId('-UN0001-', i),
              port: 10_000 + i,
              uploaded: 0,
              downloaded: 0,
              left: 1,
              event: 'started',
              numWant: 0,
              key: undefined,
            },
            { transport: 'http', address, families: 'both', withPeerIds: false },
          );
        }
        const c = await client();
        const max = family === 'IPv4' ? 200 : 67;
        const r = asAnnounce(
          await c.announce({ infoHash: h, peerId: makeId('-UN0002-', 1), port: 6200, left: 1, numWant: 100_000 }),
        );
        assert.equal(r.peers.length, max * size, `at most ${max} peers over ${family}`);
        assert.ok(20 + r.peers.length <= (family === 'IPv4' ? 1280 - 28 : 1280 - 48), 'fits 1280 bytes on the wire');
        assert.equal(new Set(unpackPeers(r.peers, fam).map((p) => p.port)).size, max, 'no duplicates');
        const def = asAnnounce(
          await c.announce({ infoHash: h, peerId: makeId('-UN0002-', 1), port: 6200, left: 1, numWant: -1 }),
        );
        assert.equal(def.peers.length, 50 * size, 'num_want -1 means the default (50)');
        const few = asAnnounce(
          await c.announce({ infoHash: h, peerId: makeId('-UN0002-', 1), port: 6200, left: 1, numWant: 3 }),
        );
        assert.equal(few.peers.length, 3 * size);
      });

      it('answers or drops bad packets and keeps serving', async () => {
        const c = await client();
        const counters = tracker.udp?.counters;
        assert.ok(counters);
        const before = structuredClone(counters);
        const h = freshHash();

        // Too short to carry a transaction id: dropped.
        await c.expectSilence(Buffer.alloc(15));
        // action 0 without the protocol magic: dropped.
        const noMagic = encodeUdpConnectRequest(7);
        noMagic.writeUInt32BE(0, 0);
        await c.expectSilence(noMagic);
        // A wrong connection id on an announce: an error no larger than the request.
        let tid = c.tid();
        const forged = encodeUdpAnnounceRequest({
          connectionId: Buffer.from('0102030405060708', 'hex'),
          transactionId: tid,
          infoHash: h,
          peerId: makeId('-UB0001-', 1),
          port: 6300,
        });
        const badId = await c.request(forged, tid);
        assert.ok(badId.length < forged.length, 'never larger than the request');
        assert.match(asError(parseUdpReply(badId)).message, /connection id/);
        // A wrong connection id on a 16-byte packet: an error would not be smaller: dropped.
        const tiny = Buffer.from(forged.subarray(0, 16));
        await c.expectSilence(tiny);

        const cid = await c.connect();
        // Unknown action (verified source): an error.
        tid = c.tid();
        const unknown = Buffer.alloc(16);
        cid.copy(unknown, 0);
        unknown.writeInt32BE(9, 8);
        unknown.writeInt32BE(tid, 12);
        assert.match(asError(parseUdpReply(await c.request(unknown, tid))).message, /unknown action 9/);
        // Truncated announce: an error.
        tid = c.tid();
        const full = encodeUdpAnnounceRequest({
          connectionId: cid,
          transactionId: tid,
          infoHash: h,
          peerId: makeId('-UB0001-', 2),
          port: 6301,
        });
        assert.match(asError(parseUdpReply(await c.request(full.subarray(0, 97), tid))).message, /at least 98/);
        // Oversize: an error.
        tid = c.tid();
        const huge = Buffer.alloc(4000);
        full.copy(huge);
        huge.writeInt32BE(tid, 12);
        assert.match(asError(parseUdpReply(await c.request(huge, tid))).message, /larger than/);
        // Scrape with a partial hash, and with too many hashes: errors.
        tid = c.tid();
        const partial = Buffer.alloc(16 + 30);
        cid.copy(partial);
        partial.writeInt32BE(2, 8);
        partial.writeInt32BE(tid, 12);
        assert.match(asError(parseUdpReply(await c.request(partial, tid))).message, /multiple of 20/);
        // 75 hashes (1516 bytes) exceed the largest request BEP 15 allows (74 hashes).
        const tooMany = asError(await c.scrape(Array.from({ length: 75 }, () => h)));
        assert.match(tooMany.message, /larger than 1500/);
        const most = asScrape(await c.scrape(Array.from({ length: 74 }, () => h)));
        assert.equal(most.files.length, 74);
        // Port 0: an error.
        assert.match(
          asError(await c.announce({ infoHash: h, peerId: makeId('-UB0001-', 3), port: 0 })).message,
          /port/,
        );

        // Still serving.
        const ok = asAnnounce(await c.announce({ infoHash: h, peerId: makeId('-UB0001-', 4), port: 6302, left: 1 }));
        assert.equal(ok.leechers, 1);

        assert.equal(counters.dropped.short - before.dropped.short, 1);
        assert.equal(counters.dropped.badMagic - before.dropped.badMagic, 1);
        assert.equal(counters.dropped.unverified - before.dropped.unverified, 1);
        assert.equal(counters.errors.badConnectionId - before.errors.badConnectionId, 1);
        assert.equal(counters.errors.unknownAction - before.errors.unknownAction, 1);
        assert.equal(counters.errors.malformed - before.errors.malformed, 2);
        assert.equal(counters.errors.oversize - before.errors.oversize, 2);
        assert.equal(counters.errors.invalidRequest - before.errors.invalidRequest, 1);
        assert.ok(counters.connects > before.connects);
        assert.ok(counters.announces > before.announces);
      });

      it('shares swarms with HTTP in both directions', async () => {
        const h = freshHash();
        const c = await client();
        await c.announce({ infoHash: h, peerId: makeId('-UX0001-', 1), port: 6401, left: 7, event: STARTED });
        const viaHttp = (await httpAnnounce(httpBase, {
          infoHash: h,
          peerId: makeId('-HX0001-', 2),
          port: 6402,
          left: 7,
          event: 'started',
        })) as DecodedDict;
        const httpPeers =
          family === 'IPv4'
            ? unpackPeers(viaHttp.peers as Buffer, 4)
            : unpackPeers((viaHttp.peers6 as Buffer) ?? Buffer.alloc(0), 6);
        assert.deepEqual(httpPeers, [{ ip: host, port: 6401 }], 'the UDP peer is seen over HTTP');
        assert.equal(viaHttp.incomplete, 2);

        const back = asAnnounce(
          await c.announce({ infoHash: h, peerId: makeId('-UX0001-', 1), port: 6401, left: 7, event: NONE }),
        );
        assert.deepEqual(unpackPeers(back.peers, fam), [{ ip: host, port: 6402 }], 'the HTTP peer is seen over UDP');
        assert.equal(back.leechers, 2);
      });

      it('hands BEP 41 URLData to the core with the request', async () => {
        const seen: UdpAnnounceParams[] = [];
        const core = tracker.core;
        const original = core.announce;
        core.announce = function (params, ctx) {
          if (ctx.transport === 'udp') seen.push(params as UdpAnnounceParams);
          return original.call(this, params, ctx);
        };
        try {
          const c = await client();
          const url = `/announce?passkey=${'k'.repeat(300)}`;
          const r = await c.announce({
            infoHash: freshHash(),
            peerId: makeId('-UD0001-', 1),
            port: 6501,
            left: 1,
            options: encodeUdpUrlDataOptions(url),
          });
          asAnnounce(r);
          assert.equal(seen.length, 1);
          assert.equal(seen[0]?.urlData.toString('latin1'), url);
        } finally {
          core.announce = original;
        }
      });
    });
  }
}

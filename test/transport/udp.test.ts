import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { DEFAULTS, type TrackerConfig } from '../../src/config/options.js';
import { TrackerCore } from '../../src/core/tracker.js';
import { parseIp } from '../../src/protocol/compact.js';
import { ConnectionIds, mapIpv4 } from '../../src/protocol/connection-id.js';
import {
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  parseUdpReply,
} from '../../src/protocol/udp-client-codec.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import type { SwarmStore } from '../../src/store/swarm-store.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { UdpHandler } from '../../src/transport/udp/udp-handler.js';
import { freePort } from '../helpers/free-port.js';
import { makeId } from '../helpers/http-tracker-client.js';
import { UdpTrackerClient } from './udp-client.js';
import { asAnnounce, asError, asScrape, freshHash } from './udp-suite.js';

const open: { close(): Promise<void> }[] = [];
after(async () => {
  for (const o of open.reverse()) await o.close();
});

async function start(options: TrackerOptions): Promise<{ tracker: Tracker; port: number }> {
  const tracker = createTracker({ host: '::', port: 0, quiet: true, ...options });
  open.push(tracker);
  const info = await tracker.listen();
  assert.ok(info.udp);
  return { tracker, port: info.udp.port };
}

async function client(host: string, port: number): Promise<UdpTrackerClient> {
  const c = await UdpTrackerClient.open(host, port);
  open.push(c);
  return c;
}

describe('UDP transport: listening', () => {
  it('uses the HTTP port number by default, and lists udp:// announce URLs', async () => {
    const { tracker, port } = await start({});
    const info = tracker.address;
    assert.ok(info?.udp);
    assert.equal(info.udp.address, '::', 'one dual-stack socket');
    assert.ok(info.announceUrls.includes(`udp://127.0.0.1:${port}/announce`));
    assert.ok(info.announceUrls.includes(`udp://[::1]:${port}/announce`));
    // (With --port 0 the UDP twin of the HTTP port could in theory be taken, and
    // any free port is used then; on a test box that does not happen.)
    assert.equal(info.udp.port, info.http.port, 'udpPort "same"');
  });

  it('is off with udpPort "off"', async () => {
    const tracker = createTracker({ host: '::', port: 0, quiet: true, udpPort: 'off' });
    open.push(tracker);
    const info = await tracker.listen();
    assert.equal(info.udp, undefined);
    assert.equal(tracker.udp, undefined);
    assert.ok(!info.announceUrls.some((u) => u.startsWith('udp:')));
  });

  it('listens on an explicit port, on a udp4 socket for an IPv4 host', async () => {
    const wanted = await freePort({ tcp: false, udp: true });
    const { tracker, port } = await start({ host: '127.0.0.1', udpPort: wanted });
    assert.equal(port, wanted);
    assert.equal(tracker.address?.udp?.family, 'IPv4');
    assert.deepEqual(
      tracker.address?.announceUrls.filter((u) => u.startsWith('udp:')),
      [`udp://127.0.0.1:${wanted}/announce`],
    );
    const c = await client('127.0.0.1', port);
    const r = asAnnounce(await c.announce({ infoHash: freshHash(), peerId: makeId('-UL0001-', 1), port: 1, left: 1 }));
    assert.equal(r.leechers, 1);
  });

  it('applies --max-scrape-hashes below the BEP 15 limit', async () => {
    const { port } = await start({ maxScrapeHashes: 5 });
    const c = await client('127.0.0.1', port);
    assert.equal(asScrape(await c.scrape(Array.from({ length: 5 }, () => freshHash()))).files.length, 5);
    assert.match(asError(await c.scrape(Array.from({ length: 6 }, () => freshHash()))).message, /at most 5/);
  });
});

describe('UDP transport: address families', () => {
  it('gives each client peers of its own family only, from one mixed swarm', async () => {
    const { port } = await start({});
    const c4 = await client('127.0.0.1', port);
    const c6 = await client('::1', port);
    const h = freshHash();
    await c4.announce({ infoHash: h, peerId: makeId('-UM0001-', 1), port: 7401, left: 1 });
    await c6.announce({ infoHash: h, peerId: makeId('-UM0001-', 2), port: 7402, left: 1 });
    const x4 = await client('127.0.0.1', port);
    const x6 = await client('::1', port);
    const r4 = asAnnounce(await x4.announce({ infoHash: h, peerId: makeId('-UM0001-', 3), port: 7403, left: 1 }));
    const r6 = asAnnounce(await x6.announce({ infoHash: h, peerId: makeId('-UM0001-', 4), port: 7404, left: 1 }));
    assert.equal(r4.leechers, 3);
    assert.equal(r6.leechers, 4, 'counts cover both families');
    assert.equal(r4.peers.toString('hex'), `7f000001${(7401).toString(16)}`, 'IPv4: one 6-byte entry');
    assert.equal(
      r6.peers.toString('hex'),
      `00000000000000000000000000000001${(7402).toString(16)}`,
      'IPv6: one 18-byte entry',
    );
  });
});

describe('UDP transport: connection ids', () => {
  it('expires a connection id after two minutes (injected clock); a reconnect works', async () => {
    let now = 1_800_000_000_000;
    const { tracker, port } = await start({ now: () => now });
    const c = await client('127.0.0.1', port);
    const h = freshHash();
    const peerId = makeId('-UC0001-', 1);
    await c.connect();
    now += 120_000;
    asAnnounce(await c.announce({ infoHash: h, peerId, port: 2, left: 1 }));
    now += 2_000;
    const expired = asError(await c.announce({ infoHash: h, peerId, port: 2, left: 1 }));
    assert.match(expired.message, /connection id/);
    assert.equal(tracker.udp?.counters.errors.badConnectionId, 1);
    await c.connect();
    asAnnounce(await c.announce({ infoHash: h, peerId, port: 2, left: 1 }));
  });

  it('accepts ids across trackers with the same --udp-secret, and not with another', async () => {
    const a = await start({ udpSecret: 'shared' });
    const b = await start({ udpSecret: 'shared' });
    const other = await start({ udpSecret: 'different' });
    const c = await client('127.0.0.1', a.port);
    const cid = await c.connect();
    const send = async (port: number): Promise<ReturnType<typeof parseUdpReply>> => {
      const tid = c.tid();
      const req = encodeUdpAnnounceRequest({
        connectionId: cid,
        transactionId: tid,
        infoHash: freshHash(),
        peerId: makeId('-US0001-', 1),
        port: 3,
        left: 1,
      });
      c.socket.send(req, port, '127.0.0.1');
      return new Promise((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('no reply')), 2000);
        c.socket.once('message', (m) => {
          clearTimeout(timer);
          resolve(parseUdpReply(m));
        });
      });
    };
    asAnnounce(await send(b.port));
    assert.match(asError(await send(other.port)).message, /connection id/);
  });

  it('shares the secret through the store: two instances on one store accept each other (like --workers)', async () => {
    const store = new MemoryStore({ peerTtlMs: 1_860_000, now: Date.now });
    const a = await start({ store });
    const b = await start({ store });
    const c = await client('::1', a.port);
    const cid = await c.connect();
    const h = freshHash();
    asAnnounce(await c.announce({ infoHash: h, peerId: makeId('-UW0001-', 1), port: 4, left: 1 }));
    // The same client socket (the id is bound to its address and port), the other instance.
    const tid = c.tid();
    const req = encodeUdpAnnounceRequest({
      connectionId: cid,
      transactionId: tid,
      infoHash: h,
      peerId: makeId('-UW0001-', 2),
      port: 5,
      left: 1,
    });
    const reply = await new Promise<Buffer>((resolve, reject) => {
      const timer = setTimeout(() => reject(new Error('no reply from the second instance')), 2000);
      c.socket.once('message', (m) => {
        clearTimeout(timer);
        resolve(m);
      });
      c.socket.send(req, b.port, '::1');
    });
    const r = asAnnounce(parseUdpReply(reply));
    assert.equal(r.leechers, 2, 'and they share the swarm');
  });
});

describe('UDP transport: failures', () => {
  it('answers a store failure with an error packet and counts it', async () => {
    const inner = new MemoryStore({ peerTtlMs: 1_860_000, now: Date.now });
    const broken: SwarmStore = Object.create(inner);
    broken.announce = async () => {
      throw new Error('disk on fire');
    };
    const { tracker, port } = await start({ store: broken });
    const c = await client('127.0.0.1', port);
    const e = asError(await c.announce({ infoHash: freshHash(), peerId: makeId('-UF0001-', 1), port: 6, left: 1 }));
    assert.match(e.message, /retry/);
    assert.equal(tracker.udp?.counters.errors.storeUnavailable, 1);
    await inner.close();
  });
});

describe('UDP transport: shutdown', () => {
  it('closes with announces in flight; their late replies are dropped, not thrown', async () => {
    const inner = new MemoryStore({ peerTtlMs: 1_860_000, now: Date.now });
    const slow: SwarmStore = Object.create(inner);
    let entered = 0;
    slow.announce = async (req) => {
      entered++;
      await new Promise((r) => setTimeout(r, 150));
      return inner.announce(req);
    };
    const tracker = createTracker({ host: '127.0.0.1', port: 0, quiet: true, store: slow });
    const info = await tracker.listen();
    assert.ok(info.udp);
    const c = await client('127.0.0.1', info.udp.port);
    await c.connect();
    const pending = c.announce({ infoHash: freshHash(), peerId: makeId('-UZ0001-', 1), port: 9, left: 1 }).then(
      () => 'answered',
      () => 'no reply',
    );
    while (entered === 0) await new Promise((r) => setTimeout(r, 5));
    await tracker.close();
    assert.equal(await pending, 'no reply', 'the socket was closed before the store answered');
    // The core finished the announce (the peer is stored); only its reply had nowhere to go.
    await new Promise((r) => setTimeout(r, 200));
    assert.equal((await inner.totals()).peers, 1);
    await inner.close();
  });
});

describe('UDP handler without a socket', () => {
  const config: Readonly<TrackerConfig> = Object.freeze({ ...DEFAULTS });
  const store = new MemoryStore({ peerTtlMs: 1_860_000, now: Date.now, backgroundSweep: false });
  const core = new TrackerCore(config, store);
  const ids = new ConnectionIds({ secret: Buffer.from('fuzz'), now: Date.now });

  it('never throws and never sends an unverified source more bytes than it sent', async () => {
    const sent: { packet: Buffer; to: string }[] = [];
    const handler = new UdpHandler({
      core,
      connectionIds: ids,
      send: (packet, port, address) => sent.push({ packet, to: `${address}:${port}` }),
    });
    let seed = 7;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed;
    };
    const validId = Buffer.alloc(8);
    ids.issue(mapIpv4(new Uint8Array([127, 0, 0, 1]), new Uint8Array(16)), 4000, validId, 0);
    const lengths: number[] = [];
    for (let i = 0; i < 5000; i++) {
      const len = [0, 1, 8, 15, 16, 17, 36, 97, 98, 99, 200, 1500, 1501, 3000][rand() % 14] as number;
      const p = Buffer.from(Array.from({ length: len }, () => rand() & 0xff));
      const verified = len >= 16 && rand() % 2 === 0;
      if (verified) {
        validId.copy(p, 0);
        p.writeInt32BE(rand() % 5, 8);
      } else if (len >= 16 && rand() % 4 === 0) {
        encodeUdpConnectRequest(1).copy(p, 0, 0, 8); // a connect (or a junk packet with the magic)
      }
      const before = sent.length;
      handler.handle(p, '127.0.0.1', verified ? 4000 : 4001);
      lengths.push(len);
      for (const s of sent.slice(before)) {
        const isConnectReply = s.packet.readInt32BE(0) === 0;
        if (!verified) {
          assert.ok(
            isConnectReply ? s.packet.length <= p.length : s.packet.length < p.length,
            `reply of ${s.packet.length} bytes to an unverified ${p.length}-byte packet`,
          );
        }
      }
    }
    await new Promise((r) => setImmediate(r)); // let announces and scrapes settle
    assert.ok(sent.length > 1000, 'most packets were answered');
    assert.equal(
      handler.counters.packets,
      5000,
      `every packet counted (${handler.counters.dropped.short} short, ${handler.counters.errors.malformed} malformed)`,
    );
    assert.ok(handler.counters.announces + handler.counters.scrapes + handler.counters.errors.malformed > 0);
  });

  it('drops packets from port 0 and unparseable sources', () => {
    const sent: Buffer[] = [];
    const handler = new UdpHandler({ core, connectionIds: ids, send: (p) => sent.push(p) });
    handler.handle(encodeUdpConnectRequest(1), '127.0.0.1', 0);
    handler.handle(encodeUdpConnectRequest(1), 'not an address', 5);
    assert.equal(sent.length, 0);
    assert.equal(handler.counters.dropped.badSource, 2);
    handler.handle(encodeUdpConnectRequest(1), '::ffff:127.0.0.1', 5);
    assert.equal(sent.length, 1);
    assert.equal(sent[0]?.length, 16, 'the connect reply is exactly 16 bytes');
  });

  it('parses datagram source addresses with compact.parseIp (dotted fast path included)', () => {
    for (const [text, family, hex] of [
      ['127.0.0.1', 4, '7f000001'],
      ['::ffff:10.1.2.3', 4, '0a010203'],
      ['255.255.255.255', 4, 'ffffffff'],
      ['::1', 6, '00000000000000000000000000000001'],
      ['2001:db8::7', 6, '20010db8000000000000000000000007'],
      ['64:ff9b::1.2.3.4', 6, '0064ff9b000000000000000001020304'],
    ] as const) {
      const a = parseIp(text);
      assert.equal(a?.family, family, text);
      assert.equal(a?.bytes.toString('hex'), hex, text);
    }
    for (const bad of ['1.2.3', '1.2.3.4.5', '256.1.1.1', '1..2.3', '::ffff:1.2.3', 'x', '']) {
      assert.equal(parseIp(bad), undefined, bad);
    }
  });
});

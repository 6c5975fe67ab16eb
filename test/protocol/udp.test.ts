import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../src/errors.js';
import {
  encodeUdpAnnounce,
  encodeUdpConnect,
  encodeUdpError,
  encodeUdpScrape,
  hasConnectMagic,
  parseUdpAnnounce,
  parseUdpOptions,
  parseUdpScrape,
  UDP_ANNOUNCE_LENGTH,
  UDP_MAX_REQUEST_LENGTH,
} from '../../src/protocol/udp.js';
// The client's half, so that every request and reply round-trips through both.
import {
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  encodeUdpScrapeRequest,
  encodeUdpUrlDataOptions,
  parseUdpReply,
} from '../../src/protocol/udp-client-codec.js';

const CID = Buffer.from('0011223344556677', 'hex');
const ALL_BYTES_HASH = Buffer.from(Array.from({ length: 20 }, (_, i) => (i * 13 + 0x80) & 0xff));
const PEER_ID = Buffer.from('-XX0001-abcdefghijkl');

function announceRequest(over: Partial<Parameters<typeof encodeUdpAnnounceRequest>[0]> = {}): Buffer {
  return encodeUdpAnnounceRequest({
    connectionId: CID,
    transactionId: 42,
    infoHash: ALL_BYTES_HASH,
    peerId: PEER_ID,
    port: 6881,
    ...over,
  });
}

function throwsCode(fn: () => unknown, code: string): void {
  assert.throws(fn, (err: unknown) => err instanceof ProtocolError && err.code === code);
}

describe('UDP header and connect', () => {
  it('builds a 16-byte connect request with the protocol magic', () => {
    const req = encodeUdpConnectRequest(-5);
    assert.equal(req.toString('hex'), '0000041727101980' + '00000000' + 'fffffffb');
    assert.ok(hasConnectMagic(req));
    assert.deepEqual([req.readInt32BE(8), req.readInt32BE(12)], [0, -5], 'action, transaction id');
  });

  it('needs 16 bytes and the magic to see a connect', () => {
    assert.ok(!hasConnectMagic(Buffer.alloc(16)));
    assert.ok(!hasConnectMagic(encodeUdpConnectRequest(1).subarray(0, 15)));
  });

  it('encodes the connect reply in 16 bytes and round-trips it', () => {
    for (const tid of [0, 1, -1, 0x7fffffff, -0x80000000]) {
      const out = encodeUdpConnect(tid, CID);
      assert.equal(out.length, 16);
      assert.deepEqual(parseUdpReply(out), { action: 'connect', transactionId: tid, connectionId: CID });
    }
  });
});

describe('UDP announce request', () => {
  it('parses every field, in BEP 15 order and offsets', () => {
    const req = announceRequest({
      downloaded: 1,
      left: 2,
      uploaded: 3,
      event: 2,
      ip: 0x01020304,
      key: 0xdeadbeef,
      numWant: 7,
      port: 65535,
    });
    assert.equal(req.length, UDP_ANNOUNCE_LENGTH);
    // Spot-check the wire layout independently of the encoder.
    assert.equal(req.readInt32BE(8), 1);
    assert.equal(req.readInt32BE(12), 42);
    assert.equal(req.subarray(16, 36).toString('hex'), ALL_BYTES_HASH.toString('hex'));
    assert.equal(req.readUInt32BE(60), 1);
    assert.equal(req.readUInt32BE(68), 2);
    assert.equal(req.readUInt32BE(76), 3);
    assert.equal(req.readUInt16BE(96), 65535);
    const p = parseUdpAnnounce(req);
    assert.deepEqual(p.infoHash, ALL_BYTES_HASH);
    assert.deepEqual(p.peerId, PEER_ID);
    assert.equal(p.downloaded, 1);
    assert.equal(p.left, 2);
    assert.equal(p.uploaded, 3);
    assert.equal(p.event, 'started');
    assert.equal(p.ip, '1.2.3.4');
    assert.equal(p.key, 0xdeadbeef);
    assert.equal(p.numWant, 7);
    assert.equal(p.port, 65535);
    assert.equal(p.urlData.length, 0);
  });

  it('maps UDP event numbers: 0 none, 1 completed, 2 started, 3 stopped', () => {
    const expected = ['update', 'completed', 'started', 'stopped'];
    for (let e = 0; e < 4; e++) assert.equal(parseUdpAnnounce(announceRequest({ event: e })).event, expected[e]);
    throwsCode(() => parseUdpAnnounce(announceRequest({ event: 4 })), 'invalid_event');
    throwsCode(() => parseUdpAnnounce(announceRequest({ event: -1 })), 'invalid_event');
  });

  it('reads 64-bit counters at their boundaries', () => {
    for (const v of [0, 1, 0xffffffff, 0x1_0000_0000, Number.MAX_SAFE_INTEGER]) {
      const p = parseUdpAnnounce(announceRequest({ downloaded: v, left: v, uploaded: v }));
      assert.equal(p.downloaded, v);
      assert.equal(p.left, v);
      assert.equal(p.uploaded, v);
    }
    const neg = announceRequest();
    neg.fill(0xff, 64, 72); // left = -1
    assert.equal(parseUdpAnnounce(neg).left, -1);
  });

  it('treats ip 0 as "the source address", num_want < 0 as "the default", and keeps key as uint32', () => {
    const p = parseUdpAnnounce(announceRequest({ ip: 0, numWant: -1, key: 0 }));
    assert.equal(p.ip, undefined);
    assert.equal(p.numWant, undefined);
    assert.equal(p.key, 0);
    assert.equal(parseUdpAnnounce(announceRequest({ ip: 0xffffffff })).ip, '255.255.255.255');
    assert.equal(parseUdpAnnounce(announceRequest({ numWant: -2 })).numWant, undefined);
    assert.equal(parseUdpAnnounce(announceRequest({ numWant: 0 })).numWant, 0);
    assert.equal(parseUdpAnnounce(announceRequest({ numWant: 0x7fffffff })).numWant, 0x7fffffff);
    assert.equal(parseUdpAnnounce(announceRequest({ key: 0xffffffff })).key, 0xffffffff);
  });

  it('accepts ports 1-65535 and refuses 0', () => {
    assert.equal(parseUdpAnnounce(announceRequest({ port: 1 })).port, 1);
    throwsCode(() => parseUdpAnnounce(announceRequest({ port: 0 })), 'invalid_port');
  });

  it('refuses truncated and oversize packets', () => {
    const req = announceRequest();
    for (const n of [16, 20, 97]) throwsCode(() => parseUdpAnnounce(req.subarray(0, n)), 'malformed_packet');
    const big = Buffer.alloc(UDP_MAX_REQUEST_LENGTH + 1);
    req.copy(big);
    throwsCode(() => parseUdpAnnounce(big), 'packet_too_large');
    const largest = Buffer.alloc(UDP_MAX_REQUEST_LENGTH);
    req.copy(largest);
    assert.equal(parseUdpAnnounce(largest).urlData.length, 0, 'zero padding is EndOfOptions');
  });

  it('returns views into the packet, not copies', () => {
    const req = announceRequest();
    const p = parseUdpAnnounce(req);
    assert.equal(p.infoHash.buffer, req.buffer);
  });
});

describe('BEP 41 options', () => {
  const opts = (...bytes: (number | string)[]): Buffer =>
    Buffer.concat(bytes.map((b) => (typeof b === 'number' ? Buffer.from([b]) : Buffer.from(b, 'latin1'))));

  it('concatenates URLData options, skipping NOPs', () => {
    const o = opts(1, 1, 2, 5, '/anno', 1, 2, 9, 'unce?x=1&', 2, 3, 'y=2', 0);
    assert.equal(parseUdpOptions(o, 0).toString('latin1'), '/announce?x=1&y=2');
  });

  it('stops at EndOfOptions', () => {
    assert.equal(parseUdpOptions(opts(2, 2, '/a', 0, 2, 2, '/b'), 0).toString(), '/a');
    assert.equal(parseUdpOptions(opts(0), 0).length, 0);
    assert.equal(parseUdpOptions(Buffer.alloc(0), 0).length, 0);
  });

  it('skips unknown options by their length byte', () => {
    const o = opts(0x7f, 3, 'abc', 2, 2, '/x', 0xff, 0, 2, 2, '?q');
    assert.equal(parseUdpOptions(o, 0).toString(), '/x?q');
  });

  it('ignores an option cut off by the end of the packet, keeping what came before', () => {
    assert.equal(parseUdpOptions(opts(2, 2, '/a', 2, 10, 'short'), 0).toString(), '/a');
    assert.equal(parseUdpOptions(opts(2, 2, '/a', 2), 0).toString(), '/a', 'type without length');
    assert.equal(parseUdpOptions(opts(0x33), 0).length, 0);
  });

  it('accepts zero-length URLData', () => {
    assert.equal(parseUdpOptions(opts(2, 0, 2, 1, '/'), 0).toString(), '/');
  });

  it('round-trips URL data longer than one option through the encoder', () => {
    const url = `/announce?passkey=${'z'.repeat(600)}&x=%00%ff`;
    const req = announceRequest({ options: encodeUdpUrlDataOptions(url) });
    const p = parseUdpAnnounce(req);
    assert.equal(p.urlData.toString('latin1'), url);
  });

  it('walks random option bytes without throwing', () => {
    let seed = 1;
    const rand = (): number => {
      seed = (Math.imul(seed, 1103515245) + 12345) & 0x7fffffff;
      return seed;
    };
    for (let i = 0; i < 2000; i++) {
      const o = Buffer.from(Array.from({ length: rand() % 64 }, () => rand() & 0xff));
      const data = parseUdpOptions(o, 0);
      assert.ok(data.length <= o.length);
    }
  });
});

describe('UDP scrape request', () => {
  const hashes = (n: number): Buffer[] => Array.from({ length: n }, (_, i) => Buffer.alloc(20, i));

  it('round-trips 1 and 74 hashes', () => {
    for (const n of [1, 74]) {
      const req = encodeUdpScrapeRequest(CID, 9, hashes(n));
      assert.equal(req.length, 16 + 20 * n);
      assert.deepEqual(parseUdpScrape(req), hashes(n));
    }
  });

  // More hashes than --max-scrape-hashes: the core refuses them (test/core/tracker.test.ts).
  it('refuses no hashes, a partial hash, and oversize packets', () => {
    throwsCode(() => parseUdpScrape(encodeUdpScrapeRequest(CID, 9, [])), 'missing_param');
    throwsCode(
      () => parseUdpScrape(encodeUdpScrapeRequest(CID, 9, hashes(2)).subarray(0, 16 + 39)),
      'malformed_packet',
    );
    assert.equal(parseUdpScrape(encodeUdpScrapeRequest(CID, 9, hashes(74))).length, 74, 'the most that fit');
    throwsCode(() => parseUdpScrape(encodeUdpScrapeRequest(CID, 9, hashes(75))), 'packet_too_large');
  });
});

describe('UDP replies', () => {
  it('puts leechers before seeders in the announce reply', () => {
    const peers = Buffer.from('7f000001 1ae1 0a000002 1ae2'.replace(/ /g, ''), 'hex');
    const out = encodeUdpAnnounce(77, { interval: 1800, seeders: 5, leechers: 9, peers }, 6, 200);
    assert.equal(out.readInt32BE(0), 1);
    assert.equal(out.readInt32BE(4), 77);
    assert.equal(out.readInt32BE(8), 1800);
    assert.equal(out.readInt32BE(12), 9, 'leechers at offset 12');
    assert.equal(out.readInt32BE(16), 5, 'seeders at offset 16');
    assert.deepEqual(out.subarray(20), peers);
    assert.deepEqual(parseUdpReply(out), {
      action: 'announce',
      transactionId: 77,
      interval: 1800,
      leechers: 9,
      seeders: 5,
      peers,
    });
  });

  it('copies at most maxPeers whole entries', () => {
    const peers = Buffer.alloc(18 * 10 + 5, 1);
    assert.equal(encodeUdpAnnounce(1, { interval: 1, seeders: 0, leechers: 0, peers }, 18, 3).length, 20 + 54);
    assert.equal(encodeUdpAnnounce(1, { interval: 1, seeders: 0, leechers: 0, peers }, 18, 100).length, 20 + 180);
    assert.equal(
      encodeUdpAnnounce(1, { interval: 1, seeders: 0, leechers: 0, peers: Buffer.alloc(0) }, 6, 5).length,
      20,
    );
  });

  it('clamps counts to int32', () => {
    const out = encodeUdpAnnounce(1, { interval: 1, seeders: 2 ** 40, leechers: -3, peers: Buffer.alloc(0) }, 6, 1);
    assert.equal(out.readInt32BE(16), 0x7fffffff);
    assert.equal(out.readInt32BE(12), 0);
  });

  it('orders scrape entries seeders, completed, leechers, in request order', () => {
    const h = Buffer.alloc(20);
    const out = encodeUdpScrape(3, [
      { infoHash: h, complete: 1, downloaded: 2, incomplete: 3 },
      { infoHash: h, complete: 4, downloaded: 5, incomplete: 6 },
    ]);
    assert.equal(out.length, 8 + 24);
    assert.deepEqual(
      [2, 3, 8, 12, 16, 20, 24, 28].map((o, i) => (i < 2 ? out.readInt32BE(i * 4) : out.readInt32BE(o))),
      [2, 3, 1, 2, 3, 4, 5, 6],
    );
    assert.deepEqual(parseUdpReply(out), {
      action: 'scrape',
      transactionId: 3,
      files: [
        { seeders: 1, completed: 2, leechers: 3 },
        { seeders: 4, completed: 5, leechers: 6 },
      ],
    });
  });

  it('encodes errors, within a size bound when asked', () => {
    const out = encodeUdpError(-9, 'nope é') as Buffer;
    assert.equal(out.readInt32BE(0), 3);
    assert.deepEqual(parseUdpReply(out), { action: 'error', transactionId: -9, message: 'nope é' });
    assert.equal(encodeUdpError(1, 'abcd', 12)?.length, 12);
    assert.equal(encodeUdpError(1, 'abcd', 11), undefined, 'never larger than the bound');
  });

  it('refuses replies it cannot parse', () => {
    throwsCode(() => parseUdpReply(Buffer.alloc(7)), 'malformed_packet');
    throwsCode(() => parseUdpReply(Buffer.from('0000000000000001', 'hex')), 'malformed_packet');
    throwsCode(() => parseUdpReply(Buffer.from('0000000900000001', 'hex')), 'unknown_action');
  });
});

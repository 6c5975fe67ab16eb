import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ProtocolError } from '../../src/errors.js';
import { BencodeError, type BencodeValue, decodeBencode, encodeBencode } from '../../src/protocol/bencode.js';
import { packEndpoint, parseIp, unpackEndpoint } from '../../src/protocol/compact.js';
import { parseHttpAnnounce } from '../../src/protocol/http-announce.js';
import { INCOMPLETE, OTHER, parseTrackerRequestHead } from '../../src/protocol/http-request-head.js';
import { parseHttpScrape } from '../../src/protocol/http-scrape.js';
import { parseQuery } from '../../src/protocol/query.js';
import {
  encodeUdpAnnounce,
  encodeUdpConnect,
  encodeUdpError,
  encodeUdpScrape,
  parseUdpAnnounce,
  parseUdpScrape,
} from '../../src/protocol/udp.js';
import {
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  encodeUdpScrapeRequest,
  parseUdpReply,
} from '../../src/protocol/udp-client-codec.js';

/**
 * Properties of the codecs (fast-check): round trips, and that bytes from
 * anywhere make a parser return or throw its own error, never anything else.
 * BITSTORM_PROPERTY_RUNS raises the number of runs for a long campaign.
 */
const numRuns = Number(process.env.BITSTORM_PROPERTY_RUNS ?? 300);

/** Runs `parse`; a throw must be one of `allowed` (the parser's own error). */
function onlyThrows(parse: () => unknown, allowed: (new (...args: never[]) => Error)[] = [ProtocolError]): void {
  try {
    parse();
  } catch (err) {
    if (!allowed.some((type) => err instanceof type)) throw err;
  }
}

/** Random bytes, and mutations of a valid input (flips, cuts, extensions). */
function bytesAround(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  const mutated = fc
    .tuple(
      valid,
      fc.array(fc.tuple(fc.nat(), fc.integer({ min: 0, max: 255 })), { maxLength: 6 }),
      fc.nat(),
      fc.uint8Array({ maxLength: 40 }),
    )
    .map(([b, flips, cut, tail]) => {
      const out = Buffer.from(b);
      for (const [at, v] of flips) if (out.length > 0) out[at % out.length] = v;
      return Buffer.concat([out.subarray(0, out.length === 0 ? 0 : cut % (out.length + 1)), tail]);
    });
  return fc.oneof(
    fc.uint8Array({ maxLength: 300 }).map((u) => Buffer.from(u)),
    mutated,
    valid,
  );
}

const bytes20 = fc.uint8Array({ minLength: 20, maxLength: 20 }).map((u) => Buffer.from(u));
const int32 = fc.integer({ min: -(2 ** 31), max: 2 ** 31 - 1 });
const int53 = fc.integer({ min: 0, max: Number.MAX_SAFE_INTEGER });

const bencodeValue: fc.Arbitrary<BencodeValue> = fc.letrec((tie) => ({
  value: fc.oneof(
    { depthSize: 'small' },
    fc.integer(),
    fc.uint8Array({ maxLength: 40 }).map((u) => Buffer.from(u)),
    fc.array(tie('value'), { maxLength: 5 }),
    fc.dictionary(fc.string({ maxLength: 8 }), tie('value'), { maxKeys: 5 }),
  ),
})).value as fc.Arbitrary<BencodeValue>;

/** The decoded form of an encodable value: strings and keys as bytes. */
function normal(v: BencodeValue): unknown {
  if (typeof v === 'string') return Buffer.from(v);
  if (Buffer.isBuffer(v)) return v;
  if (Array.isArray(v)) return v.map(normal);
  if (typeof v === 'object') {
    const out: Record<string, unknown> = {};
    for (const [k, x] of Object.entries(v)) out[k] = normal(x as BencodeValue);
    return out;
  }
  return v;
}

function percentEncode(b: Buffer): string {
  let out = '';
  for (const x of b) out += `%${x.toString(16).padStart(2, '0')}`;
  return out;
}

describe('codec properties', () => {
  it('bencode: decode(encode(v)) is v, and any bytes decode or throw a BencodeError', () => {
    fc.assert(
      fc.property(bencodeValue, (v) => {
        assert.deepEqual(decodeBencode(encodeBencode(v)), normal(v));
      }),
      { numRuns },
    );
    fc.assert(
      fc.property(bytesAround(bencodeValue.map(encodeBencode)), (b) =>
        onlyThrows(() => decodeBencode(b), [BencodeError]),
      ),
      { numRuns },
    );
  });

  it('query: percent-encoded bytes come back byte for byte; any string parses or throws a ProtocolError', () => {
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 64 }), fc.uint8Array({ maxLength: 64 }), (a, b) => {
        const q = parseQuery(`info_hash=${percentEncode(Buffer.from(a))}&info_hash=${percentEncode(Buffer.from(b))}`);
        assert.deepEqual(q.get('info_hash'), [Buffer.from(a), Buffer.from(b)]);
      }),
      { numRuns },
    );
    fc.assert(
      fc.property(fc.string({ maxLength: 200, unit: 'binary' }), (s) =>
        onlyThrows(() => {
          const q = parseQuery(s);
          onlyThrows(() => parseHttpAnnounce(q));
          onlyThrows(() => parseHttpScrape(q));
        }),
      ),
      { numRuns },
    );
  });

  it('compact: an endpoint packs and unpacks to the same address and port', () => {
    fc.assert(
      fc.property(fc.oneof(fc.ipV4(), fc.ipV6()), fc.integer({ min: 0, max: 65535 }), (text, port) => {
        const address = parseIp(text);
        assert.ok(address, text);
        const back = unpackEndpoint(packEndpoint(address, port));
        assert.equal(back.port, port);
        assert.deepEqual(parseIp(back.ip), address);
      }),
      { numRuns },
    );
  });

  it('HTTP request head: any bytes give a head, "incomplete" or "other", never a throw', () => {
    const valid = fc
      .tuple(fc.string({ maxLength: 60 }), fc.string({ maxLength: 30 }))
      .map(([q, h]) =>
        Buffer.from(`GET /announce?${q} HTTP/1.1\r\nHost: x\r\nX-Forwarded-For: ${h}\r\n\r\n`, 'latin1'),
      );
    fc.assert(
      fc.property(bytesAround(valid), fc.nat({ max: 20 }), (b, start) => {
        const head = parseTrackerRequestHead(b, Math.min(start, b.length), { maxTarget: 4096, maxHead: 8192 });
        if (head !== INCOMPLETE && head !== OTHER) assert.ok(head.end <= b.length);
      }),
      { numRuns },
    );
  });

  it('UDP requests: what the client codec encodes, the server parses back; any bytes parse or throw a ProtocolError', () => {
    const announce = fc.record({
      connectionId: fc.uint8Array({ minLength: 8, maxLength: 8 }),
      transactionId: int32,
      infoHash: bytes20,
      peerId: bytes20,
      downloaded: int53,
      left: int53,
      uploaded: int53,
      event: fc.integer({ min: 0, max: 3 }),
      key: fc.integer({ min: 0, max: 2 ** 32 - 1 }),
      numWant: int32,
      port: fc.integer({ min: 1, max: 65535 }), // 0 is refused (invalid_port)
    });
    fc.assert(
      fc.property(announce, (r) => {
        const p = parseUdpAnnounce(encodeUdpAnnounceRequest(r));
        assert.ok(p.infoHash.equals(r.infoHash) && p.peerId.equals(r.peerId));
        assert.equal(p.port, r.port);
        assert.equal(p.left, r.left);
        assert.equal(p.uploaded, r.uploaded);
        assert.equal(p.downloaded, r.downloaded);
        assert.equal(p.key, r.key);
        assert.equal(p.event, ['update', 'completed', 'started', 'stopped'][r.event]);
      }),
      { numRuns },
    );
    fc.assert(
      fc.property(fc.array(bytes20, { minLength: 1, maxLength: 74 }), int32, (hashes, tid) => {
        const parsed = parseUdpScrape(encodeUdpScrapeRequest(Buffer.alloc(8), tid, hashes));
        assert.deepEqual(parsed, hashes);
      }),
      { numRuns },
    );
    const requests = fc.oneof(
      announce.map(encodeUdpAnnounceRequest),
      int32.map(encodeUdpConnectRequest),
      fc.array(bytes20, { maxLength: 80 }).map((h) => encodeUdpScrapeRequest(Buffer.alloc(8), 1, h)),
    );
    fc.assert(
      fc.property(bytesAround(requests), (b) => {
        onlyThrows(() => parseUdpAnnounce(b));
        onlyThrows(() => parseUdpScrape(b));
      }),
      { numRuns },
    );
  });

  it('UDP replies: what the server encodes, the client codec parses back; any bytes parse or throw a ProtocolError', () => {
    const peers = fc.uint8Array({ maxLength: 120 }).map((u) => Buffer.from(u.subarray(0, u.length - (u.length % 6))));
    const counts = fc.integer({ min: 0, max: 2 ** 31 - 1 });
    fc.assert(
      fc.property(int32, counts, counts, counts, peers, (tid, interval, seeders, leechers, p) => {
        const reply = parseUdpReply(encodeUdpAnnounce(tid, { interval, seeders, leechers, peers: p }, 6, 200));
        assert.deepEqual(reply, { action: 'announce', transactionId: tid, interval, seeders, leechers, peers: p });
        const connect = parseUdpReply(encodeUdpConnect(tid, Buffer.alloc(8, 7)));
        assert.deepEqual(connect, { action: 'connect', transactionId: tid, connectionId: Buffer.alloc(8, 7) });
        const scrape = parseUdpReply(
          encodeUdpScrape(tid, [
            { infoHash: Buffer.alloc(20), complete: seeders, incomplete: leechers, downloaded: interval },
          ]),
        );
        assert.deepEqual(scrape, {
          action: 'scrape',
          transactionId: tid,
          files: [{ seeders, completed: interval, leechers }],
        });
      }),
      { numRuns },
    );
    fc.assert(
      fc.property(int32, fc.string({ maxLength: 100 }), (tid, message) => {
        const packet = encodeUdpError(tid, message);
        assert.ok(packet);
        assert.deepEqual(parseUdpReply(packet), { action: 'error', transactionId: tid, message });
      }),
      { numRuns },
    );
    fc.assert(
      fc.property(fc.uint8Array({ maxLength: 200 }), (u) => onlyThrows(() => parseUdpReply(Buffer.from(u)))),
      { numRuns },
    );
  });
});

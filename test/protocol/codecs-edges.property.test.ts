/**
 * Property-based tests of every codec in src/protocol/ (fast-check), beyond
 * codecs.property.test.ts: adversarial text (Object.prototype names as keys
 * and values), HTTP announce/scrape queries, generated request heads, IP text
 * forms against node:net and WHATWG URL, connection ids and SipHash:
 * - round trips wherever an encoder and a decoder exist;
 * - robustness: a parser of untrusted input, fed random bytes or strings and
 *   mutated valid inputs (byte flips, truncation, extension, insertion,
 *   deletion), returns a value or throws a ProtocolError, never anything else.
 *
 * Each property runs RUNS times (300 by default, so the file takes a few
 * seconds). For a long campaign set BITSTORM_PROPERTY_RUNS, e.g.
 *   BITSTORM_PROPERTY_RUNS=100000 node --test dist/test/protocol/codecs-edges.property.test.js
 * A failure prints fast-check's seed and shrunk counterexample; rerun one with
 * BITSTORM_PROPERTY_SEED=<seed> to reproduce it.
 */
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { describe, it } from 'node:test';
import fc from 'fast-check';
import { ERROR_CODES, ProtocolError } from '../../src/errors.js';
import {
  BencodeError,
  type BencodeValue,
  type DecodedValue,
  decodeBencode,
  encodeBencode,
} from '../../src/protocol/bencode.js';
import {
  type AddressFamily,
  formatIp,
  type ParsedAddress,
  packEndpoint,
  parseIp,
  unpackEndpoint,
  unpackPeers,
} from '../../src/protocol/compact.js';
import { ConnectionIds } from '../../src/protocol/connection-id.js';
import { keyToUint32, parseHttpAnnounce } from '../../src/protocol/http-announce.js';
import { INCOMPLETE, OTHER, parseTrackerRequestHead } from '../../src/protocol/http-request-head.js';
import { encodeHttpScrape, parseHttpScrape } from '../../src/protocol/http-scrape.js';
import { parseQuery, type QueryParams } from '../../src/protocol/query.js';
import { siphash24 } from '../../src/protocol/siphash.js';
import type { AnnounceEvent } from '../../src/protocol/types.js';
import {
  encodeUdpAnnounce,
  encodeUdpConnect,
  encodeUdpError,
  encodeUdpScrape,
  hasConnectMagic,
  parseUdpAnnounce,
  parseUdpOptions,
  parseUdpScrape,
  UDP_ACTION_CONNECT,
  UDP_ANNOUNCE_LENGTH,
  UDP_MAX_REQUEST_LENGTH,
  UDP_MAX_SCRAPE_HASHES,
} from '../../src/protocol/udp.js';
import {
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  encodeUdpScrapeRequest,
  encodeUdpUrlDataOptions,
  parseUdpReply,
} from '../../src/protocol/udp-client-codec.js';

const RUNS = Number(process.env.BITSTORM_PROPERTY_RUNS) || 300;
const SEED = process.env.BITSTORM_PROPERTY_SEED ? Number(process.env.BITSTORM_PROPERTY_SEED) : undefined;

function check<Ts extends [unknown, ...unknown[]]>(
  ...args: [...arbitraries: { [K in keyof Ts]: fc.Arbitrary<Ts[K]> }, predicate: (...values: Ts) => void]
): void {
  fc.assert(fc.property(...args), SEED === undefined ? { numRuns: RUNS } : { numRuns: RUNS, seed: SEED });
}

// ---------------------------------------------------------------------------
// Helpers

type ErrorClass = abstract new (...args: never[]) => Error;

function show(input: unknown): string {
  if (typeof input === 'string') return JSON.stringify(input);
  if (input instanceof Uint8Array)
    return `<${Buffer.from(input).toString('hex')}> ${JSON.stringify(Buffer.from(input).toString('latin1'))}`;
  if (input instanceof Map)
    return JSON.stringify([...input].map(([k, v]) => [k, v.map((b: Buffer) => b.toString('hex'))]));
  return String(input);
}

/**
 * Runs `parse`; returns its value, or undefined when it threw one of the
 * `allowed` error classes (a ProtocolError must also carry a documented code).
 * Anything else thrown fails the test, with the input shown.
 */
function parsesOrRefuses<T>(
  input: unknown,
  parse: () => T,
  allowed: readonly ErrorClass[] = [ProtocolError],
): T | undefined {
  try {
    return parse();
  } catch (err) {
    if (!allowed.some((c) => err instanceof c)) {
      assert.fail(`threw ${err instanceof Error ? err.stack : String(err)}\n  for input ${show(input)}`);
    }
    if (err instanceof ProtocolError) {
      assert.ok(
        (ERROR_CODES as readonly string[]).includes(err.code),
        `undocumented code ${err.code} for ${show(input)}`,
      );
    }
    return undefined;
  }
}

type Mutation =
  | { kind: 'flip'; at: number; mask: number }
  | { kind: 'truncate'; at: number }
  | { kind: 'extend'; bytes: Uint8Array }
  | { kind: 'insert'; at: number; bytes: Uint8Array }
  | { kind: 'delete'; at: number; count: number };

const mutationArb: fc.Arbitrary<Mutation> = fc.oneof(
  fc.record({ kind: fc.constant('flip' as const), at: fc.nat(), mask: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant('truncate' as const), at: fc.nat() }),
  fc.record({ kind: fc.constant('extend' as const), bytes: fc.uint8Array({ minLength: 1, maxLength: 64 }) }),
  fc.record({
    kind: fc.constant('insert' as const),
    at: fc.nat(),
    bytes: fc.uint8Array({ minLength: 1, maxLength: 8 }),
  }),
  fc.record({ kind: fc.constant('delete' as const), at: fc.nat(), count: fc.integer({ min: 1, max: 8 }) }),
);

function mutate(base: Buffer, mutations: readonly Mutation[]): Buffer {
  let b = Buffer.from(base);
  for (const m of mutations) {
    switch (m.kind) {
      case 'flip':
        if (b.length > 0) b[m.at % b.length] = (b[m.at % b.length] as number) ^ m.mask;
        break;
      case 'truncate':
        b = b.subarray(0, m.at % (b.length + 1));
        break;
      case 'extend':
        b = Buffer.concat([b, m.bytes]);
        break;
      case 'insert': {
        const at = m.at % (b.length + 1);
        b = Buffer.concat([b.subarray(0, at), m.bytes, b.subarray(at)]);
        break;
      }
      case 'delete': {
        const at = m.at % (b.length + 1);
        b = Buffer.concat([b.subarray(0, at), b.subarray(at + m.count)]);
        break;
      }
    }
  }
  return b;
}

/** Valid inputs from `valid`, each damaged by one to four mutations. */
function mutated(valid: fc.Arbitrary<Buffer>): fc.Arbitrary<Buffer> {
  return fc.tuple(valid, fc.array(mutationArb, { minLength: 1, maxLength: 4 })).map(([b, ms]) => mutate(b, ms));
}

const bytes = (constraints: fc.IntArrayConstraints = {}): fc.Arbitrary<Buffer> =>
  fc.uint8Array(constraints).map((a) => Buffer.from(a));
const bytesN = (n: number): fc.Arbitrary<Buffer> => bytes({ minLength: n, maxLength: n });
/** Random bytes, sometimes long (past the UDP request limit). */
const anyBytes = fc.oneof(
  bytes({ maxLength: 64 }),
  bytes({ maxLength: 200 }),
  bytes({ minLength: 1400, maxLength: 1600 }),
);

const int32 = fc.integer({ min: -0x80000000, max: 0x7fffffff });
const uint32 = fc.integer({ min: 0, max: 0xffffffff });
const port = fc.integer({ min: 1, max: 65535 });

/** Text that trips code using plain objects as maps. */
const prototypeKeys = fc.constantFrom(...Object.getOwnPropertyNames(Object.prototype));
const trickyText = fc.oneof(
  fc.string(),
  prototypeKeys,
  fc.string({ unit: fc.constantFrom('%', '&', '=', '+', 'a', 'F', '0', '9', 'é') }),
);

// ---------------------------------------------------------------------------
// bencode

/** A bencode value and the value decodeBencode must give back for its encoding. */
interface BencodeCase {
  value: BencodeValue;
  decoded: DecodedValue;
}

const { bencodeCase } = fc.letrec<{ bencodeCase: BencodeCase; list: BencodeCase; dict: BencodeCase }>((tie) => ({
  bencodeCase: fc.oneof(
    { depthSize: 'small', withCrossShrink: true },
    fc.maxSafeInteger().map((n) => ({ value: n, decoded: n })),
    fc
      .oneof(fc.bigInt({ min: -(1n << 80n), max: 1n << 80n }), fc.bigInt({ min: -100n, max: 100n }))
      .map((n) => ({ value: n, decoded: Number.isSafeInteger(Number(n)) ? Number(n) : n })),
    bytes({ maxLength: 40 }).map((b) => ({ value: b, decoded: b })),
    fc.string().map((s) => ({ value: s, decoded: Buffer.from(s, 'utf8') })),
    tie('list'),
    tie('dict'),
  ),
  list: fc
    .array(tie('bencodeCase'), { maxLength: 5 })
    .map((items) => ({ value: items.map((i) => i.value), decoded: items.map((i) => i.decoded) })),
  dict: fc
    .array(fc.tuple(fc.oneof(fc.string(), prototypeKeys), tie('bencodeCase')), { maxLength: 5 })
    .map((entries) => {
      // Null-prototype input so that any key (`__proto__` included) is an own entry.
      const value: Record<string, BencodeValue> = Object.create(null);
      const decoded: Record<string, DecodedValue> = {};
      for (const [k, c] of entries) {
        value[k] = c.value;
        // Decoded keys are the key's UTF-8 bytes read as latin1, own properties of a plain object.
        Object.defineProperty(decoded, Buffer.from(k, 'utf8').toString('latin1'), {
          value: c.decoded,
          enumerable: true,
          writable: true,
          configurable: true,
        });
      }
      return { value, decoded };
    }),
}));

describe('bencode properties', () => {
  it('decode(encode(v)) gives v back (byte strings as Buffers, keys byte-sorted)', () => {
    check(bencodeCase, (c) => {
      const encoded = encodeBencode(c.value);
      assert.deepStrictEqual(decodeBencode(encoded), c.decoded);
      // The encoding is canonical: encoding the same value twice gives the same bytes.
      assert.deepStrictEqual(encodeBencode(c.value), encoded);
    });
  });

  // decodeBencode's declared error is BencodeError (it decodes tracker replies
  // for tools and tests; the tracker itself never decodes bencode).
  const bencodeAlphabet = bytes({ maxLength: 80 }).map((b) =>
    Buffer.from(b.map((x) => 'ild e:0123456789-'.charCodeAt(x % 17))),
  );
  const nested = fc
    .tuple(fc.integer({ min: 0, max: 300 }), fc.constantFrom('l', 'd'))
    .map(([n, c]) => Buffer.from(`${c === 'd' ? 'd1:a'.repeat(n) : 'l'.repeat(n)}i1e${'e'.repeat(n)}`, 'latin1'));
  for (const [name, arb] of [
    ['random bytes', anyBytes],
    ['bencode-alphabet bytes', bencodeAlphabet],
    ['deep nesting', nested],
    ['mutated encodings', mutated(bencodeCase.map((c) => encodeBencode(c.value)))],
  ] as const) {
    it(`decode never throws anything but a BencodeError: ${name}`, () => {
      check(arb as fc.Arbitrary<Buffer>, (input) => {
        parsesOrRefuses(input, () => decodeBencode(input), [BencodeError]);
      });
    });
  }
});

// ---------------------------------------------------------------------------
// query strings

const HEX = '0123456789abcdef';

/**
 * Percent-encodes bytes the ways clients do: `%XX` in either case, a space as
 * `+`, any other byte raw (one latin1 char) except the four that have a meaning.
 * `choices` picks per byte.
 */
function percentEncode(data: Uint8Array, choices: readonly number[]): string {
  let out = '';
  for (let i = 0; i < data.length; i++) {
    const b = data[i] as number;
    const choice = choices.length === 0 ? 0 : (choices[i % choices.length] as number);
    const special = b === 0x25 || b === 0x26 || b === 0x3d || b === 0x2b;
    if (choice === 1 && !special) out += String.fromCharCode(b);
    else if (choice === 2 && b === 0x20) out += '+';
    else {
      const hex = `%${HEX[b >> 4]}${HEX[b & 15]}`;
      out += choice === 3 ? hex.toUpperCase() : hex;
    }
  }
  return out;
}
const choicesArb = fc.array(fc.integer({ min: 0, max: 3 }), { maxLength: 8 });

describe('query properties', () => {
  it('percent-encoded bytes decode to the same bytes (keys and values, repeated keys in order)', () => {
    check(
      fc.array(
        fc.tuple(
          bytes({ minLength: 1, maxLength: 12 }),
          fc.array(bytes({ maxLength: 30 }), { minLength: 1, maxLength: 3 }),
        ),
        {
          maxLength: 6,
        },
      ),
      choicesArb,
      (pairs, choices) => {
        const expected = new Map<string, Buffer[]>();
        const parts: string[] = [];
        for (const [key, values] of pairs) {
          const k = key.toString('latin1');
          for (const v of values) {
            parts.push(`${percentEncode(key, choices)}=${percentEncode(v, choices)}`);
            const list = expected.get(k);
            if (list) list.push(v);
            else expected.set(k, [v]);
          }
        }
        assert.deepStrictEqual(parseQuery(parts.join('&')), expected);
      },
    );
  });

  const latin1 = bytes({ maxLength: 100 }).map((b) => b.toString('latin1'));
  for (const [name, arb] of [
    ['random strings', fc.string({ unit: 'binary', maxLength: 100 })],
    ['random latin1', latin1],
    ['query-alphabet strings', trickyText],
  ] as const) {
    it(`parseQuery never throws anything but a ProtocolError, and its result is stable: ${name}`, () => {
      check(arb, (input) => {
        const params = parsesOrRefuses(input, () => parseQuery(input));
        if (params === undefined) return;
        // Re-encoding what was decoded (every byte as %XX) decodes to the same map.
        const again = [...params].flatMap(([k, vs]) =>
          vs.map((v) => `${percentEncode(Buffer.from(k, 'latin1'), [0])}=${percentEncode(v, [0])}`),
        );
        assert.deepStrictEqual(parseQuery(again.join('&')), params);
      });
    });
  }
});

// ---------------------------------------------------------------------------
// HTTP announce and scrape

const EVENT_TEXT: Record<string, AnnounceEvent> = {
  '': 'update',
  started: 'started',
  completed: 'completed',
  stopped: 'stopped',
  paused: 'update',
};

const announceArb = fc.record(
  {
    infoHash: bytesN(20),
    peerId: bytesN(20),
    port,
    uploaded: fc.maxSafeNat(),
    downloaded: fc.maxSafeNat(),
    left: fc.maxSafeNat(),
    event: fc.constantFrom('', 'started', 'completed', 'stopped', 'paused'),
    numWant: fc.integer({ min: -999_999_999, max: 999_999_999 }),
    key: fc.oneof(
      fc.stringMatching(/^[0-9a-fA-F]{1,8}$/).map((s) => Buffer.from(s, 'latin1')),
      bytes({ minLength: 1, maxLength: 20 }),
    ),
    ip: bytes({ maxLength: 40 }),
    ipv4: bytes({ maxLength: 40 }),
    ipv6: bytes({ maxLength: 40 }),
    compact: fc.constantFrom('0', '1', 'x'),
    no_peer_id: fc.constantFrom('0', '1', ''),
  },
  { requiredKeys: ['infoHash', 'peerId', 'port', 'left'] },
);
type AnnounceCase = typeof announceArb extends fc.Arbitrary<infer T> ? T : never;

function announceQuery(a: AnnounceCase, choices: readonly number[], order: readonly number[]): string {
  const fields: [string, Buffer][] = [
    ['info_hash', a.infoHash],
    ['peer_id', a.peerId],
    ['port', Buffer.from(String(a.port))],
    ['left', Buffer.from(String(a.left))],
  ];
  const optional: [string, Buffer | string | number | undefined][] = [
    ['uploaded', a.uploaded],
    ['downloaded', a.downloaded],
    ['event', a.event],
    ['numwant', a.numWant],
    ['key', a.key],
    ['ip', a.ip],
    ['ipv4', a.ipv4],
    ['ipv6', a.ipv6],
    ['compact', a.compact],
    ['no_peer_id', a.no_peer_id],
  ];
  for (const [k, v] of optional) {
    if (v !== undefined) fields.push([k, Buffer.isBuffer(v) ? v : Buffer.from(String(v), 'latin1')]);
  }
  // Any order of parameters.
  for (let i = fields.length - 1; i > 0; i--) {
    const j = (order[i % Math.max(order.length, 1)] ?? 0) % (i + 1);
    [fields[i], fields[j]] = [fields[j] as [string, Buffer], fields[i] as [string, Buffer]];
  }
  return fields.map(([k, v]) => `${k}=${percentEncode(v, choices)}`).join('&');
}

/** What a parsed announce must satisfy whatever the query was. */
function assertSaneAnnounce(query: unknown, parsed: ReturnType<typeof parseHttpAnnounce>): void {
  const p = parsed.params;
  const where = `for ${show(query)}`;
  assert.ok(['started', 'completed', 'stopped', 'update'].includes(p.event), `event ${String(p.event)} ${where}`);
  assert.equal(p.infoHash.length, 20, where);
  assert.equal(p.peerId.length, 20, where);
  assert.ok(Number.isInteger(p.port) && p.port >= 1 && p.port <= 65535, `port ${p.port} ${where}`);
  for (const n of [p.uploaded, p.downloaded, p.left]) assert.ok(Number.isFinite(n) && n >= 0, `${n} ${where}`);
  assert.ok(p.numWant === undefined || Number.isInteger(p.numWant), where);
  assert.ok(p.key === undefined || (Number.isInteger(p.key) && p.key >= 0 && p.key <= 0xffffffff), where);
}

const announceQueryFixed = `info_hash=${'%aa'.repeat(20)}&peer_id=${'%bb'.repeat(20)}&port=6881&left=0`;

describe('HTTP announce and scrape properties', () => {
  it('a query built from valid parameters parses to the same parameters', () => {
    check(announceArb, choicesArb, fc.array(fc.nat(), { maxLength: 16 }), (a, choices, order) => {
      const query = announceQuery(a, choices, order);
      const parsed = parseHttpAnnounce(parseQuery(query));
      const p = parsed.params;
      assert.deepStrictEqual(p.infoHash, a.infoHash);
      assert.deepStrictEqual(p.peerId, a.peerId);
      assert.equal(p.port, a.port);
      assert.equal(p.left, a.left);
      assert.equal(p.uploaded, a.uploaded ?? 0);
      assert.equal(p.downloaded, a.downloaded ?? 0);
      assert.equal(p.event, EVENT_TEXT[a.event ?? '']);
      assert.equal(p.numWant, a.numWant);
      if (a.key === undefined) assert.equal(p.key, undefined);
      else if (/^[0-9a-fA-F]{1,8}$/.test(a.key.toString('latin1'))) {
        assert.equal(p.key, Number.parseInt(a.key.toString('latin1'), 16));
      } else assert.equal(p.key, keyToUint32(a.key));
      assert.equal(p.ip, a.ip?.toString('latin1'));
      assert.equal(p.ipv4, a.ipv4?.toString('latin1'));
      assert.equal(p.ipv6, a.ipv6?.toString('latin1'));
      assert.equal(parsed.compact, a.compact !== '0');
      assert.equal(parsed.noPeerId, a.no_peer_id === '1');
      assertSaneAnnounce(query, parsed);
    });
  });

  it('announce: an event other than the five BEP 3/21 words is refused with invalid_event', () => {
    check(fc.oneof(prototypeKeys, trickyText), (event) => {
      const query = `${announceQueryFixed}&event=${percentEncode(Buffer.from(event, 'latin1'), [0])}`;
      const parsed = parsesOrRefuses(query, () => parseHttpAnnounce(parseQuery(query)));
      if (Object.hasOwn(EVENT_TEXT, event)) assert.equal(parsed?.params.event, EVENT_TEXT[event], query);
      else
        assert.equal(parsed, undefined, `accepted event ${JSON.stringify(event)} as ${String(parsed?.params.event)}`);
    });
  });

  const announceKeys = fc.oneof(
    fc.constantFrom('info_hash', 'peer_id', 'port', 'left', 'uploaded', 'downloaded', 'event', 'numwant', 'key'),
    fc.constantFrom('ip', 'ipv4', 'ipv6', 'compact', 'no_peer_id'),
    trickyText,
  );
  const announceValues = fc.oneof(
    bytesN(20),
    bytes({ maxLength: 24 }),
    trickyText.map((s) => Buffer.from(s, 'latin1')),
    fc
      .oneof(fc.integer(), fc.maxSafeInteger(), fc.bigInt({ min: -(1n << 70n), max: 1n << 70n }))
      .map((n) => Buffer.from(String(n))),
  );
  /** Mostly-valid parameters with random damage: some keys missing, some values random. */
  const randomParams: fc.Arbitrary<QueryParams> = fc
    .tuple(
      announceArb,
      choicesArb,
      fc.array(fc.tuple(announceKeys, fc.array(announceValues, { minLength: 1, maxLength: 3 })), { maxLength: 8 }),
      fc.array(fc.nat(), { maxLength: 4 }),
    )
    .map(([a, choices, extra, drop]) => {
      const params = parseQuery(announceQuery(a, choices, []));
      const keys = [...params.keys()];
      for (const d of drop) params.delete(keys[d % keys.length] as string);
      for (const [k, vs] of extra) params.set(k, vs);
      return params;
    });
  const validQuery = fc
    .tuple(announceArb, choicesArb, fc.array(fc.nat(), { maxLength: 16 }))
    .map(([a, c, o]) => Buffer.from(announceQuery(a, c, o), 'latin1'));

  it('announce: random parameters give a sane announce or a ProtocolError', () => {
    check(randomParams, (params) => {
      const parsed = parsesOrRefuses(params, () => parseHttpAnnounce(params));
      if (parsed) assertSaneAnnounce(params, parsed);
    });
  });

  it('announce: random and mutated query strings give a sane announce or a ProtocolError', () => {
    check(fc.oneof(mutated(validQuery), anyBytes), (input) => {
      const text = input.toString('latin1');
      const parsed = parsesOrRefuses(input, () => parseHttpAnnounce(parseQuery(text)));
      if (parsed) assertSaneAnnounce(input, parsed);
    });
  });

  const scrapeQuery = fc.tuple(fc.array(bytesN(20), { maxLength: 10 }), choicesArb).map(([hashes, choices]) => ({
    hashes,
    query: hashes.map((h) => `info_hash=${percentEncode(h, choices)}`).join('&'),
  }));

  it('scrape: a query of any number of info_hash parses to the same hashes in order', () => {
    check(scrapeQuery, ({ hashes, query }) => {
      assert.deepStrictEqual(parseHttpScrape(parseQuery(query)), hashes);
    });
  });

  it('scrape: random and mutated queries give 20-byte hashes or a ProtocolError', () => {
    check(fc.oneof(mutated(scrapeQuery.map((s) => Buffer.from(s.query, 'latin1'))), anyBytes), (input) => {
      const hashes = parsesOrRefuses(input, () => parseHttpScrape(parseQuery(input.toString('latin1'))));
      for (const h of hashes ?? []) assert.equal(h.length, 20, show(input));
    });
  });

  it('scrape reply: decodes to one entry per distinct hash with its counts', () => {
    const entry = fc.record({
      infoHash: fc.oneof(bytesN(20), fc.constant(Buffer.alloc(20, 7))),
      complete: fc.maxSafeNat(),
      downloaded: fc.maxSafeNat(),
      incomplete: fc.maxSafeNat(),
    });
    check(fc.array(entry, { maxLength: 8 }), (entries) => {
      const decoded = decodeBencode(encodeHttpScrape(entries)) as { files: Record<string, unknown> };
      const last = new Map(entries.map((e) => [e.infoHash.toString('latin1'), e]));
      assert.deepStrictEqual(Object.keys(decoded), ['files']);
      assert.equal(Object.keys(decoded.files).length, last.size);
      for (const [k, e] of last) {
        assert.deepStrictEqual(decoded.files[k], {
          complete: e.complete,
          downloaded: e.downloaded,
          incomplete: e.incomplete,
        });
      }
    });
  });
});

// ---------------------------------------------------------------------------
// HTTP request head

const tchar = fc.constantFrom(..."!#$%&'*+-.^_`|~0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ");
const visible = fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c));
const fieldChar = fc.oneof(
  visible,
  fc.constantFrom(' ', '\t'),
  fc.integer({ min: 0x80, max: 0xff }).map((c) => String.fromCharCode(c)),
);
const SPECIAL_HEADERS = [
  'host',
  'expect',
  'upgrade',
  'connection',
  'content-length',
  'transfer-encoding',
  'x-real-ip',
  'x-forwarded-for',
];
const headerValue = fc.string({ unit: fieldChar, maxLength: 30 });
const ows = fc.constantFrom('', ' ', '\t', '  ');

const headArb = fc
  .record({
    path: fc.constantFrom('/announce', '/announce.php', '/scrape', '/scrape.php'),
    query: fc.string({ unit: visible, minLength: 1, maxLength: 200 }),
    minor: fc.constantFrom(0, 1),
    host: fc.boolean(),
    connection: fc.constantFrom(undefined, 'close', 'keep-alive', 'Keep-Alive', 'foo, close', 'keep-alive, bar'),
    forwarded: fc.array(fc.tuple(ows, fc.string({ unit: visible, maxLength: 20 }), ows), { maxLength: 2 }),
    realIp: fc.array(fc.tuple(ows, fc.string({ unit: visible, maxLength: 20 }), ows), { maxLength: 2 }),
    others: fc.array(
      fc.tuple(
        fc
          .string({ unit: tchar, minLength: 1, maxLength: 16 })
          .filter((n) => !SPECIAL_HEADERS.includes(n.toLowerCase())),
        headerValue,
      ),
      { maxLength: 5 },
    ),
    order: fc.array(fc.nat(), { maxLength: 8 }),
  })
  .filter((h) => h.minor === 0 || h.host);
type HeadCase = typeof headArb extends fc.Arbitrary<infer T> ? T : never;

function headText(h: HeadCase): string {
  const lines: string[] = [];
  if (h.host) lines.push('Host: tracker.example');
  if (h.connection !== undefined) lines.push(`Connection: ${h.connection}`);
  for (const [a, v, b] of h.forwarded) lines.push(`X-Forwarded-For:${a}${v}${b}`);
  for (const [a, v, b] of h.realIp) lines.push(`x-real-ip:${a}${v}${b}`);
  for (const [n, v] of h.others) lines.push(`${n}: ${v}`);
  // Shuffle, keeping the relative order of repeated headers (they are joined in order).
  const [fixed, movable] = [lines.filter((l) => /^x-/i.test(l)), lines.filter((l) => !/^x-/i.test(l))];
  const out = [...fixed];
  for (let i = 0; i < movable.length; i++) out.splice((h.order[i] ?? 0) % (out.length + 1), 0, movable[i] as string);
  return `GET ${h.path}?${h.query} HTTP/1.${h.minor}\r\n${out.map((l) => `${l}\r\n`).join('')}\r\n`;
}

const HEAD_LIMITS = { maxTarget: 1 << 20, maxHead: 1 << 20 };

describe('HTTP request head properties', () => {
  it('a generated tracker request head parses to its route, query, keep-alive and forwarding headers', () => {
    check(headArb, bytes({ maxLength: 20 }), bytes({ maxLength: 40 }), (h, before, after) => {
      const head = Buffer.from(headText(h), 'latin1');
      const buf = Buffer.concat([before, head, after]);
      const r = parseTrackerRequestHead(buf, before.length, HEAD_LIMITS);
      assert.ok(typeof r === 'object', `${String(r)} for ${show(head)}`);
      assert.equal(r.route, h.path.startsWith('/announce') ? 'announce' : 'scrape');
      assert.equal(r.query, h.query);
      assert.equal(r.end, before.length + head.length);
      const tokens = (h.connection ?? '')
        .toLowerCase()
        .split(',')
        .map((t) => t.trim());
      assert.equal(r.keepAlive, tokens.includes('close') ? false : h.minor === 1 || tokens.includes('keep-alive'));
      const joined = (vs: [string, string, string][]) =>
        vs.length === 0 ? undefined : vs.map(([, v]) => v).join(', ');
      assert.equal(r.forwardedFor, joined(h.forwarded));
      assert.equal(r.realIp, joined(h.realIp));
    });
  });

  it('every strict prefix of a tracker request head is incomplete', () => {
    check(headArb, fc.nat(), (h, cut) => {
      const head = Buffer.from(headText(h), 'latin1');
      const prefix = head.subarray(0, cut % head.length);
      assert.equal(parseTrackerRequestHead(prefix, 0, HEAD_LIMITS), INCOMPLETE, show(prefix));
    });
  });

  const limits = fc.record({
    maxTarget: fc.integer({ min: 1, max: 4096 }),
    maxHead: fc.integer({ min: 1, max: 8192 }),
  });
  const headInputs = fc.oneof(
    anyBytes,
    bytes({ maxLength: 200 }).map((b) => Buffer.concat([Buffer.from('GET /announce?', 'latin1'), b])),
    mutated(headArb.map((h) => Buffer.from(headText(h), 'latin1'))),
  );

  it('random and mutated bytes give incomplete, other or a consistent head, and never throw', () => {
    check(headInputs, fc.nat(), limits, (buf, s, lim) => {
      const start = s % (buf.length + 1);
      const r = parsesOrRefuses(buf, () => parseTrackerRequestHead(buf, start, lim), []);
      if (r === INCOMPLETE || r === OTHER) return;
      assert.ok(r !== undefined && typeof r === 'object', show(buf));
      assert.ok(r.end > start && r.end <= buf.length, show(buf));
      assert.ok(r.end - start < lim.maxHead, show(buf));
      assert.ok(r.query.length > 0 && r.query.length <= lim.maxTarget, show(buf));
      assert.deepStrictEqual(buf.subarray(r.end - 4, r.end), Buffer.from('\r\n\r\n'), show(buf));
      assert.ok(buf.toString('latin1', start, r.end).includes(`?${r.query} HTTP/1.`), show(buf));
    });
  });
});

// ---------------------------------------------------------------------------
// compact endpoints and IP text

const v4Bytes = bytesN(4);
const v6Bytes = fc.oneof(
  bytesN(16),
  // Runs of zero groups (for `::`), and IPv4-mapped addresses.
  fc
    .array(fc.oneof(fc.constant(0), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 })
    .map((gs) => {
      const b = Buffer.alloc(16);
      for (let i = 0; i < 8; i++) b.writeUInt16BE(gs[i] as number, i * 2);
      return b;
    }),
  v4Bytes.map((b) => Buffer.concat([Buffer.from('00000000000000000000ffff', 'hex'), b])),
);

/** The address parseIp must give for 16 address bytes: IPv4-mapped ones are IPv4. */
function expectedV6(b: Buffer): ParsedAddress {
  const mapped = b.subarray(0, 12).equals(Buffer.from('00000000000000000000ffff', 'hex'));
  return mapped ? { family: 4, bytes: Buffer.from(b.subarray(12)) } : { family: 6, bytes: b };
}

describe('compact endpoint and IP properties', () => {
  it('IPv4: pack then unpack gives the address text and port, and the text parses to the same bytes', () => {
    check(v4Bytes, fc.integer({ min: 0, max: 65535 }), (b, p) => {
      const packed = packEndpoint({ family: 4, bytes: b }, p);
      assert.equal(packed.length, 6);
      const u = unpackEndpoint(packed);
      assert.deepStrictEqual(u, { ip: [...b].join('.'), port: p, family: 4 });
      assert.deepStrictEqual(parseIp(u.ip), { family: 4, bytes: b });
    });
  });

  it('IPv6: pack then unpack gives RFC 5952 text (as WHATWG URL writes it) that parses to the same bytes', () => {
    check(v6Bytes, fc.integer({ min: 0, max: 65535 }), (b, p) => {
      const packed = packEndpoint({ family: 6, bytes: b }, p);
      assert.equal(packed.length, 18);
      const u = unpackEndpoint(packed);
      assert.equal(u.port, p);
      assert.equal(u.family, 6);
      assert.equal(`[${u.ip}]`, new URL(`http://[${u.ip}]/`).hostname);
      assert.equal(u.ip, formatIp({ family: 6, bytes: b }));
      assert.deepStrictEqual(parseIp(u.ip), expectedV6(b));
    });
  });

  it('unpackPeers splits concatenated entries back into the same endpoints', () => {
    const family = fc.constantFrom<AddressFamily>(4, 6);
    check(family, fc.array(fc.tuple(v6Bytes, fc.integer({ min: 0, max: 65535 })), { maxLength: 10 }), (f, list) => {
      const entries = list.map(([b, p]) => ({ bytes: f === 4 ? b.subarray(12) : b, port: p }));
      const data = Buffer.concat(entries.map((e) => packEndpoint({ family: f, bytes: e.bytes }, e.port)));
      const peers = unpackPeers(data, f);
      assert.deepStrictEqual(
        peers,
        entries.map((e) => ({ ip: formatIp({ family: f, bytes: e.bytes }), port: e.port })),
      );
    });
  });

  it('every text form of an IPv6 address parses to its bytes (full, upper case, dotted tail, zone id)', () => {
    check(v6Bytes, fc.constantFrom('short', 'full', 'upper', 'dotted', 'zone'), (b, form) => {
      const groups = Array.from({ length: 8 }, (_, i) => b.readUInt16BE(i * 2).toString(16));
      let text: string;
      if (form === 'short') text = formatIp({ family: 6, bytes: b });
      else if (form === 'full') text = groups.map((g) => g.padStart(4, '0')).join(':');
      else if (form === 'upper') text = formatIp({ family: 6, bytes: b }).toUpperCase();
      else if (form === 'dotted') text = `${groups.slice(0, 6).join(':')}:${[...b.subarray(12)].join('.')}`;
      else text = `${formatIp({ family: 6, bytes: b })}%eth0`;
      assert.deepStrictEqual(parseIp(text), expectedV6(b), text);
    });
  });

  it('parseIp never throws, accepts exactly what node:net does, and its result formats back to itself', () => {
    const ipAlphabet = fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.%'), maxLength: 45 });
    const ipLike = fc.oneof(
      v4Bytes.map((b) => formatIp({ family: 4, bytes: b })),
      v6Bytes.map((b) => formatIp({ family: 6, bytes: b })),
    );
    const mutatedIp = mutated(ipLike.map((s) => Buffer.from(s, 'latin1'))).map((b) => b.toString('latin1'));
    check(fc.oneof(fc.string(), ipAlphabet, ipLike, mutatedIp), (text) => {
      const r = parsesOrRefuses(text, () => parseIp(text), []);
      const zone = text.indexOf('%');
      const bare = zone >= 0 ? text.slice(0, zone) : text;
      assert.equal(r !== undefined, isIP(bare) !== 0, `parseIp(${JSON.stringify(text)}) = ${JSON.stringify(r)}`);
      if (r === undefined) return;
      assert.equal(r.bytes.length, r.family === 4 ? 4 : 16);
      assert.deepStrictEqual(parseIp(formatIp(r)), r, text);
    });
  });
});

// ---------------------------------------------------------------------------
// UDP

const EVENT_NUMBERS: readonly AnnounceEvent[] = ['update', 'completed', 'started', 'stopped'];

const udpAnnounceArb = fc.record({
  connectionId: bytesN(8),
  transactionId: int32,
  infoHash: bytesN(20),
  peerId: bytesN(20),
  downloaded: fc.maxSafeInteger(),
  left: fc.maxSafeInteger(),
  uploaded: fc.maxSafeInteger(),
  event: fc.integer({ min: 0, max: 3 }),
  ip: uint32,
  key: uint32,
  numWant: int32,
  port,
  urlData: fc.oneof(bytes({ maxLength: 40 }), bytes({ maxLength: 600 })),
});
const udpScrapeArb = fc.record({
  connectionId: bytesN(8),
  transactionId: int32,
  hashes: fc.array(bytesN(20), { minLength: 1, maxLength: UDP_MAX_SCRAPE_HASHES }),
});
type UdpAnnounceCase = typeof udpAnnounceArb extends fc.Arbitrary<infer T> ? T : never;
const encodeAnnounceCase = (a: UdpAnnounceCase): Buffer =>
  encodeUdpAnnounceRequest({ ...a, options: a.urlData.length > 0 ? encodeUdpUrlDataOptions(a.urlData) : undefined });

const clamp = (n: number): number => (n > 0x7fffffff ? 0x7fffffff : n < 0 ? 0 : n);
const count = fc.oneof(fc.integer({ min: 0, max: 0x7fffffff }), fc.maxSafeInteger());

describe('UDP request properties (client encodes, server parses)', () => {
  it('connect: the request carries the magic, action 0 and the transaction id', () => {
    check(int32, (tid) => {
      const req = encodeUdpConnectRequest(tid);
      assert.ok(hasConnectMagic(req));
      assert.equal(req.readInt32BE(8), UDP_ACTION_CONNECT);
      assert.equal(req.readInt32BE(12), tid);
    });
  });

  it('announce: every field parses back (BEP 41 URLData included)', () => {
    check(udpAnnounceArb, (a) => {
      const packet = encodeAnnounceCase(a);
      assert.ok(packet.length <= UDP_MAX_REQUEST_LENGTH);
      assert.ok(!hasConnectMagic(packet) || a.connectionId.equals(packet.subarray(0, 8)));
      assert.deepStrictEqual(packet.subarray(0, 8), a.connectionId);
      assert.equal(packet.readInt32BE(12), a.transactionId);
      const p = parseUdpAnnounce(packet);
      assert.deepStrictEqual(p.infoHash, a.infoHash);
      assert.deepStrictEqual(p.peerId, a.peerId);
      assert.equal(p.downloaded, a.downloaded);
      assert.equal(p.left, a.left);
      assert.equal(p.uploaded, a.uploaded);
      assert.equal(p.event, EVENT_NUMBERS[a.event]);
      assert.equal(
        p.ip,
        a.ip === 0 ? undefined : `${a.ip >>> 24}.${(a.ip >>> 16) & 255}.${(a.ip >>> 8) & 255}.${a.ip & 255}`,
      );
      assert.equal(p.key, a.key);
      assert.equal(p.numWant, a.numWant < 0 ? undefined : a.numWant);
      assert.equal(p.port, a.port);
      assert.deepStrictEqual(p.urlData, a.urlData);
    });
  });

  it('scrape: 1 to 74 hashes parse back in order', () => {
    check(udpScrapeArb, (s) => {
      const packet = encodeUdpScrapeRequest(s.connectionId, s.transactionId, s.hashes);
      assert.equal(packet.readInt32BE(12), s.transactionId);
      assert.deepStrictEqual(parseUdpScrape(packet), s.hashes);
    });
  });

  const validRequests = fc.oneof(
    int32.map((tid) => encodeUdpConnectRequest(tid)),
    udpAnnounceArb.map(encodeAnnounceCase),
    udpScrapeArb.map((s) => encodeUdpScrapeRequest(s.connectionId, s.transactionId, s.hashes)),
  );
  const inputs = fc.oneof(anyBytes, mutated(validRequests));

  it('every request parser returns a value or throws a ProtocolError on random and mutated packets', () => {
    check(inputs, fc.nat(), (packet, offset) => {
      assert.equal(typeof parsesOrRefuses(packet, () => hasConnectMagic(packet), []), 'boolean');
      const a = parsesOrRefuses(packet, () => parseUdpAnnounce(packet));
      if (a) {
        assert.ok(packet.length >= UDP_ANNOUNCE_LENGTH && packet.length <= UDP_MAX_REQUEST_LENGTH, show(packet));
        assert.ok(EVENT_NUMBERS.includes(a.event) && a.port >= 1, show(packet));
        assert.equal(a.infoHash.length + a.peerId.length, 40, show(packet));
      }
      const hashes = parsesOrRefuses(packet, () => parseUdpScrape(packet));
      if (hashes) {
        assert.ok(hashes.length >= 1 && hashes.length <= UDP_MAX_SCRAPE_HASHES, show(packet));
        for (const h of hashes) assert.equal(h.length, 20, show(packet));
      }
      const url = parsesOrRefuses(packet, () => parseUdpOptions(packet, offset % (packet.length + 1)), []);
      assert.ok(url !== undefined && url.length <= packet.length, show(packet));
    });
  });
});

describe('UDP reply properties (server encodes, client parses)', () => {
  it('connect reply', () => {
    check(int32, bytesN(8), (tid, cid) => {
      assert.deepStrictEqual(parseUdpReply(encodeUdpConnect(tid, cid)), {
        action: 'connect',
        transactionId: tid,
        connectionId: cid,
      });
    });
  });

  it('announce reply: counts (clamped to int32) and at most maxPeers whole entries', () => {
    check(
      int32,
      fc.record({ interval: count, seeders: count, leechers: count }),
      fc.constantFrom<6 | 18>(6, 18),
      fc.integer({ min: 0, max: 40 }),
      fc.integer({ min: 0, max: 250 }),
      fc.integer({ min: 0, max: 17 }),
      (tid, counts, size, n, maxPeers, junk) => {
        const whole = Buffer.alloc(n * size);
        for (let i = 0; i < whole.length; i++) whole[i] = (i * 31 + n) & 255;
        const peers = Buffer.concat([whole, Buffer.alloc(junk % size, 0xee)]);
        const r = parseUdpReply(encodeUdpAnnounce(tid, { ...counts, peers }, size, maxPeers));
        assert.deepStrictEqual(r, {
          action: 'announce',
          transactionId: tid,
          interval: clamp(counts.interval),
          leechers: clamp(counts.leechers),
          seeders: clamp(counts.seeders),
          peers: whole.subarray(0, Math.min(n, maxPeers) * size),
        });
      },
    );
  });

  it('scrape reply: one entry per hash, in order, clamped to int32', () => {
    const entry = fc.record({ infoHash: bytesN(20), complete: count, downloaded: count, incomplete: count });
    check(int32, fc.array(entry, { maxLength: UDP_MAX_SCRAPE_HASHES }), (tid, entries) => {
      assert.deepStrictEqual(parseUdpReply(encodeUdpScrape(tid, entries)), {
        action: 'scrape',
        transactionId: tid,
        files: entries.map((e) => ({
          seeders: clamp(e.complete),
          completed: clamp(e.downloaded),
          leechers: clamp(e.incomplete),
        })),
      });
    });
  });

  it('error reply: the message comes back, and maxLength bounds the packet', () => {
    check(
      int32,
      fc.string({ unit: 'grapheme', maxLength: 60 }),
      fc.option(fc.integer({ min: 0, max: 300 }), { nil: undefined }),
      (tid, message, max) => {
        const out = encodeUdpError(tid, message, max);
        const size = 8 + Buffer.byteLength(message, 'utf8');
        if (max !== undefined && size > max) {
          assert.equal(out, undefined);
          return;
        }
        assert.ok(out !== undefined && out.length === size);
        assert.deepStrictEqual(parseUdpReply(out), { action: 'error', transactionId: tid, message });
      },
    );
  });

  const validReplies = fc.oneof(
    fc.tuple(int32, bytesN(8)).map(([t, c]) => encodeUdpConnect(t, c)),
    fc
      .tuple(int32, bytes({ maxLength: 120 }))
      .map(([t, p]) => encodeUdpAnnounce(t, { interval: 1800, seeders: 3, leechers: 4, peers: p }, 6, 200)),
    fc
      .tuple(
        int32,
        fc.array(fc.record({ infoHash: bytesN(20), complete: count, downloaded: count, incomplete: count }), {
          maxLength: 5,
        }),
      )
      .map(([t, e]) => encodeUdpScrape(t, e)),
    fc.tuple(int32, fc.string()).map(([t, m]) => encodeUdpError(t, m) as Buffer),
  );

  it('parseUdpReply returns a reply or throws a ProtocolError on random and mutated packets', () => {
    check(fc.oneof(anyBytes, mutated(validReplies)), (packet) => {
      const r = parsesOrRefuses(packet, () => parseUdpReply(packet));
      if (r) assert.equal(r.transactionId, packet.readInt32BE(4), show(packet));
    });
  });
});

// ---------------------------------------------------------------------------
// connection ids and SipHash

const ip16 = fc.oneof(
  bytesN(16),
  v4Bytes.map((b) => Buffer.concat([Buffer.from('00000000000000000000ffff', 'hex'), b])),
);
const epochMs = fc.integer({ min: 0, max: 4_000_000_000_000 });

describe('connection id properties', () => {
  it('an id verifies for its ip and port within its age, not for another ip or port, not once expired', () => {
    check(
      bytes({ maxLength: 40 }),
      ip16,
      port,
      epochMs,
      fc.integer({ min: 0, max: 120_999 }),
      ip16,
      port,
      (secret, ip, p, t0, later, otherIp, otherPort) => {
        let now = t0;
        const ids = new ConnectionIds({ secret, now: () => now });
        const id = Buffer.alloc(8);
        ids.issue(ip, p, id, 0);
        now = t0 + later;
        // Within 120 whole seconds of the issuing second.
        const age = Math.floor(now / 1000) - Math.floor(t0 / 1000);
        assert.equal(ids.verify(id, 0, ip, p), age <= 120);
        if (!otherIp.equals(ip)) assert.equal(ids.verify(id, 0, otherIp, p), false);
        if (otherPort !== p) assert.equal(ids.verify(id, 0, ip, otherPort), false);
        // Long after (the 16-bit time field wraps every 65,536 s): still refused.
        now = t0 + (121 + (later % 200_000)) * 1000;
        assert.equal(ids.verify(id, 0, ip, p), false);
      },
    );
  });

  it('another secret does not verify the id; random ids do not verify', () => {
    check(
      bytes({ maxLength: 40 }),
      bytes({ maxLength: 40 }),
      ip16,
      port,
      epochMs,
      bytesN(8),
      (s1, s2, ip, p, t, random) => {
        const a = new ConnectionIds({ secret: s1, now: () => t });
        const b = new ConnectionIds({ secret: s2, now: () => t });
        const id = Buffer.alloc(8);
        a.issue(ip, p, id, 0);
        if (!s1.equals(s2)) assert.equal(b.verify(id, 0, ip, p), false);
        if (!random.equals(id)) assert.equal(a.verify(random, 0, ip, p), false);
      },
    );
  });
});

describe('SipHash properties', () => {
  it('the hash of a range is the hash of the same bytes copied to offset 0', () => {
    check(
      fc.array(uint32, { minLength: 4, maxLength: 4 }),
      bytes({ maxLength: 64 }),
      bytes({ maxLength: 16 }),
      bytes({ maxLength: 16 }),
      (k, data, before, after) => {
        const key = Uint32Array.from(k);
        const a = new Uint32Array(2);
        const b = new Uint32Array(2);
        siphash24(key, data, 0, data.length, a);
        siphash24(key, Buffer.concat([before, data, after]), before.length, data.length, b);
        assert.deepStrictEqual(b, a);
      },
    );
  });
});

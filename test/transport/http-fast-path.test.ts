import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { connect, type Socket } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type DecodedDict, decodeBencode } from '../../src/protocol/bencode.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { nodeMajor, TESTED_NODE_MAJORS } from '../../src/transport/http/tcp-handles.js';
import { announceQuery, makeId } from '../helpers/http-tracker-client.js';

/**
 * The HTTP fast path (src/transport/http/fast-path.ts) over raw sockets: what
 * it serves must be byte for byte what node:http sends (checked against a
 * tracker with --http-fast-path off), and whatever it does not serve must
 * reach node:http unchanged, on the same connection.
 *
 * These trackers force the fast path on (--http-fast-path force), so that the
 * tests exercise it on whichever Node runs them: that is how a Node major
 * qualifies for TESTED_NODE_MAJORS. scripts/test.sh runs this file under each
 * of them. Where it serves by default is tested at the end.
 */

interface Response {
  head: string;
  status: number;
  headers: Map<string, string>;
  body: Buffer;
}

/** Splits a byte stream into complete HTTP responses (Content-Length framed). */
function splitResponses(data: Buffer): { responses: Response[]; rest: Buffer } {
  const responses: Response[] = [];
  let at = 0;
  for (;;) {
    const end = data.indexOf('\r\n\r\n', at);
    if (end < 0) break;
    const head = data.toString('latin1', at, end);
    const headers = new Map<string, string>();
    for (const line of head.split('\r\n').slice(1)) {
      const colon = line.indexOf(':');
      headers.set(line.slice(0, colon).toLowerCase(), line.slice(colon + 1).trim());
    }
    const length = Number(headers.get('content-length') ?? 0);
    if (data.length < end + 4 + length) break;
    responses.push({
      head,
      status: Number(head.split(' ')[1]),
      headers,
      body: data.subarray(end + 4, end + 4 + length),
    });
    at = end + 4 + length;
  }
  return { responses, rest: data.subarray(at) };
}

interface Exchange {
  data: Buffer;
  responses: Response[];
  /** The server closed the connection (FIN or reset) before we gave up. */
  closed: boolean;
  ms: number;
}

/**
 * Connects, writes each piece (pausing `gapMs` between pieces), and reads until
 * the server closes, `expect` responses arrived (then we close), or `waitMs`.
 */
function exchange(
  port: number,
  pieces: (string | Buffer)[],
  options: { expect?: number; waitMs?: number; gapMs?: number; endAfterWrite?: boolean } = {},
): Promise<Exchange> {
  const started = Date.now();
  return new Promise((resolve, reject) => {
    const socket: Socket = connect(port, '127.0.0.1');
    socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    let settled = false;
    const done = (closed: boolean): void => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      socket.destroy();
      const data = Buffer.concat(chunks);
      resolve({ data, responses: splitResponses(data).responses, closed, ms: Date.now() - started });
    };
    const timer = setTimeout(() => done(false), options.waitMs ?? 3000);
    socket.on('data', (d: Buffer) => {
      chunks.push(d);
      if (options.expect !== undefined && splitResponses(Buffer.concat(chunks)).responses.length >= options.expect) {
        done(false);
      }
    });
    socket.on('close', () => done(true));
    socket.on('error', (err: NodeJS.ErrnoException) => {
      if (err.code === 'ECONNRESET') return done(true);
      reject(err);
    });
    socket.on('connect', async () => {
      for (const piece of pieces) {
        if (socket.destroyed) return;
        socket.write(piece);
        if (options.gapMs) await new Promise((r) => setTimeout(r, options.gapMs));
      }
      if (options.endAfterWrite) socket.end();
    });
  });
}

function withoutDate(data: Buffer): string {
  return data.toString('latin1').replace(/Date: [^\r]*\r\n/g, '');
}

const hashes = Array.from({ length: 40 }, (_, i) => Buffer.alloc(20, i + 1));
let next = 0;
/** A fresh torrent per request keeps bodies deterministic (no random peer sample). */
function announcePath(extra = ''): string {
  const n = next++;
  return `/announce?${announceQuery({ infoHash: hashes[n % hashes.length] as Buffer, peerId: makeId('-FP0001-', n), port: 6881, numwant: 5 })}${extra}`;
}
function get(path: string, headers = 'Host: t\r\n', version = '1.1'): string {
  return `GET ${path} HTTP/${version}\r\n${headers}\r\n`;
}

async function startTracker(
  options: TrackerOptions,
): Promise<{ tracker: Tracker; port: number; nodeRequests: string[] }> {
  const tracker = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', quiet: true, ...options });
  const port = (await tracker.listen()).http.port;
  const nodeRequests: string[] = [];
  tracker.http.server.on('request', (req) => nodeRequests.push(`${req.method} ${req.url}`));
  return { tracker, port, nodeRequests };
}

describe('HTTP fast path', () => {
  let fast: Awaited<ReturnType<typeof startTracker>>;
  let slow: Awaited<ReturnType<typeof startTracker>>;

  before(async () => {
    fast = await startTracker({ requestTimeout: 700, trustProxy: ['127.0.0.1'], httpFastPath: 'force' });
    slow = await startTracker({ requestTimeout: 700, trustProxy: ['127.0.0.1'], httpFastPath: false });
    assert.deepEqual(
      [fast.tracker.http.path.path, slow.tracker.http.path.path],
      ['fast', 'node:http'],
      fast.tracker.http.path.reason,
    );
  });
  after(async () => {
    await fast.tracker.close();
    await slow.tracker.close();
  });

  it('answers byte for byte as node:http does, without reaching node:http', async () => {
    const cases: [string, number][] = [];
    const add = (request: string, expect = 1): void => void cases.push([request, expect]);
    add(get(announcePath(), 'Host: t\r\nConnection: close\r\n'));
    add(get(announcePath(), '', '1.0'));
    add(get(announcePath()));
    add(get(announcePath(), 'Connection: keep-alive\r\n', '1.0'));
    add(get(announcePath('&compact=0'), 'host: t\r\nUser-Agent: x\r\nCONNECTION: Close\r\n'));
    add(get(announcePath('&no_peer_id=1&compact=0'), 'Host: t\r\nConnection: close\r\n'));
    add(get(`/scrape?info_hash=${'%01'.repeat(20)}&info_hash=${'%02'.repeat(20)}`, 'Host: t\r\nConnection: close\r\n'));
    add(get('/scrape.php?info_hash=short', 'Host: t\r\nConnection: close\r\n'));
    add(get('/announce.php?info_hash=%zz', 'Host: t\r\nConnection: close\r\n'));
    add(get('/announce?port=1', 'Host: t\r\nConnection: close\r\n'));
    // Where the client is believed to be: the trusted proxy's headers.
    add(get(announcePath(), 'Host: t\r\nX-Forwarded-For: 10.1.2.3\r\nConnection: close\r\n'));
    add(get(announcePath(), 'Host: t\r\nX-Real-IP: 10.4.5.6\r\nConnection: close\r\n'));
    for (const [request, expect] of cases) {
      const a = await exchange(fast.port, [request], { expect, waitMs: 1500 });
      const b = await exchange(slow.port, [request], { expect, waitMs: 1500 });
      assert.equal(a.responses.length, expect, request);
      assert.equal(withoutDate(a.data), withoutDate(b.data), request);
      assert.match(a.responses[0]?.headers.get('date') ?? '', /^\w{3}, \d\d \w{3} \d{4} \d\d:\d\d:\d\d GMT$/);
    }
    assert.deepEqual(fast.nodeRequests, []);
    assert.equal(slow.nodeRequests.length, cases.length);
  });

  it('the trusted proxy header decides the stored address', async () => {
    const infoHash = Buffer.alloc(20, 0xaa);
    const q = (n: number) => announceQuery({ infoHash, peerId: makeId('-FPXFF-', n), port: 7000 + n, numwant: 10 });
    await exchange(
      fast.port,
      [get(`/announce?${q(1)}`, 'Host: t\r\nX-Forwarded-For: 1.1.1.1, 10.9.8.7\r\nConnection: close\r\n')],
      {
        expect: 1,
      },
    );
    const r = await exchange(fast.port, [get(`/announce?${q(2)}`, 'Host: t\r\nConnection: close\r\n')], { expect: 1 });
    const body = decodeBencode(r.responses[0]?.body as Buffer) as DecodedDict;
    assert.deepEqual(body.peers, Buffer.from([10, 9, 8, 7, 0x1b, 0x59]));
  });

  it('closes a one-request connection right after the answer', async () => {
    for (const request of [get(announcePath(), '', '1.0'), get(announcePath(), 'Host: t\r\nConnection: close\r\n')]) {
      const r = await exchange(fast.port, [request], { waitMs: 2000 });
      assert.equal(r.closed, true);
      assert.equal(r.responses.length, 1);
      assert.equal(r.responses[0]?.headers.get('connection'), 'close');
      assert.ok(r.ms < 1000, `closed after ${r.ms} ms`);
    }
  });

  it('serves several requests on a keep-alive connection, one by one and pipelined', async () => {
    const paths = [announcePath(), announcePath(), `/scrape?info_hash=${'%03'.repeat(20)}`];
    const oneByOne = await exchange(
      fast.port,
      paths.map((p) => get(p)),
      { expect: 3, gapMs: 30 },
    );
    assert.deepEqual(
      oneByOne.responses.map((r) => [r.status, r.headers.get('connection'), r.headers.get('keep-alive')]),
      [
        [200, 'keep-alive', 'timeout=5'],
        [200, 'keep-alive', 'timeout=5'],
        [200, 'keep-alive', 'timeout=5'],
      ],
    );
    const pipelined = [announcePath(), announcePath(), announcePath()].map((p) => get(p)).join('');
    const last = get(announcePath(), 'Host: t\r\nConnection: close\r\n');
    const r = await exchange(fast.port, [pipelined + last], { waitMs: 2000 });
    assert.equal(r.responses.length, 4);
    assert.equal(r.closed, true);
    for (const res of r.responses) assert.ok((decodeBencode(res.body) as DecodedDict).interval);
    assert.equal(r.responses[3]?.headers.get('connection'), 'close');
    assert.deepEqual(fast.nodeRequests, []);
  });

  it('takes a request split over reads, even byte by byte', async () => {
    const request = get(announcePath(), 'Host: t\r\nConnection: close\r\n');
    const halves = await exchange(fast.port, [request.slice(0, 30), request.slice(30)], { gapMs: 20, waitMs: 2000 });
    assert.equal(halves.responses[0]?.status, 200);
    assert.ok((decodeBencode(halves.responses[0]?.body as Buffer) as DecodedDict).interval);
    // Short, so the request timeout of this tracker (700 ms) is no concern: a failure reason is an answer too.
    const bytes = [...get('/announce?port=1', '', '1.0')];
    const byByte = await exchange(fast.port, bytes, { gapMs: 2, waitMs: 3000 });
    assert.equal(byByte.responses[0]?.status, 200);
    assert.match(byByte.responses[0]?.body.toString() ?? '', /missing info_hash/);
  });

  it('answers a client that half-closes after its request', async () => {
    const r = await exchange(fast.port, [get(announcePath())], { endAfterWrite: true, waitMs: 2000 });
    assert.equal(r.responses.length, 1);
    assert.ok((decodeBencode(r.responses[0]?.body as Buffer) as DecodedDict).interval);
    assert.equal(r.closed, true);
  });

  it('answers a closing request followed by more bytes in full, then closes', async () => {
    const request = get(announcePath(), 'Host: t\r\nConnection: close\r\n');
    const r = await exchange(fast.port, [request + get(announcePath())], { waitMs: 2000 });
    assert.equal(r.responses.length, 1);
    assert.equal(splitResponses(r.data).rest.length, 0);
    assert.equal(r.closed, true);
    assert.ok(r.ms < 1000);
  });

  it('leaves other requests to node:http, also mid-connection', async () => {
    fast.nodeRequests.length = 0;
    const notFound = await exchange(fast.port, [get('/nope?x=1', 'Host: t\r\nConnection: close\r\n')], { expect: 1 });
    assert.equal(notFound.responses[0]?.status, 404);
    const post = await exchange(
      fast.port,
      [`POST ${announcePath()} HTTP/1.1\r\nHost: t\r\nContent-Length: 3\r\nConnection: close\r\n\r\nabc`],
      { expect: 1 },
    );
    assert.equal(post.responses[0]?.status, 405);
    assert.equal(post.responses[0]?.headers.get('allow'), 'GET, HEAD');
    const stats = await exchange(fast.port, [get('/stats.json', 'Host: t\r\nConnection: close\r\n')], { expect: 1 });
    assert.equal(stats.responses[0]?.status, 200);
    const landing = await exchange(fast.port, [get('/announce', 'Host: t\r\nConnection: close\r\n')], { expect: 1 });
    assert.equal(landing.responses[0]?.status, 302);
    // An announce, then the stats in the same write: answered in order on one connection.
    const mixed = await exchange(
      fast.port,
      [get(announcePath()) + get('/stats.json', 'Host: t\r\nConnection: close\r\n')],
      {
        waitMs: 2000,
      },
    );
    assert.deepEqual(
      mixed.responses.map((r) => [r.status, r.headers.get('content-type')]),
      [
        [200, 'text/plain'],
        [200, 'application/json; charset=utf-8'],
      ],
    );
    // Bad request lines and oversize requests get node:http's answers.
    const garbage = await exchange(fast.port, ['\x00\x01GARBAGE\r\n\r\n'], { waitMs: 2000 });
    assert.match(garbage.data.toString(), /^HTTP\/1\.1 400/);
    const long = await exchange(fast.port, [get(`/announce?x=${'a'.repeat(9000)}`)], { waitMs: 2000 });
    assert.match(long.data.toString(), /^HTTP\/1\.1 414/);
    const big = await exchange(fast.port, [get(announcePath(), `Host: t\r\nX-Big: ${'b'.repeat(20000)}\r\n`)], {
      waitMs: 2000,
    });
    assert.match(big.data.toString(), /^HTTP\/1\.1 431/);
    assert.deepEqual(fast.nodeRequests.slice(0, 5), [
      'GET /nope?x=1',
      `POST ${fast.nodeRequests[1]?.slice(5)}`,
      'GET /stats.json',
      'GET /announce',
      'GET /stats.json',
    ]);
  });

  it('survives mangled requests and keeps serving', async () => {
    const valid = Buffer.from(get(announcePath()) + get(announcePath(), 'Host: t\r\nConnection: close\r\n'));
    let seed = 12345;
    const random = (n: number): number => {
      seed = (seed * 1103515245 + 12345) & 0x7fffffff;
      return seed % n;
    };
    const runs: Promise<Exchange>[] = [];
    for (let i = 0; i < 150; i++) {
      const mangled = Buffer.from(valid.subarray(0, 1 + random(valid.length)));
      for (let k = random(4); k >= 0; k--) mangled[random(mangled.length)] = random(256);
      const cut = random(mangled.length);
      runs.push(exchange(fast.port, [mangled.subarray(0, cut), mangled.subarray(cut)], { waitMs: 300 }));
    }
    await Promise.all(runs);
    const r = await exchange(fast.port, [get(announcePath(), 'Host: t\r\nConnection: close\r\n')], { expect: 1 });
    assert.equal(r.responses[0]?.status, 200);
  });

  it('gives a slow or silent client 408 after the request timeout', async () => {
    for (const pieces of [[], ['GET /announce?info_hash='], [get(announcePath()), 'GET /annou']]) {
      const r = await exchange(fast.port, pieces, { waitMs: 3000 });
      assert.equal(r.closed, true, JSON.stringify(pieces));
      assert.match(
        withoutDate(r.data),
        /HTTP\/1\.1 408 Request Timeout\r\nConnection: close\r\nContent-Length: 0\r\n\r\n$/,
      );
      assert.ok(r.ms >= 600 && r.ms < 2500, `closed after ${r.ms} ms`);
    }
  });

  it('closes an idle keep-alive connection after the keep-alive timeout', async () => {
    const r = await exchange(fast.port, [get(announcePath())], { waitMs: 8000 });
    assert.equal(r.responses.length, 1);
    assert.equal(r.closed, true);
    assert.equal(splitResponses(r.data).rest.length, 0, 'nothing after the answer');
    assert.ok(r.ms >= 4900 && r.ms < 7000, `closed after ${r.ms} ms`);
  });
});

describe('HTTP fast path shutdown', () => {
  it('close() closes open keep-alive connections and resolves promptly', async () => {
    const { tracker, port } = await startTracker({ httpFastPath: 'force' });
    const sockets: Promise<Exchange>[] = [];
    for (let i = 0; i < 3; i++) sockets.push(exchange(port, [get(announcePath())], { waitMs: 5000 }));
    sockets.push(exchange(port, [], { waitMs: 5000 })); // connected, silent
    await new Promise((r) => setTimeout(r, 200));
    const started = Date.now();
    await tracker.close();
    assert.ok(Date.now() - started < 1000, `close took ${Date.now() - started} ms`);
    for (const r of await Promise.all(sockets)) {
      assert.equal(r.closed, true);
      assert.ok(r.ms < 1500);
    }
  });
});

/** Polls `check` every 20 ms until it holds; fails after `ms`. */
async function until(check: () => Promise<boolean>, what: string, ms = 3000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!(await check())) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 20));
  }
}

/** A client connection kept open by the test; `data` collects what the server sent. */
function openConnection(port: number): Promise<{ socket: Socket; data: () => Buffer; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    let closed = false;
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('close', () => (closed = true));
    socket.on('error', () => undefined);
    socket.once('error', reject);
    socket.on('connect', () => resolve({ socket, data: () => Buffer.concat(chunks), closed: () => closed }));
  });
}

describe('HTTP fast path connections and the server', () => {
  it("count among the server's connections, and server.maxConnections holds for them", async () => {
    const { tracker, port, nodeRequests } = await startTracker({ httpFastPath: 'force', requestTimeout: 8000 });
    const server = tracker.http.server;
    const count = (): Promise<number> =>
      new Promise((resolve, reject) => server.getConnections((err, n) => (err ? reject(err) : resolve(n))));
    let drops = 0;
    server.on('drop', () => drops++);
    try {
      // Two silent connections: the fast path holds them, waiting for a request.
      const a = await openConnection(port);
      const b = await openConnection(port);
      await until(async () => (await count()) === 2, 'two connections counted');
      server.maxConnections = 2;
      // A third one is dropped by node:net, as with node:http alone.
      const third = await openConnection(port);
      await until(async () => third.closed(), 'the third connection to be dropped');
      assert.equal(third.data().length, 0);
      assert.equal(drops, 1);
      assert.equal(await count(), 2);
      // Handed over to node:http at the limit: still served, and counted once.
      a.socket.write(get('/stats.json'));
      await until(async () => splitResponses(a.data()).responses.length === 1, 'the stats answer');
      assert.deepEqual(nodeRequests, ['GET /stats.json']);
      assert.equal(await count(), 2);
      // Answered and closed by the fast path: it leaves the count.
      b.socket.write(get(announcePath(), 'Host: t\r\nConnection: close\r\n'));
      await until(async () => b.closed(), 'the fast path to close its connection');
      assert.equal(splitResponses(b.data()).responses[0]?.status, 200);
      await until(async () => (await count()) === 1, 'one connection left');
      a.socket.destroy();
      await until(async () => (await count()) === 0, 'no connection left');
      assert.equal(drops, 1);
    } finally {
      await tracker.close();
    }
  });
});

describe('HTTP fast path: which Node majors it serves on', () => {
  const untested = Math.max(...TESTED_NODE_MAJORS) + 1;

  /** Starts a tracker, announces once, and reports which path served and what /stats.json says. */
  async function served(options: TrackerOptions) {
    const t = await startTracker(options);
    try {
      const close = 'Host: t\r\nConnection: close\r\n';
      const r = await exchange(t.port, [get(announcePath(), close)], { expect: 1 });
      assert.ok((decodeBencode(r.responses[0]?.body as Buffer) as DecodedDict).interval);
      const stats = await exchange(t.port, [get('/stats.json', close)], { expect: 1 });
      const json = JSON.parse(stats.responses[0]?.body.toString() ?? '') as { process: { httpPath: string } };
      return {
        ...t.tracker.http.path,
        stats: json.process.httpPath,
        byNodeHttp: t.nodeRequests.some((line) => line.startsWith('GET /announce')),
      };
    } finally {
      await t.tracker.close();
    }
  }

  it('serves by the fast path on every tested major, and /stats.json says so', async () => {
    for (const major of TESTED_NODE_MAJORS) {
      const r = await served({ nodeMajor: major });
      assert.deepEqual([r.path, r.stats, r.byNodeHttp], ['fast', 'fast', false], `Node ${major}`);
      assert.match(r.reason, new RegExp(`^Node ${major} is one of the majors it is tested on`));
    }
  });

  it('leaves everything to node:http on an untested major, unless forced, or when off', async () => {
    const other = await served({ nodeMajor: untested });
    assert.deepEqual([other.path, other.stats, other.byNodeHttp], ['node:http', 'node:http', true]);
    assert.equal(
      other.reason,
      `the fast path is tested on Node ${TESTED_NODE_MAJORS.join(', ')}, not on Node ${untested} (--http-fast-path force tries it)`,
    );
    const forced = await served({ nodeMajor: untested, httpFastPath: 'force' });
    assert.deepEqual([forced.path, forced.stats, forced.byNodeHttp], ['fast', 'fast', false]);
    assert.match(forced.reason, /^forced \(--http-fast-path force\) on Node \d+, which it is not tested on/);
    const off = await served({ nodeMajor: TESTED_NODE_MAJORS[0], httpFastPath: false });
    assert.deepEqual(
      [off.path, off.stats, off.byNodeHttp, off.reason],
      ['node:http', 'node:http', true, '--http-fast-path off'],
    );
  });

  it('on the running Node, serves by the fast path exactly when its major is tested', async () => {
    const r = await served({});
    const expected = TESTED_NODE_MAJORS.includes(nodeMajor()) ? 'fast' : 'node:http';
    assert.deepEqual([r.path, r.stats], [expected, expected], r.reason);
  });

  it("package.json's engines names the tested majors", () => {
    const pkg = JSON.parse(readFileSync(new URL('../../../package.json', import.meta.url), 'utf8')) as {
      engines: { node: string };
    };
    assert.equal(pkg.engines.node, TESTED_NODE_MAJORS.map((m) => `^${m}`).join(' || '));
  });
});

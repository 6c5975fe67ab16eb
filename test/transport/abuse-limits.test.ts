import assert from 'node:assert/strict';
import { once } from 'node:events';
import { connect, type Socket } from 'node:net';
import { after, describe, it } from 'node:test';
import { connect as tlsConnect } from 'node:tls';
import WebSocket from 'ws';
import { type DecodedDict, decodeBencode } from '../../src/protocol/bencode.js';
import { encodeUdpAnnounceRequest, parseUdpReply } from '../../src/protocol/udp-client-codec.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { announceQuery, encodeBytes, httpGet, makeId } from '../helpers/http-tracker-client.js';
import { selfSignedCert } from '../helpers/self-signed.js';
import { wsConnect, wsId } from '../helpers/ws-client.js';
import { UdpTrackerClient } from './udp-client.js';
import { asAnnounce, asError, freshHash } from './udp-suite.js';

/**
 * The per-source limits (docs/access.md, "Rate limits and abuse limits") over
 * real sockets. The trackers' clock is injected and stands still unless a
 * test moves it, so a budget refills only when the test says: nothing here
 * depends on how fast the machine runs. Every wait is bounded.
 */

const open: { close(): Promise<void> | void }[] = [];
after(async () => {
  for (const o of open.reverse()) await o.close();
});

async function start(options: TrackerOptions): Promise<{ tracker: Tracker; port: number; clock: { now: number } }> {
  const clock = { now: 1_900_000_000_000 };
  const tracker = createTracker({ host: '::', port: 0, quiet: true, now: () => clock.now, ...options });
  open.push(tracker);
  const info = await tracker.listen();
  return { tracker, port: info.http.port, clock };
}

async function until(check: () => boolean, what: string, ms = 5000): Promise<void> {
  const deadline = Date.now() + ms;
  while (!check()) {
    if (Date.now() > deadline) assert.fail(`timed out waiting for ${what}`);
    await new Promise((r) => setTimeout(r, 10));
  }
}

/** Waits until the HTTP server holds `n` connections (the server's side of a close can trail the client's). */
async function untilConnections(tracker: Tracker, n: number): Promise<void> {
  let count = -1;
  const poll = (): void => {
    tracker.http.server.getConnections((err, c) => {
      if (!err) count = c;
    });
  };
  poll();
  await until(() => {
    if (count === n) return true;
    poll();
    return false;
  }, `${n} open connection(s)`);
}

let peers = 0;
/** An announce from `forwardedFor` (the tracker trusts 127.0.0.1 as its proxy), decoded. */
async function announceAs(base: string, forwardedFor: string, infoHash = Buffer.alloc(20, 0x61)): Promise<DecodedDict> {
  const q = announceQuery({ infoHash, peerId: makeId('-RL0001-', ++peers), port: 6881 });
  const res = await httpGet(base, `/announce?${q}`, { headers: { 'x-forwarded-for': forwardedFor } });
  assert.equal(res.status, 200);
  return decodeBencode(res.body) as DecodedDict;
}

async function scrapeAs(base: string, forwardedFor: string): Promise<DecodedDict> {
  const res = await httpGet(base, `/scrape?info_hash=${encodeBytes(Buffer.alloc(20, 0x61))}`, {
    headers: { 'x-forwarded-for': forwardedFor },
  });
  return decodeBencode(res.body) as DecodedDict;
}

for (const httpFastPath of ['force', false] as const) {
  describe(`HTTP rate limit (${httpFastPath ? 'fast path' : 'node:http'})`, () => {
    it('answers a source past its budget with a failure and retry in, and serves another address', async () => {
      const { tracker, port, clock } = await start({
        httpFastPath,
        trustProxy: ['127.0.0.1'],
        rateLimit: 2,
        rateBurst: 3,
        udpPort: 'off',
      });
      const base = `http://127.0.0.1:${port}`;
      const failures: string[] = [];
      tracker.core.events.on('failure', (f) => failures.push(`${f.transport} ${f.code}`));
      for (let i = 0; i < 3; i++) {
        const ok = await announceAs(base, '198.51.100.1');
        assert.equal(ok['failure reason'], undefined, `announce ${i + 1} of the burst`);
      }
      const refused = await announceAs(base, '198.51.100.1');
      assert.equal(String(refused['failure reason']), 'too many requests from your address');
      assert.equal(refused['retry in'], 1, 'BEP 31 retry in, in minutes');
      // A scrape spends the same budget.
      assert.equal((await scrapeAs(base, '198.51.100.1'))['retry in'], 1);
      // Another client behind the same proxy is another source.
      const other = await announceAs(base, '198.51.100.2');
      assert.equal(other['failure reason'], undefined);
      assert.ok(Buffer.isBuffer(other.peers));
      // IPv6: one /64 is one source.
      for (let i = 0; i < 3; i++)
        assert.equal((await announceAs(base, `2001:db8:5:6::${i + 1}`))['retry in'], undefined);
      assert.equal((await announceAs(base, '2001:db8:5:6:ffff::1'))['retry in'], 1);
      // Half a second (2 a second) refills one request.
      clock.now += 500;
      assert.equal((await announceAs(base, '198.51.100.1'))['failure reason'], undefined);
      assert.equal((await announceAs(base, '198.51.100.1'))['retry in'], 1);
      assert.deepEqual(failures, ['http rate_limited', 'http rate_limited', 'http rate_limited', 'http rate_limited']);
    });
  });
}

/** A raw connection kept open; `closed` turns true when the server closes it. */
function openConnection(port: number, localAddress: string): Promise<{ socket: Socket; closed: () => boolean }> {
  return new Promise((resolve, reject) => {
    const socket = connect({ port, host: '127.0.0.1', localAddress });
    let closed = false;
    socket.on('close', () => (closed = true));
    socket.on('data', () => undefined);
    socket.on('error', () => undefined);
    socket.once('error', reject);
    socket.on('connect', () => {
      open.push({ close: () => void socket.destroy() });
      resolve({ socket, closed: () => closed });
    });
  });
}

const ANNOUNCE_REQUEST = (n: number): string =>
  `GET /announce?${announceQuery({ infoHash: Buffer.alloc(20, 0x62), peerId: makeId('-CC0001-', n), port: 6881 })} HTTP/1.1\r\nHost: t\r\nConnection: close\r\n\r\n`;

/** Sends one announce on the connection and resolves with what came back before the server closed it. */
function roundTrip(c: { socket: Socket; closed: () => boolean }, n: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => reject(new Error('no answer within 5 s')), 5000);
    c.socket.on('data', (d: Buffer) => chunks.push(d));
    c.socket.once('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    c.socket.write(ANNOUNCE_REQUEST(n));
  });
}

for (const httpFastPath of ['force', false] as const) {
  describe(`HTTP connection caps (${httpFastPath ? 'fast path' : 'node:http'})`, () => {
    it('closes a connection past --http-max-connections-per-ip at once, and serves other addresses', async () => {
      const { tracker, port } = await start({ httpFastPath, httpMaxConnectionsPerIp: 2, udpPort: 'off' });
      assert.equal(tracker.http.path.path, httpFastPath ? 'fast' : 'node:http');
      const a = await openConnection(port, '127.0.0.1');
      const b = await openConnection(port, '127.0.0.1');
      const third = await openConnection(port, '127.0.0.1');
      await until(third.closed, 'the third connection from 127.0.0.1 to be closed');
      assert.equal(tracker.http.caps.refused, 1);
      // Another address has its own count.
      const elsewhere = await openConnection(port, '127.0.0.2');
      assert.match(await roundTrip(elsewhere, 1), /^HTTP\/1\.1 200 OK/);
      // The two held ones are served; once one is closed, its place is free again.
      assert.match(await roundTrip(a, 2), /^HTTP\/1\.1 200 OK/);
      await untilConnections(tracker, 1); // the server's side of `a` (and `elsewhere`) closed too: only b is left
      const again = await openConnection(port, '127.0.0.1');
      assert.match(await roundTrip(again, 3), /^HTTP\/1\.1 200 OK/);
      assert.equal(tracker.http.caps.refused, 1);
      b.socket.destroy();
      await until(() => tracker.http.caps.sources === 0, 'every count given back');
    });

    it('hands a connection that becomes a WebSocket to the WebSocket count, and does not count a trusted proxy', async () => {
      const { tracker, port } = await start({
        httpFastPath,
        httpMaxConnectionsPerIp: 1,
        trustProxy: ['127.0.0.2'],
        udpPort: 'off',
      });
      const ws = await wsConnect(`ws://127.0.0.1:${port}/announce`);
      open.push({ close: () => ws.close() });
      assert.equal(tracker.http.caps.sources, 0, 'the WebSocket left the HTTP count');
      const held = await openConnection(port, '127.0.0.1');
      assert.match(await roundTrip(held, 4), /^HTTP\/1\.1 200 OK/, 'one HTTP connection next to the WebSocket');
      // A trusted proxy carries many clients: its connections are not capped.
      const proxied = await Promise.all([1, 2, 3].map(() => openConnection(port, '127.0.0.2')));
      const answers = await Promise.all(proxied.map((c, i) => roundTrip(c, 10 + i)));
      for (const answer of answers) assert.match(answer, /^HTTP\/1\.1 200 OK/);
      assert.equal(tracker.http.caps.refused, 0);
    });
  });
}

describe('HTTP connection caps over TLS (--tls-cert)', () => {
  it('counts a connection once its handshake is done, and hands a wss:// socket to the WebSocket count', async () => {
    const { cert, key, pem } = selfSignedCert();
    const { tracker, port } = await start({ tlsCert: cert, tlsKey: key, httpMaxConnectionsPerIp: 1, udpPort: 'off' });
    const ws = new WebSocket(`wss://127.0.0.1:${port}/announce`, { ca: [pem], handshakeTimeout: 10_000 });
    open.push({ close: () => ws.terminate() });
    await once(ws, 'open');
    assert.equal(tracker.http.caps.sources, 0, 'the WebSocket left the HTTP count');
    // One TLS connection held open (handshake done, no request) fills the source's one place.
    const held = tlsConnect({ host: '127.0.0.1', port, ca: [pem], servername: 'localhost' });
    open.push({ close: () => void held.destroy() });
    await once(held, 'secureConnect');
    await until(() => tracker.http.caps.sources === 1, 'the held connection counted');
    const second = tlsConnect({ host: '127.0.0.1', port, ca: [pem], servername: 'localhost' });
    second.on('error', () => undefined);
    open.push({ close: () => void second.destroy() });
    await once(second, 'close');
    assert.equal(tracker.http.caps.refused, 1);
    held.destroy();
    await until(() => tracker.http.caps.sources === 0, 'the held connection given back');
  });
});

describe('HTTP total connections', () => {
  it('--http-max-connections is the server’s maxConnections (off: none)', async () => {
    const capped = await start({ httpMaxConnections: 3, udpPort: 'off', ws: false });
    assert.equal(capped.tracker.http.server.maxConnections, 3);
    const uncapped = await start({ httpMaxConnections: 'off', udpPort: 'off', ws: false });
    assert.ok(!(uncapped.tracker.http.server.maxConnections > 0));
  });
});

describe('UDP limits', () => {
  async function client(port: number, host = '127.0.0.1'): Promise<UdpTrackerClient> {
    const c = await UdpTrackerClient.open(host, port);
    open.push(c);
    return c;
  }
  const request = (c: UdpTrackerClient, connectionId: Buffer, n: number) => {
    const transactionId = c.tid();
    const packet = encodeUdpAnnounceRequest({
      connectionId,
      transactionId,
      infoHash: Buffer.alloc(20, 0x63),
      peerId: makeId('-UR0001-', n),
      port: 6881,
      left: 1,
    });
    return { packet, transactionId };
  };

  it('drops a verified source past its budget without a reply, and serves another source', async () => {
    const { tracker, port } = await start({ rateLimit: 1, rateBurst: 2 });
    const counters = tracker.udp?.counters;
    assert.ok(counters);
    const c = await client(port);
    asAnnounce(await c.announce({ infoHash: freshHash(), peerId: makeId('-UR0001-', 1), port: 1, left: 1 }));
    asAnnounce(await c.announce({ infoHash: freshHash(), peerId: makeId('-UR0001-', 2), port: 1, left: 1 }));
    const before = c.received.length;
    const over = request(c, c.connectionId as Buffer, 3);
    c.socket.send(over.packet, port, '127.0.0.1');
    await until(() => counters.dropped.rateLimited === 1, 'the third announce to be dropped');
    // Connects are not charged (they cost a hash, and a forged source must not spend a real one's budget).
    await c.connect();
    assert.equal(c.received.length, before + 1, 'the connect reply, and nothing for the dropped announce');
    assert.ok(!c.received.some((p) => p.length >= 8 && p.readInt32BE(4) === over.transactionId));
    // ::1 is another source.
    const other = await client(port, '::1');
    asAnnounce(await other.announce({ infoHash: freshHash(), peerId: makeId('-UR0001-', 4), port: 1, left: 1 }));
    assert.equal(counters.dropped.rateLimited, 1);
  });

  it('ignores a source that keeps sending invalid connection ids, yet answers its verified requests', async () => {
    const { tracker, port, clock } = await start({ udpBadIdLimit: 3, udpBadIdIgnore: 30 });
    const counters = tracker.udp?.counters;
    assert.ok(counters);
    const c = await client(port);
    const bogus = Buffer.from('0123456789abcdef', 'hex');
    const errors: string[] = [];
    for (let n = 0; n < 3; n++) {
      const { packet, transactionId } = request(c, bogus, n);
      errors.push(asError(parseUdpReply(await c.request(packet, transactionId))).message);
    }
    assert.deepEqual(errors, ['invalid connection id', 'invalid connection id', 'invalid connection id']);
    for (let n = 3; n < 6; n++) c.socket.send(request(c, bogus, n).packet, port, '127.0.0.1');
    await until(() => counters.dropped.ignored === 3, 'three bad ids ignored');
    assert.equal(counters.errors.badConnectionId, 3);
    // Its packets with a valid id are still answered: a forger naming this address cannot silence it.
    asAnnounce(await c.announce({ infoHash: freshHash(), peerId: makeId('-UR0002-', 1), port: 1, left: 1 }));
    // Another source is answered.
    const other = await client(port, '::1');
    const { packet, transactionId } = request(other, bogus, 9);
    asError(parseUdpReply(await other.request(packet, transactionId)));
    // After --udp-bad-id-ignore, one more answer.
    clock.now += 30_000;
    const late = request(c, bogus, 10);
    asError(parseUdpReply(await c.request(late.packet, late.transactionId)));
    assert.equal(counters.errors.badConnectionId, 5);
  });
});

/** A WebSocket upgrade request by hand; resolves with everything the server sent before it closed. */
function rawUpgrade(port: number, forwardedFor: string): Promise<string> {
  return new Promise((resolve, reject) => {
    const socket = connect(port, '127.0.0.1');
    const chunks: Buffer[] = [];
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error('the server did not close within 5 s'));
    }, 5000);
    socket.on('data', (d: Buffer) => chunks.push(d));
    socket.on('error', () => undefined);
    socket.on('close', () => {
      clearTimeout(timer);
      resolve(Buffer.concat(chunks).toString('latin1'));
    });
    socket.write(
      'GET /announce HTTP/1.1\r\nHost: t\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n' +
        'Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n' +
        `X-Forwarded-For: ${forwardedFor}\r\n\r\n`,
    );
  });
}

describe('WebSocket limits', () => {
  it('answers frames past the budget with a failure and retry in, echoing action and info_hash', async () => {
    const { port } = await start({ rateLimit: 1, rateBurst: 2, udpPort: 'off' });
    const c = await wsConnect(`ws://127.0.0.1:${port}/announce`);
    open.push({ close: () => c.close() });
    const h = wsId('-WR-', 1);
    c.send({ action: 'announce', info_hash: h, peer_id: wsId('-WP-', 1), left: 1, numwant: 0 });
    c.send({ action: 'scrape', info_hash: h });
    c.send({ action: 'announce', info_hash: h, peer_id: wsId('-WP-', 1), left: 1, numwant: 0 });
    const refused = await c.next((m) => m['failure reason'] !== undefined, 'a failure');
    assert.deepEqual(refused, {
      action: 'announce',
      info_hash: h,
      'failure reason': 'too many requests from your address',
      'retry in': 1,
    });
    await c.next((m) => m.action === 'scrape', 'the scrape within the burst');
    assert.equal(c.messages.filter((m) => m.complete !== undefined && m.action === 'announce').length, 1);
  });

  it('refuses a socket past --ws-max-sockets-per-ip with 429, per X-Forwarded-For address behind a trusted proxy', async () => {
    const { tracker, port } = await start({ wsMaxSocketsPerIp: 2, trustProxy: ['127.0.0.1'], udpPort: 'off' });
    const url = `ws://127.0.0.1:${port}/announce`;
    const as = (address: string) => wsConnect(url, { headers: { 'x-forwarded-for': address } });
    const first = await as('198.51.100.10');
    const second = await as('198.51.100.10');
    open.push({ close: () => first.close() }, { close: () => second.close() });
    await assert.rejects(as('198.51.100.10'), /Unexpected server response: 429/);
    // The refusal as bytes: a whole HTTP answer, then the server closes.
    const raw = await rawUpgrade(port, '198.51.100.10');
    const [head, body] = raw.split('\r\n\r\n');
    assert.match(head ?? '', /^HTTP\/1\.1 429 Too Many Requests\r\n/);
    assert.equal(body, 'too many WebSockets from your address\n');
    assert.match(head ?? '', new RegExp(`Content-Length: ${Buffer.byteLength(body ?? '')}`));
    const elsewhere = await as('198.51.100.11');
    open.push({ close: () => elsewhere.close() });
    assert.equal(tracker.ws?.counters.refused, 2);
    // A socket that closes frees its place.
    first.close();
    await first.closed();
    await until(() => tracker.ws?.counters.sockets === 2, 'the closed socket to be gone');
    const replacement = await as('198.51.100.10');
    open.push({ close: () => replacement.close() });
    assert.equal(tracker.ws?.counters.refused, 2);
  });

  it('closes a socket that has not announced within --ws-idle-timeout, and keeps one that has', async () => {
    const { tracker, port, clock } = await start({ wsIdleTimeout: 240, wsPingMs: 50, udpPort: 'off' });
    const url = `ws://127.0.0.1:${port}/announce`;
    const active = await wsConnect(url);
    const idle = await wsConnect(url);
    open.push({ close: () => active.close() }, { close: () => idle.close() });
    clock.now += 200_000;
    const h = wsId('-WI-', 1);
    active.send({ action: 'announce', info_hash: h, peer_id: wsId('-WA-', 1), left: 1 });
    await active.next((m) => m.complete !== undefined, 'the announce reply');
    clock.now += 41_000; // idle: 241 s since it opened; active: 41 s since its announce
    assert.equal(await idle.closed(), 1000);
    assert.equal(tracker.ws?.counters.idleClosed, 1);
    assert.equal(active.ws.readyState, WebSocket.OPEN, 'checked in the same round, and kept');
  });
});

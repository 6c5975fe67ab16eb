import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import { type DecodedDict, decodeBencode } from '../../src/protocol/bencode.js';
import { encodeUdpAnnounceRequest, parseUdpReply } from '../../src/protocol/udp-client-codec.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { announceQuery, encodeBytes, httpGet, makeId } from '../helpers/http-tracker-client.js';
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
});

import assert from 'node:assert/strict';
import { after, describe, it } from 'node:test';
import type { DecodedDict } from '../../src/protocol/bencode.js';
import { decodeBencode } from '../../src/protocol/bencode.js';
import { unpackPeers } from '../../src/protocol/compact.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { announce, announceQuery, httpGet, makeId } from '../helpers/http-tracker-client.js';

/** Which addresses the tracker believes: TCP source, trusted proxies, ip=/ipv4=/ipv6=, keys. */
describe('HTTP address policy', () => {
  const trackers: Tracker[] = [];
  after(async () => {
    for (const t of trackers) await t.close();
  });
  async function start(options: TrackerOptions = {}): Promise<{ v4: string; v6: string }> {
    const tracker = createTracker({ host: '::', port: 0, ...options });
    trackers.push(tracker);
    const { port } = (await tracker.listen()).http;
    return { v4: `http://127.0.0.1:${port}`, v6: `http://[::1]:${port}` };
  }
  const hash = (n: number): Buffer => Buffer.alloc(20, n);

  /** Announces `who`, then returns the peers a second peer is given. */
  async function seenAs(base: string, h: Buffer, query: string, headers: Record<string, string> = {}) {
    const q = announceQuery({ infoHash: h, peerId: makeId('-WHO001-', 1), port: 6881, extra: query });
    const res = await httpGet(base, `/announce?${q}`, { headers });
    const first = decodeBencode(res.body) as DecodedDict;
    assert.equal(first['failure reason'], undefined, String(first['failure reason']));
    const r = await announce(base, { infoHash: h, peerId: makeId('-OBS001-', 2), port: 7000 });
    return {
      v4: unpackPeers(r.peers as Buffer, 4),
      v6: unpackPeers((r.peers6 as Buffer | undefined) ?? Buffer.alloc(0), 6),
    };
  }

  it('uses the TCP source address, with IPv4-mapped addresses as IPv4 peers', async () => {
    const { v4, v6 } = await start();
    assert.deepEqual((await seenAs(v4, hash(1), '')).v4, [{ ip: '127.0.0.1', port: 6881 }]);
    const viaV6 = await seenAs(v6, hash(2), '');
    assert.deepEqual(viaV6.v6, [{ ip: '::1', port: 6881 }]);
    assert.deepEqual(viaV6.v4, []);
  });

  it('ignores ip=, ipv4= and ipv6= unless --allow-ip-param', async () => {
    const { v4 } = await start();
    const seen = await seenAs(v4, hash(3), 'ip=10.9.9.9&ipv6=2001%3Adb8%3A%3A1');
    assert.deepEqual(seen.v4, [{ ip: '127.0.0.1', port: 6881 }]);
    assert.deepEqual(seen.v6, []);
  });

  it('honours ip=, ipv4= and ipv6= with --allow-ip-param, and refuses unusable ones', async () => {
    const { v4 } = await start({ allowIpParam: true });
    const seen = await seenAs(v4, hash(4), 'ipv6=%5B2001%3Adb8%3A%3A1%5D%3A7777');
    assert.deepEqual(seen.v4, [{ ip: '127.0.0.1', port: 6881 }]);
    assert.deepEqual(seen.v6, [{ ip: '2001:db8::1', port: 7777 }]);
    const claimed = await seenAs(v4, hash(5), 'ip=10.9.9.9');
    assert.deepEqual(claimed.v4, [{ ip: '10.9.9.9', port: 6881 }]);
    for (const bad of ['ip=0.0.0.0', 'ip=not-an-ip', 'ipv4=%3A%3A1', 'ip=224.0.0.1']) {
      const q = announceQuery({ infoHash: hash(6), peerId: makeId('-BAD001-', 1), port: 6881, extra: bad });
      const body = decodeBencode((await httpGet(v4, `/announce?${q}`)).body) as DecodedDict;
      assert.match(String(body['failure reason']), /invalid ip/, bad);
    }
  });

  it('believes X-Forwarded-For and X-Real-IP only from a trusted proxy', async () => {
    const untrusted = await start();
    const spoof = { 'x-forwarded-for': '203.0.113.9' };
    assert.deepEqual((await seenAs(untrusted.v4, hash(7), '', spoof)).v4, [{ ip: '127.0.0.1', port: 6881 }]);

    const trusted = await start({ trustProxy: ['127.0.0.0/8'] });
    const chain = { 'x-forwarded-for': '198.51.100.7, 203.0.113.9, 127.0.0.5' };
    assert.deepEqual(
      (await seenAs(trusted.v4, hash(8), '', chain)).v4,
      [{ ip: '203.0.113.9', port: 6881 }],
      'the right-most hop that is not a trusted proxy',
    );
    assert.deepEqual((await seenAs(trusted.v4, hash(9), '', { 'x-real-ip': '203.0.113.10' })).v4, [
      { ip: '203.0.113.10', port: 6881 },
    ]);
    // The proxy list does not cover ::1, so over IPv6 the header is not believed.
    assert.deepEqual((await seenAs(trusted.v6, hash(10), '', spoof)).v6, [{ ip: '::1', port: 6881 }]);
  });

  it('refuses a peer_id announced from another address with another key', async () => {
    const { v4 } = await start();
    const h = hash(11);
    const owner = { infoHash: h, peerId: makeId('-KEY001-', 1), port: 6881, key: 'cafe0001' };
    await announce(v4, owner);
    const q = announceQuery({ ...owner, key: 'bad00bad', event: 'stopped' });
    const hijack = await httpGet(v4, `/announce?${q}`, { localAddress: '127.0.0.2' });
    assert.match(String((decodeBencode(hijack.body) as DecodedDict)['failure reason']), /another key/);
    const r = await announce(v4, { infoHash: h, peerId: makeId('-OBS001-', 2), port: 7000 });
    assert.equal(r.incomplete, 2, 'the stop was refused');
    const moved = await httpGet(v4, `/announce?${announceQuery(owner)}`, { localAddress: '127.0.0.2' });
    assert.equal((decodeBencode(moved.body) as DecodedDict)['failure reason'], undefined, 'the right key may move');
  });
});

import assert from 'node:assert/strict';
import { connect } from 'node:net';
import { after, before, describe, it } from 'node:test';
import { type DecodedDict, decodeBencode } from '../../src/protocol/bencode.js';
import { createTracker, type Tracker } from '../../src/tracker.js';
import { announce, announceQuery, encodeBytes, httpGet, makeId, scrape } from '../helpers/http-tracker-client.js';

/**
 * Every malformed request gets a clear answer (a bencoded failure reason or the
 * proper HTTP status), the process keeps serving, and nothing stored changes.
 */
describe('HTTP bad input', () => {
  let tracker: Tracker;
  let base: string;
  const hash = Buffer.from('00ff2b2520263d3f80c3a97e2e2d5f0102030405', 'hex');
  const good = { infoHash: hash, peerId: makeId('-GOOD01-', 1), port: 6881 };
  const id = encodeBytes(makeId('-BAD001-', 1));
  const ih = encodeBytes(hash);

  before(async () => {
    tracker = createTracker({ host: '::', port: 0, requestTimeout: 600, maxScrapeHashes: 5 });
    base = `http://127.0.0.1:${(await tracker.listen()).http.port}`;
    await announce(base, good);
  });
  after(() => tracker.close());

  /** The stored swarm is exactly what the good announce made, and the tracker still answers. */
  async function assertUnchangedAndAlive(): Promise<void> {
    const files = (await scrape(base, [hash])).files as DecodedDict;
    assert.deepEqual(files[hash.toString('latin1')], { complete: 0, downloaded: 0, incomplete: 1 });
    assert.equal((await announce(base, { ...good, numwant: 0 })).incomplete, 1);
  }

  const failures: [string, string, RegExp][] = [
    ['missing info_hash', `peer_id=${id}&port=1&left=0`, /missing info_hash/],
    ['short info_hash', `info_hash=abc&peer_id=${id}&port=1&left=0`, /info_hash must be 20 bytes, got 3/],
    ['long info_hash', `info_hash=${ih}%00&peer_id=${id}&port=1&left=0`, /info_hash must be 20 bytes, got 21/],
    ['missing peer_id', `info_hash=${ih}&port=1&left=0`, /missing peer_id/],
    ['short peer_id', `info_hash=${ih}&peer_id=x&port=1&left=0`, /peer_id must be 20 bytes/],
    ['missing port', `info_hash=${ih}&peer_id=${id}&left=0`, /missing port/],
    ['port 0', `info_hash=${ih}&peer_id=${id}&port=0&left=0`, /invalid port/],
    ['port too big', `info_hash=${ih}&peer_id=${id}&port=65536&left=0`, /invalid port/],
    ['port not a number', `info_hash=${ih}&peer_id=${id}&port=http&left=0`, /invalid port/],
    ['negative left', `info_hash=${ih}&peer_id=${id}&port=1&left=-1`, /invalid left/],
    ['non-numeric uploaded', `info_hash=${ih}&peer_id=${id}&port=1&left=0&uploaded=1e3`, /invalid uploaded/],
    ['missing left', `info_hash=${ih}&peer_id=${id}&port=1`, /missing left/],
    ['bad numwant', `info_hash=${ih}&peer_id=${id}&port=1&left=0&numwant=many`, /invalid numwant/],
    ['unknown event', `info_hash=${ih}&peer_id=${id}&port=1&left=0&event=exploded`, /invalid event/],
    ['bad percent-encoding', `info_hash=%zz${ih}&peer_id=${id}&port=1&left=0`, /invalid percent-encoding/],
    ['truncated percent-encoding', `info_hash=${ih}&peer_id=${id}&port=1&left=0&key=%4`, /invalid percent-encoding/],
  ];
  for (const [name, query, reason] of failures) {
    it(`announce with ${name}: failure reason, nothing stored`, async () => {
      const res = await httpGet(base, `/announce?${query}`);
      assert.equal(res.status, 200, 'tracker failures are HTTP 200 for clients');
      const body = decodeBencode(res.body) as DecodedDict;
      assert.match((body['failure reason'] as Buffer).toString(), reason);
      await assertUnchangedAndAlive();
    });
  }

  it('scrape with a bad or excess info_hash: failure reason', async () => {
    for (const [query, reason] of [
      ['info_hash=short', /info_hash must be 20 bytes/],
      [Array.from({ length: 6 }, () => `info_hash=${ih}`).join('&'), /at most 5 info_hash/],
      ['', /full scrape is disabled/],
      ['info_hash=%g1', /invalid percent-encoding/],
    ] as const) {
      const res = await httpGet(base, `/scrape?${query}`);
      assert.equal(res.status, 200);
      assert.match(((decodeBencode(res.body) as DecodedDict)['failure reason'] as Buffer).toString(), reason);
    }
    await assertUnchangedAndAlive();
  });

  it('unknown paths are 404, other methods 405', async () => {
    assert.equal((await httpGet(base, '/nothing-here')).status, 404);
    assert.equal((await httpGet(base, '/announce/extra?x=1')).status, 404);
    const post = await httpGet(base, `/announce?${announceQuery(good)}`, { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
    await assertUnchangedAndAlive();
  });

  it('an oversize URL is 414 and oversize headers are 431', async () => {
    const long = `/announce?${announceQuery(good)}&pad=${'a'.repeat(9000)}`;
    assert.equal((await httpGet(base, long)).status, 414);
    const res = await httpGet(base, `/announce?${announceQuery(good)}`, { headers: { 'x-big': 'b'.repeat(20000) } });
    assert.equal(res.status, 431);
    await assertUnchangedAndAlive();
  });

  it('a garbage request line gets 400 and the tracker keeps serving', async () => {
    const reply = await new Promise<string>((resolve, reject) => {
      const socket = connect(Number(new URL(base).port), '127.0.0.1');
      let data = '';
      socket.on('data', (d) => (data += d.toString()));
      socket.on('close', () => resolve(data));
      socket.on('error', reject);
      socket.setTimeout(3000, () => socket.destroy(new Error('no answer')));
      socket.write('\x00\x01GARBAGE\r\n\r\n');
    });
    assert.match(reply, /^HTTP\/1\.1 400/);
    await assertUnchangedAndAlive();
  });

  it('a client that never finishes its request is cut off', async () => {
    const started = Date.now();
    let answer = '';
    const closed = await new Promise<boolean>((resolve) => {
      const socket = connect(Number(new URL(base).port), '127.0.0.1');
      socket.write('GET /announce?info_hash=');
      socket.on('data', (d) => (answer += d.toString()));
      socket.on('close', () => resolve(true));
      socket.on('error', () => undefined);
      setTimeout(() => {
        socket.destroy();
        resolve(false);
      }, 5000).unref();
    });
    assert.ok(closed, 'the server closed the slow connection');
    assert.match(answer, /^HTTP\/1\.1 408/);
    assert.ok(Date.now() - started < 4500);
    await assertUnchangedAndAlive();
  });

  it('a browser opening /announce or / gets an HTML page', async () => {
    for (const path of ['/announce', '/']) {
      let res = await httpGet(base, path);
      if (res.status === 302) {
        // Like the original BitStorm, a browser is sent on to the statistics page.
        assert.match(String(res.headers.location), /\/stats/);
        res = await httpGet(base, String(res.headers.location));
      }
      assert.equal(res.status, 200);
      assert.match(String(res.headers['content-type']), /text\/html/);
      assert.match(res.body.toString(), /<html/i);
    }
  });

  it('HEAD is answered without a body', async () => {
    const res = await httpGet(base, `/announce?${announceQuery({ ...good, numwant: 0 })}`, { method: 'HEAD' });
    assert.equal(res.status, 200);
    assert.equal(res.body.length, 0);
  });
});

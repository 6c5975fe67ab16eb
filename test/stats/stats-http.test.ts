import assert from 'node:assert/strict';
import { createSocket } from 'node:dgram';
import { after, before, describe, it } from 'node:test';
import { gunzipSync } from 'node:zlib';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { announce, httpGet, makeId } from '../helpers/http-tracker-client.js';
import { getJson, tableQuery, torrentHash } from './stats-json-suite.js';

/**
 * The stats endpoints' options and edges, on the memory store: request
 * validation, --stats-token, --stats off, --stats-peers, the landing redirects,
 * the page's escaping and headers, and the assets.
 */
async function startTracker(options: Partial<TrackerOptions>): Promise<{ tracker: Tracker; base: string }> {
  const tracker = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', ...options });
  const info = await tracker.listen();
  return { tracker, base: `http://127.0.0.1:${info.http.port}` };
}

const hash = torrentHash('http-test', 1);
const peer = { infoHash: hash, peerId: makeId('-qB4650-', 1), port: 6881, left: 0 };

describe('stats endpoints, default options', () => {
  let tracker: Tracker;
  let base: string;
  before(async () => {
    ({ tracker, base } = await startTracker({}));
    await announce(base, peer);
  });
  after(() => tracker.close());

  it('rejects bad DataTables parameters with 400 and keeps serving', async () => {
    for (const q of [
      'draw=abc&start=0&length=10',
      'draw=-1&start=0&length=10',
      'draw=1&start=-1&length=10',
      'draw=1&start=x&length=10',
      'draw=1&start=0&length=-1',
      'draw=1&start=0&length=0',
      'draw=1&start=0&length=100000',
      'draw=1&start=0&length=10&order%5B0%5D%5Bcolumn%5D=9',
      'draw=1&start=0&length=10&order%5B0%5D%5Bdir%5D=sideways',
      'draw=&start=0&length=10',
    ]) {
      const res = await getJson(base, `/stats.json?${q}`);
      assert.equal(res.status, 400, q);
      assert.equal(typeof res.body.error, 'string', q);
    }
    const ok = await getJson(base, tableQuery({ length: 10 }));
    assert.equal(ok.status, 200);
    assert.equal(ok.body.recordsTotal, 1);
  });

  it('keeps peers private by default: counts only, no addresses or peer ids', async () => {
    const res = await httpGet(base, `/stats.json?torrent=${hash.toString('hex')}`);
    assert.equal(res.status, 200);
    const body = JSON.parse(res.body.toString()) as Record<string, unknown>;
    assert.equal(body.seeders, 1);
    assert.equal(body.peersShown, false);
    assert.equal(body.peers, undefined);
    const text = res.body.toString();
    assert.ok(!text.includes('127.0.0.1'), 'no address');
    assert.ok(!text.includes('qB4650') && !text.includes('qBittorrent'), 'no peer id or client');
    // The table never carries peers either.
    const table = await httpGet(base, tableQuery({}));
    assert.ok(!table.body.toString().includes('127.0.0.1'));
  });

  it('redirects a browser at / or a bare /announce to /stats, announces still work', async () => {
    for (const path of ['/', '/announce', '/announce.php']) {
      const res = await httpGet(base, path);
      assert.equal(res.status, 302, path);
      assert.equal(res.headers.location, '/stats');
    }
    assert.equal((await httpGet(base, '/?token=a%20b&x=1')).headers.location, '/stats?token=a%20b');
    assert.equal((await httpGet(base, '/?x=%0d%0aSet-Cookie:%20a=b')).headers.location, '/stats');
    const reply = await announce(base, { ...peer, peerId: makeId('-qB4650-', 2) });
    assert.equal(reply.complete, 2);
  });

  it('serves the page with escaped settings, a CSP and versioned assets', async () => {
    const res = await httpGet(base, '/stats', { headers: { host: 'tracker.example:6969' } });
    assert.equal(res.status, 200);
    assert.match(String(res.headers['content-type']), /^text\/html/);
    assert.match(String(res.headers['content-security-policy']), /script-src 'self'/);
    const html = res.body.toString();
    assert.ok(html.includes('"announceUrl":"http://tracker.example:6969/announce"'));
    const php = await httpGet(base, '/stats.php');
    assert.equal(php.status, 200, 'the original stats.php URL');
    const assetUrls = [...html.matchAll(/(?:src|href)="(\/stats\/assets\/[^"]+)"/g)].map((m) => m[1] as string);
    assert.equal(assetUrls.length, 8, 'jQuery, DataTables (js, style js, css), uPlot (js, css), page js and css');
    for (const url of assetUrls) {
      assert.match(url, /@[0-9a-f.]+\//, `${url} is versioned`);
      const asset = await httpGet(base, url, { headers: { 'accept-encoding': 'gzip' } });
      assert.equal(asset.status, 200, url);
      assert.equal(asset.headers['cache-control'], 'public, max-age=31536000, immutable');
      assert.equal(asset.headers['content-encoding'], 'gzip');
      assert.ok(gunzipSync(asset.body).length > 200, url);
    }
    assert.ok(assetUrls.some((u) => u.includes('/jquery@')));
    assert.ok(assetUrls.some((u) => u.includes('/datatables.net@')));
    assert.ok(assetUrls.some((u) => u.includes('/uplot@')));
    const plain = await httpGet(base, assetUrls[0] as string);
    assert.equal(plain.headers['content-encoding'], undefined, 'identity without Accept-Encoding');
    for (const path of ['/stats/assets/jquery@3.8.0/../../package.json', '/stats/assets/nope.js']) {
      assert.equal((await httpGet(base, path)).status, 404, path);
    }
  });

  it('falls back to the listening address when the Host header is unusable', async () => {
    const res = await httpGet(base, '/stats', { headers: { host: 'x"><script>alert(1)</script>' } });
    const html = res.body.toString();
    assert.ok(!html.includes('<script>alert'), 'never reflected');
    assert.ok(html.includes(`"announceUrl":"${base}/announce"`));
  });

  it('answers HEAD without a body and refuses other methods', async () => {
    const head = await httpGet(base, '/stats.json', { method: 'HEAD' });
    assert.equal(head.status, 200);
    assert.equal(head.body.length, 0);
    const post = await httpGet(base, '/stats.json', { method: 'POST' });
    assert.equal(post.status, 405);
    assert.equal(post.headers.allow, 'GET, HEAD');
  });
});

describe('stats with an announce URL containing markup', () => {
  it('escapes it in the page and in the JSON settings block', async () => {
    const { tracker, base } = await startTracker({ announceUrl: 'http://t.example/announce?x=</script><b>&y="' });
    try {
      const html = (await httpGet(base, '/stats')).body.toString();
      assert.ok(!html.includes('</script><b>'), 'no raw markup');
      assert.ok(html.includes('&lt;/script&gt;&lt;b&gt;&amp;y=&quot;'), 'escaped in the header');
      assert.ok(html.includes('\\u003c/script>\\u003cb>'), 'escaped in the JSON block');
    } finally {
      await tracker.close();
    }
  });
});

describe('--stats-token', () => {
  let tracker: Tracker;
  let base: string;
  before(async () => {
    ({ tracker, base } = await startTracker({ statsToken: 's3cret-token' }));
    await announce(base, peer);
  });
  after(() => tracker.close());

  it('requires the token on the page and the JSON, by query or Bearer header', async () => {
    for (const path of ['/stats', '/stats.php', '/stats.json', tableQuery({})]) {
      const none = await httpGet(base, path);
      assert.equal(none.status, 401, path);
      assert.equal(none.headers['www-authenticate'], 'Bearer');
      const wrong = await httpGet(base, `${path}${path.includes('?') ? '&' : '?'}token=s3cret-tokem`);
      assert.equal(wrong.status, 401, `${path} wrong token`);
      const short = await httpGet(base, path, { headers: { authorization: 'Bearer s3' } });
      assert.equal(short.status, 401, `${path} prefix of the token`);
      const query = await httpGet(base, `${path}${path.includes('?') ? '&' : '?'}token=s3cret-token`);
      assert.equal(query.status, 200, `${path} ?token=`);
      const bearer = await httpGet(base, path, { headers: { authorization: 'Bearer s3cret-token' } });
      assert.equal(bearer.status, 200, `${path} Bearer`);
    }
    const page = await httpGet(base, '/stats');
    assert.match(page.body.toString(), /<form[^>]*action="\/stats"/, 'the 401 page asks for the token');
    const json = await getJson(base, '/stats.json', { authorization: 'Bearer s3cret-token' });
    assert.equal((json.body.totals as Record<string, number>).torrents, 1);
  });

  it('leaves announces, scrapes and the public assets alone', async () => {
    const reply = await announce(base, { ...peer, peerId: makeId('-qB4650-', 9) });
    assert.equal(reply.complete, 2);
    const html = (await httpGet(base, '/stats?token=s3cret-token')).body.toString();
    const asset = /src="(\/stats\/assets\/[^"]+)"/.exec(html)?.[1] as string;
    assert.equal((await httpGet(base, asset)).status, 200);
  });
});

describe('with the UDP tracker on', () => {
  it('reports its packet counters in /stats.json', async () => {
    const tracker = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'same' });
    try {
      const info = await tracker.listen();
      assert.ok(info.udp, 'UDP is listening');
      const socket = createSocket('udp4');
      await new Promise<void>((resolve, reject) =>
        socket.send(Buffer.from([1, 2, 3]), info.udp?.port, '127.0.0.1', (err) => (err ? reject(err) : resolve())),
      );
      socket.close();
      const base = `http://127.0.0.1:${info.http.port}`;
      const deadline = Date.now() + 5000;
      let udp: { packets: number; dropped: Record<string, number> } | undefined;
      while (Date.now() < deadline) {
        udp = ((await getJson(base, '/stats.json')).body.process as { udp: typeof udp }).udp;
        if (udp && udp.packets > 0) break;
        await new Promise((r) => setTimeout(r, 50));
      }
      assert.equal(udp?.packets, 1);
      assert.equal(udp?.dropped.short, 1, 'a 3-byte datagram is dropped as short');
    } finally {
      await tracker.close();
    }
  });
});

describe('--stats off', () => {
  it('serves no stats URL and shows the plain landing page', async () => {
    const { tracker, base } = await startTracker({ stats: false });
    try {
      assert.equal(tracker.stats, undefined);
      await announce(base, peer);
      for (const path of ['/stats', '/stats.php', '/stats.json', tableQuery({}), '/stats/assets/x.js']) {
        assert.equal((await httpGet(base, path)).status, 404, path);
      }
      for (const path of ['/', '/announce']) {
        const res = await httpGet(base, path);
        assert.equal(res.status, 200, path);
        assert.match(res.body.toString(), /BitStorm tracker/);
        assert.ok(!res.body.toString().includes('/stats'), 'no link to a page that does not exist');
      }
    } finally {
      await tracker.close();
    }
  });
});

describe('--stats-peers', () => {
  it('lists peers with address, port, role and client', async () => {
    const { tracker, base } = await startTracker({ statsPeers: true });
    try {
      await announce(base, peer);
      await announce(base, { infoHash: hash, peerId: makeId('-TR4050-', 2), port: 6882, left: 100 });
      const res = await getJson(base, `/stats.json?torrent=${hash.toString('hex')}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.peersShown, true);
      const peers = (res.body.peers as { ip: string; port: number; seeder: boolean; client: string }[]).sort(
        (a, b) => a.port - b.port,
      );
      assert.deepEqual(
        peers.map((p) => [p.ip, p.port, p.seeder, p.client]),
        [
          ['127.0.0.1', 6881, true, 'qBittorrent 4.6.5'],
          ['127.0.0.1', 6882, false, 'Transmission 4.0.5'],
        ],
      );
      // Still never on the top-level endpoints.
      const summary = await httpGet(base, '/stats.json');
      assert.ok(!summary.body.toString().includes('127.0.0.1'));
      const html = await httpGet(base, '/stats');
      assert.ok(html.body.toString().includes('"statsPeers":true'));
    } finally {
      await tracker.close();
    }
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { createTracker, type TrackerOptions } from '../../src/tracker.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { freePort } from '../helpers/free-port.js';
import { announce, httpGet, makeId, scrape } from '../helpers/http-tracker-client.js';
import { withRedisServer } from '../helpers/redis-server.js';
import { sleep, wsConnect } from '../helpers/ws-client.js';
import { UdpTrackerClient } from '../transport/udp-client.js';
import { parseExposition, sampleSum, sampleValue } from './exposition.js';

/** /metrics in the Prometheus text format: what each request adds, read back from real scrapes. */

async function started(options: TrackerOptions = {}) {
  const tracker = createTracker({ host: '127.0.0.1', port: 0, quiet: true, ...options });
  const info = await tracker.listen();
  return { tracker, base: `http://127.0.0.1:${info.http.port}`, port: info.http.port };
}

async function scrapeMetrics(base: string) {
  const res = await httpGet(base, '/metrics');
  assert.equal(res.status, 200);
  assert.match(String(res.headers['content-type']), /^text\/plain; version=0\.0\.4/);
  return parseExposition(res.body.toString());
}

const hash = (n: number): Buffer => makeId('-MET-', n);

describe('metrics', () => {
  it('counts announces, scrapes, errors and durations by transport, with the types and help Prometheus needs', async () => {
    const { tracker, base, port } = await started();
    const udp = await UdpTrackerClient.open('127.0.0.1', port);
    const ws = await wsConnect(`ws://127.0.0.1:${port}/announce`);
    try {
      for (let i = 0; i < 3; i++)
        await announce(base, { infoHash: hash(1), peerId: makeId('-H-', i), port: 7000, event: 'started' });
      await announce(base, { infoHash: hash(1), peerId: makeId('-H-', 0), port: 7000, event: 'completed', left: 0 });
      await scrape(base, [hash(1)]);
      await udp.announce({ infoHash: hash(1), peerId: makeId('-U-', 1), left: 1, port: 7001 });
      ws.send({
        action: 'announce',
        info_hash: hash(2).toString('latin1'),
        peer_id: makeId('-W-', 1).toString('latin1'),
      });
      await ws.next((m) => m.interval !== undefined, 'a WebSocket reply');
      // Two refusals: a bad info_hash over HTTP, a bad message over WebSocket.
      await httpGet(base, '/announce?info_hash=short&peer_id=x&port=1');
      ws.send('not json');
      await ws.next((m) => m['failure reason'] !== undefined, 'a failure');

      const m = await scrapeMetrics(base);
      assert.equal(sampleValue(m, 'bitstorm_announces_total', { transport: 'http', event: 'started' }), 3);
      assert.equal(sampleValue(m, 'bitstorm_announces_total', { transport: 'http', event: 'completed' }), 1);
      assert.equal(sampleValue(m, 'bitstorm_announces_total', { transport: 'udp', event: 'update' }), 1);
      assert.equal(sampleSum(m, 'bitstorm_announces_total', { transport: 'ws' }), 1);
      assert.equal(sampleValue(m, 'bitstorm_scrapes_total', { transport: 'http' }), 1);
      assert.equal(sampleValue(m, 'bitstorm_errors_total', { transport: 'http', code: 'invalid_info_hash' }), 1);
      assert.equal(sampleValue(m, 'bitstorm_errors_total', { transport: 'ws', code: 'malformed_message' }), 1);
      assert.equal(sampleValue(m, 'bitstorm_udp_connections_total'), 1);
      assert.equal(sampleValue(m, 'bitstorm_ws_sockets'), 1);
      assert.equal(sampleValue(m, 'bitstorm_store_up', { store: 'memory' }), 1);
      assert.equal(sampleValue(m, 'bitstorm_store_outages_total'), 0);
      // Store gauges: the two torrents (one BitTorrent swarm of 4 peers; WebRTC peers are not in it).
      assert.equal(sampleValue(m, 'bitstorm_torrents'), 1);
      assert.equal(sampleValue(m, 'bitstorm_peers', { role: 'seeder' }), 1);
      assert.equal(sampleValue(m, 'bitstorm_peers', { role: 'leecher' }), 3);
      assert.equal(sampleValue(m, 'bitstorm_peer_endpoints', { family: '4' }), 4);
      // A histogram: cumulative buckets ending in +Inf, equal to _count.
      const count = sampleValue(m, 'bitstorm_request_duration_seconds_count', {
        transport: 'http',
        operation: 'announce',
      });
      assert.equal(count, 4);
      const inf = sampleValue(m, 'bitstorm_request_duration_seconds_bucket', {
        transport: 'http',
        operation: 'announce',
        le: '+Inf',
      });
      assert.equal(inf, 4);
      const buckets = m.samples.filter(
        (s) =>
          s.name === 'bitstorm_request_duration_seconds_bucket' &&
          s.labels.transport === 'udp' &&
          s.labels.operation === 'announce',
      );
      for (let i = 1; i < buckets.length; i++) assert.ok((buckets[i]?.value ?? 0) >= (buckets[i - 1]?.value ?? 0));
      assert.ok(
        (sampleValue(m, 'bitstorm_store_operation_duration_seconds_count', { operation: 'announce' }) ?? 0) >= 6,
      );
      // Types and help for every family; prom-client's process metrics too.
      for (const [name, type] of [
        ['bitstorm_announces_total', 'counter'],
        ['bitstorm_errors_total', 'counter'],
        ['bitstorm_request_duration_seconds', 'histogram'],
        ['bitstorm_torrents', 'gauge'],
        ['bitstorm_peers', 'gauge'],
        ['bitstorm_store_up', 'gauge'],
        ['bitstorm_store_outages_total', 'counter'],
        ['bitstorm_ws_sockets', 'gauge'],
      ]) {
        assert.equal(m.types.get(name as string), type, name);
        assert.ok((m.helps.get(name as string) ?? '').length > 10, `help of ${name}`);
      }
      assert.ok(sampleValue(m, 'process_cpu_user_seconds_total') !== undefined);
      assert.ok(m.samples.some((s) => s.name.startsWith('nodejs_eventloop_lag')));
    } finally {
      ws.close();
      await udp.close();
      await tracker.close();
    }
  });

  it('--metrics-port serves them apart from the HTTP port; --metrics off serves none', async () => {
    const metricsPort = await freePort();
    const apart = await started({ metricsPort });
    const off = await started({ metrics: false });
    try {
      assert.equal(apart.tracker.metricsPort, metricsPort);
      assert.equal((await httpGet(apart.base, '/metrics')).status, 404);
      const m = await scrapeMetrics(`http://127.0.0.1:${metricsPort}`);
      assert.equal(sampleSum(m, 'bitstorm_announces_total'), 0);
      assert.equal((await httpGet(`http://127.0.0.1:${metricsPort}/`, '/other')).status, 404);
      assert.equal((await httpGet(off.base, '/metrics')).status, 404);
    } finally {
      await apart.tracker.close();
      await off.tracker.close();
    }
  });
});

describe('metrics on Redis', () => {
  const redis = withRedisServer();

  it('store_up falls to 0 during an outage and outages are counted once, and logged as one line each way', async () => {
    const logger = captureLogger();
    const { tracker, base } = await started({ redisUrl: redis.url, redisTimeout: 300, logger });
    try {
      await announce(base, { infoHash: hash(5), peerId: makeId('-R-', 1), port: 7005 });
      let m = await scrapeMetrics(base);
      assert.equal(sampleValue(m, 'bitstorm_store_up', { store: 'redis' }), 1);
      await redis.kill();
      // Many announces during the outage: still one line, not one per request.
      for (let i = 0; i < 20; i++) await announce(base, { infoHash: hash(5), peerId: makeId('-R-', 1), port: 7005 });
      const deadline = Date.now() + 5000;
      do {
        await sleep(100);
        m = await scrapeMetrics(base);
      } while (sampleValue(m, 'bitstorm_store_up', { store: 'redis' }) !== 0 && Date.now() < deadline);
      assert.equal(sampleValue(m, 'bitstorm_store_up', { store: 'redis' }), 0);
      assert.equal(sampleValue(m, 'bitstorm_store_outages_total', { store: 'redis' }), 1);
      assert.ok((sampleValue(m, 'bitstorm_errors_total', { transport: 'http', code: 'store_unavailable' }) ?? 0) >= 1);
      await redis.restart();
      const back = Date.now() + 10_000;
      do {
        await sleep(200);
        m = await scrapeMetrics(base);
      } while (sampleValue(m, 'bitstorm_store_up', { store: 'redis' }) !== 1 && Date.now() < back);
      assert.equal(sampleValue(m, 'bitstorm_store_up', { store: 'redis' }), 1);
      assert.equal(sampleValue(m, 'bitstorm_store_outages_total', { store: 'redis' }), 1);
      // One line when the outage starts, one when it ends, at the same level (a
      // filter that shows one shows the other), with the store named.
      const all = logger.lines.map((l) => `${l.level} ${l.msg}`).join('\n');
      const started_ = logger.lines.filter((l) => /^Redis unavailable \(.*\); answering "retry"/.test(l.msg));
      const ended = logger.lines.filter((l) => l.msg === 'Redis connection restored');
      assert.equal(started_.length, 1, all);
      assert.equal(ended.length, 1, all);
      for (const line of [...started_, ...ended]) assert.deepEqual([line.level, line.fields.store], ['error', 'redis']);
      // Besides those two, at most a "command failed" line (rate limited: one per 30 s).
      assert.ok(logger.lines.length <= 3, all);
    } finally {
      await tracker.close();
    }
  });
});

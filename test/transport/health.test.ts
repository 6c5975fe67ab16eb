import assert from 'node:assert/strict';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { describe, it } from 'node:test';
import { createTracker } from '../../src/tracker.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { httpGet } from '../helpers/http-tracker-client.js';
import { withRedisServer } from '../helpers/redis-server.js';
import { sleep } from '../helpers/ws-client.js';

/** /healthz and /readyz: liveness and readiness, on both HTTP paths and through a Redis outage. */

const json = (body: Buffer): Record<string, unknown> => JSON.parse(body.toString()) as Record<string, unknown>;

describe('health endpoints', () => {
  for (const httpFastPath of [true, false]) {
    it(`answer 200 on the memory store (${httpFastPath ? 'fast path' : 'node:http'})`, async () => {
      const tracker = createTracker({ host: '127.0.0.1', port: 0, quiet: true, udpPort: 'off', httpFastPath });
      const base = `http://127.0.0.1:${(await tracker.listen()).http.port}`;
      const live = await httpGet(base, '/healthz');
      assert.deepEqual([live.status, json(live.body)], [200, { status: 'ok' }]);
      const ready = await httpGet(base, '/readyz');
      assert.deepEqual([ready.status, json(ready.body)], [200, { status: 'ready' }]);
      assert.equal((await httpGet(base, '/readyz', { method: 'POST' })).status, 405);
      await tracker.close();
    });
  }

  it('/readyz answers 503 shutting down once close() began (an application server that embeds the tracker)', async () => {
    const tracker = createTracker({ quiet: true, udpPort: 'off' });
    const server = createServer();
    await tracker.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    try {
      assert.equal((await httpGet(base, '/readyz')).status, 200);
      await tracker.close();
      const res = await httpGet(base, '/readyz');
      assert.deepEqual([res.status, json(res.body)], [503, { status: 'unavailable', reason: 'shutting down' }]);
      assert.equal((await httpGet(base, '/healthz')).status, 200);
    } finally {
      server.close();
    }
  });
});

describe('health endpoints on Redis', () => {
  const redis = withRedisServer();

  it('/readyz says 503 store unavailable while Redis is gone, 200 again after; /healthz stays 200', async () => {
    // The outage lines go to a logger of the test's, not to its output.
    const logger = captureLogger();
    const tracker = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', redisUrl: redis.url, logger });
    const base = `http://127.0.0.1:${(await tracker.listen()).http.port}`;
    try {
      assert.equal((await httpGet(base, '/readyz')).status, 200);
      await redis.kill();
      let res = await httpGet(base, '/readyz');
      for (const deadline = Date.now() + 5000; res.status !== 503 && Date.now() < deadline; ) {
        await sleep(100);
        res = await httpGet(base, '/readyz');
      }
      assert.deepEqual([res.status, json(res.body)], [503, { status: 'unavailable', reason: 'store unavailable' }]);
      assert.equal(res.headers['retry-after'], '1');
      assert.equal((await httpGet(base, '/healthz')).status, 200);
      await redis.restart();
      for (const deadline = Date.now() + 10_000; res.status !== 200 && Date.now() < deadline; ) {
        await sleep(200);
        res = await httpGet(base, '/readyz');
      }
      assert.equal(res.status, 200);
    } finally {
      await tracker.close();
    }
  });
});

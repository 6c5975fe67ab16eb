import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from '../helpers/free-port.js';
import { announce, httpGet, makeId } from '../helpers/http-tracker-client.js';
import { withRedisServer } from '../helpers/redis-server.js';
import { parseExposition, sampleSum } from '../metrics/exposition.js';

/**
 * A real Prometheus (Debian's `prometheus`, installed by the test command)
 * scraping the real CLI under `--workers 2` on Redis, on `--metrics-port`:
 * one scrape reports both workers, so PromQL counts every announce whichever
 * worker answered it.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const PROMETHEUS = '/usr/bin/prometheus';
const ANNOUNCES = 40;

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

async function waitFor<T>(what: string, ms: number, probe: () => Promise<T | undefined>): Promise<T> {
  const deadline = Date.now() + ms;
  let last: unknown;
  for (;;) {
    try {
      const value = await probe();
      if (value !== undefined) return value;
    } catch (err) {
      last = err;
    }
    assert.ok(Date.now() < deadline, `${what} within ${ms / 1000} s${last ? ` (last error: ${last})` : ''}`);
    await sleep(250);
  }
}

describe('metrics scraped by a real Prometheus', () => {
  const redis = withRedisServer();
  const dir = mkdtempSync(join(tmpdir(), 'bitstorm-prom-'));
  const children: ChildProcess[] = [];
  after(async () => {
    for (const child of children) {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill('SIGTERM');
        await Promise.race([once(child, 'exit'), sleep(5000)]);
        if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
      }
    }
    rmSync(dir, { recursive: true, force: true });
  });

  it('answers a PromQL query with every announce of both workers', async () => {
    const [port, metricsPort, promPort] = [await freePort(), await freePort(), await freePort()];
    const tracker = spawn(
      process.execPath,
      [
        join(root, 'bin', 'bitstorm.js'),
        ...['--port', String(port), '--host', '127.0.0.1', '--udp-port', 'off', '--workers', '2'],
        ...['--redis-url', redis.url, '--metrics-port', String(metricsPort)],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(tracker);
    let output = '';
    tracker.stdout?.on('data', (d) => (output += d));
    tracker.stderr?.on('data', (d) => (output += d));
    await waitFor('two workers and the metrics port', 20_000, async () =>
      (output.match(/HTTP tracker listening/g) ?? []).length >= 2 && /metrics of all workers/.test(output)
        ? true
        : undefined,
    );
    const base = `http://127.0.0.1:${port}`;
    for (let i = 0; i < ANNOUNCES; i++) {
      // A connection each: the kernel spreads them over both workers.
      const reply = await announce(base, { infoHash: makeId('-PROM-', i % 4), peerId: makeId('-P-', i), port: 7000 });
      assert.equal(reply['failure reason'], undefined);
    }
    // The metrics port answers with the sum of both workers; the HTTP port does not serve it.
    const direct = parseExposition((await httpGet(`http://127.0.0.1:${metricsPort}`, '/metrics')).body.toString());
    assert.equal(sampleSum(direct, 'bitstorm_announces_total'), ANNOUNCES);
    assert.equal((await httpGet(base, '/metrics')).status, 404);

    writeFileSync(
      join(dir, 'prometheus.yml'),
      [
        'global:',
        '  scrape_interval: 1s',
        'scrape_configs:',
        '  - job_name: bitstorm',
        '    static_configs:',
        `      - targets: ['127.0.0.1:${metricsPort}']`,
        '',
      ].join('\n'),
    );
    const prometheus = spawn(
      PROMETHEUS,
      [
        `--config.file=${join(dir, 'prometheus.yml')}`,
        `--storage.tsdb.path=${join(dir, 'data')}`,
        `--web.listen-address=127.0.0.1:${promPort}`,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    children.push(prometheus);
    let promOutput = '';
    prometheus.stderr?.on('data', (d) => (promOutput += d));
    prometheus.on('error', (err) => {
      promOutput += `\nspawn failed: ${err.message} (apt-get install prometheus)`;
    });
    const query = async (promql: string): Promise<number | undefined> => {
      const res = await httpGet(`http://127.0.0.1:${promPort}`, `/api/v1/query?query=${encodeURIComponent(promql)}`);
      if (res.status !== 200) return undefined;
      const body = JSON.parse(res.body.toString()) as { data: { result: { value: [number, string] }[] } };
      const first = body.data.result[0];
      return first ? Number(first.value[1]) : undefined;
    };
    const total = await waitFor(
      `Prometheus to scrape the tracker (its log: ${promOutput.slice(-300)})`,
      40_000,
      async () => {
        const v = await query('sum(bitstorm_announces_total{job="bitstorm"})');
        return v === ANNOUNCES ? v : undefined;
      },
    );
    assert.equal(total, ANNOUNCES);
    assert.equal(await query('min(bitstorm_store_up)'), 1);
    assert.equal(await query('sum(bitstorm_announces_total{transport="http",event="update"})'), ANNOUNCES);
    assert.equal(await query('bitstorm_torrents'), 4);
    const seconds = await query('sum(bitstorm_request_duration_seconds_count{operation="announce"})');
    assert.equal(seconds, ANNOUNCES);
    assert.equal(await query('up{job="bitstorm"}'), 1);
  });
});

import assert from 'node:assert/strict';
import { test } from 'node:test';
import { TrackerEvents } from '../../src/core/events.js';
import { StatsCollector } from '../../src/stats/stats-collector.js';
import type { SwarmStore, SwarmTotals } from '../../src/store/swarm-store.js';

/** A store that only answers totals(), with whatever the test sets. */
function fakeStore(totals: Partial<SwarmTotals>): SwarmStore {
  const zero = { torrents: 0, peers: 0, seeders: 0, leechers: 0, peers4: 0, peers6: 0, downloaded: 0 };
  // Read at each call, so the test can change the numbers between samples.
  return { kind: 'fake', totals: async () => ({ ...zero, ...totals }) } as unknown as SwarmStore;
}

/**
 * The collector's clock is injected; its timers are not started here, the test
 * calls what they would call (the private per-second tick through a cast).
 */
function setup(options: { sampleMs?: number; historySize?: number } = {}) {
  let now = 1_000_000;
  const events = new TrackerEvents();
  const totals: Partial<SwarmTotals> = { peers: 10, seeders: 4, leechers: 6 };
  const collector = new StatsCollector(events, fakeStore(totals), { now: () => now, ...options });
  const tick = (seconds: number) => {
    for (let i = 0; i < seconds; i++) {
      now += 1000;
      (collector as unknown as { recordSecond(): void }).recordSecond();
    }
  };
  const announce = (n: number, transport: 'http' | 'udp' = 'http') => {
    for (let i = 0; i < n; i++) events.emit('announce', { transport, event: 'update', family: 4 });
  };
  return { collector, events, tick, announce, totals, advance: (ms: number) => (now += ms) };
}

test('rates average over the last minute, by transport', () => {
  const { collector, tick, announce, events } = setup();
  announce(30);
  announce(10, 'udp');
  events.emit('scrape', { transport: 'http', hashes: 1 });
  tick(10);
  let r = collector.rates();
  assert.equal(r.windowSeconds, 10);
  assert.equal(r.announcesPerSecond, 4);
  assert.equal(r.announcesPerSecondBy.http, 3);
  assert.equal(r.announcesPerSecondBy.udp, 1);
  assert.equal(r.scrapesPerSecond, 0.1);
  // A minute later with no traffic, the burst has left the window.
  tick(61);
  r = collector.rates();
  assert.equal(r.windowSeconds, 60);
  assert.equal(r.announcesPerSecond, 0);
  announce(120);
  tick(1);
  assert.equal(collector.rates().announcesPerSecond, 2);
  assert.equal(collector.counters.http.announces, 150);
  assert.equal(collector.counters.udp.announces, 10);
});

test('failures are counted by transport', () => {
  const { collector, events } = setup();
  events.emit('failure', { transport: 'udp', code: 'invalid_info_hash' });
  assert.equal(collector.counters.udp.failures, 1);
  assert.equal(collector.counters.http.failures, 0);
});

test('the chart history is a fixed-size ring, oldest first', async () => {
  const { collector, announce, totals, advance } = setup({ sampleMs: 5000, historySize: 4 });
  for (let i = 1; i <= 6; i++) {
    totals.peers = i * 100;
    announce(50);
    advance(5000);
    await collector.sample();
  }
  const h = collector.history();
  assert.equal(h.intervalSeconds, 5);
  assert.deepEqual(h.peers, [300, 400, 500, 600], 'only the newest 4 samples');
  assert.equal(h.t.length, 4);
  assert.ok(
    h.t.every((t, i) => i === 0 || t - (h.t[i - 1] as number) === 5),
    'seconds apart, in order',
  );
  assert.deepEqual(h.announcesPerSecond, [10, 10, 10, 10], '50 announces per 5 s');
});

test('a failing store leaves a gap, not an exception', async () => {
  const events = new TrackerEvents();
  const store = {
    kind: 'fake',
    totals: async () => {
      throw new Error('down');
    },
  } as unknown as SwarmStore;
  const collector = new StatsCollector(events, store, { now: Date.now });
  await collector.sample();
  assert.equal(collector.history().t.length, 0);
});

test('stop() unsubscribes from the events', () => {
  const { collector, announce } = setup();
  announce(1);
  collector.stop();
  announce(5);
  assert.equal(collector.totalAnnounces(), 1);
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULTS, type TrackerConfig } from '../../src/config/options.js';
import { BYTES_PER_SLOT, RateLimiter, type RateLimiterOptions, sourceKey } from '../../src/core/rate-limiter.js';
import { TrackerCore } from '../../src/core/tracker.js';
import { type ParsedAddress, parseIp } from '../../src/protocol/compact.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';

/** The limiter's budgets over an injected clock: nothing here waits for time to pass. */

function ip(text: string): ParsedAddress {
  const parsed = parseIp(text);
  if (!parsed) throw new Error(`not an address: ${text}`);
  return parsed;
}

function limiter(over: Partial<RateLimiterOptions> & { clock: { now: number } }): RateLimiter {
  const { clock, ...rest } = over;
  return new RateLimiter({
    rate: 10,
    burst: 5,
    badIdLimit: 0,
    badIdIgnoreMs: 60_000,
    now: () => clock.now,
    slots: 1024,
    ...rest,
  });
}

/** How many of `n` requests at the current instant are served. */
function takeMany(l: RateLimiter, address: ParsedAddress, n: number): number {
  let served = 0;
  for (let i = 0; i < n; i++) if (l.take(address)) served++;
  return served;
}

describe('rate limiter: requests', () => {
  it('serves a burst at once, then one request per 1/rate seconds', () => {
    const clock = { now: 1_000_000 };
    const l = limiter({ clock, rate: 10, burst: 5 });
    const a = ip('192.0.2.1');
    assert.equal(takeMany(l, a, 20), 5, 'the burst');
    clock.now += 99;
    assert.equal(l.take(a), false, 'not yet 100 ms: nothing refilled');
    clock.now += 1;
    assert.equal(takeMany(l, a, 3), 1, 'after 100 ms, one');
    clock.now += 1000;
    assert.equal(takeMany(l, a, 20), 5, 'after a second, the bucket is full again (10 refilled, 5 kept)');
  });

  it('charges nothing for a refused request: a client that keeps asking gets through at the rate', () => {
    const clock = { now: 5_000 };
    const l = limiter({ clock, rate: 10, burst: 1 });
    const a = ip('192.0.2.2');
    let served = 0;
    // 10 requests a millisecond for 2 seconds.
    for (let t = 0; t < 2000; t++) {
      clock.now++;
      served += takeMany(l, a, 10);
    }
    assert.equal(served, 20, '10 a second over 2 seconds');
  });

  it('limits IPv4 per address and IPv6 per /64', () => {
    const clock = { now: 0 };
    const l = limiter({ clock, rate: 1, burst: 2 });
    assert.equal(takeMany(l, ip('2001:db8:1:2::1'), 2), 2);
    assert.equal(l.take(ip('2001:db8:1:2:ffff:ffff:ffff:fffe')), false, 'the same /64');
    assert.equal(l.take(ip('2001:db8:1:3::1')), true, 'the next /64 is another source');
    assert.equal(takeMany(l, ip('198.51.100.7'), 2), 2);
    assert.equal(l.take(ip('198.51.100.7')), false);
    assert.equal(l.take(ip('198.51.100.8')), true, 'the next IPv4 address is another source');
    assert.equal(l.take(ip('::ffff:198.51.100.7')), false, 'IPv4-mapped is the IPv4 address');
    // An IPv6 /64 that starts with an IPv4 address' bytes is still another source.
    assert.equal(l.take(ip('c633:6407::1')), true);
    assert.equal(sourceKey(ip('2001:db8:1:2::1')), sourceKey(ip('2001:db8:1:2:8000::9')));
    assert.notEqual(sourceKey(ip('198.51.100.7')), sourceKey(ip('c633:6407::')));
  });

  it('tolerates the clock stepping back: a source is not refused until it catches up', () => {
    const clock = { now: 10_000_000 };
    const l = limiter({ clock, rate: 1, burst: 3 });
    const a = ip('192.0.2.3');
    assert.equal(takeMany(l, a, 3), 3);
    clock.now -= 3_600_000; // an hour back
    assert.equal(takeMany(l, a, 5), 3, 'a fresh burst, not an hour of refusals');
  });

  it('does nothing with rate 0 (--rate-limit off)', () => {
    const clock = { now: 0 };
    const l = limiter({ clock, rate: 0 });
    assert.equal(takeMany(l, ip('192.0.2.4'), 10_000), 10_000);
  });
});

describe('rate limiter: bad UDP connection ids', () => {
  it('answers K within a minute, then ignores the source for T; one more after T, then ignored again', () => {
    const clock = { now: 50_000_000 };
    const l = limiter({ clock, rate: 0, badIdLimit: 6, badIdIgnoreMs: 30_000 });
    const a = ip('203.0.113.5');
    let answered = 0;
    for (let i = 0; i < 20; i++) if (l.takeBadId(a)) answered++;
    assert.equal(answered, 6);
    clock.now += 29_999;
    assert.equal(l.takeBadId(a), false, 'still ignored just before T');
    clock.now += 1;
    assert.equal(l.takeBadId(a), true, 'T is over: one answer');
    assert.equal(l.takeBadId(a), false, 'and ignored again: it keeps sending them');
    // Quiet for the ignore time and a full minute: K again.
    clock.now += 30_000 + 60_000;
    answered = 0;
    for (let i = 0; i < 20; i++) if (l.takeBadId(a)) answered++;
    assert.equal(answered, 6);
    assert.equal(l.takeBadId(ip('203.0.113.6')), true, 'another source is not affected');
  });

  it('shares the slot with the request budget, and neither spends the other', () => {
    const clock = { now: 0 };
    const l = limiter({ clock, rate: 1, burst: 2, badIdLimit: 2, badIdIgnoreMs: 10_000 });
    const a = ip('203.0.113.7');
    assert.equal(l.takeBadId(a), true);
    assert.equal(l.takeBadId(a), true);
    assert.equal(l.takeBadId(a), false, 'ignored');
    assert.equal(takeMany(l, a, 3), 2, 'its verified requests still have their whole budget');
  });
});

describe('rate limiter: a table of fixed size', () => {
  it('holds 1M distinct sources in the same bytes, and keeps the one in debt', () => {
    const clock = { now: 0 };
    const slots = 1 << 16;
    const l = limiter({ clock, rate: 20, burst: 1000, slots });
    assert.equal(l.bytes, slots * BYTES_PER_SLOT);
    const abuser = ip('192.0.2.99');
    assert.equal(takeMany(l, abuser, 2000), 1000, 'the abuser spent its burst');
    // One address object, rewritten: the loop itself allocates nothing.
    const source: ParsedAddress = { family: 6, bytes: Buffer.alloc(16) };
    const before = process.memoryUsage();
    for (let i = 0; i < 1_000_000; i++) {
      source.bytes.writeUInt32BE(0x20010db8, 0);
      source.bytes.writeUInt32BE(i, 4);
      assert.ok(l.take(source) || i < 0);
    }
    const after = process.memoryUsage();
    assert.equal(l.bytes, slots * BYTES_PER_SLOT, 'the table did not grow');
    assert.ok(after.arrayBuffers - before.arrayBuffers < 1 << 20, 'no new typed arrays');
    assert.ok(after.heapUsed - before.heapUsed < 16 << 20, `heap grew by ${after.heapUsed - before.heapUsed} B`);
    // Each fresh source owes one request (50 ms) and the abuser 1000: every
    // eviction took an entry owing less, so the abuser is still refused.
    assert.equal(l.take(abuser), false, 'not forgotten under a flood of 1M other sources');
    clock.now += 50_000;
    assert.equal(l.take(abuser), true, 'served again once its budget refilled');
  });

  it('forgets nothing that matters when a bucket overflows: fresh entries go before indebted ones', () => {
    const clock = { now: 0 };
    // 8 slots: one bucket, so every source competes for it.
    const l = limiter({ clock, rate: 1, burst: 3, slots: 8 });
    const limited = Array.from({ length: 4 }, (_, i) => ip(`192.0.2.${10 + i}`));
    for (const a of limited) assert.equal(takeMany(l, a, 3), 3);
    for (let i = 0; i < 1000; i++) l.take(ip(`10.0.${i >> 8}.${i & 255}`));
    for (const a of limited) assert.equal(l.take(a), false, 'still refused');
  });
});

describe('core: admit()', () => {
  function core(over: Partial<TrackerConfig>, now: () => number): TrackerCore {
    const config: Readonly<TrackerConfig> = Object.freeze({ ...DEFAULTS, ...over });
    const store = new MemoryStore({ peerTtlMs: 60_000, now: Date.now, backgroundSweep: false });
    return new TrackerCore(config, store, now);
  }

  it('charges every transport to one budget per source, and counts refusals as rate_limited', () => {
    const c = core({ rateLimit: 1, rateBurst: 3 }, () => 0);
    const failures: string[] = [];
    c.events.on('failure', (f) => failures.push(`${f.transport} ${f.code}`));
    const a = ip('192.0.2.50');
    assert.deepEqual(
      (['http', 'udp', 'ws', 'http'] as const).map((t) => c.admit(a, t)),
      [true, true, true, false],
    );
    assert.deepEqual(failures, ['http rate_limited']);
  });

  it('creates no table with --rate-limit off and --udp-bad-id-limit off', () => {
    const c = core({ rateLimit: 'off', udpBadIdLimit: 'off' }, () => 0);
    assert.equal(c.limiter, undefined);
    assert.equal(c.admit(ip('192.0.2.51'), 'http'), true);
    assert.equal(c.admitBadConnectionId(ip('192.0.2.51')), true);
  });
});

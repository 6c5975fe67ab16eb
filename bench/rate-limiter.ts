import { performance } from 'node:perf_hooks';
import { BYTES_PER_SLOT, DEFAULT_SLOTS, RateLimiter } from '../src/core/rate-limiter.js';
import type { ParsedAddress } from '../src/protocol/compact.js';

/**
 * What the per-source rate limiter (src/core/rate-limiter.ts) costs: the
 * bytes of its table at 1M distinct sources, and the time of one check.
 * A few seconds on one core:
 *
 *   npx tsc -p . && node --expose-gc dist/bench/rate-limiter.js
 *
 * The figures quoted in docs/access.md come from this script.
 */

const SOURCES = 1_000_000;
const RUNS = 5;
const gc = (globalThis as { gc?: () => void }).gc;

function memory(): { rss: number; heap: number; buffers: number } {
  gc?.();
  const m = process.memoryUsage();
  return { rss: m.rss, heap: m.heapUsed, buffers: m.arrayBuffers };
}

const mib = (bytes: number): string => `${(bytes / 2 ** 20).toFixed(1)} MiB`;

// The defaults of the tracker: 20 a second, 1000 at once, 60 bad ids a minute.
let now = 0;
const options = { rate: 20, burst: 1000, badIdLimit: 60, badIdIgnoreMs: 60_000, now: () => now };

// One address object, rewritten per check: what is timed is the limiter, not allocation.
const v4: ParsedAddress = { family: 4, bytes: Buffer.alloc(4) };
const v6: ParsedAddress = { family: 6, bytes: Buffer.alloc(16) };

function distinct(limiter: RateLimiter, count: number, offset: number): number {
  let served = 0;
  for (let i = 0; i < count; i++) {
    if ((i & 1) === 0) {
      v4.bytes.writeUInt32BE((0x0a000000 + offset + i) >>> 0, 0);
      if (limiter.take(v4)) served++;
    } else {
      v6.bytes.writeUInt32BE(0x20010db8, 0);
      v6.bytes.writeUInt32BE((offset + i) >>> 0, 4);
      if (limiter.take(v6)) served++;
    }
  }
  return served;
}

function same(limiter: RateLimiter, count: number): number {
  let served = 0;
  v4.bytes.writeUInt32BE(0x7f000001, 0);
  for (let i = 0; i < count; i++) if (limiter.take(v4)) served++;
  return served;
}

function time(label: string, count: number, run: () => number): void {
  let best = Number.POSITIVE_INFINITY;
  let served = 0;
  for (let r = 0; r < RUNS; r++) {
    const start = performance.now();
    served = run();
    best = Math.min(best, performance.now() - start);
  }
  console.log(`${label}: ${((best * 1e6) / count).toFixed(0)} ns a check (best of ${RUNS}; ${served} served)`);
}

// The same loop once with requests not limited (the table untouched), so
// that what V8 itself grows by (compiled code, heap pages) is not counted
// below as the table's.
// (Kept alive, so that its own untouched arrays stay out of the deltas.)
const warmUp = new RateLimiter({ ...options, rate: 0, badIdLimit: 0 });
distinct(warmUp, SOURCES, 0);
const before = memory();
const limiter = new RateLimiter(options);
const allocated = memory();
distinct(limiter, SOURCES, 0);
const filled = memory();
console.log(
  `table: ${DEFAULT_SLOTS} slots × ${BYTES_PER_SLOT} B = ${limiter.bytes} B (${mib(limiter.bytes)}), allocated once`,
);
console.log(
  `at 1M distinct sources: RSS +${mib(filled.rss - before.rss)} (+${mib(allocated.rss - before.rss)} at allocation: pages are resident once touched), ` +
    `typed arrays +${mib(filled.buffers - before.buffers)}, JS heap +${mib(filled.heap - before.heap)}`,
);
distinct(limiter, SOURCES, SOURCES);
const twice = memory();
console.log(
  `at 2M distinct sources: RSS +${mib(twice.rss - before.rss)}, typed arrays +${mib(twice.buffers - before.buffers)}`,
);

let fresh = 2 * SOURCES;
time('1M distinct sources, each new (insert, evicting the fullest of 8)', SOURCES, () => {
  now += 1000;
  fresh += SOURCES;
  return distinct(limiter, SOURCES, fresh);
});
time('1M checks of one source (a hit; refused past its burst)', SOURCES, () => {
  now += 1000;
  return same(limiter, SOURCES);
});
if (warmUp.bytes !== limiter.bytes) throw new Error('the two tables differ');
const warm = 65_536;
time(`1M checks over ${warm} sources in the table (hits)`, SOURCES, () => {
  now += 1000;
  let served = 0;
  for (let round = 0; round < SOURCES / warm; round++) served += distinct(limiter, warm, 0);
  return served;
});

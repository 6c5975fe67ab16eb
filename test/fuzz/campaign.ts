import { fuzzTracker } from './fuzz-tracker.js';

/**
 * `npm run fuzz -- [--count N] [--seed S] [--fast-path on|off]`: a long fuzz
 * campaign, N HTTP cases and 4·N UDP packets (default 20,000), bounded by its
 * count. Prints the failures with their seeds and exits 1 when there are any.
 */
function arg(name: string): string | undefined {
  const i = process.argv.indexOf(name);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const count = Number(arg('--count') ?? 20_000);
const seed = Number(arg('--seed') ?? Math.floor(Math.random() * 2 ** 30));
const httpFastPath = (arg('--fast-path') ?? 'on') !== 'off';
if (!Number.isInteger(count) || count < 1 || !Number.isInteger(seed)) {
  console.error('usage: npm run fuzz -- [--count N] [--seed S] [--fast-path on|off]');
  process.exit(2);
}
const started = Date.now();
const run = await fuzzTracker({ httpCases: count, udpPackets: 4 * count, seed, httpFastPath });
const seconds = ((Date.now() - started) / 1000).toFixed(1);
console.log(
  `fuzz: seed ${seed}, ${run.httpCases} HTTP cases, ${run.udpPackets} UDP packets, fast path ${httpFastPath ? 'on' : 'off'}, ${seconds} s: ${run.failures.length} failures; alive after: ${run.aliveAfter}`,
);
for (const f of run.failures.slice(0, 50)) console.log(`  seed ${f.seed}: ${f.problem}\n    sent ${f.sent}`);
process.exit(run.failures.length === 0 && run.aliveAfter ? 0 : 1);

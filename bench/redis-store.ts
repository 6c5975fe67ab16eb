/**
 * Store bench (not a test, not run by npm test):
 *   npx tsc -p . && node dist/bench/redis-store.js [--seconds 5] [--concurrency 64] [--memory-only | --rate-only] [--million]
 *
 * 1. Announces per second, in process, straight into the store (no HTTP):
 *    the memory store vs the Redis store on a throwaway local redis-server.
 *    Same workload for both: a prefilled state of 1,000 torrents × 50 peers,
 *    then re-announces of random peers with numwant 50, `concurrency` in flight.
 *    The Redis store is also run on the full bench's shape: 10,000 torrents
 *    with Zipf popularity (exponent 1), 100,000 peers.
 * 2. Redis used_memory per peer at 100,000 peers, for three swarm-size
 *    distributions (small swarms, 1,000-peer swarms, one 100,000-peer swarm),
 *    and the Zipf shape at 100,000 and (--million) 1,000,000 peers. The full
 *    bench (bench/run.ts) measures its own shape (1/3 seeders, clients in
 *    several torrents) at 100k and 1M stored peers.
 * The machine and versions are printed first: figures mean nothing without them.
 */
import { execFileSync } from 'node:child_process';
import { cpus, loadavg, totalmem } from 'node:os';
import { MemoryStore } from '../src/store/memory/memory-store.js';
import { RedisStore } from '../src/store/redis/redis-store.js';
import type { StoreAnnounce, SwarmStore } from '../src/store/swarm-store.js';
import { type RedisServerHandle, startRedisServer } from '../test/helpers/redis-server.js';
import { storeAnnounce } from '../test/helpers/store-announce.js';

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}
const SECONDS = flag('seconds', 5);
const CONCURRENCY = flag('concurrency', 64);
const MEMORY_ONLY = args.includes('--memory-only');
/** Only the Redis store's announces/s (quick before/after comparisons). */
const RATE_ONLY = args.includes('--rate-only');

function hash(t: number): Buffer {
  const b = Buffer.alloc(20, 0x5a);
  b.writeUInt32BE(t, 0);
  return b;
}

function peerId(n: number): Buffer {
  const b = Buffer.from('-BS0001-000000000000', 'latin1');
  b.writeUInt32BE(n, 16);
  return b;
}

function request(t: number, n: number, numWant: number): StoreAnnounce {
  return storeAnnounce({
    infoHash: hash(t),
    peerId: peerId(n),
    seeder: n % 4 === 0,
    ipv4: Buffer.from([10, (n >> 16) & 0xff, (n >> 8) & 0xff, n & 0xff, 0x1a, 0xe1]),
    key: n,
    numWant,
  });
}

/**
 * Torrent of the n-th of `peers` peers when `torrents` torrents have Zipf
 * (exponent 1) popularity: torrent t gets about peers / (t+1) / H(torrents).
 * Returns [torrent, index of the peer in it] for each peer; deterministic.
 */
function zipfLayout(torrents: number, peers: number): Uint32Array {
  let h = 0;
  for (let t = 1; t <= torrents; t++) h += 1 / t;
  const out = new Uint32Array(peers * 2);
  let n = 0;
  for (let t = 0; t < torrents && n < peers; t++) {
    const size = Math.max(1, Math.round(peers / (t + 1) / h));
    for (let i = 0; i < size && n < peers; i++, n++) {
      out[n * 2] = t;
      out[n * 2 + 1] = i;
    }
  }
  for (; n < peers; n++) {
    out[n * 2] = 0;
    out[n * 2 + 1] = n; // rounding leftovers join the biggest swarm
  }
  return out;
}

/** Runs `total` announces produced by `make(i)`, keeping `concurrency` in flight. */
async function drive(store: SwarmStore, total: number, make: (i: number) => StoreAnnounce): Promise<void> {
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < total) {
      await store.announce(make(next++));
      announcesSent++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
}

async function throughput(store: SwarmStore, torrents: number, perTorrent: number): Promise<number> {
  await drive(store, torrents * perTorrent, (i) => request(Math.floor(i / perTorrent), i % perTorrent, 0));
  let done = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      const t = Math.floor(Math.random() * torrents);
      await store.announce(request(t, Math.floor(Math.random() * perTorrent), 50));
      done++;
      announcesSent++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  return done / seconds;
}

/** Announces/s over the Zipf layout: prefill every peer once, then re-announce random peers. */
async function zipfThroughput(store: SwarmStore, layout: Uint32Array): Promise<number> {
  const peers = layout.length / 2;
  const at = (n: number, numWant: number) => request(layout[n * 2] as number, layout[n * 2 + 1] as number, numWant);
  await drive(store, peers, (i) => at(i, 0));
  let done = 0;
  const deadline = Date.now() + SECONDS * 1000;
  const started = process.hrtime.bigint();
  const worker = async (): Promise<void> => {
    while (Date.now() < deadline) {
      await store.announce(at(Math.floor(Math.random() * peers), 50));
      done++;
      announcesSent++;
    }
  };
  await Promise.all(Array.from({ length: CONCURRENCY }, worker));
  return done / (Number(process.hrtime.bigint() - started) / 1e9);
}

/** Announces sent since the last CONFIG RESETSTAT (the script runs a batch of them per call). */
let announcesSent = 0;

async function resetStats(redis: RedisServerHandle): Promise<void> {
  await redis.command('CONFIG', 'RESETSTAT');
  announcesSent = 0;
}

/** Redis CPU per announce in the announce script (µs) and the commands the script ran per announce. */
async function evalshaMicros(redis: RedisServerHandle): Promise<string> {
  const stats = String(await redis.command('INFO', 'commandstats'));
  const m = /cmdstat_evalsha:calls=(\d+),usec=(\d+)/.exec(stats);
  if (!m || announcesSent === 0) return '?';
  let inner = 0;
  for (const c of stats.matchAll(/cmdstat_(\w+):calls=(\d+)/g)) {
    if (!/^(evalsha|eval|info|config|zadd|pexpire)$/.test(c[1] as string)) inner += Number(c[2]);
  }
  // zadd / pexpire also come from the index refresh outside the script: left out of the count.
  const perAnnounce = Number(m[2]) / announcesSent;
  const batch = announcesSent / Number(m[1]);
  return `${perAnnounce.toFixed(1)} µs, ${(inner / announcesSent).toFixed(1)} commands besides ZADD/PEXPIRE, ${batch.toFixed(1)} announces per call`;
}

async function usedMemory(redis: RedisServerHandle): Promise<number> {
  const info = String(await redis.command('INFO', 'memory'));
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

async function memoryPerPeer(
  layout: Uint32Array,
  serverArgs: string[] = [],
): Promise<{ perPeer: number; keys: number }> {
  const peers = layout.length / 2;
  const redis = await startRedisServer(serverArgs);
  const store = new RedisStore({ peerTtlMs: 1_860_000, now: Date.now, url: redis.url, commandTimeoutMs: 10_000 });
  try {
    await store.ready(5000);
    await store.announce(request(1_000_000, 1, 0)); // script cache, client buffers: not per peer
    await redis.command('DEL', ...((await redis.command('KEYS', '*')) as string[]));
    const before = await usedMemory(redis);
    await drive(store, peers, (i) => request(layout[i * 2] as number, layout[i * 2 + 1] as number, 0));
    await new Promise((r) => setTimeout(r, 300));
    const after = await usedMemory(redis);
    const keys = Number(await redis.command('DBSIZE'));
    return { perPeer: (after - before) / peers, keys };
  } finally {
    await store.close();
    await redis.stop();
  }
}

/** Equal swarms: `torrents` × `perTorrent`. */
function evenLayout(torrents: number, perTorrent: number): Uint32Array {
  const out = new Uint32Array(torrents * perTorrent * 2);
  for (let i = 0; i < torrents * perTorrent; i++) {
    out[i * 2] = Math.floor(i / perTorrent);
    out[i * 2 + 1] = i % perTorrent;
  }
  return out;
}

function machine(): string {
  const redis = (() => {
    try {
      return execFileSync('redis-server', ['--version'], { encoding: 'utf8' }).trim();
    } catch {
      return 'redis-server not found';
    }
  })();
  return [
    `cpu: ${cpus()[0]?.model ?? '?'} × ${cpus().length}`,
    `memory: ${(totalmem() / 2 ** 30).toFixed(1)} GiB`,
    `node: ${process.version}`,
    `redis: ${redis}`,
    `concurrency: ${CONCURRENCY}, seconds per run: ${SECONDS}`,
    `load average at start: ${loadavg()
      .map((l) => l.toFixed(2))
      .join(' ')}`,
  ].join('\n');
}

async function main(): Promise<void> {
  console.log(machine());
  if (!MEMORY_ONLY) {
    console.log('\nannounces/s, in process, numwant 50');
    if (!RATE_ONLY) {
      const memory = new MemoryStore({ peerTtlMs: 1_860_000, now: Date.now });
      const memoryRate = await throughput(memory, 1000, 50);
      await memory.close();
      console.log(`  memory store, 1,000 torrents × 50 peers: ${Math.round(memoryRate).toLocaleString('en')}`);
    }
    for (const zipf of [false, true]) {
      const redis = await startRedisServer();
      const store = new RedisStore({ peerTtlMs: 1_860_000, now: Date.now, url: redis.url, commandTimeoutMs: 10_000 });
      try {
        await store.ready(5000);
        let rate: number;
        if (zipf) {
          const layout = zipfLayout(10_000, 100_000);
          await drive(store, layout.length / 2, (i) =>
            request(layout[i * 2] as number, layout[i * 2 + 1] as number, 0),
          );
          await resetStats(redis);
          rate = await zipfThroughput(store, layout);
        } else {
          await resetStats(redis);
          rate = await throughput(store, 1000, 50);
        }
        // Redis CPU per announce script: steadier than the rate on a shared machine.
        const perCall = await evalshaMicros(redis);
        const shape = zipf ? '10,000 torrents (Zipf) × 100,000 peers' : '1,000 torrents × 50 peers';
        console.log(
          `  redis store, ${shape}: ${Math.round(rate).toLocaleString('en')} (Redis CPU per announce: ${perCall})`,
        );
      } finally {
        await store.close();
        await redis.stop();
      }
    }
  }
  if (RATE_ONLY) return;
  console.log('\nRedis used_memory per peer (IPv4, 1 in 4 a seeder, every peer sent a key)');
  const bigListpacks = ['--zset-max-listpack-entries', '1024', '--hash-max-listpack-entries', '1024'];
  const cases: [string, () => Uint32Array, string[]][] = [
    ['2,000 torrents × 50 peers', () => evenLayout(2000, 50), []],
    ['100 torrents × 1,000 peers', () => evenLayout(100, 1000), []],
    ['1 torrent × 100,000 peers', () => evenLayout(1, 100_000), []],
    ['100 torrents × 1,000 peers', () => evenLayout(100, 1000), bigListpacks],
    ['10,000 torrents (Zipf) × 100,000 peers', () => zipfLayout(10_000, 100_000), []],
  ];
  if (args.includes('--million')) {
    cases.push(['10,000 torrents (Zipf) × 1,000,000 peers', () => zipfLayout(10_000, 1_000_000), []]);
  }
  for (const [name, layout, serverArgs] of cases) {
    const { perPeer, keys } = await memoryPerPeer(layout(), serverArgs);
    const note = serverArgs.length > 0 ? ` [${serverArgs.join(' ')}]` : '';
    console.log(`  ${name}: ${perPeer.toFixed(1)} bytes/peer (${keys} keys)${note}`);
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});

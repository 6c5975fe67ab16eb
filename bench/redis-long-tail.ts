/**
 * The Redis store's long tail (issue 19), by hand, not run by npm test:
 *   npx tsc -p . && node dist/bench/redis-long-tail.js [--torrents 100000] [--in-flight 256] [--peers 1]
 *
 * Starts its own redis-server (test/helpers/redis-server.ts: a free port on
 * 127.0.0.1, no persistence), announces `--torrents` distinct torrents with
 * `--peers` IPv4 leechers each (default 1) straight into a RedisStore (no
 * tracker, no sockets), `--in-flight` announces at a time, and prints:
 *   - used_memory growth per torrent (and per peer), and the number of keys per torrent;
 *   - every key that holds the first torrent (its own keys, and the shared keys
 *     its entries live in), with TYPE, OBJECT ENCODING and MEMORY USAGE;
 *   - then a scrape, a torrentPeers and a totals() of the result, as a check.
 * Deterministic, apart from Redis' allocator.
 */
import { execFileSync } from 'node:child_process';
import { RedisStore } from '../src/store/redis/redis-store.js';
import { startRedisServer } from '../test/helpers/redis-server.js';
import { storeAnnounce } from '../test/helpers/store-announce.js';

const args = process.argv.slice(2);
function flag(name: string, fallback: number): number {
  const i = args.indexOf(`--${name}`);
  return i >= 0 ? Number(args[i + 1]) : fallback;
}
const TORRENTS = flag('torrents', 100_000);
const IN_FLIGHT = flag('in-flight', 256);
const PEERS = flag('peers', 1);

function hash(t: number): Buffer {
  const b = Buffer.alloc(20, 0x5a);
  b.writeUInt32BE(t, 0);
  b.writeUInt32BE(Math.imul(t, 2654435761) >>> 0, 4); // spread over hash tags / slots
  return b;
}

function peerId(n: number): Buffer {
  const b = Buffer.from('-BS0001-000000000000', 'latin1');
  b.writeUInt32BE(n, 16);
  return b;
}

function usedMemory(info: string): number {
  return Number(/used_memory:(\d+)/.exec(info)?.[1]);
}

async function main(): Promise<void> {
  const redisVersion = execFileSync('redis-server', ['--version']).toString().trim();
  console.log(`${new Date().toISOString()} ${redisVersion}`);
  console.log(`torrents ${TORRENTS.toLocaleString('en')} × ${PEERS} IPv4 leecher(s), ${IN_FLIGHT} in flight`);
  const redis = await startRedisServer();
  const store = new RedisStore({ url: redis.url, peerTtlMs: 1_860_000, now: Date.now, log: () => undefined });
  try {
    await store.ready(10_000);
    // Loads the scripts and opens the connection's buffers before the baseline.
    const warm = { infoHash: Buffer.alloc(20, 0xff), peerId: peerId(0), ipv4: Buffer.from([10, 0, 0, 0, 1, 1]) };
    await store.announce(storeAnnounce(warm));
    await store.announce(storeAnnounce({ ...warm, event: 'stopped' }));
    await new Promise((r) => setTimeout(r, 200));
    const keys0 = Number(await redis.command('DBSIZE'));
    const before = usedMemory(String(await redis.command('INFO', 'memory')));
    const started = Date.now();
    const total = TORRENTS * PEERS;
    for (let i = 0; i < total; i += IN_FLIGHT) {
      const batch: Promise<unknown>[] = [];
      for (let j = i; j < Math.min(total, i + IN_FLIGHT); j++) {
        const t = j % TORRENTS;
        const n = Math.floor(j / TORRENTS);
        batch.push(
          store.announce(
            storeAnnounce({
              infoHash: hash(t),
              peerId: peerId(t * 8 + n),
              event: 'started',
              ipv4: Buffer.from([10, (t >> 16) & 0xff, (t >> 8) & 0xff, t & 0xff, 0x1a, 0xe1 + n]),
              numWant: 50,
            }),
          ),
        );
      }
      await Promise.all(batch);
    }
    const took = (Date.now() - started) / 1000;
    await new Promise((r) => setTimeout(r, 500)); // the index writes are not awaited by the announces
    const after = usedMemory(String(await redis.command('INFO', 'memory')));
    const keys = Number(await redis.command('DBSIZE')) - keys0;
    const grew = after - before;
    console.log(
      `announces ${total.toLocaleString('en')} in ${took.toFixed(1)} s (${Math.round(total / took).toLocaleString('en')}/s)`,
    );
    console.log(`used_memory growth ${(grew / 2 ** 20).toFixed(1)} MiB`);
    console.log(`  per torrent ${(grew / TORRENTS).toFixed(1)} B, per peer ${(grew / total).toFixed(1)} B`);
    console.log(`keys ${keys.toLocaleString('en')} (${(keys / TORRENTS).toFixed(3)} per torrent)`);

    // Every key that holds something of torrent 0: its own (hash tag), and the shared ones it is listed in.
    const sample = hash(0);
    const hex = sample.toString('hex');
    const found: string[] = [];
    let cursor = '0';
    do {
      const reply = (await redis.command('SCAN', cursor, 'MATCH', `*${hex}*`, 'COUNT', '10000')) as [string, string[]];
      cursor = reply[0];
      found.push(...reply[1]);
    } while (cursor !== '0');
    const shared: string[] = [];
    cursor = '0';
    do {
      const reply = (await redis.command('SCAN', cursor, 'COUNT', '10000')) as [string, string[]];
      cursor = reply[0];
      for (const k of reply[1]) {
        if (/[0-9a-f]{40}/.test(k) || found.includes(k)) continue;
        const type = String(await redis.command('TYPE', k));
        const raw = sample.toString('latin1');
        const holds =
          (type === 'zset' && (await redis.command('ZSCORE', k, raw)) !== null) ||
          (type === 'hash' && (await redis.command('HEXISTS', k, raw)) === 1);
        if (holds) shared.push(k);
      }
    } while (cursor !== '0');
    // The torrent index (of torrents before the long-tail layout, of buckets since).
    for (const k of ['bitstorm:torrents', 'bitstorm:torrent-buckets']) {
      if ((await redis.command('EXISTS', k)) === 1 && !shared.includes(k)) shared.push(k);
    }
    console.log(`torrent 0 (${hex}):`);
    for (const k of [...found.sort(), ...shared]) {
      const type = await redis.command('TYPE', k);
      const enc = await redis.command('OBJECT', 'ENCODING', k);
      const usage = await redis.command('MEMORY', 'USAGE', k, 'SAMPLES', '0');
      const len =
        type === 'hash'
          ? `${await redis.command('HLEN', k)} fields`
          : type === 'zset'
            ? `${await redis.command('ZCARD', k)} members`
            : '';
      const tag = shared.includes(k) ? ' (shared)' : '';
      console.log(`  ${k.replace(/[^\x20-\x7e]/g, '?')}${tag}: ${type} ${enc} ${len}, MEMORY USAGE ${usage} B`);
    }

    const [counts] = await store.scrape([sample]);
    const peers = await store.torrentPeers(sample, 10);
    const totals = await store.totals();
    console.log(
      `check: scrape ${JSON.stringify(counts)}, torrentPeers ${peers.length}, totals ${JSON.stringify(totals)}`,
    );
  } finally {
    await store.close();
    await redis.stop();
  }
}

main().catch((err: unknown) => {
  console.error(err);
  process.exitCode = 1;
});

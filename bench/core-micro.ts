/**
 * A microbenchmark of the core's announce path (TrackerCore.announce on the
 * memory store, no transport), run by hand (it is not part of `npm run bench`):
 *
 *   npx tsc -p . && node dist/bench/core-micro.js
 *
 * What each access-control layer adds to one announce without the sockets'
 * cost and noise around it (`npm run bench -- --layers` measures the whole
 * tracker): plain, passkeys with accounting (one key, as the layers bench
 * does, and 1,000 keys), the rate limiter. Each run announces a regular
 * update of one of 300,000 peers in 10,000 torrents, 50 peers wanted; ns per
 * announce, best of 5 runs of 400,000 announces, the layers alternated so
 * that drift on a shared machine hits all of them alike.
 */
import { randomFillSync } from 'node:crypto';
import { DEFAULTS, type TrackerConfig } from '../src/config/options.js';
import { TrackerCore } from '../src/core/tracker.js';
import type { AnnounceParams, RequestContext } from '../src/protocol/types.js';
import { MemoryStore } from '../src/store/memory/memory-store.js';

const PEERS = 300_000;
const TORRENTS = 10_000;
const OPS = 400_000;
const REPEATS = 5;

interface Layer {
  name: string;
  config: Partial<TrackerConfig>;
  keys: number;
}

const layers: Layer[] = [
  { name: 'plain', config: {}, keys: 0 },
  { name: 'passkeys + accounting, 1 key', config: { private: true, keys: 'unused', statsToken: 't' }, keys: 1 },
  { name: 'passkeys + accounting, 1,000 keys', config: { private: true, keys: 'unused', statsToken: 't' }, keys: 1000 },
  { name: 'rate limiter', config: { rateLimit: 1_000_000, rateBurst: 1_000_000 }, keys: 0 },
];

const hashes = Array.from({ length: TORRENTS }, () => randomFillSync(Buffer.alloc(20)));
const ids = Array.from({ length: PEERS }, (_, i) => {
  const id = randomFillSync(Buffer.alloc(20));
  id.write('-qB4650-', 'latin1');
  id.writeUInt32BE(i, 16);
  return id;
});
const keyNames = Array.from({ length: 1000 }, (_, i) => `bench${String(i).padStart(27, '0')}`);

function setUp(layer: Layer): { core: TrackerCore; params: AnnounceParams[]; ctx: RequestContext[] } {
  const config: TrackerConfig = {
    ...DEFAULTS,
    rateLimit: 'off',
    udpBadIdLimit: 'off',
    ...layer.config,
  } as TrackerConfig;
  const store = new MemoryStore({ peerTtlMs: 3_600_000, now: Date.now, backgroundSweep: false });
  const core = new TrackerCore(config, store);
  if (layer.keys > 0) core.passkeys.replace(new Set(keyNames.slice(0, layer.keys)));
  const params: AnnounceParams[] = [];
  const ctx: RequestContext[] = [];
  for (let i = 0; i < PEERS; i++) {
    params.push({
      infoHash: hashes[i % TORRENTS] as Buffer,
      peerId: ids[i] as Buffer,
      port: 6881 + (i % 1000),
      uploaded: 0,
      downloaded: 0,
      left: i % 3 === 0 ? 0 : 1000,
      event: 'update',
      numWant: 50,
      key: undefined,
    });
    ctx.push({
      transport: 'udp',
      address: { family: 4, bytes: Buffer.from([10, (i >> 16) & 255, (i >> 8) & 255, i & 255]) },
      families: 'source',
      withPeerIds: false,
      passkey: layer.keys > 0 ? keyNames[i % layer.keys] : undefined,
    });
  }
  return { core, params, ctx };
}

async function run(core: TrackerCore, params: AnnounceParams[], ctx: RequestContext[], ops: number): Promise<number> {
  const started = process.hrtime.bigint();
  // 64 in flight, as the bench's generator keeps.
  const window = 64;
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < ops) {
      const i = next++ % PEERS;
      const p = params[i] as AnnounceParams;
      p.uploaded += 1000;
      p.downloaded += 1000;
      await core.announce(p, ctx[i] as RequestContext);
    }
  };
  await Promise.all(Array.from({ length: window }, worker));
  return Number(process.hrtime.bigint() - started) / ops;
}

const set = layers.map(setUp);
for (const s of set) await run(s.core, s.params, s.ctx, PEERS); // prefill
const best = layers.map(() => Number.POSITIVE_INFINITY);
for (let r = 0; r < REPEATS; r++) {
  for (let l = 0; l < layers.length; l++) {
    const s = set[l] as (typeof set)[number];
    best[l] = Math.min(best[l] as number, await run(s.core, s.params, s.ctx, OPS));
  }
}
const plain = best[0] as number;
for (let l = 0; l < layers.length; l++) {
  const ns = best[l] as number;
  const extra = l === 0 ? '' : ` (${ns >= plain ? '+' : ''}${(((ns - plain) / plain) * 100).toFixed(1)} %)`;
  console.log(`${(layers[l] as Layer).name.padEnd(36)} ${ns.toFixed(0).padStart(6)} ns/announce${extra}`);
}
process.exit(0);

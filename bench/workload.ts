import { createHash } from 'node:crypto';
import { writeFileSync } from 'node:fs';

/**
 * The traffic every tracker gets, generated deterministically (seeded PRNG) and
 * written once to a binary file that bench/loadgen.c replays:
 *
 *   header  "BSWL" u32 version, u32 torrents, u32 clients, u32 records, u32 ips (little endian)
 *   hashes  torrents × 20 bytes
 *   records records × { u32 torrent, u32 client, u8 event (BEP 15 numbering), u8 seeder, u16 0 }
 *
 * Torrent popularity is Zipf-distributed (a few huge swarms, a long tail), each
 * client is in 1–5 torrents (3 on average), and about a third of memberships
 * are seeders. The prefill part starts every membership once; the steady part
 * is what a tracker sees between two announce intervals: mostly regular
 * updates, some completed, some stopped, and stopped peers starting again.
 */
export const EVENT_NONE = 0;
export const EVENT_COMPLETED = 1;
export const EVENT_STARTED = 2;
export const EVENT_STOPPED = 3;

/** Clients per source IP: ports 1024 + i stay below 65536. */
const CLIENTS_PER_IP = 60_000;

export interface WorkloadSpec {
  torrents: number;
  clients: number;
  /** Steady-state announces after the prefill part (replayed in a loop). */
  steadyRecords: number;
  zipfExponent: number;
  seed: number;
}

export interface Workload {
  spec: WorkloadSpec;
  file: string;
  hashes: Buffer[];
  /** Records [0, prefill) start each membership once. */
  prefill: number;
  total: number;
  ips: number;
}

/** xorshift32: deterministic and fast; quality is plenty for picking torrents. */
export function rng(seed: number): () => number {
  let x = seed >>> 0 || 1;
  return () => {
    x ^= x << 13;
    x >>>= 0;
    x ^= x >>> 17;
    x ^= x << 5;
    x >>>= 0;
    return x / 4294967296;
  };
}

export function torrentHash(i: number, seed: number): Buffer {
  return createHash('sha1').update(`bitstorm-bench-torrent-${seed}-${i}`).digest();
}

export function buildWorkload(spec: WorkloadSpec, file: string): Workload {
  const random = rng(spec.seed);
  const hashes = Array.from({ length: spec.torrents }, (_, i) => torrentHash(i, spec.seed));
  // Zipf CDF over torrent ranks; sampled by binary search.
  const cdf = new Float64Array(spec.torrents);
  let sum = 0;
  for (let i = 0; i < spec.torrents; i++) cdf[i] = sum += 1 / (i + 1) ** spec.zipfExponent;
  const zipf = (): number => {
    const u = random() * sum;
    let lo = 0;
    let hi = spec.torrents - 1;
    while (lo < hi) {
      const mid = (lo + hi) >>> 1;
      if ((cdf[mid] as number) < u) lo = mid + 1;
      else hi = mid;
    }
    return lo;
  };

  const mTorrent: number[] = [];
  const mClient: number[] = [];
  const mSeeder: boolean[] = [];
  for (let c = 0; c < spec.clients; c++) {
    const k = 1 + Math.floor(random() * 5);
    const mine = new Set<number>();
    for (let tries = 0; mine.size < k && tries < 20; tries++) mine.add(zipf());
    for (const t of mine) {
      mTorrent.push(t);
      mClient.push(c);
      mSeeder.push(random() < 0.35);
    }
  }
  const memberships = mTorrent.length;
  const total = memberships + spec.steadyRecords;
  const ips = Math.max(1, Math.ceil(spec.clients / CLIENTS_PER_IP));
  const buf = Buffer.alloc(24 + spec.torrents * 20 + total * 12);
  buf.write('BSWL', 0, 'latin1');
  buf.writeUInt32LE(1, 4);
  buf.writeUInt32LE(spec.torrents, 8);
  buf.writeUInt32LE(spec.clients, 12);
  buf.writeUInt32LE(total, 16);
  buf.writeUInt32LE(ips, 20);
  let off = 24;
  for (const h of hashes) off += h.copy(buf, off);
  const put = (m: number, event: number, seeder: boolean): void => {
    buf.writeUInt32LE(mTorrent[m] as number, off);
    buf.writeUInt32LE(mClient[m] as number, off + 4);
    buf.writeUInt8(event, off + 8);
    buf.writeUInt8(seeder ? 1 : 0, off + 9);
    off += 12;
  };
  for (let m = 0; m < memberships; m++) put(m, EVENT_STARTED, mSeeder[m] as boolean);

  // Steady state: a uniformly chosen membership announces (so popular torrents
  // get proportionally more traffic). Leechers complete and become seeders,
  // anyone may stop; a stopped membership's next announce is `started`.
  const stopped = new Uint8Array(memberships);
  for (let i = 0; i < spec.steadyRecords; i++) {
    const m = Math.floor(random() * memberships);
    const seeder = mSeeder[m] as boolean;
    if (stopped[m]) {
      stopped[m] = 0;
      put(m, EVENT_STARTED, seeder);
      continue;
    }
    const r = random();
    if (r < 0.04) {
      stopped[m] = 1;
      put(m, EVENT_STOPPED, seeder);
    } else if (!seeder && r < 0.08) {
      mSeeder[m] = true;
      put(m, EVENT_COMPLETED, true);
    } else {
      put(m, EVENT_NONE, seeder);
    }
  }
  writeFileSync(file, buf);
  return { spec, file, hashes, prefill: memberships, total, ips };
}

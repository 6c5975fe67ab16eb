import type { AnnounceEvent } from '../../protocol/types.js';
import type { StoreAnnounce } from '../swarm-store.js';

/**
 * Packing and batching of announces for the Redis store's announce script.
 *
 * Why batch: per announce, most of the tracker's share of a Redis announce was
 * not the script but the command around it — node-redis encoding twenty
 * arguments, a promise and a queue entry per command, a RESP frame to decode —
 * and Redis' own per-command cost (read, lookup, Lua call set-up, reply). It
 * also made about 60 % of the tracker's garbage (sampled heap profile).
 * Announces that arrive in the same
 * event-loop turn are therefore sent as one EVALSHA, each as one packed
 * argument; the script runs them one after another, exactly as separate calls
 * would (scripts/announce.lua).
 *
 * A batch leaves at the end of the turn (setImmediate, the moment node-redis
 * would have written the separate commands). On a standalone Redis it is
 * written to the socket right then (resp-pipe.ts); through node-redis (Redis
 * Cluster) it waits one turn more, for node-redis' own setImmediate. It is
 * bounded (MAX_BATCH) so one call never holds Redis for long.
 */

/** Bytes of one packed announce (the layout is in scripts/announce.lua's header). */
export const PACKED_ANNOUNCE_BYTES = 76;

/**
 * Announces per EVALSHA at most. 16 run in about half a millisecond of Redis
 * time, and smaller batches let Redis and the tracker work side by side: with
 * 64 UDP announces in flight, batches of 16 gave 15k announces/s where 64 gave 13k.
 */
export const MAX_BATCH = 16;

const EVENT_CHARS: Record<AnnounceEvent, number> = { started: 0x73, completed: 0x63, stopped: 0x78, update: 0x75 };

/**
 * The announces of a batch as the script's one packed argument, 76 bytes each
 * (one argument, not one per announce: node-redis writes each Buffer argument
 * as a chunk of its own). `seed()` seeds the script's math.random for each
 * announce (0 ≤ seed < 2^31). numWant is capped at 65,535 (the core caps it far
 * lower).
 */
export function packAnnounces(reqs: readonly StoreAnnounce[], seed: () => number): Buffer {
  const b = Buffer.alloc(reqs.length * PACKED_ANNOUNCE_BYTES);
  for (let i = 0; i < reqs.length; i++) {
    const req = reqs[i] as StoreAnnounce;
    const o = i * PACKED_ANNOUNCE_BYTES;
    req.peerId.copy(b, o, 0, 20);
    b[o + 20] = EVENT_CHARS[req.event];
    let flags = 0;
    if (req.seeder) flags |= 1;
    if (req.want4) flags |= 2;
    if (req.want6) flags |= 4;
    if (req.ipv4) {
      flags |= 8;
      req.ipv4.copy(b, o + 32, 0, 6);
    }
    if (req.ipv6) {
      flags |= 16;
      req.ipv6.copy(b, o + 38, 0, 18);
    }
    if (req.key !== undefined) {
      flags |= 32;
      b.writeUInt32BE(req.key >>> 0, o + 28);
    }
    b[o + 21] = flags;
    b.writeUInt16BE(Math.max(0, Math.min(0xffff, Math.floor(req.numWant))), o + 22);
    b.writeUInt32BE(seed() >>> 0, o + 24);
    req.infoHash.copy(b, o + 56, 0, 20);
  }
  return b;
}

export interface Batched<R> {
  readonly req: StoreAnnounce;
  resolve(result: R): void;
  reject(err: unknown): void;
}

/**
 * Collects announces until the end of the event-loop turn and hands them to
 * `send` in batches of at most MAX_BATCH. `group` splits batches that may not
 * share a call (on a cluster: one torrent per call, as its keys share a slot);
 * undefined puts every announce in one group.
 */
export class AnnounceBatcher<R> {
  private pending = new Map<string, Batched<R>[]>();
  private scheduled = false;

  constructor(
    private readonly send: (batch: Batched<R>[]) => void,
    private readonly group?: (req: StoreAnnounce) => string,
  ) {}

  add(req: StoreAnnounce): Promise<R> {
    return new Promise<R>((resolve, reject) => {
      const key = this.group ? this.group(req) : '';
      let list = this.pending.get(key);
      if (!list) {
        list = [];
        this.pending.set(key, list);
      }
      list.push({ req, resolve, reject });
      if (list.length >= MAX_BATCH) {
        this.pending.delete(key);
        this.send(list);
      } else if (!this.scheduled) {
        this.scheduled = true;
        setImmediate(() => this.flush());
      }
    });
  }

  /** Sends everything pending now. */
  flush(): void {
    this.scheduled = false;
    const pending = this.pending;
    if (pending.size === 0) return;
    this.pending = new Map();
    for (const list of pending.values()) this.send(list);
  }
}

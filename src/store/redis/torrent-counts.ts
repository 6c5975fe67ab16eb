import type { RedisConnection } from './connection.js';
import type { TorrentBuckets } from './keys.js';
import type { Script } from './scripts.js';

/** One torrent's counts as the count script returns them (scripts/count.lua). */
export interface TorrentCountReply {
  readonly seeders: number;
  readonly leechers: number;
  readonly peers4: number;
  readonly peers6: number;
  readonly downloaded: number;
  /** ms; 0 when unknown. */
  readonly lastAnnounce: number;
}

type RawCounts = [number, number, number, number, number, number];

/**
 * Torrents per count call, and so per page of the totals walk. Calls go one
 * after another, so a long scan holds Redis (and the announces queued behind
 * it) for well under a millisecond at a time: pages of 500 pipelined at once
 * held it for 5 ms and more, which showed in the announce p99.
 */
export const COUNT_BATCH = 64;

/**
 * Prunes and counts torrents with the count script, COUNT_BATCH at a time, one
 * window after another. On a single Redis a window is one call; on a cluster,
 * one call per torrent (a call may only touch one hash slot).
 */
export class TorrentCounter {
  constructor(
    private readonly connection: RedisConnection,
    private readonly script: Script,
    /** The buckets' map (its secret is read from Redis once). */
    private readonly buckets: () => Promise<TorrentBuckets>,
    private readonly cluster: boolean,
  ) {}

  async count(infoHashes: readonly Buffer[], cutoff: number): Promise<TorrentCountReply[]> {
    const args = [String(cutoff)];
    const buckets = infoHashes.length > 0 ? await this.buckets() : undefined;
    const raw: RawCounts[] = [];
    for (let i = 0; i < infoHashes.length; i += COUNT_BATCH) {
      const window = infoHashes.slice(i, i + COUNT_BATCH);
      if (this.cluster) {
        const replies = await Promise.all(
          window.map((hash) =>
            this.connection.evalScript<RawCounts[]>(this.script, (buckets as TorrentBuckets).scriptKeys(hash), [
              ...args,
              hash,
            ]),
          ),
        );
        for (const r of replies) raw.push(r[0] as RawCounts);
      } else {
        const keys: string[] = [];
        for (const hash of window) keys.push(...(buckets as TorrentBuckets).scriptKeys(hash));
        raw.push(...(await this.connection.evalScript<RawCounts[]>(this.script, keys, [...args, ...window])));
      }
    }
    return raw.map(([seeders, leechers, peers4, peers6, downloaded, lastAnnounce]) => ({
      seeders,
      leechers,
      peers4,
      peers6,
      downloaded,
      lastAnnounce,
    }));
  }
}

import type { SwarmTotals } from '../swarm-store.js';
import type { RedisConnection } from './connection.js';
import { COUNT_BATCH } from './torrent-counts.js';
import type { IndexPage, TorrentIndex } from './torrent-index.js';

/** Longest a walk's result is shared, and the lock's lifetime (a walker that dies frees it by then). */
const MAX_SHARE_MS = 300_000;

/**
 * The store's totals (torrents, peers, seeders…): a walk of the whole torrent
 * index, pruning and counting each torrent. Exact, also on a cluster, because
 * every count comes from the torrent's own keys; but O(torrents), and every
 * tracker process's stats page asks for it. So past `shareAbove` indexed buckets
 * (buckets in use: about as many torrents on a small tracker) the
 * result is shared through Redis (`<prefix>totals`) for 10× the time the walk
 * took (5 s to 5 min), and only one process walks at a time (`<prefix>totals:lock`,
 * SET NX): the walking costs at most ~10 % of Redis' time however many processes
 * ask. Small deployments (and tests) always get a fresh, exact walk.
 */
export class SharedTotals {
  private readonly cacheKey: string;
  private readonly lockKey: string;

  constructor(
    private readonly connection: RedisConnection,
    prefix: string,
    private readonly index: TorrentIndex,
    /** A page of the index with counts, as of now. */
    private readonly page: (cursor: string, count: number) => Promise<IndexPage>,
    private readonly shareAbove: number,
  ) {
    this.cacheKey = `${prefix}totals`;
    this.lockKey = `${prefix}totals:lock`;
  }

  async get(): Promise<SwarmTotals> {
    if ((await this.index.size()) <= this.shareAbove) return this.walk();
    const cacheKey = this.cacheKey;
    const lockKey = this.lockKey;
    const cached = await this.connection.command<Buffer | null>(cacheKey, ['GET', cacheKey]);
    const shared = cached ? (JSON.parse(cached.toString()) as { fresh: number; totals: SwarmTotals }) : undefined;
    if (shared && shared.fresh > Date.now()) return shared.totals;
    const lock = await this.connection.command<Buffer | null>(lockKey, [
      'SET',
      lockKey,
      '1',
      'NX',
      'PX',
      String(MAX_SHARE_MS),
    ]);
    if (!lock && shared) return shared.totals; // another process is walking: a slightly old answer will do
    const started = Date.now();
    try {
      const totals = await this.walk();
      const took = Date.now() - started;
      const fresh = Date.now() + Math.min(MAX_SHARE_MS, Math.max(5_000, took * 10));
      await this.connection.command(cacheKey, [
        'SET',
        cacheKey,
        JSON.stringify({ fresh, totals }),
        'PX',
        String(2 * MAX_SHARE_MS),
      ]);
      return totals;
    } finally {
      if (lock) await this.connection.command(lockKey, ['DEL', lockKey]).catch(() => undefined);
    }
  }

  /**
   * Pages through the index, about COUNT_BATCH torrents a page (a scan call, and a
   * count call for those with keys of their own), one page after another.
   */
  private async walk(): Promise<SwarmTotals> {
    const totals: SwarmTotals = { torrents: 0, peers: 0, seeders: 0, leechers: 0, peers4: 0, peers6: 0, downloaded: 0 };
    const seen = new Set<string>();
    let cursor = '0';
    do {
      const page = await this.page(cursor, COUNT_BATCH);
      for (const { infoHash, counts, stepped } of page.torrents) {
        if (counts.seeders + counts.leechers === 0) continue;
        if (stepped) {
          // HSCAN's rare repeat while Redis rehashes a big bucket read in steps.
          const id = infoHash.toString('latin1');
          if (seen.has(id)) continue;
          seen.add(id);
        }
        totals.torrents++;
        totals.seeders += counts.seeders;
        totals.leechers += counts.leechers;
        totals.peers4 += counts.peers4;
        totals.peers6 += counts.peers6;
        totals.downloaded += counts.downloaded;
      }
      cursor = page.cursor;
    } while (cursor !== '0');
    totals.peers = totals.seeders + totals.leechers;
    return totals;
  }
}

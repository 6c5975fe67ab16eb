/**
 * The memory store's downloaded counts of torrents whose last peer left, so a
 * torrent that comes back within the downloaded TTL keeps its count (as on
 * Redis, where `P{H}:d` outlives the peers). Dropped after the TTL, and at
 * most `max` of them (about 130 bytes each; past it the oldest go first:
 * without a cap, `completed` announces to random info hashes would pin memory
 * for the whole TTL).
 *
 * Keyed by info hash as a 20-character latin1 string, in the order they were
 * retired (so roughly oldest first). Clients choose info hashes, so this map
 * must not let them pick colliding keys: its hash is V8's string hash, seeded
 * at random in each process (Node rehashes its startup snapshot under a fresh
 * seed: V8's --rehash-snapshot, and --hash-seed=0, "random", both the
 * defaults). A 20-character key is never hashed as an array index (those hash
 * to their value, whatever the seed). That hash is weaker than the SipHash of
 * the torrent table and the PeerTables (on Node 20, Jenkins' one-at-a-time
 * started from a 32-bit seed), but we know of no way to find its collisions
 * without the seed, which never leaves the process. The same holds for the
 * WebRTC swarms' maps (webrtc-swarms.ts) and for the accounts' maps
 * (accounts.ts).
 */
export class RetiredCounts {
  private readonly counts = new Map<string, { downloaded: number; at: number }>();

  constructor(
    /** How long a count is kept after its torrent's last peer left, in ms. */
    private readonly ttl: number,
    private readonly max: number,
  ) {}

  get size(): number {
    return this.counts.size;
  }

  /** Keeps a count retired at `at` (epoch ms), as the newest. */
  keep(key: string, downloaded: number, at: number): void {
    if (this.max <= 0) return;
    this.counts.delete(key); // re-set moves it to the end, the newest place
    if (this.counts.size >= this.max) {
      const oldest = this.counts.keys().next();
      if (!oldest.done) this.counts.delete(oldest.value);
    }
    this.counts.set(key, { downloaded, at });
  }

  /** Takes back the count of a torrent that has peers again (0 if none is kept). */
  takeBack(infoHash: Buffer): number {
    if (this.counts.size === 0) return 0;
    const key = infoHash.toString('latin1');
    const back = this.counts.get(key);
    if (back === undefined) return 0;
    this.counts.delete(key);
    return back.downloaded;
  }

  /** The count of a torrent with no peers, for a scrape (0 once its TTL is past). */
  downloaded(infoHash: Buffer, now: number): number {
    if (this.counts.size === 0) return 0;
    const r = this.counts.get(infoHash.toString('latin1'));
    return r !== undefined && r.at + this.ttl > now ? r.downloaded : 0;
  }

  /** Whether a count retired at `at` is still within its TTL at `now`. */
  live(at: number, now: number): boolean {
    return at + this.ttl > now;
  }

  /** Forgets up to `max` counts past their TTL (the map is in retirement order, so from its head). */
  drop(now: number, max: number): void {
    let n = 0;
    for (const [key, r] of this.counts) {
      if (r.at + this.ttl > now || n++ >= max) break;
      this.counts.delete(key);
    }
  }

  clear(): void {
    this.counts.clear();
  }

  /** Every kept count, oldest first (for the state file). */
  entries(): IterableIterator<[string, { downloaded: number; at: number }]> {
    return this.counts.entries();
  }
}

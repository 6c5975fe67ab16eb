import type { SharedSetCache } from './shared-set-cache.js';

/**
 * Which torrents the tracker serves: all of them, only those on an allow list,
 * or all but those on a deny list. The one check for every transport and
 * store: the core asks it before an announce reaches the store, and leaves
 * refused torrents out of scrapes.
 *
 * The list comes from a file (replace(): replaced whole, so a request sees
 * the old list or the new one, never a half-read one; a lookup is one Set
 * lookup of the hash's 20 bytes as a latin1 string) or from a set in the store
 * (`--allow-list redis`: members are info hashes as 40 lowercase hex digits;
 * each node asks about a torrent at most once a second, shared-set-cache.ts).
 */
export class TorrentAccess {
  private hashes: ReadonlySet<string> = new Set();

  constructor(
    readonly mode: 'allow' | 'deny' | 'off',
    private readonly stored?: SharedSetCache,
  ) {}

  /** A boolean, or a promise of one when the list is in the store and this torrent was not asked about lately. */
  allows(infoHash: Buffer): boolean | Promise<boolean> {
    if (this.mode === 'off') return true;
    if (this.stored) {
      const listed = this.stored.has(infoHash.toString('hex'));
      if (typeof listed === 'boolean') return this.mode === 'allow' ? listed : !listed;
      return listed.then((found) => (this.mode === 'allow' ? found : !found));
    }
    const listed = this.hashes.has(infoHash.toString('latin1'));
    return this.mode === 'allow' ? listed : !listed;
  }

  /** allows() for each hash, in order. */
  async allowsEach(infoHashes: readonly Buffer[]): Promise<boolean[]> {
    if (this.mode === 'off') return infoHashes.map(() => true);
    return Promise.all(infoHashes.map((h) => this.allows(h)));
  }

  replace(hashes: ReadonlySet<string>): void {
    this.hashes = hashes;
  }
}

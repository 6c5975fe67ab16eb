/**
 * Which torrents the tracker serves: all of them, only those on an allow list,
 * or all but those on a deny list. The one check for every transport and
 * store: the core asks it before an announce reaches the store, and leaves
 * refused torrents out of scrapes. The list is replaced whole (replace()), so
 * a request sees the old list or the new one, never a half-read one. Lookups
 * are one Set lookup of the hash's 20 bytes as a latin1 string.
 */
export class TorrentAccess {
  private hashes: ReadonlySet<string> = new Set();

  constructor(readonly mode: 'allow' | 'deny' | 'off') {}

  allows(infoHash: Buffer): boolean {
    if (this.mode === 'off') return true;
    const listed = this.hashes.has(infoHash.toString('latin1'));
    return this.mode === 'allow' ? listed : !listed;
  }

  replace(hashes: ReadonlySet<string>): void {
    this.hashes = hashes;
  }
}

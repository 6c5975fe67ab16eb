/**
 * Key names of the Redis store (docs/redis-layout.md has the table).
 *
 * Every key of one torrent carries the hash tag `{<40 hex digits of info_hash>}`,
 * so Redis Cluster puts them in one slot and a script may touch them all. The
 * tag is hex, not the raw bytes: a raw hash may contain `{` or `}` and then the
 * tag would not be the whole hash (or, starting with `}`, would be empty and
 * each key would hash on its own). Hex costs 20 bytes per torrent, not per peer.
 */
export const TORRENT_KEY_SUFFIXES = ['p', 'e', 'd'] as const;

/**
 * The keys of one torrent, in the order the scripts expect (scripts/torrent.lua):
 * `p` the peers hash, `e` the expiry index (only for torrents with split buckets),
 * `d` the downloaded count (only once > 0). The names differ from the previous
 * layout's (`s`, `l`, `s4`, `l4`, `s6`, `l6`, `m`), so keys left by an older
 * version are never read and simply expire.
 */
export function torrentKeys(prefix: string, infoHash: Buffer): string[] {
  const base = `${prefix}{${infoHash.toString('hex')}}:`;
  return TORRENT_KEY_SUFFIXES.map((suffix) => base + suffix);
}

/** Sorted set of live torrents: raw 20-byte info_hash → last index refresh (ms). */
export function torrentIndexKey(prefix: string): string {
  return `${prefix}torrents`;
}

/** Secrets shared by every tracker process on this Redis (UDP connection ids). */
export function secretKey(prefix: string, name: string): string {
  return `${prefix}secret:${name}`;
}

/**
 * The WebRTC swarm of one torrent (scripts/webrtc.lua): seeders `ws`, leechers
 * `wl`, nodes `wn`, downloaded `wd`, under the torrent's hash tag (one slot with
 * its BitTorrent keys).
 */
export function webrtcKeys(prefix: string, infoHash: Buffer): string[] {
  const base = `${prefix}{${infoHash.toString('hex')}}:`;
  return [`${base}ws`, `${base}wl`, `${base}wn`, `${base}wd`];
}

/** Sorted set of torrents with WebRTC peers: raw 20-byte info_hash → last announce (ms). */
export function webrtcIndexKey(prefix: string): string {
  return `${prefix}ws-torrents`;
}

/** The pub/sub channel of one tracker node: offers and answers for the sockets it holds. */
export function nodeChannel(prefix: string, node: string): string {
  return `${prefix}ws-node:${node}`;
}

/**
 * The accounting of one passkey (scripts/account.lua): the account hash `a`
 * and the peers' baselines `p`, under the passkey as hash tag (a passkey is
 * made of A-Z, a-z, 0-9, - and _, so it cannot hold a brace).
 */
export function accountKeys(prefix: string, passkey: string): [string, string] {
  const base = `${prefix}account:{${passkey}}`;
  return [base, `${base}:p`];
}

/** A set an operator's application keeps (`passkeys`, `allow-list`, `deny-list`): RedisSharedSet. */
export function sharedSetKey(prefix: string, name: string): string {
  return `${prefix}${name}`;
}

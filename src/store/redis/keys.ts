/**
 * Key names of the Redis store (docs/redis-layout.md has the table).
 *
 * Every key of one torrent carries the hash tag `{<40 hex digits of info_hash>}`,
 * so Redis Cluster puts them in one slot and a script may touch them all. The
 * tag is hex, not the raw bytes: a raw hash may contain `{` or `}` and then the
 * tag would not be the whole hash (or, starting with `}`, would be empty and
 * each key would hash on its own). Hex costs 20 bytes per torrent, not per peer.
 * A torrent of one peer record has no key of its own at all: it lives in the
 * bucket of its hash slot (bucketKey), whose tag falls in the same slot.
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

/**
 * The keys a script is given for one torrent: its own keys p, e, d (torrentKeys)
 * and then its bucket t (bucketKey), all in one hash slot.
 */
export function scriptKeys(prefix: string, infoHash: Buffer): string[] {
  const hex = infoHash.toString('hex');
  const base = `${prefix}{${hex}}:`;
  return [`${base}p`, `${base}e`, `${base}d`, bucketKey(prefix, keySlot(hex))];
}

/**
 * The hash slot of a torrent's keys: Redis Cluster's CRC16 (XMODEM) of the hash
 * tag, the 40 hex digits, mod 16,384. Also the number of its bucket.
 */
export function torrentSlot(infoHash: Buffer): number {
  return keySlot(infoHash.toString('hex'));
}

/**
 * The bucket of the torrents of one hash slot (scripts/torrent.lua): a hash of
 * info_hash (20 raw bytes) → the torrent itself when it has one peer record
 * (inline), or '' (its own keys hold it). Its hash tag is a short string that
 * falls in that slot (bucketTag), so a script reaches a torrent's bucket and its
 * own keys at once, on a single Redis and on a cluster alike.
 */
export function bucketKey(prefix: string, slot: number): string {
  return `${prefix}{${bucketTag(slot)}}:t`;
}

/** Sorted set of the buckets that hold torrents: slot number (decimal) → last refresh (ms). */
export function torrentIndexKey(prefix: string): string {
  return `${prefix}torrent-buckets`;
}

const CRC16_TABLE = (() => {
  const table = new Uint16Array(256);
  for (let i = 0; i < 256; i++) {
    let crc = i << 8;
    for (let j = 0; j < 8; j++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff;
    table[i] = crc;
  }
  return table;
})();

/** Redis Cluster's key slot of a hash tag given as ASCII text. */
export function keySlot(tag: string): number {
  let crc = 0;
  for (let i = 0; i < tag.length; i++) {
    crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ tag.charCodeAt(i)) & 0xff] as number);
  }
  return crc & 16383;
}

let bucketTags: string[] | undefined;

/**
 * The shortest decimal number (as text) whose key slot is `slot`: the hash tag of
 * that slot's bucket. The table is made once per process (~170,000 CRCs, a few ms).
 */
export function bucketTag(slot: number): string {
  if (!bucketTags) {
    const tags: string[] = new Array(16384);
    let left = 16384;
    for (let n = 0; left > 0; n++) {
      const tag = String(n);
      const s = keySlot(tag);
      if (tags[s] === undefined) {
        tags[s] = tag;
        left--;
      }
    }
    bucketTags = tags;
  }
  return bucketTags[slot] as string;
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

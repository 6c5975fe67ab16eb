import { siphash13Id } from '../../protocol/siphash.js';
/**
 * Key names of the Redis store (docs/redis-layout.md has the table).
 *
 * Every key of one torrent carries the hash tag `{<40 hex digits of info_hash>}`,
 * so Redis Cluster puts them in one slot and a script may touch them all. The
 * tag is hex, not the raw bytes: a raw hash may contain `{` or `}` and then the
 * tag would not be the whole hash (or, starting with `}`, would be empty and
 * each key would hash on its own). Hex costs 20 bytes per torrent, not per peer.
 * A torrent of one peer record has no key of its own at all: it lives in a
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
 * Buckets per hash slot. A torrent's bucket within its slot is chosen by a keyed
 * hash of its info hash (TorrentBuckets), so nobody can aim info hashes at one
 * bucket key: the slot is a CRC16 of the hex hash, trivially invertible, but the
 * key is a per-deployment secret. 8 per slot = 131,072 buckets: 1M torrents are
 * ~8 a bucket, 10M ~76 (Poisson: the fullest of them ~120), well under Redis 7's
 * hash-max-listpack-entries (512), so buckets stay listpack-encoded.
 */
export const SUB_BUCKETS = 8;

/** Bucket numbers run 0 .. BUCKETS - 1: slot * SUB_BUCKETS + sub-bucket. */
export const BUCKETS = 16384 * SUB_BUCKETS;

/**
 * The hash slot of a torrent's keys: Redis Cluster's CRC16 (XMODEM) of the hash
 * tag, the 40 hex digits, mod 16,384.
 */
export function torrentSlot(infoHash: Buffer): number {
  return keySlot(infoHash.toString('hex'));
}

/**
 * Bucket `n` (slot * SUB_BUCKETS + sub) of torrents (scripts/torrent.lua): a hash of
 * info_hash (20 raw bytes) → the torrent itself when it has one peer record
 * (inline), or a marker (its own keys hold it). Its hash tag is a short string that
 * falls in the slot (bucketTag), so a script reaches a torrent's bucket and its
 * own keys at once, on a single Redis and on a cluster alike.
 */
export function bucketKey(prefix: string, n: number): string {
  return `${prefix}{${bucketTag(Math.floor(n / SUB_BUCKETS))}}:t:${n % SUB_BUCKETS}`;
}

/**
 * Which bucket holds a torrent: its slot, and within it a sub-bucket from
 * a SipHash of info_hash keyed with the secret. The secret is shared by every process on the
 * Redis (RedisStore.sharedSecret('torrent-buckets')).
 */
export class TorrentBuckets {
  private readonly k0: number;
  private readonly k1: number;
  private readonly k2: number;
  private readonly k3: number;

  /** `secret`: at least 16 bytes; the first 16 key the hash. */
  constructor(
    private readonly prefix: string,
    secret: Buffer,
  ) {
    this.k0 = secret.readInt32LE(0);
    this.k1 = secret.readInt32LE(4);
    this.k2 = secret.readInt32LE(8);
    this.k3 = secret.readInt32LE(12);
  }

  bucketOf(infoHash: Buffer): number {
    // A keyed SipHash-1-3, as the memory store's peer index: a PRF without an
    // object or a digest buffer per announce (an HMAC costs ~2.6 µs, connection-id.ts).
    const sub = (siphash13Id(this.k0, this.k1, this.k2, this.k3, infoHash, 0) >>> 0) % SUB_BUCKETS;
    return torrentSlot(infoHash) * SUB_BUCKETS + sub;
  }

  /** The keys a script is given for one torrent: its own keys p, e, d, then its bucket t; all in one slot. */
  scriptKeys(infoHash: Buffer, bucket = this.bucketOf(infoHash)): string[] {
    const base = `${this.prefix}{${infoHash.toString('hex')}}:`;
    return [`${base}p`, `${base}e`, `${base}d`, bucketKey(this.prefix, bucket)];
  }
}

/**
 * Sorted set of the buckets that hold torrents: bucket number (decimal) → the same
 * number, so a walk pages through it in a fixed order (torrent-index.ts).
 */
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
 * that slot's buckets. The table is made once per process (~170,000 CRCs, a few ms).
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

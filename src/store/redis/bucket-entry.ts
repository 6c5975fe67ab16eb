import { ENDPOINT4_SIZE, ENDPOINT6_SIZE, RECORD_ENDPOINT, RECORD_SEEN_AT } from './peer-record.js';
import type { TorrentCountReply } from './torrent-counts.js';

/**
 * A torrent's entry in a bucket of torrents (scripts/torrent.lua, "Inline
 * torrents"), read where a scan lists it (torrent-index.ts reads buckets with
 * plain HSCAN: decoding entries here costs Redis nothing).
 *
 * Inline: one byte, the set (1..4) plus HAS_DOWNLOADED when key d exists, then
 * the torrent's one record (peer-record.ts), then with HAS_DOWNLOADED the
 * downloaded count in decimal. A marker (its own keys hold the torrent): a 0 byte, the 6-byte
 * time of its last key renewal, then the torrent's counts (marker() in torrent.lua has
 * the layout), or shorter from an older layout.
 */
const HAS_DOWNLOADED = 16;
/** By set: 1, 2 IPv4 seeders and leechers; 3, 4 IPv6. */
const RECORD_SIZE = [
  0,
  RECORD_ENDPOINT + ENDPOINT4_SIZE,
  RECORD_ENDPOINT + ENDPOINT4_SIZE,
  RECORD_ENDPOINT + ENDPOINT6_SIZE,
  RECORD_ENDPOINT + ENDPOINT6_SIZE,
];
const SEEN_AT = 1 + RECORD_SEEN_AT;
/** An older layout's marker: the renewal time only. */
const RENEWAL_MARKER_SIZE = 7;
const MARKER_SIZE = 41;

/** What a scan makes of one entry. */
export type BucketEntry =
  /** An inline torrent: its counts. */
  | TorrentCountReply
  /**
   * Not readable from its entry: count it with count.lua (a marker whose oldest
   * record may have expired, or written by an older layout; an inline value whose
   * downloaded copy is not a number of at most 15 digits, whose set is not 1..4,
   * or that is shorter than its record).
   */
  | 'count'
  /** Its peer expired (inline), or its keys did (a marker older than the key TTL): not listed; the bucket's prune drops it. */
  | 'dead';

/**
 * `cutoff`: now - peer TTL (a record last seen at or before it has expired);
 * `markerCutoff`: now - key TTL (a marker last renewed before it belongs to a
 * torrent whose keys have expired).
 * The same tests as deadEntry() in torrent.lua.
 */
export function readBucketEntry(value: Buffer, cutoff: number, markerCutoff: number): BucketEntry {
  const tag = value[0];
  if (tag === undefined || tag === 0) return readMarker(value, cutoff, markerCutoff);
  const set = tag % HAS_DOWNLOADED;
  const recordSize = RECORD_SIZE[set];
  if (recordSize === undefined || set === 0 || value.length < 1 + recordSize) return 'count';
  const seen = value.readUIntBE(SEEN_AT, 6);
  if (seen <= cutoff) return 'dead';
  let downloaded = 0;
  if (tag >= HAS_DOWNLOADED) {
    downloaded = decimal(value, 1 + recordSize);
    if (Number.isNaN(downloaded)) return 'count';
  }
  const seeder = set === 1 || set === 3;
  const ipv4 = set <= 2;
  return {
    seeders: seeder ? 1 : 0,
    leechers: seeder ? 0 : 1,
    peers4: ipv4 ? 1 : 0,
    peers6: ipv4 ? 0 : 1,
    downloaded,
    lastAnnounce: seen,
  };
}

/**
 * A marker's counts, as its torrent's last write left them (torrent.lua writes it
 * whenever they change), while no record can have expired since: the marker's oldest
 * last-seen time is after the cutoff. Its last announce may be up to a refresh
 * period old (a steady re-announce does not rewrite the marker).
 */
function readMarker(value: Buffer, cutoff: number, markerCutoff: number): BucketEntry {
  const renewed = value.length >= RENEWAL_MARKER_SIZE ? value.readUIntBE(1, 6) : 0;
  if (renewed < markerCutoff) return 'dead';
  if (value.length !== MARKER_SIZE || value.readUIntBE(7, 6) <= cutoff) return 'count';
  return {
    lastAnnounce: value.readUIntBE(13, 6),
    seeders: value.readUInt32BE(19),
    leechers: value.readUInt32BE(23),
    peers4: value.readUInt32BE(27),
    peers6: value.readUInt32BE(31),
    downloaded: value.readUIntBE(35, 6),
  };
}

/** The digits from `from` to the end as a number; NaN when there are none or anything else is there. */
function decimal(b: Buffer, from: number): number {
  if (from >= b.length || b.length - from > 15) return Number.NaN;
  let n = 0;
  for (let i = from; i < b.length; i++) {
    const d = (b[i] as number) - 48;
    if (d < 0 || d > 9) return Number.NaN;
    n = n * 10 + d;
  }
  return n;
}

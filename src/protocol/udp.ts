import { ProtocolError } from '../errors.js';
import { CONNECT_MAGIC_HI, CONNECT_MAGIC_LO } from './connection-id.js';
import type { AnnounceEvent, AnnounceParams, ScrapeEntry } from './types.js';

/**
 * The UDP tracker protocol (BEP 15) with announce options (BEP 41): pure codecs,
 * bytes in → typed value or ProtocolError out, typed value in → bytes out. All
 * integers are big-endian. The server's side only: request parsers and reply
 * encoders (the client's side is protocol/udp-client-codec.ts).
 *
 * Every request starts with `int64 connection_id, int32 action, int32
 * transaction_id` (BEP 15 "Connect", "Announce", "Scrape"); every reply with
 * `int32 action, int32 transaction_id`.
 */

export const UDP_ACTION_CONNECT = 0;
export const UDP_ACTION_ANNOUNCE = 1;
export const UDP_ACTION_SCRAPE = 2;
export const UDP_ACTION_ERROR = 3;

/** connection_id, action, transaction_id. Anything shorter cannot be attributed and is dropped. */
export const UDP_HEADER_LENGTH = 16;
/** BEP 15 announce request without BEP 41 options. */
export const UDP_ANNOUNCE_LENGTH = 98;
export const UDP_CONNECT_REPLY_LENGTH = 16;
/** action, transaction_id, interval, leechers, seeders. */
export const UDP_ANNOUNCE_REPLY_HEADER_LENGTH = 20;
/** BEP 15: "Up to about 74 torrents can be scraped at once" (16 + 74 × 20 = 1496 bytes). */
export const UDP_MAX_SCRAPE_HASHES = 74;
/**
 * Longest request we parse. The largest legitimate one is a 74-hash scrape (1496
 * bytes); an announce with BEP 41 options stays far below. Anything longer is
 * refused by the parsers before they read past the header (an error packet if
 * its connection id verifies).
 */
export const UDP_MAX_REQUEST_LENGTH = 1500;
/**
 * Peers per announce reply, chosen so that every reply, IP and UDP headers
 * included, fits in 1280 bytes, the IPv6 minimum MTU, and is never fragmented:
 * IPv4 20 + 8 + 20 + 200 × 6 = 1248 bytes; IPv6 40 + 8 + 20 + 67 × 18 = 1274 bytes.
 */
export const UDP_MAX_PEERS_V4 = 200;
export const UDP_MAX_PEERS_V6 = 67;

/** BEP 15 event numbering — not the order HTTP documents list them in. */
const EVENTS: readonly AnnounceEvent[] = ['update', 'completed', 'started', 'stopped'];

/** BEP 41 option types. Every type other than EndOfOptions and NOP carries a length byte. */
export const UDP_OPTION_END = 0x0;
export const UDP_OPTION_NOP = 0x1;
export const UDP_OPTION_URL_DATA = 0x2;

/** A UDP announce is the protocol-neutral announce plus what only UDP carries. */
export interface UdpAnnounceParams extends AnnounceParams {
  /**
   * BEP 41 URLData: the concatenated path and query of the tracker URL the
   * client was given (`/announce/<passkey>`), raw bytes; empty when the client
   * sent none. A private tracker reads the passkey from it (protocol/passkey.ts);
   * the core sees it only because the handler passes this object on whole (a
   * copy without it would cost an allocation).
   */
  urlData: Buffer;
}

/** A connect request carries the protocol magic 0x41727101980 in place of a connection id (BEP 15). */
export function hasConnectMagic(packet: Buffer): boolean {
  return (
    packet.length >= UDP_HEADER_LENGTH &&
    packet.readUInt32BE(0) === CONNECT_MAGIC_HI &&
    packet.readUInt32BE(4) === CONNECT_MAGIC_LO
  );
}

/**
 * Announce request (BEP 15):
 *   0 int64 connection_id | 8 int32 action=1 | 12 int32 transaction_id
 *   16 info_hash[20] | 36 peer_id[20] | 56 int64 downloaded | 64 int64 left
 *   72 int64 uploaded | 80 int32 event | 84 uint32 ip | 88 uint32 key
 *   92 int32 num_want | 96 uint16 port | 98 BEP 41 options…
 * info_hash and peer_id are views into the packet (no copy).
 */
export function parseUdpAnnounce(packet: Buffer): UdpAnnounceParams {
  if (packet.length < UDP_ANNOUNCE_LENGTH) {
    throw new ProtocolError('malformed_packet', `announce must be at least ${UDP_ANNOUNCE_LENGTH} bytes`);
  }
  checkRequestLength(packet);
  const eventNumber = packet.readInt32BE(80);
  const event = EVENTS[eventNumber];
  if (event === undefined) throw new ProtocolError('invalid_event', `invalid event ${eventNumber}`);
  const port = packet.readUInt16BE(96);
  if (port === 0) throw new ProtocolError('invalid_port', 'invalid port 0: must be 1-65535');
  const ip = packet.readUInt32BE(84);
  const numWant = packet.readInt32BE(92);
  return {
    infoHash: packet.subarray(16, 36),
    peerId: packet.subarray(36, 56),
    downloaded: readInt64(packet, 56),
    left: readInt64(packet, 64),
    uploaded: readInt64(packet, 72),
    event,
    // 0 means "use the source address" (BEP 15); the core decides whether to trust any other value.
    ip: ip === 0 ? undefined : `${ip >>> 24}.${(ip >>> 16) & 0xff}.${(ip >>> 8) & 0xff}.${ip & 0xff}`,
    key: packet.readUInt32BE(88),
    // -1 (or any negative) means the tracker's default.
    numWant: numWant < 0 ? undefined : numWant,
    port,
    urlData: parseUdpOptions(packet, UDP_ANNOUNCE_LENGTH),
  };
}

/**
 * Walks BEP 41 options from `offset` to the end of the packet and returns the
 * concatenated URLData. EndOfOptions stops the walk; NOP is one byte; every
 * other type is `type, length, data[length]` and unknown types are skipped by
 * their length. An option cut off by the end of the packet ends the walk and is
 * ignored (its data is incomplete): BEP 15 says not to assume packet sizes, so
 * trailing bytes are not an error.
 */
export function parseUdpOptions(packet: Buffer, offset: number): Buffer {
  let pos = offset;
  let first: Buffer | undefined;
  let parts: Buffer[] | undefined;
  while (pos < packet.length) {
    const type = packet[pos] as number;
    if (type === UDP_OPTION_END) break;
    if (type === UDP_OPTION_NOP) {
      pos++;
      continue;
    }
    if (pos + 1 >= packet.length) break;
    const length = packet[pos + 1] as number;
    const start = pos + 2;
    const end = start + length;
    if (end > packet.length) break;
    if (type === UDP_OPTION_URL_DATA && length > 0) {
      const data = packet.subarray(start, end);
      if (first === undefined) first = data;
      else (parts ??= [first]).push(data);
    }
    pos = end;
  }
  if (parts) return Buffer.concat(parts);
  return first ?? EMPTY;
}

/**
 * Scrape request: the header, then N × 20-byte info_hash (BEP 15). The hashes
 * are views into the packet. The length limit keeps N at most
 * UDP_MAX_SCRAPE_HASHES; --max-scrape-hashes is the core's to check (for
 * every transport).
 */
export function parseUdpScrape(packet: Buffer): Buffer[] {
  checkRequestLength(packet);
  const body = packet.length - UDP_HEADER_LENGTH;
  if (body <= 0) throw new ProtocolError('missing_param', 'scrape needs at least one info_hash');
  if (body % 20 !== 0) throw new ProtocolError('malformed_packet', 'scrape body must be a multiple of 20 bytes');
  const count = body / 20;
  const hashes = new Array<Buffer>(count);
  for (let i = 0; i < count; i++) {
    const start = UDP_HEADER_LENGTH + i * 20;
    hashes[i] = packet.subarray(start, start + 20);
  }
  return hashes;
}

/** Connect reply: `int32 0, int32 transaction_id, int64 connection_id` — 16 bytes. */
export function encodeUdpConnect(transactionId: number, connectionId: Uint8Array): Buffer {
  const out = Buffer.allocUnsafe(UDP_CONNECT_REPLY_LENGTH);
  out.writeInt32BE(UDP_ACTION_CONNECT, 0);
  out.writeInt32BE(transactionId, 4);
  out.set(connectionId.subarray(0, 8), 8);
  return out;
}

export interface UdpAnnounceReply {
  interval: number;
  /** Seeders (`complete`). */
  seeders: number;
  /** Leechers (`incomplete`). */
  leechers: number;
  /** Concatenated compact endpoints, all of one family. */
  peers: Buffer;
}

/**
 * Announce reply: `int32 1, int32 tid, int32 interval, int32 leechers, int32
 * seeders`, then compact peers (6 bytes each over IPv4, 18 over IPv6: the
 * family of the request, BEP 15 "IPv6"). Note the order: leechers before
 * seeders, unlike scrape. At most `maxPeers` entries of `entrySize` are copied.
 */
export function encodeUdpAnnounce(
  transactionId: number,
  reply: UdpAnnounceReply,
  entrySize: 6 | 18,
  maxPeers: number,
): Buffer {
  let peersLength = reply.peers.length - (reply.peers.length % entrySize);
  if (peersLength > maxPeers * entrySize) peersLength = maxPeers * entrySize;
  const out = Buffer.allocUnsafe(UDP_ANNOUNCE_REPLY_HEADER_LENGTH + peersLength);
  out.writeInt32BE(UDP_ACTION_ANNOUNCE, 0);
  out.writeInt32BE(transactionId, 4);
  out.writeInt32BE(clampInt32(reply.interval), 8);
  out.writeInt32BE(clampInt32(reply.leechers), 12);
  out.writeInt32BE(clampInt32(reply.seeders), 16);
  reply.peers.copy(out, UDP_ANNOUNCE_REPLY_HEADER_LENGTH, 0, peersLength);
  return out;
}

/**
 * Scrape reply: `int32 2, int32 tid`, then per hash, in request order,
 * `int32 seeders, int32 completed, int32 leechers` (BEP 15) — the scrape order,
 * not the announce order.
 */
export function encodeUdpScrape(transactionId: number, entries: readonly ScrapeEntry[]): Buffer {
  const out = Buffer.allocUnsafe(8 + entries.length * 12);
  out.writeInt32BE(UDP_ACTION_SCRAPE, 0);
  out.writeInt32BE(transactionId, 4);
  let pos = 8;
  for (const e of entries) {
    out.writeInt32BE(clampInt32(e.complete), pos);
    out.writeInt32BE(clampInt32(e.downloaded), pos + 4);
    out.writeInt32BE(clampInt32(e.incomplete), pos + 8);
    pos += 12;
  }
  return out;
}

/**
 * Error reply: `int32 3, int32 tid, message` (BEP 15). `maxLength` bounds the
 * whole packet: a reply to a source whose address is not verified must not be
 * larger than its request (no amplification); returns undefined when even a
 * one-byte message would not fit, so the caller drops instead.
 */
export function encodeUdpError(
  transactionId: number,
  message: string,
  maxLength = Number.POSITIVE_INFINITY,
): Buffer | undefined {
  const text = Buffer.from(message, 'utf8');
  if (8 + text.length > maxLength) return undefined;
  const out = Buffer.allocUnsafe(8 + text.length);
  out.writeInt32BE(UDP_ACTION_ERROR, 0);
  out.writeInt32BE(transactionId, 4);
  text.copy(out, 8);
  return out;
}

const EMPTY = Buffer.alloc(0);

/** The one place the request size limit is checked (every request that is parsed passes here). */
function checkRequestLength(packet: Buffer): void {
  if (packet.length > UDP_MAX_REQUEST_LENGTH) {
    throw new ProtocolError('packet_too_large', `request larger than ${UDP_MAX_REQUEST_LENGTH} bytes`);
  }
}

/**
 * An action other than connect, announce or scrape from a verified source
 * (BEP 15 defines no other request): answered with an error packet.
 */
export function unknownUdpAction(action: number): ProtocolError {
  return new ProtocolError('unknown_action', `unknown action ${action}`);
}

/**
 * int64 → number without BigInt (which allocates): exact below 2^53, which any
 * real byte count is; larger values lose only low-order precision.
 */
function readInt64(buf: Buffer, offset: number): number {
  return buf.readInt32BE(offset) * 0x1_0000_0000 + buf.readUInt32BE(offset + 4);
}

function clampInt32(n: number): number {
  return n > 0x7fffffff ? 0x7fffffff : n < 0 ? 0 : n;
}

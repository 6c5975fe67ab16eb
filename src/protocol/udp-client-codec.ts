import { ProtocolError } from '../errors.js';
import { CONNECT_MAGIC_HI, CONNECT_MAGIC_LO } from './connection-id.js';
import {
  UDP_ACTION_ANNOUNCE,
  UDP_ACTION_CONNECT,
  UDP_ACTION_ERROR,
  UDP_ACTION_SCRAPE,
  UDP_ANNOUNCE_LENGTH,
  UDP_ANNOUNCE_REPLY_HEADER_LENGTH,
  UDP_HEADER_LENGTH,
  UDP_OPTION_END,
  UDP_OPTION_URL_DATA,
} from './udp.js';

/**
 * The client side of the UDP tracker protocol (BEP 15, BEP 41): request
 * encoders and a reply parser, the mirror of protocol/udp.ts. The tracker never
 * uses them; tests and load generators do. Kept apart so that the server's
 * codec holds only what the server runs.
 */

/** Connect request: magic, action 0, transaction id — 16 bytes. */
export function encodeUdpConnectRequest(transactionId: number): Buffer {
  const out = Buffer.allocUnsafe(UDP_HEADER_LENGTH);
  out.writeUInt32BE(CONNECT_MAGIC_HI, 0);
  out.writeUInt32BE(CONNECT_MAGIC_LO, 4);
  out.writeInt32BE(UDP_ACTION_CONNECT, 8);
  out.writeInt32BE(transactionId, 12);
  return out;
}

export interface UdpAnnounceRequest {
  connectionId: Uint8Array;
  transactionId: number;
  infoHash: Uint8Array;
  peerId: Uint8Array;
  downloaded?: number;
  left?: number;
  uploaded?: number;
  /** BEP 15 numbering: 0 none, 1 completed, 2 started, 3 stopped. */
  event?: number;
  /** uint32, 0 = source address. */
  ip?: number;
  key?: number;
  numWant?: number;
  port: number;
  /** Raw BEP 41 option bytes appended after byte 98. */
  options?: Uint8Array;
}

export function encodeUdpAnnounceRequest(r: UdpAnnounceRequest): Buffer {
  const options = r.options ?? EMPTY;
  const out = Buffer.alloc(UDP_ANNOUNCE_LENGTH + options.length);
  out.set(r.connectionId.subarray(0, 8), 0);
  out.writeInt32BE(UDP_ACTION_ANNOUNCE, 8);
  out.writeInt32BE(r.transactionId, 12);
  out.set(r.infoHash.subarray(0, 20), 16);
  out.set(r.peerId.subarray(0, 20), 36);
  writeInt64(out, 56, r.downloaded ?? 0);
  writeInt64(out, 64, r.left ?? 0);
  writeInt64(out, 72, r.uploaded ?? 0);
  out.writeInt32BE(r.event ?? 0, 80);
  out.writeUInt32BE(r.ip ?? 0, 84);
  out.writeUInt32BE(r.key ?? 0, 88);
  out.writeInt32BE(r.numWant ?? -1, 92);
  out.writeUInt16BE(r.port, 96);
  out.set(options, UDP_ANNOUNCE_LENGTH);
  return out;
}

/** BEP 41 URLData options for `urlData`, split into chunks of at most 255 bytes, then EndOfOptions. */
export function encodeUdpUrlDataOptions(urlData: string | Uint8Array): Buffer {
  const data = typeof urlData === 'string' ? Buffer.from(urlData, 'latin1') : Buffer.from(urlData);
  const parts: Buffer[] = [];
  for (let i = 0; i < data.length; i += 255) {
    const chunk = data.subarray(i, i + 255);
    parts.push(Buffer.from([UDP_OPTION_URL_DATA, chunk.length]), chunk);
  }
  parts.push(Buffer.from([UDP_OPTION_END]));
  return Buffer.concat(parts);
}

export function encodeUdpScrapeRequest(
  connectionId: Uint8Array,
  transactionId: number,
  infoHashes: readonly Uint8Array[],
): Buffer {
  const out = Buffer.alloc(UDP_HEADER_LENGTH + infoHashes.length * 20);
  out.set(connectionId.subarray(0, 8), 0);
  out.writeInt32BE(UDP_ACTION_SCRAPE, 8);
  out.writeInt32BE(transactionId, 12);
  for (let i = 0; i < infoHashes.length; i++) {
    out.set((infoHashes[i] as Uint8Array).subarray(0, 20), UDP_HEADER_LENGTH + i * 20);
  }
  return out;
}

export type UdpReply =
  | { action: 'connect'; transactionId: number; connectionId: Buffer }
  | {
      action: 'announce';
      transactionId: number;
      interval: number;
      leechers: number;
      seeders: number;
      /** Compact entries as sent; the caller knows the family it asked over. */
      peers: Buffer;
    }
  | {
      action: 'scrape';
      transactionId: number;
      files: { seeders: number; completed: number; leechers: number }[];
    }
  | { action: 'error'; transactionId: number; message: string };

/** Parses any tracker reply; throws ProtocolError when it is not one. */
export function parseUdpReply(packet: Buffer): UdpReply {
  if (packet.length < 8) throw new ProtocolError('malformed_packet', 'reply shorter than 8 bytes');
  const action = packet.readInt32BE(0);
  const transactionId = packet.readInt32BE(4);
  switch (action) {
    case UDP_ACTION_CONNECT:
      if (packet.length < 16) throw new ProtocolError('malformed_packet', 'connect reply shorter than 16 bytes');
      return { action: 'connect', transactionId, connectionId: Buffer.from(packet.subarray(8, 16)) };
    case UDP_ACTION_ANNOUNCE:
      if (packet.length < UDP_ANNOUNCE_REPLY_HEADER_LENGTH) {
        throw new ProtocolError('malformed_packet', 'announce reply shorter than 20 bytes');
      }
      return {
        action: 'announce',
        transactionId,
        interval: packet.readInt32BE(8),
        leechers: packet.readInt32BE(12),
        seeders: packet.readInt32BE(16),
        peers: Buffer.from(packet.subarray(UDP_ANNOUNCE_REPLY_HEADER_LENGTH)),
      };
    case UDP_ACTION_SCRAPE: {
      if ((packet.length - 8) % 12 !== 0) throw new ProtocolError('malformed_packet', 'scrape reply length');
      const files: { seeders: number; completed: number; leechers: number }[] = [];
      for (let pos = 8; pos < packet.length; pos += 12) {
        files.push({
          seeders: packet.readInt32BE(pos),
          completed: packet.readInt32BE(pos + 4),
          leechers: packet.readInt32BE(pos + 8),
        });
      }
      return { action: 'scrape', transactionId, files };
    }
    case UDP_ACTION_ERROR:
      return { action: 'error', transactionId, message: packet.subarray(8).toString('utf8') };
    default:
      throw new ProtocolError('unknown_action', `unknown action ${action}`);
  }
}

const EMPTY = Buffer.alloc(0);

function writeInt64(buf: Buffer, offset: number, value: number): void {
  const hi = Math.floor(value / 0x1_0000_0000);
  buf.writeInt32BE(hi, offset);
  buf.writeUInt32BE(value - hi * 0x1_0000_0000, offset + 4);
}

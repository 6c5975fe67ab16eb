/**
 * The memory store's state file format (--state-file): pure encoding and
 * decoding, no I/O (state-file-io.ts writes and reads the bytes).
 *
 * Version 1, little-endian:
 *
 *   header   "BSSF" | u32 version | f64 saved-at epoch ms                 16 bytes
 *   records, each starting with a tag byte:
 *     0x01 torrent  info hash 20 | f64 downloaded | f64 last announce ms | u32 peers,
 *                   then that many peers:
 *                   peer id 20 | u48 last seen epoch ms | u8 flags
 *                   | u32 key (if HAS_KEY) | 6-byte IPv4 endpoint (if HAS4) | 18-byte IPv6 endpoint (if HAS6)
 *     0x02 retired  info hash 20 | f64 downloaded | f64 retired-at ms
 *     0xff end      u32 torrents | u32 peers | u32 retired
 *   sha256 of every byte before it                                       32 bytes
 *
 * A peer with an IPv4 endpoint and no key takes 33 bytes. The flags are the
 * file's own bits (FILE_* below), mapped from and to PeerTable's, so a change
 * of the table's in-memory bits does not change the format. A reader checks
 * the digest before it looks at any record: a truncated or altered file is
 * refused whole, never half loaded.
 */

import { createHash, type Hash } from 'node:crypto';
import { COMPLETED, HAS_KEY, HAS4, HAS6, type PeerSlots } from './peer-table.js';

export const STATE_MAGIC = 'BSSF';
export const STATE_VERSION = 1;

const HEADER_SIZE = 16;
const DIGEST_SIZE = 32;
const TAG_TORRENT = 0x01;
const TAG_RETIRED = 0x02;
const TAG_END = 0xff;
const ID_SIZE = 20;
const EP4_SIZE = 6;
const EP6_SIZE = 18;
/** The smallest peer record: id, last seen, flags (a peer with no endpoint is not stored, but a count must not promise less). */
const MIN_PEER_SIZE = ID_SIZE + 6 + 1;
/** The largest record of any kind, so one check before a record keeps it in one chunk. */
const MAX_RECORD_SIZE = 1 + ID_SIZE + 8 + 8 + 4;

const FILE_HAS4 = 1;
const FILE_HAS6 = 2;
const FILE_HAS_KEY = 4;
const FILE_COMPLETED = 8;
const FILE_SEEDER = 0x80;
const FILE_KNOWN = FILE_HAS4 | FILE_HAS6 | FILE_HAS_KEY | FILE_COMPLETED | FILE_SEEDER;

export class StateFileError extends Error {}

/**
 * Builds the file in chunks of about `chunkBytes`: the caller takes the
 * finished chunks between torrents (take()) and writes them, so a million
 * peers never sit in one buffer. A torrent is encoded whole in one call (its
 * table must not change mid-record), so a torrent larger than a chunk spills
 * into several.
 */
export class StateEncoder {
  private chunk: Buffer;
  private at = 0;
  private done: Buffer[] = [];
  private readonly hash: Hash = createHash('sha256');
  private torrents = 0;
  private peers = 0;
  private retiredCount = 0;

  constructor(
    savedAt: number,
    private readonly chunkBytes = 1 << 18,
  ) {
    this.chunk = Buffer.allocUnsafe(Math.max(chunkBytes, 256));
    this.chunk.write(STATE_MAGIC, 0, 'latin1');
    this.chunk.writeUInt32LE(STATE_VERSION, 4);
    this.chunk.writeDoubleLE(savedAt, 8);
    this.at = HEADER_SIZE;
  }

  /** Appends a torrent (`infoHash`: its 20 bytes) and every one of its peers. */
  torrent(infoHash: Uint8Array, downloaded: number, lastAnnounce: number, table: PeerSlots): void {
    this.room();
    const c = this.chunk;
    let at = this.at;
    c[at++] = TAG_TORRENT;
    c.set(infoHash.subarray(0, ID_SIZE), at);
    at = c.writeDoubleLE(downloaded, at + ID_SIZE);
    at = c.writeDoubleLE(lastAnnounce, at);
    at = c.writeUInt32LE(table.count, at);
    this.at = at;
    for (let slot = 0; slot < table.count; slot++) this.peer(table, slot);
    this.torrents++;
    this.peers += table.count;
  }

  /** Appends the downloaded count of a torrent that has no peers left. */
  retired(infoHash: string, downloaded: number, at: number): void {
    this.room();
    const c = this.chunk;
    let p = this.at;
    c[p++] = TAG_RETIRED;
    p += c.write(infoHash, p, ID_SIZE, 'latin1');
    p = c.writeDoubleLE(downloaded, p);
    this.at = c.writeDoubleLE(at, p);
    this.retiredCount++;
  }

  /** The chunks filled since the last call (hashed already). */
  take(): Buffer[] {
    const out = this.done;
    this.done = [];
    return out;
  }

  /** Ends the file: the end record, then the digest; returns the last chunks. */
  finish(): Buffer[] {
    this.room();
    const c = this.chunk;
    let p = this.at;
    c[p++] = TAG_END;
    p = c.writeUInt32LE(this.torrents, p);
    p = c.writeUInt32LE(this.peers, p);
    this.at = c.writeUInt32LE(this.retiredCount, p);
    this.flush();
    this.done.push(this.hash.digest());
    return this.take();
  }

  private peer(table: PeerSlots, slot: number): void {
    this.room();
    const c = this.chunk;
    let p = this.at;
    table.copyId(slot, c, p);
    // Times before the epoch only come from test clocks near 0 (the table clamps a clock that steps back).
    p = c.writeUIntLE(Math.max(0, table.lastSeen(slot)), p + ID_SIZE, 6);
    const flags = table.flags(slot);
    c[p++] =
      (flags & HAS4 ? FILE_HAS4 : 0) |
      (flags & HAS6 ? FILE_HAS6 : 0) |
      (flags & HAS_KEY ? FILE_HAS_KEY : 0) |
      (flags & COMPLETED ? FILE_COMPLETED : 0) |
      (table.isSeeder(slot) ? FILE_SEEDER : 0);
    if (flags & HAS_KEY) p = c.writeUInt32LE(table.key(slot), p);
    if (flags & HAS4) {
      table.copyEndpoint4(slot, c, p);
      p += EP4_SIZE;
    }
    if (flags & HAS6) {
      table.copyEndpoint6(slot, c, p);
      p += EP6_SIZE;
    }
    this.at = p;
  }

  /** Starts a new chunk when the next record might not fit in this one. */
  private room(): void {
    if (this.at + MAX_RECORD_SIZE + EP4_SIZE + EP6_SIZE > this.chunk.length) {
      this.flush();
      this.chunk = Buffer.allocUnsafe(Math.max(this.chunkBytes, 256));
      this.at = 0;
    }
  }

  private flush(): void {
    if (this.at === 0) return;
    const full = this.chunk.subarray(0, this.at);
    this.hash.update(full);
    this.done.push(full);
  }
}

/** One peer as decoded; the decoder reuses the object and its views, so copy what you keep. */
export interface DecodedPeer {
  id: Buffer;
  /** Epoch ms. */
  lastSeen: number;
  seeder: boolean;
  completed: boolean;
  key: number | undefined;
  ep4: Buffer | null;
  ep6: Buffer | null;
}

export interface StateVisitor {
  /** A torrent; its `peers` peers follow through peer(). */
  torrent(infoHash: Buffer, downloaded: number, lastAnnounce: number, peers: number): void;
  peer(peer: DecodedPeer): void;
  retired(infoHash: Buffer, downloaded: number, at: number): void;
}

export interface StateSummary {
  savedAt: number;
  torrents: number;
  peers: number;
  retired: number;
}

/**
 * Checks the header and the digest, then hands every record to `visitor`.
 * Throws StateFileError (before any visitor call when the file is short,
 * of another version, or does not match its digest).
 */
export function decodeState(bytes: Buffer, visitor: StateVisitor): StateSummary {
  if (bytes.length < HEADER_SIZE + 1 + 12 + DIGEST_SIZE) throw new StateFileError(`too short (${bytes.length} bytes)`);
  if (bytes.toString('latin1', 0, 4) !== STATE_MAGIC) throw new StateFileError('not a BitStorm state file (bad magic)');
  const version = bytes.readUInt32LE(4);
  if (version !== STATE_VERSION) throw new StateFileError(`version ${version}, this tracker reads ${STATE_VERSION}`);
  const end = bytes.length - DIGEST_SIZE;
  const digest = createHash('sha256').update(bytes.subarray(0, end)).digest();
  if (!digest.equals(bytes.subarray(end))) throw new StateFileError('checksum mismatch (truncated or corrupt)');

  const savedAt = bytes.readDoubleLE(8);
  const peer: DecodedPeer = {
    id: bytes.subarray(0, 0),
    lastSeen: 0,
    seeder: false,
    completed: false,
    key: undefined,
    ep4: null,
    ep6: null,
  };
  const need = (p: number, n: number): void => {
    if (p + n > end) throw new StateFileError(`record overruns the file at byte ${p}`);
  };
  let torrents = 0;
  let peers = 0;
  let retired = 0;
  let p = HEADER_SIZE;
  for (;;) {
    need(p, 1);
    const tag = bytes[p++];
    if (tag === TAG_TORRENT) {
      need(p, ID_SIZE + 20);
      const infoHash = bytes.subarray(p, p + ID_SIZE);
      const downloaded = bytes.readDoubleLE(p + ID_SIZE);
      const lastAnnounce = bytes.readDoubleLE(p + ID_SIZE + 8);
      const count = bytes.readUInt32LE(p + ID_SIZE + 16);
      p += ID_SIZE + 20;
      // A count the rest of the file cannot hold is refused before anyone allocates for it.
      if (count * MIN_PEER_SIZE > end - p) throw new StateFileError(`torrent at byte ${p} claims ${count} peers`);
      if (!Number.isSafeInteger(downloaded) || downloaded < 0 || !Number.isFinite(lastAnnounce)) {
        throw new StateFileError(`bad torrent record at byte ${p}`);
      }
      visitor.torrent(infoHash, downloaded, lastAnnounce, count);
      for (let i = 0; i < count; i++) {
        need(p, MIN_PEER_SIZE);
        peer.id = bytes.subarray(p, p + ID_SIZE);
        peer.lastSeen = bytes.readUIntLE(p + ID_SIZE, 6);
        const flags = bytes[p + ID_SIZE + 6] as number;
        p += MIN_PEER_SIZE;
        if ((flags & ~FILE_KNOWN) !== 0) throw new StateFileError(`unknown peer flags ${flags} at byte ${p - 1}`);
        peer.seeder = (flags & FILE_SEEDER) !== 0;
        peer.completed = (flags & FILE_COMPLETED) !== 0;
        peer.key = undefined;
        peer.ep4 = null;
        peer.ep6 = null;
        if (flags & FILE_HAS_KEY) {
          need(p, 4);
          peer.key = bytes.readUInt32LE(p);
          p += 4;
        }
        if (flags & FILE_HAS4) {
          need(p, EP4_SIZE);
          peer.ep4 = bytes.subarray(p, p + EP4_SIZE);
          p += EP4_SIZE;
        }
        if (flags & FILE_HAS6) {
          need(p, EP6_SIZE);
          peer.ep6 = bytes.subarray(p, p + EP6_SIZE);
          p += EP6_SIZE;
        }
        visitor.peer(peer);
      }
      torrents++;
      peers += count;
    } else if (tag === TAG_RETIRED) {
      need(p, ID_SIZE + 16);
      const downloaded = bytes.readDoubleLE(p + ID_SIZE);
      const at = bytes.readDoubleLE(p + ID_SIZE + 8);
      if (!Number.isSafeInteger(downloaded) || downloaded < 0 || !Number.isFinite(at)) {
        throw new StateFileError(`bad retired record at byte ${p}`);
      }
      visitor.retired(bytes.subarray(p, p + ID_SIZE), downloaded, at);
      p += ID_SIZE + 16;
      retired++;
    } else if (tag === TAG_END) {
      need(p, 12);
      if (
        bytes.readUInt32LE(p) !== torrents ||
        bytes.readUInt32LE(p + 4) !== peers ||
        bytes.readUInt32LE(p + 8) !== retired ||
        p + 12 !== end
      ) {
        throw new StateFileError('end record does not match the records');
      }
      return { savedAt, torrents, peers, retired };
    } else {
      throw new StateFileError(`unknown record tag ${tag} at byte ${p - 1}`);
    }
  }
}

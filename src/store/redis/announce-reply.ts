import type { StoreAnnounce, StoreAnnounceResult } from '../swarm-store.js';
import { ENDPOINT4_SIZE, ENDPOINT6_SIZE, RECORD_ENDPOINT } from './peer-record.js';

/**
 * The announce script's reply for one announce (scripts/announce.lua):
 * status, seeders, leechers, downloaded, the IPv4 and IPv6 samples, and
 * whether the torrent index entry is due for a refresh.
 */
export type AnnounceReply = [number, number, number, number, Buffer[], Buffer[], number];

/** Script status of an announce refused by the key guard. */
const KEY_MISMATCH = 1;
const EMPTY = Buffer.alloc(0);

/**
 * Cuts the endpoints (and ids) out of a sample: strings of whole peer records,
 * exactly the sampled peers (the script leaves out the requester). Done here,
 * not in Lua, because Lua pays a string allocation per slice and Node does not.
 */
function cutSample(chunks: Buffer[], endpointSize: number, withIds: boolean): { endpoints: Buffer; ids: Buffer } {
  if (chunks.length === 0) return { endpoints: EMPTY, ids: EMPTY };
  const size = RECORD_ENDPOINT + endpointSize;
  let count = 0;
  for (const records of chunks) count += Math.floor(records.length / size);
  const endpoints = Buffer.allocUnsafe(count * endpointSize);
  const ids = withIds ? Buffer.allocUnsafe(count * 20) : EMPTY;
  let n = 0;
  for (const records of chunks) {
    // Byte loops, not Buffer#copy: a native call per 6-byte copy cost more than
    // the copying (about 10 µs per 50-peer reply).
    for (let off = 0; off + size <= records.length; off += size) {
      const to = n * endpointSize;
      const from = off + RECORD_ENDPOINT;
      for (let j = 0; j < endpointSize; j++) endpoints[to + j] = records[from + j] as number;
      if (withIds) for (let j = 0; j < 20; j++) ids[n * 20 + j] = records[off + j] as number;
      n++;
    }
  }
  return { endpoints, ids };
}

/** The store's answer to one announce, from its script reply. */
export function announceResult(req: StoreAnnounce, reply: AnnounceReply): StoreAnnounceResult {
  const four = cutSample(reply[4], ENDPOINT4_SIZE, req.withPeerIds);
  const six = cutSample(reply[5], ENDPOINT6_SIZE, req.withPeerIds);
  const result: StoreAnnounceResult = {
    status: reply[0] === KEY_MISMATCH ? 'key-mismatch' : 'ok',
    complete: reply[1],
    incomplete: reply[2],
    downloaded: reply[3],
    peers4: four.endpoints,
    peers6: six.endpoints,
  };
  if (req.withPeerIds) {
    result.peerIds4 = four.ids;
    result.peerIds6 = six.ids;
  }
  return result;
}

import { ProtocolError } from '../errors.js';
import { type BencodeDict, encodeBencode } from './bencode.js';
import { unpackEndpoint } from './compact.js';
import { lastValue, type QueryParams } from './query.js';
import type { AnnounceEvent, AnnounceParams, AnnounceReply } from './types.js';

/** HTTP announce (BEP 3, compact BEP 23, IPv6 BEP 7): query → AnnounceParams, reply → bencode. */
export interface HttpAnnounce {
  params: AnnounceParams;
  /** BEP 23: compact unless the client sent compact=0. */
  compact: boolean;
  noPeerId: boolean;
}

const EVENTS: Record<string, AnnounceEvent> = {
  '': 'update',
  started: 'started',
  completed: 'completed',
  stopped: 'stopped',
  // BEP 21 partial seeds announce `paused`; for the swarm that is a regular update.
  paused: 'update',
};

export function parseHttpAnnounce(query: QueryParams): HttpAnnounce {
  const infoHash = required20(query, 'info_hash', 'invalid_info_hash');
  const peerId = required20(query, 'peer_id', 'invalid_peer_id');
  const portText = text(query, 'port');
  if (portText === undefined) throw new ProtocolError('missing_param', 'missing port');
  if (!/^[0-9]{1,5}$/.test(portText) || Number(portText) < 1 || Number(portText) > 65535) {
    throw new ProtocolError('invalid_port', `invalid port "${portText}": must be 1-65535`);
  }
  const eventText = text(query, 'event') ?? '';
  // Own keys only: `event=constructor` (or any Object.prototype name) is not an event.
  const event = Object.hasOwn(EVENTS, eventText) ? EVENTS[eventText] : undefined;
  if (event === undefined) throw new ProtocolError('invalid_event', `invalid event "${eventText}"`);
  const numWantText = text(query, 'numwant');
  let numWant: number | undefined;
  if (numWantText !== undefined && numWantText !== '') {
    if (!/^-?[0-9]{1,9}$/.test(numWantText))
      throw new ProtocolError('invalid_number', `invalid numwant "${numWantText}"`);
    numWant = Number(numWantText);
  }
  const keyBytes = lastValue(query, 'key');
  return {
    params: {
      infoHash,
      peerId,
      port: Number(portText),
      uploaded: counter(query, 'uploaded'),
      downloaded: counter(query, 'downloaded'),
      left: counter(query, 'left'),
      event,
      numWant,
      key: keyBytes && keyBytes.length > 0 ? keyToUint32(keyBytes) : undefined,
      ip: text(query, 'ip'),
      ipv4: text(query, 'ipv4'),
      ipv6: text(query, 'ipv6'),
    },
    compact: text(query, 'compact') !== '0',
    noPeerId: text(query, 'no_peer_id') === '1',
  };
}

function required20(query: QueryParams, name: string, code: 'invalid_info_hash' | 'invalid_peer_id'): Buffer {
  const value = lastValue(query, name);
  if (value === undefined) throw new ProtocolError('missing_param', `missing ${name}`);
  if (value.length !== 20) throw new ProtocolError(code, `${name} must be 20 bytes, got ${value.length}`);
  return value;
}

function text(query: QueryParams, name: string): string | undefined {
  return lastValue(query, name)?.toString('latin1');
}

/** uploaded / downloaded / left: required by BEP 3, but many trackers default a missing one to 0. */
function counter(query: QueryParams, name: string): number {
  const value = text(query, name);
  if (value === undefined || value === '') {
    if (name === 'left') throw new ProtocolError('missing_param', 'missing left');
    return 0;
  }
  if (!/^[0-9]{1,20}$/.test(value))
    throw new ProtocolError('invalid_number', `invalid ${name} "${value}": must be a non-negative integer`);
  return Number(value);
}

/**
 * `key` is opaque text (typically 8 hex digits). We keep it as a uint32: hex
 * keys as their value (so an HTTP and a UDP announce with the same key agree),
 * anything else as its FNV-1a hash.
 */
export function keyToUint32(key: Buffer): number {
  const s = key.toString('latin1');
  if (/^[0-9a-fA-F]{1,8}$/.test(s)) return Number.parseInt(s, 16) >>> 0;
  let h = 0x811c9dc5;
  for (const byte of key) h = Math.imul(h ^ byte, 0x01000193);
  return h >>> 0;
}

/**
 * The compact reply, written by hand: it is built on every announce, and its
 * keys are fixed and already in byte order.
 */
export function encodeHttpAnnounce(reply: AnnounceReply, compact: boolean, noPeerId: boolean): Buffer {
  if (!compact) return encodeDictionaryModel(reply, noPeerId);
  const head =
    `d8:completei${reply.complete}e10:downloadedi${reply.downloaded}e10:incompletei${reply.incomplete}e` +
    `8:intervali${reply.interval}e12:min intervali${reply.minInterval}e5:peers${reply.peers4.length}:`;
  const v6 = reply.peers6.length > 0 ? `6:peers6${reply.peers6.length}:` : '';
  const out = Buffer.allocUnsafe(head.length + reply.peers4.length + v6.length + reply.peers6.length + 1);
  let pos = out.write(head, 0, 'latin1');
  pos += reply.peers4.copy(out, pos);
  if (v6) {
    pos += out.write(v6, pos, 'latin1');
    pos += reply.peers6.copy(out, pos);
  }
  out[pos] = 0x65; // e
  return out;
}

/** BEP 3 original model: a list of {peer id, ip, port}; IPv6 peers join the same list (BEP 7). */
function encodeDictionaryModel(reply: AnnounceReply, noPeerId: boolean): Buffer {
  const peers: BencodeDict[] = [];
  const add = (entries: Buffer, size: number, ids: Buffer | undefined): void => {
    for (let i = 0, n = 0; i + size <= entries.length; i += size, n++) {
      const { ip, port } = unpackEndpoint(entries.subarray(i, i + size));
      const peer: BencodeDict = { ip, port };
      if (!noPeerId && ids) peer['peer id'] = ids.subarray(n * 20, n * 20 + 20);
      peers.push(peer);
    }
  };
  add(reply.peers4, 6, reply.peerIds4);
  add(reply.peers6, 18, reply.peerIds6);
  return encodeBencode({
    complete: reply.complete,
    downloaded: reply.downloaded,
    incomplete: reply.incomplete,
    interval: reply.interval,
    'min interval': reply.minInterval,
    peers,
  });
}

/**
 * A tracker-level failure: HTTP 200 with a `failure reason` (what clients expect).
 * `retryIn` (BEP 31, minutes) tells the client when to try again.
 */
export function encodeFailure(reason: string, retryIn?: number): Buffer {
  return encodeBencode({ 'failure reason': reason, 'retry in': retryIn });
}

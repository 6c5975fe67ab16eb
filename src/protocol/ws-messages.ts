import { ProtocolError } from '../errors.js';
import type { AnnounceEvent } from './types.js';

/**
 * The WebSocket tracker's messages (WebTorrent; bittorrent-tracker and
 * aquatic_ws speak the same): JSON text frames whose ids (`info_hash`,
 * `peer_id`, `to_peer_id`, `offer_id`) are 20-character "binary strings", one
 * char per byte (latin1). Pure: text in → typed message or ProtocolError out;
 * typed reply in → text out.
 */

/** A WebRTC session description as relayed: only `type` and `sdp` are kept. */
export interface SessionDescription {
  type: string;
  sdp: string;
}

export interface WsOffer {
  /** 20 bytes. */
  offerId: Buffer;
  offer: SessionDescription;
}

export interface WsAnnounce {
  action: 'announce';
  infoHash: Buffer;
  peerId: Buffer;
  event: AnnounceEvent;
  /**
   * `left === 0`. A browser sends `left: null` until it has the metadata: it
   * is a leecher then (bittorrent-tracker counts it as a seeder).
   */
  seeder: boolean;
  /** Undefined when not sent. */
  numWant: number | undefined;
  /** Running totals in bytes (0 when not sent): a private tracker's accounting reads them. */
  uploaded: number;
  downloaded: number;
  /** At most MAX_PARSED_OFFERS; the core caps further. */
  offers: WsOffer[];
}

export interface WsAnswer {
  action: 'answer';
  infoHash: Buffer;
  peerId: Buffer;
  toPeerId: Buffer;
  offerId: Buffer;
  answer: SessionDescription;
}

export interface WsScrape {
  action: 'scrape';
  /** Empty: a full scrape. */
  infoHashes: Buffer[];
}

export type WsRequest = WsAnnounce | WsAnswer | WsScrape;

/**
 * Offers read from one announce; the rest are ignored. A client makes one
 * WebRTC offer per peer it hopes to meet (WebTorrent: up to 10), each costing
 * it a peer connection, so more is never useful and only costs relaying.
 */
export const MAX_PARSED_OFFERS = 20;

/**
 * Thrown by parseWsMessage: the ProtocolError plus what could be read of the
 * message, so the failure can echo `action` and `info_hash` (WebTorrent drops a
 * failure without them and reconnects).
 */
export class WsProtocolError extends ProtocolError {
  action: string | undefined;
  infoHash: string | undefined;
}

const EVENTS: Readonly<Record<string, AnnounceEvent>> = {
  started: 'started',
  completed: 'completed',
  stopped: 'stopped',
  update: 'update',
  '': 'update',
};

/** Parses one text frame. Throws WsProtocolError. */
export function parseWsMessage(text: string): WsRequest {
  let message: unknown;
  try {
    message = JSON.parse(text);
  } catch {
    throw wsError('malformed_message', 'message is not JSON', undefined, undefined);
  }
  if (typeof message !== 'object' || message === null || Array.isArray(message)) {
    throw wsError('malformed_message', 'message is not a JSON object', undefined, undefined);
  }
  const m = message as Record<string, unknown>;
  const action = typeof m.action === 'string' ? m.action : undefined;
  const echoHash = typeof m.info_hash === 'string' && m.info_hash.length === 20 ? m.info_hash : undefined;
  try {
    if (action === 'announce') return 'answer' in m && m.answer != null ? parseAnswer(m) : parseAnnounce(m);
    if (action === 'scrape') return parseScrape(m);
    throw new ProtocolError('unknown_action', action === undefined ? 'missing action' : 'unknown action');
  } catch (err) {
    if (err instanceof ProtocolError) throw wsError(err.code, err.message, action, echoHash);
    throw err;
  }
}

function parseAnnounce(m: Record<string, unknown>): WsAnnounce {
  const infoHash = binaryId(m.info_hash, 'info_hash', 'invalid_info_hash');
  const peerId = binaryId(m.peer_id, 'peer_id', 'invalid_peer_id');
  let event: AnnounceEvent = 'update';
  if (m.event !== undefined && m.event !== null) {
    const found = typeof m.event === 'string' && Object.hasOwn(EVENTS, m.event) ? EVENTS[m.event] : undefined;
    if (found === undefined) throw new ProtocolError('invalid_event', 'invalid event');
    event = found;
  }
  const left = optionalNumber(m.left, 'left');
  const numWant = optionalNumber(m.numwant, 'numwant');
  const uploaded = optionalNumber(m.uploaded, 'uploaded') ?? 0;
  const downloaded = optionalNumber(m.downloaded, 'downloaded') ?? 0;
  const offers: WsOffer[] = [];
  if (m.offers !== undefined && m.offers !== null) {
    if (!Array.isArray(m.offers)) throw new ProtocolError('malformed_message', 'offers must be a list');
    const n = Math.min(m.offers.length, MAX_PARSED_OFFERS);
    for (let i = 0; i < n; i++) {
      const o = m.offers[i] as unknown;
      if (typeof o !== 'object' || o === null) throw new ProtocolError('malformed_message', 'invalid offer');
      const entry = o as Record<string, unknown>;
      offers.push({
        offerId: binaryId(entry.offer_id, 'offer_id', 'malformed_message'),
        offer: description(entry.offer, 'offer'),
      });
    }
  }
  return {
    action: 'announce',
    infoHash,
    peerId,
    event,
    seeder: left === 0,
    numWant,
    uploaded,
    downloaded,
    offers,
  };
}

function parseAnswer(m: Record<string, unknown>): WsAnswer {
  return {
    action: 'answer',
    infoHash: binaryId(m.info_hash, 'info_hash', 'invalid_info_hash'),
    peerId: binaryId(m.peer_id, 'peer_id', 'invalid_peer_id'),
    toPeerId: binaryId(m.to_peer_id, 'to_peer_id', 'invalid_peer_id'),
    offerId: binaryId(m.offer_id, 'offer_id', 'malformed_message'),
    answer: description(m.answer, 'answer'),
  };
}

function parseScrape(m: Record<string, unknown>): WsScrape {
  const raw = m.info_hash;
  if (raw === undefined || raw === null) return { action: 'scrape', infoHashes: [] };
  const list = Array.isArray(raw) ? raw : [raw];
  return { action: 'scrape', infoHashes: list.map((h) => binaryId(h, 'info_hash', 'invalid_info_hash')) };
}

/** A 20-char binary string → its 20 bytes; any other length, or a char above 0xFF, is refused. */
function binaryId(value: unknown, name: string, code: 'invalid_info_hash' | 'invalid_peer_id' | 'malformed_message') {
  if (typeof value !== 'string' || value.length !== 20) {
    throw new ProtocolError(code, `${name} must be a string of 20 bytes`);
  }
  for (let i = 0; i < 20; i++) {
    if (value.charCodeAt(i) > 0xff) throw new ProtocolError(code, `${name} must be a string of 20 bytes`);
  }
  return Buffer.from(value, 'latin1');
}

/** A number, or null/absent (undefined). */
function optionalNumber(value: unknown, name: string): number | undefined {
  if (value === undefined || value === null) return undefined;
  // As over HTTP: byte counts and numwant are non-negative integers.
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value < 0) {
    throw new ProtocolError('invalid_number', `${name} must be a non-negative integer`);
  }
  return value;
}

function description(value: unknown, name: string): SessionDescription {
  if (typeof value !== 'object' || value === null) throw new ProtocolError('malformed_message', `invalid ${name}`);
  const d = value as Record<string, unknown>;
  if (typeof d.type !== 'string' || typeof d.sdp !== 'string') {
    throw new ProtocolError('malformed_message', `${name} must have a string type and sdp`);
  }
  return { type: d.type, sdp: d.sdp };
}

function wsError(
  code: ProtocolError['code'],
  message: string,
  action: string | undefined,
  infoHash: string | undefined,
): WsProtocolError {
  const err = new WsProtocolError(code, message);
  err.action = action === 'announce' || action === 'scrape' ? action : undefined;
  err.infoHash = infoHash;
  return err;
}

const latin1 = (b: Buffer): string => b.toString('latin1');

/** The reply to an announce: counts only, peers meet through relayed offers. */
export function encodeWsAnnounceReply(
  infoHash: Buffer,
  interval: number,
  complete: number,
  incomplete: number,
): string {
  return JSON.stringify({ action: 'announce', info_hash: latin1(infoHash), interval, complete, incomplete });
}

/** An offer as relayed to another peer: `peerId` is the offerer's. */
export function encodeWsOffer(infoHash: Buffer, peerId: Buffer, offer: WsOffer): string {
  return JSON.stringify({
    action: 'announce',
    info_hash: latin1(infoHash),
    peer_id: latin1(peerId),
    offer_id: latin1(offer.offerId),
    offer: offer.offer,
  });
}

/** An answer as relayed to the offerer: `peer_id` is the answerer's. */
export function encodeWsAnswer(answer: WsAnswer): string {
  return JSON.stringify({
    action: 'announce',
    info_hash: latin1(answer.infoHash),
    peer_id: latin1(answer.peerId),
    offer_id: latin1(answer.offerId),
    answer: answer.answer,
  });
}

export interface WsScrapeFile {
  infoHash: Buffer;
  complete: number;
  incomplete: number;
  downloaded: number;
}

export function encodeWsScrape(files: readonly WsScrapeFile[]): string {
  const out: Record<string, { complete: number; incomplete: number; downloaded: number }> = {};
  for (const f of files) {
    // defineProperty: a hash spelling `__proto__` must be an own key, not the prototype.
    Object.defineProperty(out, latin1(f.infoHash), {
      value: { complete: f.complete, incomplete: f.incomplete, downloaded: f.downloaded },
      enumerable: true,
      writable: true,
      configurable: true,
    });
  }
  return JSON.stringify({ action: 'scrape', files: out });
}

/** A failure, with the action and info_hash echoed when they were readable. */
export function encodeWsFailure(
  reason: string,
  action: string | undefined,
  infoHash: string | undefined,
  retryInMinutes?: number,
): string {
  return JSON.stringify({
    ...(action !== undefined ? { action } : {}),
    ...(infoHash !== undefined ? { info_hash: infoHash } : {}),
    'failure reason': reason,
    ...(retryInMinutes !== undefined ? { 'retry in': retryInMinutes } : {}),
  });
}

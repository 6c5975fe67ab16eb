import type { AnnounceEvent } from '../protocol/types.js';

/**
 * WebRTC swarms: the peers of the WebSocket tracker (WebTorrent), kept by each
 * store beside its BitTorrent swarms and apart from them. A browser peer can
 * only reach another browser peer (over a WebRTC data channel the tracker helps
 * to open by relaying offers and answers), and an HTTP/UDP peer only peers with
 * an address, so each kind has its own swarm, its own counts and its own
 * `downloaded` (docs/websocket.md).
 *
 * A WebRTC peer has no address: it is (infoHash, peerId) and the tracker node
 * whose WebSocket it is connected to (`node`), so that an offer or answer for it
 * can be handed to that node. Nodes hand each other messages through the
 * store (`publish`/`subscribe`: in-process for the memory store, pub/sub on
 * Redis), so peers on different tracker processes meet as if on one.
 *
 * Contract (test/store/webrtc-conformance.ts checks it on every store):
 * - An announce refreshes the peer's seeder flag, node and expiry; `stopped`
 *   removes it. `leave` (its socket closed) removes it only while the peer is
 *   still held by that node: a client that reconnected to another node keeps
 *   its entry when the old socket's close is noticed. A peer expires `ttlMs` after its last announce (a node that
 *   dies leaves its peers for at most that long).
 * - `completed` adds one to the swarm's downloaded count once per live peer.
 * - `targets`: up to `targets` other live peers (never the requester, no
 *   duplicates), at random; a seeder is given leechers only.
 * - Counts are taken after the announce and include the requester unless it
 *   stopped.
 */

/** A WebRTC swarm's counts (the same shape as a BitTorrent swarm's WebRtcCounts). */
export interface WebRtcCounts {
  complete: number;
  incomplete: number;
  downloaded: number;
}

export interface WebRtcAnnounce {
  infoHash: Buffer;
  peerId: Buffer;
  event: AnnounceEvent;
  seeder: boolean;
  /** The tracker node holding the peer's socket. */
  node: string;
  /** How many other peers to pick for the announce's offers (0: none). */
  targets: number;
}

export interface WebRtcPeerRef {
  peerId: Buffer;
  /** The node holding its socket. */
  node: string;
}

export interface WebRtcAnnounceResult extends WebRtcCounts {
  targets: WebRtcPeerRef[];
}

export interface WebRtcTotals {
  torrents: number;
  peers: number;
  seeders: number;
  leechers: number;
}

/** A relayed message: for `peerId` of torrent `infoHash`, the JSON text to send it. */
export interface RelayedMessage {
  infoHash: Buffer;
  peerId: Buffer;
  text: string;
}

export interface WebRtcStore {
  announce(request: WebRtcAnnounce): Promise<WebRtcAnnounceResult>;
  /** The peer's socket on `node` closed: removes the peer unless another node holds it now. */
  leave(infoHash: Buffer, peerId: Buffer, node: string): Promise<void>;
  /** The node holding a live peer's socket, or undefined. */
  locate(infoHash: Buffer, peerId: Buffer): Promise<string | undefined>;
  /** Counts for each hash, in order; unknown torrents give zeros. */
  scrape(infoHashes: readonly Buffer[]): Promise<WebRtcCounts[]>;
  totals(): Promise<WebRtcTotals>;
  /** Hands a message to the node holding the peer's socket (at most once; lost if that node is gone). */
  publish(node: string, message: RelayedMessage): Promise<void>;
  /** Receives the messages published to `node` until the returned function is called. */
  subscribe(node: string, onMessage: (message: RelayedMessage) => void): Promise<() => Promise<void>>;
}

export interface WebRtcStoreOptions {
  /** WebRTC peers expire this long after their last announce. */
  ttlMs: number;
  now: () => number;
}

/** A relayed message as bytes: peer id, info hash, then the UTF-8 text (Redis pub/sub payload). */
export function packRelayed(message: RelayedMessage): Buffer {
  return Buffer.concat([message.peerId, message.infoHash, Buffer.from(message.text, 'utf8')]);
}

export function unpackRelayed(bytes: Buffer): RelayedMessage | undefined {
  if (bytes.length < 40) return undefined;
  return {
    peerId: Buffer.from(bytes.subarray(0, 20)),
    infoHash: Buffer.from(bytes.subarray(20, 40)),
    text: bytes.subarray(40).toString('utf8'),
  };
}

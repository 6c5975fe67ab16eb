import type { ParsedAddress } from './compact.js';

/**
 * The wire-independent request and reply types every floor shares: protocol
 * parsers produce them, the core and the store take them, encoders consume
 * them. They live at the bottom of the house (no imports but a codec's
 * address type) so that no import has to run back up a floor. Names follow
 * the BEPs (`infoHash`, `numWant`); wire spellings stay in the codecs.
 */

/** The announce event (BEP 3), also what the store is told (`StoreAnnounce.event`). */
export type AnnounceEvent = 'started' | 'completed' | 'stopped' | 'update';

/** Protocol-neutral announce, as every transport's parser produces it. */
export interface AnnounceParams {
  infoHash: Buffer;
  peerId: Buffer;
  port: number;
  uploaded: number;
  downloaded: number;
  left: number;
  event: AnnounceEvent;
  /** Undefined (or negative, UDP's -1) means the tracker's default. */
  numWant: number | undefined;
  /** uint32; undefined when not sent. */
  key: number | undefined;
  /** `ip=` (HTTP) or the UDP ip field, as text; honoured only with --allow-ip-param. */
  ip?: string | undefined;
  /** BEP 7 `ipv4=` / `ipv6=`, an address optionally with a port. */
  ipv4?: string | undefined;
  ipv6?: string | undefined;
}

export type Transport = 'http' | 'udp' | 'ws';

export interface RequestContext {
  transport: Transport;
  /** The client's address (after trusted-proxy resolution; IPv4-mapped already IPv4). */
  address: ParsedAddress;
  /**
   * Which families of peers to return: HTTP returns both (`peers` and `peers6`);
   * a UDP reply has room for the request's own family only.
   */
  families: 'both' | 'source';
  /** The dictionary model (compact=0 without no_peer_id) needs peer ids. */
  withPeerIds: boolean;
  /** The most peers the transport's reply can carry (UDP: one datagram), on top of --max-numwant. */
  maxPeers?: number;
  /** The passkey the request's URL carried (`/announce/<passkey>`; BEP 41 URL data over UDP). */
  passkey?: string | undefined;
}

export interface AnnounceReply {
  interval: number;
  minInterval: number;
  complete: number;
  incomplete: number;
  downloaded: number;
  peers4: Buffer;
  peers6: Buffer;
  peerIds4?: Buffer | undefined;
  peerIds6?: Buffer | undefined;
}

export interface ScrapeEntry {
  infoHash: Buffer;
  complete: number;
  incomplete: number;
  downloaded: number;
  /** Not allowed by the access list: zeros, and left out where the reply is keyed by hash. */
  refused?: boolean;
}

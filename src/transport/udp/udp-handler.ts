import type { TrackerCore } from '../../core/tracker.js';
import { type ErrorCode, PolicyError, ProtocolError, StoreError, TrackerError } from '../../errors.js';
import { ErrorOnce, stderrLogger } from '../../logging/logger.js';
import { type ParsedAddress, parseIp } from '../../protocol/compact.js';
import { type ConnectionIds, mapIpv4 } from '../../protocol/connection-id.js';
import { passkeyFromUrlData } from '../../protocol/passkey.js';
import type { AnnounceReply, RequestContext, ScrapeEntry } from '../../protocol/types.js';
import {
  encodeUdpAnnounce,
  encodeUdpConnect,
  encodeUdpError,
  encodeUdpScrape,
  hasConnectMagic,
  parseUdpAnnounce,
  parseUdpScrape,
  UDP_ACTION_ANNOUNCE,
  UDP_ACTION_CONNECT,
  UDP_ACTION_SCRAPE,
  UDP_HEADER_LENGTH,
  UDP_MAX_PEERS_V4,
  UDP_MAX_PEERS_V6,
  unknownUdpAction,
} from '../../protocol/udp.js';

/** Kinds of error packets we send, for the counters. */
export type UdpErrorKind =
  | 'badConnectionId'
  | 'malformed'
  | 'oversize'
  | 'unknownAction'
  | 'invalidRequest'
  | 'refused'
  | 'storeUnavailable'
  | 'internal';

/** Kinds of packets we drop without a reply. */
export type UdpDropKind =
  /** Shorter than the 16-byte header: not attributable. */
  | 'short'
  /** action 0 without the BEP 15 protocol magic: not a BitTorrent client (or a reflected reply). */
  | 'badMagic'
  /** Bad connection id, and an error would not be smaller than the request (no amplification, no loops). */
  | 'unverified'
  /** Source port 0 or an address we cannot parse: nothing to answer to. */
  | 'badSource'
  /** The kernel refused a reply (e.g. send buffer full). */
  | 'sendFailed'
  /** Received before the connection-id secret could be loaded from the store. */
  | 'notReady'
  /** Verified, but its source is past --rate-limit: dropped, never answered (docs/access.md). */
  | 'rateLimited'
  /** A bad connection id from a source past --udp-bad-id-limit: not answered while it is ignored. */
  | 'ignored';

/**
 * UDP-level counters, read by the stats page (`tracker.udp.counters`). Plain
 * numbers, only ever incremented; rates are the reader's business. Announce and
 * scrape outcomes also reach the core's events (transport 'udp').
 */
export interface UdpCounters {
  /** Datagrams received. */
  packets: number;
  /** Replies sent per action. */
  connects: number;
  announces: number;
  scrapes: number;
  /** Error packets sent, by kind. */
  errors: Record<UdpErrorKind, number>;
  /** Datagrams dropped without a reply, by kind. */
  dropped: Record<UdpDropKind, number>;
}

export function createUdpCounters(): UdpCounters {
  return {
    packets: 0,
    connects: 0,
    announces: 0,
    scrapes: 0,
    errors: {
      badConnectionId: 0,
      malformed: 0,
      oversize: 0,
      unknownAction: 0,
      invalidRequest: 0,
      refused: 0,
      storeUnavailable: 0,
      internal: 0,
    },
    dropped: {
      short: 0,
      badMagic: 0,
      unverified: 0,
      badSource: 0,
      sendFailed: 0,
      notReady: 0,
      rateLimited: 0,
      ignored: 0,
    },
  };
}

/** Sends one datagram; the transport binds it to its socket, tests to an array. */
export type UdpSend = (packet: Buffer, port: number, address: string) => void;

export interface UdpHandlerOptions {
  core: TrackerCore;
  connectionIds: ConnectionIds;
  send: UdpSend;
  counters?: UdpCounters;
  /** Where internal errors go, once per cause a minute; standard error without it. */
  errors?: ErrorOnce;
}

/**
 * One instance for every bad id: forged ids can come as a flood from
 * unverified sources, and a new Error per packet would cost a stack trace each.
 */
const BAD_CONNECTION_ID = new ProtocolError('invalid_connection_id', 'invalid connection id');

/** Counter kinds of the protocol errors that have one of their own; the others count as invalidRequest. */
const KIND_OF: Partial<Record<ErrorCode, UdpErrorKind>> = {
  malformed_packet: 'malformed',
  packet_too_large: 'oversize',
  unknown_action: 'unknownAction',
  invalid_connection_id: 'badConnectionId',
};

/**
 * One datagram in, at most one datagram out: BEP 15 bytes → codec → core →
 * codec → bytes. No socket here, so it is testable with a fake `send`.
 *
 * Order of checks, cheapest and safest first:
 *  1. < 16 bytes: drop (no transaction id to answer to).
 *  2. connect (action 0): needs the protocol magic, else drop; the reply is 16
 *     bytes, never more than the request.
 *  3. anything else must carry a connection id we issued to this ip:port in
 *     the last two minutes. If not, the source is unverified: we answer with an
 *     error only when it is strictly smaller than the request (so we never
 *     amplify, and two trackers cannot be made to bounce errors at each other
 *     forever), and the source has not sent too many bad ids lately
 *     (--udp-bad-id-limit), else drop.
 *  4. verified: the request is charged to its source's budget (--rate-limit);
 *     past it, drop: never answer more than the request, and an error packet
 *     would be work for a flood. Only verified packets are charged: an
 *     unverified source address may be forged, and must not spend the budget
 *     of the host it names.
 *  5. oversize, malformed, unknown action and refused requests get an
 *     error packet (each error a code of the catalogue in errors.ts); announce
 *     and scrape go to the core.
 */
export class UdpHandler {
  readonly counters: UdpCounters;
  private readonly core: TrackerCore;
  private readonly ids: ConnectionIds;
  private readonly send: UdpSend;
  /** Scratch for the MAC input (IPv4 as IPv4-mapped) and a fresh id; reused per packet. */
  private readonly ip16 = new Uint8Array(16);
  private readonly idScratch = Buffer.alloc(8);
  private readonly errors: ErrorOnce;

  constructor(options: UdpHandlerOptions) {
    this.core = options.core;
    this.ids = options.connectionIds;
    this.send = options.send;
    this.counters = options.counters ?? createUdpCounters();
    this.errors = options.errors ?? new ErrorOnce(stderrLogger);
  }

  handle(packet: Buffer, address: string, port: number): void {
    const counters = this.counters;
    counters.packets++;
    if (packet.length < UDP_HEADER_LENGTH) {
      counters.dropped.short++;
      return;
    }
    const source = port === 0 ? undefined : parseIp(address);
    if (source === undefined) {
      counters.dropped.badSource++;
      return;
    }
    const ip16 = source.family === 4 ? mapIpv4(source.bytes, this.ip16) : source.bytes;
    const action = packet.readInt32BE(8);
    const transactionId = packet.readInt32BE(12);

    if (action === UDP_ACTION_CONNECT) {
      if (!hasConnectMagic(packet)) {
        counters.dropped.badMagic++;
        return;
      }
      this.ids.issue(ip16, port, this.idScratch, 0);
      counters.connects++;
      this.send(encodeUdpConnect(transactionId, this.idScratch), port, address);
      return;
    }

    if (!this.ids.verify(packet, 0, ip16, port)) {
      // The source may be forged, so being ignored only costs it our error
      // packets, never the answers to its verified requests: a forger cannot
      // get a real client ignored.
      if (!this.core.admitBadConnectionId(source)) {
        counters.dropped.ignored++;
        return;
      }
      const reply = encodeUdpError(transactionId, BAD_CONNECTION_ID.message, packet.length - 1);
      if (reply === undefined) {
        counters.dropped.unverified++;
        return;
      }
      counters.errors.badConnectionId++;
      this.core.reportFailure('udp', BAD_CONNECTION_ID);
      this.send(reply, port, address);
      return;
    }

    if (!this.core.admit(source, 'udp')) {
      counters.dropped.rateLimited++;
      return;
    }
    // The parsers refuse oversize requests (protocol/udp.ts, one check for both).
    if (action === UDP_ACTION_ANNOUNCE) return this.announce(packet, transactionId, source, port, address);
    if (action === UDP_ACTION_SCRAPE) return this.scrape(packet, transactionId, port, address);
    this.refuse(transactionId, unknownUdpAction(action), port, address);
  }

  private announce(packet: Buffer, transactionId: number, source: ParsedAddress, port: number, address: string): void {
    let params: ReturnType<typeof parseUdpAnnounce>;
    try {
      params = parseUdpAnnounce(packet);
    } catch (err) {
      return this.refuse(transactionId, err, port, address);
    }
    // The reply carries peers of the request's family only, and must fit one
    // unfragmented datagram (see UDP_MAX_PEERS_V4/V6).
    const cap = source.family === 4 ? UDP_MAX_PEERS_V4 : UDP_MAX_PEERS_V6;
    const ctx: RequestContext = {
      transport: 'udp',
      address: source,
      families: 'source',
      withPeerIds: false,
      maxPeers: cap,
      passkey: this.core.passkeys.required ? passkeyFromUrlData(params.urlData) : undefined,
    };
    this.core.announce(params, ctx).then(
      (reply: AnnounceReply) => {
        // A throw here would be an unhandled rejection (fatal in Node 20): turn it into an error packet.
        let out: Buffer;
        try {
          const v4 = source.family === 4;
          out = encodeUdpAnnounce(
            transactionId,
            {
              interval: reply.interval,
              seeders: reply.complete,
              leechers: reply.incomplete,
              peers: v4 ? reply.peers4 : reply.peers6,
            },
            v4 ? 6 : 18,
            cap,
          );
        } catch (err) {
          return this.fail(transactionId, err, port, address);
        }
        this.counters.announces++;
        this.send(out, port, address);
      },
      (err: unknown) => this.fail(transactionId, err, port, address),
    );
  }

  private scrape(packet: Buffer, transactionId: number, port: number, address: string): void {
    let hashes: Buffer[];
    try {
      hashes = parseUdpScrape(packet);
    } catch (err) {
      return this.refuse(transactionId, err, port, address);
    }
    this.core.scrape(hashes, 'udp').then(
      (entries: ScrapeEntry[]) => {
        let out: Buffer;
        try {
          out = encodeUdpScrape(transactionId, entries);
        } catch (err) {
          return this.fail(transactionId, err, port, address);
        }
        this.counters.scrapes++;
        this.send(out, port, address);
      },
      (err: unknown) => this.fail(transactionId, err, port, address),
    );
  }

  /** A request refused before it reached the core: counted there too, then answered as by fail(). */
  private refuse(transactionId: number, err: unknown, port: number, address: string): void {
    this.core.reportFailure('udp', err);
    this.fail(transactionId, err, port, address);
  }

  /** Turns an error into an error packet (the source is verified here). */
  private fail(transactionId: number, err: unknown, port: number, address: string): void {
    if (err instanceof ProtocolError) {
      return this.sendError(transactionId, KIND_OF[err.code] ?? 'invalidRequest', err.message, port, address);
    }
    if (err instanceof PolicyError) return this.sendError(transactionId, 'refused', err.message, port, address);
    if (err instanceof StoreError) return this.sendError(transactionId, 'storeUnavailable', err.message, port, address);
    if (!(err instanceof TrackerError)) this.errors.error('udp', err, 'internal error (UDP)');
    this.sendError(transactionId, 'internal', 'internal tracker error', port, address);
  }

  private sendError(transactionId: number, kind: UdpErrorKind, message: string, port: number, address: string): void {
    const reply = encodeUdpError(transactionId, message) as Buffer;
    this.counters.errors[kind]++;
    this.send(reply, port, address);
  }
}

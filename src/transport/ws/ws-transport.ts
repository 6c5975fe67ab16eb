import { randomBytes } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import type { Duplex } from 'node:stream';
import { type WebSocket, WebSocketServer } from 'ws';
import type { RelayedMessage, WebRtcCore } from '../../core/webrtc.js';
import { PolicyError, RATE_LIMITED, TrackerError } from '../../errors.js';
import { ErrorOnce, type Logger, stderrLogger } from '../../logging/logger.js';
import type { ParsedAddress } from '../../protocol/compact.js';
import { routeWithPasskey } from '../../protocol/passkey.js';
import {
  encodeWsAnnounceReply,
  encodeWsAnswer,
  encodeWsFailure,
  encodeWsOffer,
  encodeWsScrape,
  parseWsMessage,
  type WsAnnounce,
  type WsAnswer,
  WsProtocolError,
  type WsScrape,
} from '../../protocol/ws-messages.js';
import { ClientAddressResolver } from '../client-address.js';
import { SourceCounts } from '../source-counts.js';

/**
 * Largest frame accepted (ws closes the socket with 1009 past it). An announce
 * with ten WebRTC offers from a browser is 5–25 KiB; ws' default is 100 MiB.
 */
export const MAX_FRAME_BYTES = 64 * 1024;
/** Sockets are pinged this often; one that has not answered the previous ping is dropped. */
export const PING_EVERY_MS = 30_000;
/**
 * Bytes queued for one socket before it is dropped: a client that does not read
 * (or a peer that gets offers faster than it reads) must not hold memory.
 */
const MAX_BUFFERED_BYTES = 1024 * 1024;
/** Torrents (peer entries) one socket may hold at once; WebTorrent shares one socket per tracker between all its torrents. */
export const MAX_TORRENTS_PER_SOCKET = 1000;
/** Paths the upgrade is accepted on (bittorrent-tracker accepts any; clients use /announce or /). */
const PATHS = new Set(['/', '/announce']);
/** The answer to an upgrade from a source at --ws-max-sockets-per-ip. */
const TOO_MANY_SOCKETS_BODY = 'too many WebSockets from your address\n';
const TOO_MANY_SOCKETS = `HTTP/1.1 429 Too Many Requests\r\nConnection: close\r\nContent-Type: text/plain\r\nContent-Length: ${TOO_MANY_SOCKETS_BODY.length}\r\n\r\n${TOO_MANY_SOCKETS_BODY}`;

interface PeerEntry {
  infoHash: Buffer;
  peerId: Buffer;
}

interface PeerSocket {
  ws: WebSocket;
  /** The client's address (after --trust-proxy): its frames are charged to it (--rate-limit). */
  address: ParsedAddress;
  /** When it last announced (the options' clock): idle sockets are closed (--ws-idle-timeout). */
  lastAnnounce: number;
  /** Answered the last ping. */
  alive: boolean;
  closed: boolean;
  /** The (torrent, peer id) pairs this socket announced, by peerKey. */
  peers: Map<string, PeerEntry>;
  /** A private tracker's member key, from the upgrade's path (`/announce/<passkey>`). */
  passkey: string | undefined;
}

export interface WsCounters {
  /** Open sockets. */
  sockets: number;
  /** Offers and answers handed to another tracker node. */
  relayed: number;
  /** Offers and answers for a peer no node holds (or that left): dropped. */
  undeliverable: number;
  /** Sockets dropped for not answering pings or not reading. */
  dropped: number;
  /** Sockets closed for not announcing within --ws-idle-timeout. */
  idleClosed: number;
  /** Upgrades refused with 429: their address had --ws-max-sockets-per-ip open already. */
  refused: number;
}

export interface WsTransportOptions {
  /** Where internal errors go (once per cause a minute); standard error by default. */
  logger?: Logger;
  /** How often sockets are pinged (tests shorten it); PING_EVERY_MS by default. */
  pingEveryMs?: number;
  /** --ws-max-sockets-per-ip: open sockets per source; 'off' by default. */
  maxSocketsPerSource?: number | 'off';
  /** --ws-idle-timeout in ms: a socket that has not announced for this long is closed at the next ping round; off by default. */
  idleTimeoutMs?: number | 'off';
  /** --trust-proxy: whose X-Forwarded-For / X-Real-IP names the client (a TLS proxy in front, as wss:// needs). */
  trustProxy?: readonly string[];
  /** Clock in ms for the idle timeout (tests inject one). */
  now?: () => number;
  /** A private tracker: sockets on `/announce/<passkey>` are accepted too. */
  passkeys?: boolean;
}

function peerKey(infoHash: Buffer, peerId: Buffer): string {
  return infoHash.toString('latin1') + peerId.toString('latin1');
}

/**
 * The WebSocket tracker (WebTorrent): JSON frames → protocol/ws-messages.ts →
 * core/webrtc.ts → replies, and offers and answers delivered to the sockets
 * they are for. A socket's peers are delivered to here when this process
 * holds it; otherwise through the store to the node that does (`node`, a
 * random id per process). docs/websocket.md.
 */
export class WsTransport {
  /** This process' id among the tracker nodes sharing a store. */
  readonly node = randomBytes(8).toString('hex');
  private readonly tally = { relayed: 0, undeliverable: 0, dropped: 0, idleClosed: 0 };
  private readonly server: WebSocketServer;
  private readonly sockets = new Set<PeerSocket>();
  /** Sockets by peerKey of the peers they announced. */
  private readonly local = new Map<string, PeerSocket>();
  private pinger: NodeJS.Timeout | undefined;
  private unsubscribe: (() => Promise<void>) | undefined;
  private readonly leaving = new Set<Promise<void>>();
  private readonly pingEveryMs: number;
  private readonly passkeys: boolean;
  private readonly idleTimeoutMs: number | 'off';
  private readonly resolver: ClientAddressResolver;
  /** Open sockets per source (--ws-max-sockets-per-ip), from the upgrade until the TCP socket closes. */
  private readonly perSource: SourceCounts;
  private readonly now: () => number;

  private readonly errors: ErrorOnce;

  constructor(
    private readonly core: WebRtcCore,
    options: WsTransportOptions = {},
  ) {
    this.errors = new ErrorOnce(options.logger ?? stderrLogger);
    this.pingEveryMs = options.pingEveryMs ?? PING_EVERY_MS;
    this.passkeys = options.passkeys ?? false;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 'off';
    this.resolver = new ClientAddressResolver(options.trustProxy ?? []);
    this.perSource = new SourceCounts(options.maxSocketsPerSource ?? 'off');
    this.now = options.now ?? Date.now;
    this.server = new WebSocketServer({
      noServer: true,
      maxPayload: MAX_FRAME_BYTES,
      perMessageDeflate: false,
      clientTracking: false,
    });
  }

  /** For the stats: open sockets are counted off the socket set, not kept beside it. */
  get counters(): WsCounters {
    return { sockets: this.sockets.size, ...this.tally, refused: this.perSource.refused };
  }

  /** Starts receiving relayed messages and pinging sockets. */
  async start(): Promise<void> {
    if (this.pinger) return;
    this.pinger = setInterval(() => this.ping(), this.pingEveryMs);
    this.pinger.unref();
    this.unsubscribe = await this.core.subscribe(this.node, (message) => this.deliverHere(message));
  }

  /** An HTTP server's `upgrade` event: a WebSocket on one of PATHS, a 404 elsewhere. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    socket.on('error', () => socket.destroy());
    // A private tracker's members connect to /announce/<passkey> (checked at each announce, as on HTTP).
    const keyed = this.passkeys && !PATHS.has(path) ? routeWithPasskey(path) : undefined;
    if (!PATHS.has(path) && (keyed?.route !== 'announce' || keyed.passkey === undefined)) {
      // Destroyed once written: an HTTP server's sockets stay half-open until the client ends, and it may not.
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy());
      return;
    }
    const address = this.resolver.resolve(req.socket.remoteAddress, req.headers);
    if (address === undefined) return void socket.destroy(); // reset already
    const release = this.perSource.acquire(address);
    if (release === undefined) {
      // Refused before the handshake: no WebSocket, no frame, no memory beyond the answer.
      socket.end(TOO_MANY_SOCKETS, () => socket.destroy());
      return;
    }
    // Released when the TCP socket closes, whatever happens on the way (a failed handshake too).
    socket.once('close', release);
    this.server.handleUpgrade(req, socket, head, (ws) => this.accept(ws, address, keyed?.passkey));
  }

  /** Sources with sockets open (tests: nothing is left behind). */
  get sourcesWithSockets(): number {
    return this.perSource.sources;
  }

  /** Closes every socket (their peers leave the store), stops relaying. */
  async close(): Promise<void> {
    clearInterval(this.pinger);
    this.pinger = undefined;
    for (const peer of [...this.sockets]) {
      peer.ws.terminate();
      // Now, not on the socket's 'close' event: its peers must leave before the store closes.
      this.onClose(peer);
    }
    await Promise.allSettled([...this.leaving]);
    await this.unsubscribe?.();
    this.unsubscribe = undefined;
  }

  private accept(ws: WebSocket, address: ParsedAddress, passkey: string | undefined): void {
    const peer: PeerSocket = {
      ws,
      address,
      lastAnnounce: this.now(),
      alive: true,
      closed: false,
      peers: new Map(),
      passkey,
    };
    this.sockets.add(peer);
    ws.on('pong', () => {
      peer.alive = true;
    });
    ws.on('message', (data: Buffer, isBinary: boolean) => this.onMessage(peer, data, isBinary));
    ws.on('close', () => this.onClose(peer));
    // Protocol errors (an oversized frame, bad UTF-8): ws closes the socket itself.
    ws.on('error', () => undefined);
  }

  private onMessage(peer: PeerSocket, data: Buffer, isBinary: boolean): void {
    // Every frame costs one request of the source's budget (--rate-limit):
    // answers (each may cost a store lookup and a relay) and frames that do
    // not parse (each cost its parse) included. Parsed anyway, so that the
    // failure names the action and info_hash (WebTorrent ignores a failure
    // without them); an answer gets no reply, so past the budget it is
    // dropped, as an undeliverable one is.
    const admitted = this.core.admit(peer.address);
    if (isBinary) {
      if (!admitted) return this.rateLimited(peer, undefined, undefined);
      const err = new WsProtocolError('malformed_message', 'binary frames are not accepted; send JSON text');
      this.core.reportFailure(err);
      return this.send(peer, encodeWsFailure(err.message, undefined, undefined));
    }
    let request: WsAnnounce | WsAnswer | WsScrape;
    try {
      request = parseWsMessage(data.toString('utf8'));
    } catch (err) {
      const known = err instanceof WsProtocolError ? err : undefined;
      if (!admitted) return this.rateLimited(peer, known?.action, known?.infoHash);
      this.core.reportFailure(err);
      if (known) return this.send(peer, encodeWsFailure(known.message, known.action, known.infoHash));
      // Not thrown on: this runs in a socket's event handler, where a throw would end the process.
      return this.sendFailure(peer, err, 'announce', undefined);
    }
    if (!admitted) {
      if (request.action === 'answer') return;
      const hash = request.action === 'announce' ? request.infoHash : request.infoHashes[0];
      return this.rateLimited(peer, request.action, hash?.toString('latin1'));
    }
    if (request.action === 'announce') {
      peer.lastAnnounce = this.now();
      void this.announce(peer, request);
    } else if (request.action === 'answer') void this.answer(request);
    else void this.scrape(peer, request);
  }

  /** The answer to a frame past the source's budget: a failure with `retry in`, as over HTTP. */
  private rateLimited(peer: PeerSocket, action: string | undefined, infoHash: string | undefined): void {
    this.send(peer, encodeWsFailure(RATE_LIMITED.message, action, infoHash, RATE_LIMITED.retryIn));
  }

  private async announce(peer: PeerSocket, req: WsAnnounce): Promise<void> {
    const key = peerKey(req.infoHash, req.peerId);
    try {
      if (req.event !== 'stopped' && !peer.peers.has(key) && peer.peers.size >= MAX_TORRENTS_PER_SOCKET) {
        throw new PolicyError('too_many_torrents', `at most ${MAX_TORRENTS_PER_SOCKET} torrents per WebSocket`);
      }
      const outcome = await this.core.announce(req, this.node, peer.passkey);
      if (req.event === 'stopped') {
        this.forget(peer, key);
      } else if (peer.closed) {
        // The socket closed while the store answered: undo what it just stored.
        this.leave(req.infoHash, req.peerId);
        return;
      } else {
        peer.peers.set(key, { infoHash: req.infoHash, peerId: req.peerId });
        this.local.set(key, peer);
      }
      this.send(peer, encodeWsAnnounceReply(req.infoHash, outcome.interval, outcome.complete, outcome.incomplete));
      outcome.targets.forEach((target, i) => {
        const offer = req.offers[i];
        if (!offer) return;
        this.deliver(target.node, {
          infoHash: req.infoHash,
          peerId: target.peerId,
          text: encodeWsOffer(req.infoHash, req.peerId, offer),
        });
      });
    } catch (err) {
      this.sendFailure(peer, err, 'announce', req.infoHash);
    }
  }

  /** An answer goes to the offerer's socket, here or on its node; nothing goes back to the answerer. */
  private async answer(req: WsAnswer): Promise<void> {
    const message = { infoHash: req.infoHash, peerId: req.toPeerId, text: encodeWsAnswer(req) };
    if (this.local.has(peerKey(req.infoHash, req.toPeerId))) return this.deliverHere(message);
    try {
      const node = await this.core.locate(req.infoHash, req.toPeerId);
      if (node === undefined || node === this.node) this.tally.undeliverable++;
      else this.deliver(node, message);
    } catch {
      // The store is down: the answer is lost like any signal, and the client retries with new offers.
      this.tally.undeliverable++;
    }
  }

  private async scrape(peer: PeerSocket, req: WsScrape): Promise<void> {
    try {
      this.send(peer, encodeWsScrape(await this.core.scrape(req.infoHashes, peer.passkey)));
    } catch (err) {
      this.sendFailure(peer, err, 'scrape', req.infoHashes.length === 1 ? req.infoHashes[0] : undefined);
    }
  }

  private deliver(node: string, message: RelayedMessage): void {
    if (node === this.node) return this.deliverHere(message);
    this.tally.relayed++;
    this.core.relay(node, message).catch(() => {
      this.tally.undeliverable++;
    });
  }

  /** A message for a socket of this process (sent by a peer here or relayed from another node). */
  private deliverHere(message: RelayedMessage): void {
    const target = this.local.get(peerKey(message.infoHash, message.peerId));
    if (!target) {
      this.tally.undeliverable++;
      return;
    }
    this.send(target, message.text);
  }

  private send(peer: PeerSocket, text: string): void {
    if (peer.closed || peer.ws.readyState !== peer.ws.OPEN) return;
    if (peer.ws.bufferedAmount > MAX_BUFFERED_BYTES) {
      this.tally.dropped++;
      peer.ws.terminate();
      return;
    }
    peer.ws.send(text);
  }

  private sendFailure(peer: PeerSocket, err: unknown, action: string, infoHash: Buffer | undefined): void {
    const hash = infoHash?.toString('latin1');
    if (err instanceof TrackerError) return this.send(peer, encodeWsFailure(err.message, action, hash, err.retryIn));
    this.errors.error('ws', err, 'internal error (WebSocket)');
    this.send(peer, encodeWsFailure('internal tracker error', action, hash));
  }

  private onClose(peer: PeerSocket): void {
    if (peer.closed) return;
    peer.closed = true;
    this.sockets.delete(peer);
    for (const [key, entry] of peer.peers) {
      // Another socket of this process may have announced the same peer since.
      if (this.local.get(key) !== peer) continue;
      this.local.delete(key);
      this.leave(entry.infoHash, entry.peerId);
    }
    peer.peers.clear();
  }

  private forget(peer: PeerSocket, key: string): void {
    peer.peers.delete(key);
    if (this.local.get(key) === peer) this.local.delete(key);
  }

  /** Removes a peer whose socket is gone; if the store fails, the peer expires after --ws-peer-ttl. */
  private leave(infoHash: Buffer, peerId: Buffer): void {
    const done = this.core.leave(infoHash, peerId, this.node).catch(() => undefined);
    this.leaving.add(done);
    void done.finally(() => this.leaving.delete(done));
  }

  private ping(): void {
    const idleSince = this.idleTimeoutMs === 'off' ? Number.NEGATIVE_INFINITY : this.now() - this.idleTimeoutMs;
    for (const peer of this.sockets) {
      // Closing already (idle, below): ws destroys it if the close handshake does not finish.
      if (peer.ws.readyState !== peer.ws.OPEN) continue;
      if (!peer.alive) {
        this.tally.dropped++;
        peer.ws.terminate();
        continue;
      }
      if (peer.lastAnnounce < idleSince) {
        // Alive (it answers pings) but announces nothing: it holds a socket
        // for no swarm. Closed politely; a client with torrents reconnects.
        this.tally.idleClosed++;
        peer.ws.close(1000, 'idle');
        continue;
      }
      peer.alive = false;
      peer.ws.ping();
    }
  }
}

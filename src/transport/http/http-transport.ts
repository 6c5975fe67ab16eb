import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import { createServer as createHttpsServer, type Server as HttpsServer } from 'node:https';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import type { TrackerConfig } from '../../config/options.js';
import type { TrackerCore } from '../../core/tracker.js';
import { RATE_LIMITED, TrackerError } from '../../errors.js';
import { ErrorOnce, type Logger, stderrLogger } from '../../logging/logger.js';
import { encodeFailure, encodeHttpAnnounce, parseHttpAnnounce } from '../../protocol/http-announce.js';
import type { TrackerRequestHead } from '../../protocol/http-request-head.js';
import { encodeHttpScrape, parseHttpScrape } from '../../protocol/http-scrape.js';
import { routeWithPasskey } from '../../protocol/passkey.js';
import { parseQuery } from '../../protocol/query.js';
import { ClientAddressResolver } from '../client-address.js';
import { bencodeHeaders } from './bencode-response.js';
import { ConnectionCaps } from './connection-caps.js';
import { HttpFastPath, type HttpPath } from './fast-path.js';
import { landingPage } from './landing-page.js';
import { sendHtml, sendStatus } from './responses.js';
import { nodeMajor } from './tcp-handles.js';
import { TlsCertificates } from './tls-context.js';

/** Longest request target we read (a 100-hash scrape is about 6 KB); longer gets 414. */
export const MAX_URL_LENGTH = 8192;
/** Request line plus headers; Node answers 431 past this. */
export const MAX_HEADER_SIZE = 16384;
/** The answer to a source past --rate-limit, encoded once: a flood of them must cost as little as possible. */
const RATE_LIMITED_BODY = encodeFailure(RATE_LIMITED.message, RATE_LIMITED.retryIn);
/** At most one log line per this many ms about accept errors (EMFILE under a connection flood). */
const ACCEPT_ERROR_LOG_MS = 60_000;
/** Idle time before a keep-alive connection is closed (node:http's keepAliveTimeout, and the fast path's). */
const KEEP_ALIVE_TIMEOUT = 5_000;
const NO_HEADERS: Record<string, string | undefined> = {};

/**
 * Another module's pages (stats) mounted on the tracker's HTTP server. Returns
 * true when it handled the request.
 */
export type HttpRoute = (req: IncomingMessage, res: ServerResponse, path: string, query: string) => boolean;

/** Answers an HTTP upgrade request (the WebSocket tracker). */
export type UpgradeHandler = (req: IncomingMessage, socket: Duplex, head: Buffer) => void;

export interface HttpTransportOptions {
  /** The Node major the fast path decides on (tests); the running one by default. */
  nodeMajor?: number;
  /** Where internal errors and accept errors go (the tracker's logger); standard error by default. */
  logger?: Logger;
}

/** HTTP announce and scrape: bytes → protocol parser → core → encoder → bytes. */
export class HttpTransport {
  /** node:http's server, or node:https' with --tls-cert (its API is node:http's on TLS sockets). */
  readonly server: Server;
  /** The certificate served with --tls-cert/--tls-key (read at construction; reloadTls() replaces it). */
  readonly tls: TlsCertificates | undefined;
  private readonly resolver: ClientAddressResolver;
  /** --http-max-connections-per-ip (the total is the server's maxConnections). */
  readonly caps: ConnectionCaps;
  private readonly routes: HttpRoute[] = [];
  /** Serves plain announce/scrape requests from raw bytes; everything else reaches `server` unchanged. */
  private readonly fastPath: HttpFastPath | undefined;
  private fastPathServes = false;
  private upgradeHandler: UpgradeHandler | undefined;
  private fastPathReason: string;
  private acceptErrorLogged = 0;
  private readonly logger: Logger;
  /** Internal errors, once per cause a minute: a bug that every request hits is not a line per request. */
  private readonly errors: ErrorOnce;

  constructor(
    private readonly core: TrackerCore,
    private readonly config: Readonly<TrackerConfig>,
    options: HttpTransportOptions = {},
  ) {
    this.logger = options.logger ?? stderrLogger;
    this.errors = new ErrorOnce(this.logger);
    this.resolver = new ClientAddressResolver(config.trustProxy);
    this.caps = new ConnectionCaps(config.httpMaxConnectionsPerIp, this.resolver);
    const httpOptions = {
      maxHeaderSize: MAX_HEADER_SIZE,
      requestTimeout: config.requestTimeout,
      // Node checks the timeouts above on this period (30 s by default).
      connectionsCheckingInterval: Math.min(1000, config.requestTimeout / 2),
    };
    const onRequest = (req: IncomingMessage, res: ServerResponse): void => this.handle(req, res);
    this.tls = config.tlsCert ? new TlsCertificates(config.tlsCert, config.tlsKey) : undefined;
    this.server = this.tls
      ? // node:https' server is node:http's on TLS sockets; the cast names the API both share.
        (createHttpsServer(
          {
            ...httpOptions,
            ...this.tls.current,
            // The handshake is part of sending a request: the same bound (node's default is 120 s).
            handshakeTimeout: config.requestTimeout,
          },
          onRequest,
        ) as unknown as Server)
      : createServer(httpOptions, onRequest);
    // A tracker request has no body to wait for: answer at once instead of
    // sending `100 Continue`, which node:http writes straight to the socket and
    // so, on a pipelined connection, into the middle of an earlier answer.
    this.server.on('checkContinue', (req, res) => this.handle(req, res));
    // Upgrades reach node:http on both paths (the fast path hands them over).
    this.server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      if (this.upgradeHandler) {
        // A WebSocket from here on: counted by the WebSocket transport's cap, not this one.
        this.caps.upgraded(socket as Socket);
        return this.upgradeHandler(req, socket, head);
      }
      socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n', () => socket.destroy());
    });
    // --http-max-connections: node:net closes a connection past it at accept
    // (the fast path leaves those to node:net too), before any byte is read.
    if (config.httpMaxConnections !== 'off') this.server.maxConnections = config.httpMaxConnections;
    // --http-max-connections-per-ip for the connections node:net wraps itself
    // (fast path off, or not serving); the fast path admits its own, and hands
    // them over with their place counted (adopt below). Under TLS, a
    // connection is counted once its handshake is done ('secureConnection'):
    // the TLS socket is the one an upgrade then names (a handshake under way
    // is bounded by handshakeTimeout, and counts in the total only).
    this.server.on(this.tls ? 'secureConnection' : 'connection', (socket: Socket) => {
      if (!this.caps.on || this.fastPath?.inHandOver) return;
      const release = this.caps.admit(socket.remoteAddress);
      if (release === undefined) return void socket.destroy();
      this.caps.track(socket, release);
    });
    // Slow clients cannot hold a socket: headers and the whole request are bounded,
    // and idle keep-alive connections are closed after a few seconds.
    this.server.headersTimeout = Math.min(config.requestTimeout, 60_000);
    this.server.keepAliveTimeout = KEEP_ALIVE_TIMEOUT;
    this.server.on('clientError', (err: NodeJS.ErrnoException, socket) => {
      // node:https reports failed TLS handshakes here too: no HTTP answer can reach
      // such a client (it would be plaintext inside a TLS stream that never began).
      const httpError = err.code?.startsWith('HPE_') === true || err.code === 'ERR_HTTP_REQUEST_TIMEOUT';
      if (!socket.writable || (this.tls && !httpError)) return void socket.destroy();
      const status =
        err.code === 'HPE_HEADER_OVERFLOW'
          ? '431 Request Header Fields Too Large'
          : err.code === 'ERR_HTTP_REQUEST_TIMEOUT'
            ? '408 Request Timeout'
            : '400 Bad Request';
      // Destroy after the answer is flushed: a half-closed socket could be held open by the client.
      socket.end(`HTTP/1.1 ${status}\r\nConnection: close\r\nContent-Length: 0\r\n\r\n`, () => socket.destroy());
    });
    if (this.tls) {
      // The fast path parses the bytes of raw TCP handles; under TLS they are ciphertext.
      this.fastPath = undefined;
      this.fastPathReason =
        'TLS is on (--tls-cert): the fast path reads raw TCP bytes and cannot decrypt TLS, so node:https serves everything';
      return;
    }
    const { fastPath, reason } = HttpFastPath.create(
      this.server,
      (head, remote) => this.answerFast(head, remote),
      {
        headersTimeout: this.server.headersTimeout,
        keepAliveTimeout: KEEP_ALIVE_TIMEOUT,
        maxHeaderSize: MAX_HEADER_SIZE,
        maxUrlLength: MAX_URL_LENGTH,
        passkeys: config.private,
        errors: this.errors,
        ...(this.caps.on && {
          admit: (remoteAddress: string | undefined) => this.caps.admit(remoteAddress),
          adopt: (socket: Socket, release: () => void) => this.caps.track(socket, release),
        }),
      },
      config.httpFastPath,
      options.nodeMajor ?? nodeMajor(),
    );
    this.fastPath = fastPath;
    this.fastPathReason = reason;
  }

  /**
   * Which code answers announces and scrapes, and why (the CLI logs it at
   * start). Final once listen() resolved; 'node:http' before.
   */
  get path(): { path: HttpPath; reason: string } {
    return { path: this.fastPathServes ? 'fast' : 'node:http', reason: this.fastPathReason };
  }

  /**
   * Mounts extra pages (checked before the 404). Routes see only what the fast
   * path leaves to node:http: never `/announce` or `/scrape` with a query.
   */
  addRoute(route: HttpRoute): void {
    this.routes.push(route);
  }

  /** Who answers upgrade requests (the WebSocket tracker); without one they get a 404. */
  onUpgrade(handler: UpgradeHandler): void {
    this.upgradeHandler = handler;
  }

  listen(host: string, port: number): Promise<AddressInfo> {
    return new Promise((resolve, reject) => {
      const onError = (err: Error): void => reject(err);
      this.server.once('error', onError);
      this.server.listen({ host, port, ipv6Only: false }, () => {
        this.server.off('error', onError);
        // Once listening, node:net reports accept failures as 'error' events,
        // and one unheard would end the process. Out of file descriptors
        // (EMFILE, a flood past a too high --http-max-connections) libuv
        // mostly drops the pending connections itself; what it reports is
        // logged, and the server keeps serving.
        if (this.server.listenerCount('error') === 0) {
          this.server.on('error', (err: NodeJS.ErrnoException) => this.acceptError(err));
        }
        if (this.fastPath) {
          this.fastPathServes = this.fastPath.start();
          if (!this.fastPathServes)
            this.fastPathReason = "the HTTP server's listening handle is not as the fast path expects";
        }
        resolve(this.server.address() as AddressInfo);
      });
    });
  }

  /**
   * Serves the certificate and key files as they are now to new connections
   * (open ones keep theirs); if they cannot be used, the pair in force stays
   * and the answer says why. Plain HTTP: nothing to reload.
   */
  reloadTls(): { ok: true } | { ok: false; why: string } {
    if (!this.tls) return { ok: false, why: 'TLS is off' };
    return this.tls.reload(this.server as unknown as HttpsServer);
  }

  private acceptError(err: NodeJS.ErrnoException): void {
    const now = Date.now();
    if (now - this.acceptErrorLogged < ACCEPT_ERROR_LOG_MS) return;
    this.acceptErrorLogged = now;
    this.logger.error(
      { code: err.code ?? err.message },
      `HTTP server: ${err.code ?? err.message} (once a minute at most; lower --http-max-connections below the open-files limit)`,
    );
  }

  /** Stops accepting, lets in-flight requests finish (up to `graceMs`), then closes what is left. */
  close(graceMs = 5000): Promise<void> {
    return new Promise((resolve) => {
      if (!this.server.listening) return resolve();
      const timer = setTimeout(() => this.server.closeAllConnections(), graceMs);
      timer.unref();
      const fastClosed = this.fastPath?.close(graceMs);
      this.server.close(() => {
        clearTimeout(timer);
        // The fast path's connections count among the server's, so they are closed too by
        // now; its close() has also resolved (or resolves as it cuts the last ones).
        void Promise.resolve(fastClosed).then(() => resolve());
      });
      this.server.closeIdleConnections();
    });
  }

  /**
   * Answers one request as the tracker's own server would (announce, scrape,
   * mounted routes, the landing page, 404): for an embedding server's
   * `request` event (Tracker.attach).
   */
  handle(req: IncomingMessage, res: ServerResponse): void {
    const url = req.url ?? '/';
    if (url.length > MAX_URL_LENGTH) return sendStatus(res, 414, 'URI Too Long');
    const q = url.indexOf('?');
    const path = q >= 0 ? url.slice(0, q) : url;
    const query = q >= 0 ? url.slice(q + 1) : '';

    for (const route of this.routes) if (route(req, res, path, query)) return;

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.setHeader('Allow', 'GET, HEAD');
      return sendStatus(res, 405, 'Method Not Allowed');
    }
    switch (path) {
      case '/announce':
      case '/announce.php':
        if (query === '') return sendHtml(req, res, 200, landingPage(this.config));
        return void this.announce(req, res, query);
      case '/scrape':
      case '/scrape.php':
        return void this.scrape(req, res, query);
      case '/':
        return sendHtml(req, res, 200, landingPage(this.config));
    }
    // A private tracker's URLs carry the member's passkey: /announce/<passkey>, /scrape/<passkey>.
    const keyed = this.config.private ? routeWithPasskey(path) : undefined;
    if (keyed?.passkey === undefined) return sendStatus(res, 404, 'Not Found');
    if (keyed.route === 'scrape') return void this.scrape(req, res, query, keyed.passkey);
    if (query === '') return sendHtml(req, res, 200, landingPage(this.config));
    return void this.announce(req, res, query, keyed.passkey);
  }

  private async announce(
    req: IncomingMessage,
    res: ServerResponse,
    query: string,
    passkey: string | undefined = undefined,
  ): Promise<void> {
    sendBencode(res, await this.announceBody(query, req.socket.remoteAddress, req.headers, passkey));
  }

  private async scrape(
    req: IncomingMessage,
    res: ServerResponse,
    query: string,
    passkey: string | undefined = undefined,
  ): Promise<void> {
    sendBencode(res, await this.scrapeBody(query, req.socket.remoteAddress, req.headers, passkey));
  }

  /** The fast path's requests: the same bodies as through node:http. */
  private answerFast(head: TrackerRequestHead, remoteAddress: string | undefined): Promise<Buffer> {
    let headers = NO_HEADERS;
    if (head.forwardedFor !== undefined || head.realIp !== undefined) {
      headers = { 'x-forwarded-for': head.forwardedFor, 'x-real-ip': head.realIp };
    }
    if (head.route === 'scrape') return this.scrapeBody(head.query, remoteAddress, headers, head.passkey);
    return this.announceBody(head.query, remoteAddress, headers, head.passkey);
  }

  /** The bencoded answer to an announce, a `failure reason` included. */
  private async announceBody(
    query: string,
    remoteAddress: string | undefined,
    headers: Record<string, string | string[] | undefined>,
    passkey: string | undefined,
  ): Promise<Buffer> {
    let address: ReturnType<ClientAddressResolver['resolve']>;
    let parsed: ReturnType<typeof parseHttpAnnounce>;
    try {
      address = this.resolver.resolve(remoteAddress, headers);
      // Only when the socket's peer address is gone (the client reset the
      // connection): nobody is left to read the answer, and it is not our error
      // to log (a client could flood the log with resets).
      if (!address) return encodeFailure('client address unavailable');
      // Charged before any parsing: a malformed request costs us too.
      if (!this.core.admit(address, 'http')) return RATE_LIMITED_BODY;
      parsed = parseHttpAnnounce(parseQuery(query));
    } catch (err) {
      // Refused before the core saw it: counted here (the core counts its own refusals).
      this.core.reportFailure('http', err);
      return this.failure(err);
    }
    try {
      const { params, compact, noPeerId } = parsed;
      const reply = await this.core.announce(params, {
        transport: 'http',
        address,
        families: 'both',
        withPeerIds: !compact && !noPeerId,
        passkey,
      });
      return encodeHttpAnnounce(reply, compact, noPeerId);
    } catch (err) {
      return this.failure(err);
    }
  }

  private async scrapeBody(
    query: string,
    remoteAddress: string | undefined,
    headers: Record<string, string | string[] | undefined>,
    passkey: string | undefined,
  ): Promise<Buffer> {
    let hashes: Buffer[];
    try {
      const address = this.resolver.resolve(remoteAddress, headers);
      if (!address) return encodeFailure('client address unavailable');
      if (!this.core.admit(address, 'http')) return RATE_LIMITED_BODY;
      hashes = parseHttpScrape(parseQuery(query));
    } catch (err) {
      this.core.reportFailure('http', err);
      return this.failure(err);
    }
    try {
      return encodeHttpScrape((await this.core.scrape(hashes, 'http', passkey)).filter((e) => !e.refused));
    } catch (err) {
      return this.failure(err);
    }
  }

  /** Tracker-level failures are HTTP 200 with a `failure reason` (and `retry in` when waiting helps), as clients expect. */
  private failure(err: unknown): Buffer {
    if (err instanceof TrackerError) return encodeFailure(err.message, err.retryIn);
    this.errors.error('http', err, 'internal error (HTTP)');
    return encodeFailure('internal tracker error');
  }
}

function sendBencode(res: ServerResponse, body: Buffer): void {
  if (res.headersSent || res.destroyed) return;
  res.writeHead(200, bencodeHeaders(body.length));
  res.end(body);
}

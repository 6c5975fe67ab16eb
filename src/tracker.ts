import type { IncomingMessage, Server, ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import type { Duplex } from 'node:stream';
import { accountsRoute } from './access/accounts-route.js';
import { ListFile } from './access/list-file.js';
import { DEFAULTS, effectiveLogLevel, type TrackerConfig, validateConfig } from './config/options.js';
import { TrackerCore } from './core/tracker.js';
import { WebRtcCore } from './core/webrtc.js';
import { createLogger } from './logging/create-logger.js';
import type { Logger } from './logging/logger.js';
import { boundPort, listenMetrics, type MetricsText, serveMetrics } from './metrics/metrics-http.js';
import { TrackerMetrics } from './metrics/tracker-metrics.js';
import { parseInfoHashList } from './protocol/info-hash-list.js';
import { parsePasskeyList } from './protocol/passkey.js';
import { StatsService } from './stats/stats-service.js';
import { createStore } from './store/create-store.js';
import type { SwarmStore } from './store/swarm-store.js';
import { listenAnyAddress } from './transport/any-address.js';
import { healthRoute } from './transport/http/health-route.js';
import { HttpTransport } from './transport/http/http-transport.js';
import { UdpTransport } from './transport/udp/udp-transport.js';
import { WsTransport } from './transport/ws/ws-transport.js';

/** How long listen() waits for a remote store before serving without it. */
const STORE_READY_WAIT_MS = 3000;

export interface TrackerOptions extends Partial<TrackerConfig> {
  /** Use this store instead of the one the configuration names (tests, embedding). */
  store?: SwarmStore;
  /** Clock in epoch ms (tests drive expiry with it). */
  now?: () => number;
  /**
   * false: another process of this tracker answers UDP on the configured port
   * (--workers: one worker does, see cli/workers.ts); this one opens no UDP
   * socket until serveUdp() is called, but still lists the udp:// announce URL.
   * Default true.
   */
  serveUdp?: boolean;
  /** The Node major the HTTP fast path decides on (tests); the running one by default. */
  nodeMajor?: number;
  /** How often WebSocket clients are pinged, a silent one dropped at the next ping (tests); 30 s by default. */
  wsPingMs?: number;
  /**
   * Where /metrics gets its text: this process' registry by default; under
   * --workers the CLI passes the primary's aggregate of every worker.
   */
  metricsText?: MetricsText;
  /** false: another process serves --metrics-port (the primary under --workers). Default true. */
  serveMetricsPort?: boolean;
  /**
   * Where the tracker logs (logging/logger.ts; a pino logger fits). By default
   * a pino logger of its own with --log-level/--quiet and --log-format: errors
   * and warnings on standard error, the rest on standard output.
   */
  logger?: Logger;
}

export interface ListenInfo {
  http: AddressInfo;
  /** The UDP tracker's socket (BEP 15); absent with --udp-port off. */
  udp?: AddressInfo;
  /** Announce URLs a user can put into a torrent. */
  announceUrls: string[];
}

/** A tracker instance: the core, its store and its transports, started with listen(). */
export class Tracker {
  readonly config: Readonly<TrackerConfig>;
  readonly core: TrackerCore;
  readonly store: SwarmStore;
  readonly http: HttpTransport;
  /** The WebSocket (WebTorrent) tracker on the HTTP port; undefined with --ws off. */
  readonly ws: WsTransport | undefined;
  /** The UDP tracker (its `counters` feed the stats page once bound); undefined with --udp-port off. */
  readonly udp: UdpTransport | undefined;
  /** The statistics pages and counters; undefined with --stats off. */
  readonly stats: StatsService | undefined;
  /** Prometheus metrics; undefined with --metrics off. */
  readonly metrics: TrackerMetrics | undefined;
  /** What it logs through (the `logger` option, or its own). */
  readonly logger: Logger;
  private readonly metricsText: MetricsText | undefined;
  private readonly serveMetricsPort: boolean;
  private metricsServer: Server | undefined;
  /** close() has begun: /readyz answers 503 so a load balancer stops sending requests. */
  private closing = false;
  private listenInfo: ListenInfo | undefined;
  /** The allow or deny list's file, followed while the tracker runs. */
  private readonly listFile: ListFile | undefined;
  /** The passkeys file of a private tracker (--keys PATH), followed likewise. */
  private readonly keysFile: ListFile | undefined;
  /** UDP is answered by another process on the configured port (serveUdp false, until serveUdp()). */
  private udpElsewhere: boolean;
  /**
   * SIGHUP with TLS on: serve the certificate files as they are now. Installed
   * by listen() and removed by close(), so a process embedding several trackers
   * (or the tests) keeps node's default SIGHUP action once none listens.
   */
  private readonly onHupTls = (): void => {
    const result = this.http.reloadTls();
    const fields = { cert: this.config.tlsCert, key: this.config.tlsKey };
    if (!result.ok) {
      this.logger.error(
        { ...fields, error: result.why },
        `TLS certificate not reloaded (SIGHUP): ${result.why}; the previous one stays`,
      );
    } else this.logger.info(fields, `TLS certificate reloaded from ${this.config.tlsCert} (SIGHUP)`);
  };
  private hupInstalled = false;

  constructor(options: TrackerOptions = {}) {
    const { store, now, serveUdp, nodeMajor, wsPingMs, metricsText, serveMetricsPort, logger, ...rest } = options;
    this.config = validateConfig({ ...DEFAULTS, ...rest } as TrackerConfig);
    this.logger = logger ?? createLogger({ level: effectiveLogLevel(this.config), format: this.config.logFormat });
    const clock = now ?? Date.now;
    this.store = store ?? createStore(this.config, clock, this.logger);
    this.core = new TrackerCore(this.config, this.store, clock);
    const listPath = this.config.allowList || this.config.denyList;
    if (listPath && listPath !== 'redis') {
      // Read now: a list that cannot be read stops the start (an allow list would refuse everything).
      this.listFile = new ListFile(
        listPath,
        (text) => {
          const { hashes, problems } = parseInfoHashList(text);
          return { entries: hashes, problems };
        },
        (hashes) => this.core.access.replace(hashes),
        this.logger,
        this.config.allowList ? 'allow list' : 'deny list',
      );
    }
    if (this.config.private && this.config.keys !== 'redis') {
      this.keysFile = new ListFile(
        this.config.keys,
        (text) => {
          const { keys, problems } = parsePasskeyList(text);
          return { entries: keys, problems };
        },
        (keys) => this.core.passkeys.replace(keys),
        this.logger,
        'keys',
      );
    }
    this.http = new HttpTransport(this.core, this.config, { nodeMajor, logger: this.logger });
    this.http.addRoute(healthRoute({ store: () => this.store.health?.(), closing: () => this.closing }));
    if (this.config.private) this.http.addRoute(accountsRoute(this.core, this.config.statsToken, this.logger));
    if (this.config.ws) {
      const { wsMaxSocketsPerIp, wsIdleTimeout, trustProxy } = this.config;
      const ws = new WsTransport(new WebRtcCore(this.config, this.store, this.core.events, this.core), {
        pingEveryMs: wsPingMs,
        logger: this.logger,
        passkeys: this.config.private,
        maxSocketsPerSource: wsMaxSocketsPerIp,
        idleTimeoutMs: wsIdleTimeout === 'off' ? 'off' : wsIdleTimeout * 1000,
        trustProxy,
        now: clock,
      });
      this.ws = ws;
      this.http.onUpgrade((req, socket, head) => ws.handleUpgrade(req, socket, head));
    }
    this.udpElsewhere = this.config.udpPort !== 'off' && serveUdp === false;
    this.udp =
      this.config.udpPort === 'off'
        ? undefined
        : new UdpTransport(this.core, this.config, {
            now: clock,
            logger: this.logger,
            sharedSecret: (name, bytes) => this.store.sharedSecret(name, bytes),
          });
    if (this.config.stats) {
      this.stats = new StatsService(this.config, this.store, this.core.events, {
        now: clock,
        logger: this.logger,
        announceUrls: () => this.listenInfo?.announceUrls ?? [],
        udpCounters: () => (this.listenInfo?.udp ? this.udp?.counters : undefined),
        httpPath: () => this.http.path.path,
        wsCounters: () => this.ws?.counters,
      });
      this.http.addRoute(this.stats.route);
    }
    this.serveMetricsPort = serveMetricsPort ?? true;
    if (this.config.metrics) {
      const metrics = new TrackerMetrics({
        events: this.core.events,
        store: this.store,
        udpConnects: () => (this.listenInfo?.udp ? this.udp?.counters.connects : undefined),
        wsSockets: () => this.ws?.counters.sockets,
        now: clock,
      });
      this.metrics = metrics;
      this.metricsText =
        metricsText ?? (async () => ({ text: await metrics.text(), contentType: metrics.contentType }));
      if (this.config.metricsPort === 0) this.http.addRoute(serveMetrics(this.metricsText));
    }
  }

  /** Binds the configured host and port. `::` falls back to 0.0.0.0 where IPv6 is unavailable. */
  async listen(): Promise<ListenInfo> {
    // Give a remote store a moment to connect so the first announces are not
    // refused; if it is down, serve anyway (clients are told to retry).
    await this.store.ready?.(STORE_READY_WAIT_MS).catch(() => undefined);
    await this.ws?.start();
    this.listFile?.watch();
    this.keysFile?.watch();
    if (this.metricsText && this.config.metricsPort > 0 && this.serveMetricsPort) {
      const text = this.metricsText;
      this.metricsServer = await listenAnyAddress(this.config.host, (host) =>
        listenMetrics(host, this.config.metricsPort, text),
      );
    }
    const http = await listenAnyAddress(this.config.host, (host) => this.http.listen(host, this.config.port));
    if (this.http.tls && !this.hupInstalled) {
      this.hupInstalled = true;
      process.on('SIGHUP', this.onHupTls);
    }
    let udp: AddressInfo | undefined;
    if (this.udp && !this.udpElsewhere) {
      try {
        udp = await this.listenUdp(this.udp, http);
      } catch (err) {
        this.removeHup();
        await this.http.close();
        throw err;
      }
    }
    // The UDP port of the process that answers UDP: the HTTP port's number ('same') or
    // the configured one; none with --udp-port 0, any free port, which only that process
    // knows (and with --port 0 and 'same' it may have had to take another; its log line tells).
    const udpUrlsFrom =
      udp ?? (this.udpElsewhere && this.config.udpPort !== 0 ? { ...http, port: this.udpPortFor(http) } : undefined);
    this.listenInfo = { http, ...(udp ? { udp } : {}), announceUrls: announceUrls(this.config, http, udpUrlsFrom) };
    this.stats?.startWarm();
    return this.listenInfo;
  }

  /**
   * Starts answering UDP in a process that left it to another (serveUdp false):
   * with --workers, the primary hands UDP to a running worker when the one that
   * held it dies, so UDP is back in the time a bind takes, not a worker's start.
   */
  async serveUdp(): Promise<AddressInfo> {
    const info = this.listenInfo;
    if (!this.udp || !info) throw new Error('serveUdp() needs a listening tracker with UDP on');
    if (info.udp) return info.udp;
    const udp = await this.listenUdp(this.udp, info.http);
    this.udpElsewhere = false;
    this.listenInfo = { ...info, udp, announceUrls: announceUrls(this.config, info.http, udp) };
    return udp;
  }

  private udpPortFor(http: AddressInfo): number {
    return this.config.udpPort === 'same' ? http.port : (this.config.udpPort as number);
  }

  /** UDP on the HTTP port number ('same') or its own; `::` falls back to 0.0.0.0 inside the transport. */
  private async listenUdp(udp: UdpTransport, http: AddressInfo): Promise<AddressInfo> {
    const { udpPort, port } = this.config;
    const wanted = this.udpPortFor(http);
    try {
      return await udp.listen(this.config.host, wanted);
    } catch (err) {
      // --port 0 asks for any free port: if the UDP port of the number HTTP got
      // is taken, any free UDP port will do as well.
      if (udpPort !== 'same' || port !== 0 || (err as NodeJS.ErrnoException).code !== 'EADDRINUSE') throw err;
      return udp.listen(this.config.host, 0);
    }
  }

  /** The --metrics-port server's port (tests, and --metrics-port 0 is not allowed: 0 means the HTTP port). */
  get metricsPort(): number | undefined {
    return this.metricsServer ? boundPort(this.metricsServer) : undefined;
  }

  get address(): ListenInfo | undefined {
    return this.listenInfo;
  }

  /**
   * Serves the tracker from an HTTP(S) server of the embedding application
   * instead of its own (as PeerTube embeds a tracker): announce, scrape and
   * the stats pages through `handleRequest`, the WebSocket tracker through
   * `handleUpgrade`. Pass `server` to have both installed on its `request` and
   * `upgrade` events; or call them from your own routing. UDP is not opened
   * (call listen() for that). Resolves once the store is ready to relay.
   */
  async attach(server?: Server): Promise<void> {
    await this.store.ready?.(STORE_READY_WAIT_MS).catch(() => undefined);
    await this.ws?.start();
    this.listFile?.watch();
    this.keysFile?.watch();
    this.stats?.startWarm();
    if (server) {
      server.on('request', (req, res) => this.handleRequest(req, res));
      server.on('upgrade', (req, socket, head) => this.handleUpgrade(req, socket, head));
    }
  }

  /** Answers an HTTP request as the tracker's own server would (see attach). */
  handleRequest(req: IncomingMessage, res: ServerResponse): void {
    this.http.handle(req, res);
  }

  /** Answers an upgrade to the WebSocket tracker (see attach); a 404 with --ws off or on another path. */
  handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    if (this.ws) return this.ws.handleUpgrade(req, socket, head);
    socket.end('HTTP/1.1 404 Not Found\r\nConnection: close\r\nContent-Length: 0\r\n\r\n');
  }

  private removeHup(): void {
    if (!this.hupInstalled) return;
    this.hupInstalled = false;
    process.off('SIGHUP', this.onHupTls);
  }

  /** Stops accepting, finishes in-flight requests, closes the store. */
  async close(): Promise<void> {
    this.closing = true;
    this.removeHup();
    this.stats?.close();
    this.metrics?.close();
    const metricsServer = this.metricsServer;
    if (metricsServer) {
      metricsServer.closeAllConnections();
      await new Promise<void>((resolve) => metricsServer.close(() => resolve()));
    }
    this.listFile?.close();
    this.keysFile?.close();
    // WebSockets first: an open one would hold the HTTP server's close, and its peers leave the store.
    await this.ws?.close();
    await this.http.close();
    await this.udp?.close();
    await this.store.close();
  }
}

export function createTracker(options: TrackerOptions = {}): Tracker {
  return new Tracker(options);
}

function announceUrls(config: Readonly<TrackerConfig>, http: AddressInfo, udp?: AddressInfo): string[] {
  if (config.announceUrl) return [config.announceUrl];
  // A private tracker's members each put their own passkey where the placeholder is.
  const path = config.private ? '/announce/<passkey>' : '/announce';
  // With TLS the HTTP port speaks only TLS: plain http:// and ws:// URLs would not work there.
  const tls = config.tlsCert !== '';
  return [
    ...urlsFor(tls ? 'https' : 'http', http, path),
    ...(udp ? urlsFor('udp', udp, path) : []),
    ...(config.ws ? urlsFor(tls ? 'wss' : 'ws', http, path) : []),
  ];
}

function urlsFor(scheme: 'http' | 'https' | 'udp' | 'ws' | 'wss', bound: AddressInfo, path: string): string[] {
  const port = bound.port;
  const host = bound.address;
  if (host === '::' || host === '0.0.0.0') {
    const urls = [`${scheme}://127.0.0.1:${port}${path}`];
    if (host === '::') urls.push(`${scheme}://[::1]:${port}${path}`);
    return urls;
  }
  return [bound.family === 'IPv6' ? `${scheme}://[${host}]:${port}${path}` : `${scheme}://${host}:${port}${path}`];
}

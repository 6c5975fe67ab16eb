import type { IncomingMessage, ServerResponse } from 'node:http';
import type { TrackerConfig } from '../config/options.js';
import type { TrackerEvents } from '../core/events.js';
import { ErrorOnce, type Logger, stderrLogger } from '../logging/logger.js';
import { unpackEndpoint } from '../protocol/compact.js';
import type { StoredPeer, SwarmStore, SwarmTotals } from '../store/swarm-store.js';
import type { HttpPath } from '../transport/http/fast-path.js';
import { sendHtml, sendJson, sendText } from '../transport/http/responses.js';
import type { UdpCounters } from '../transport/udp/udp-handler.js';
import type { WsCounters } from '../transport/ws/ws-transport.js';
import { ASSET_PREFIX, StatsAssets } from './assets.js';
import { BadRequest, parseTableRequest } from './datatables-request.js';
import { decodePeerClient, formatPeerClient } from './peer-client.js';
import { SnapshotCache } from './snapshot-cache.js';
import { StatsAuth } from './stats-auth.js';
import { StatsCollector } from './stats-collector.js';
import { statsPageHtml, tokenPageHtml } from './stats-page.js';

/**
 * The statistics pages on the tracker's HTTP server:
 *   GET /stats, /stats.php          the page (also where / and a bare /announce redirect)
 *   GET /stats.json                 totals and rates, for scripts (?history=1 adds the chart series)
 *   GET /stats.json?draw=…          DataTables server-side processing (the torrent table)
 *   GET /stats.json?torrent=<hex>   one torrent; its peers only with --stats-peers
 *   GET /stats/assets/…             jQuery, DataTables, uPlot and the page's own files
 * Totals and the table come from the store, so they are global across processes
 * sharing a Redis store; request rates are this process's (the page says so).
 * The tracker creates it only when --stats is on; with --stats off these URLs are 404s.
 */
export interface StatsServiceOptions {
  now: () => number;
  /** Where failed stats requests are logged (once per cause a minute); standard error by default. */
  logger?: Logger;
  /** Announce URLs the tracker listens on, for magnet links when --announce-url is not set. */
  announceUrls: () => readonly string[];
  /** How old the torrent table's snapshot may get before a request triggers a rebuild. */
  snapshotMaxAgeMs?: number;
  /** Milliseconds between chart samples. */
  sampleMs?: number;
  /** The UDP transport's packet-level counters (drops, error packets), when UDP is on. */
  udpCounters?: () => UdpCounters | undefined;
  /** Which code answers HTTP announces and scrapes in this process. */
  httpPath?: () => HttpPath;
  /** The WebSocket tracker's counters (open sockets, relayed signals), when it is on. */
  wsCounters?: () => WsCounters | undefined;
}

/** How often the page polls; also the snapshot's default age limit. */
const REFRESH_MS = 5000;
/** Most peers the per-torrent view lists. */
export const MAX_LISTED_PEERS = 200;
const HASH_HEX = /^[0-9a-fA-F]{40}$/;
const HOST_HEADER = /^[A-Za-z0-9.-]+(:\d{1,5})?$|^\[[0-9A-Fa-f:.]+\](:\d{1,5})?$/;

const PAGE_CSP = [
  "default-src 'none'",
  "script-src 'self'",
  // DataTables and uPlot set style attributes on the elements they build.
  "style-src 'self' 'unsafe-inline'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "base-uri 'none'",
  "form-action 'self'",
  "frame-ancestors 'none'",
].join('; ');

export class StatsService {
  readonly collector: StatsCollector;
  readonly snapshots: SnapshotCache;
  private readonly assets: StatsAssets;
  private readonly auth: StatsAuth;
  private totalsInFlight: Promise<SwarmTotals> | undefined;
  private closed = false;

  private readonly errors: ErrorOnce;

  constructor(
    private readonly config: Readonly<TrackerConfig>,
    private readonly store: SwarmStore,
    events: TrackerEvents,
    private readonly options: StatsServiceOptions,
  ) {
    this.auth = new StatsAuth(config.statsToken);
    this.errors = new ErrorOnce(options.logger ?? stderrLogger);
    this.collector = new StatsCollector(events, store, { now: options.now, sampleMs: options.sampleMs });
    this.snapshots = new SnapshotCache(store, options.now, options.snapshotMaxAgeMs ?? REFRESH_MS);
    this.assets = new StatsAssets();
    this.collector.start();
  }

  /**
   * Starts --stats-warm's background rebuilds, if asked for: once the tracker
   * serves (after its wait for the store to come up). Nothing after close(),
   * which a start-up still waiting for the store may follow.
   */
  startWarm(): void {
    if (this.config.statsWarm !== 'off' && !this.closed) this.snapshots.keepWarm(this.config.statsWarm * 1000);
  }

  close(): void {
    this.closed = true;
    this.collector.stop();
    this.snapshots.stopWarm();
  }

  /** The HttpRoute: true when this request was ours. Cheap for announces (a few string compares). */
  readonly route = (req: IncomingMessage, res: ServerResponse, path: string, query: string): boolean => {
    const isPage = path === '/stats' || path === '/stats.php';
    const isJson = path === '/stats.json';
    const isAsset = path.startsWith(ASSET_PREFIX);
    // Where the original stats.php lived: a browser opening the tracker's root or
    // its announce URL lands on the statistics.
    const isLanding = path === '/' || ((path === '/announce' || path === '/announce.php') && query === '');
    if (!isPage && !isJson && !isAsset && !isLanding) return false;

    if (req.method !== 'GET' && req.method !== 'HEAD') {
      res.writeHead(405, { Allow: 'GET, HEAD', 'Content-Type': 'text/plain; charset=utf-8' });
      res.end('405 Method Not Allowed\n');
      return true;
    }
    if (isLanding) {
      // Only a token is carried over, re-encoded: nothing else of the request reaches the header.
      const token = query ? new URLSearchParams(query).get('token') : null;
      const location = token ? `/stats?token=${encodeURIComponent(token)}` : '/stats';
      res.writeHead(302, { Location: location, 'Content-Length': 0 });
      res.end();
      return true;
    }
    // Assets are public: they are npm packages and the page's code, no data.
    if (isAsset) {
      if (!this.assets.serve(req, res, path)) sendText(res, 404, '404 Not Found\n');
      return true;
    }
    const params = new URLSearchParams(query);
    const token = StatsAuth.presented(req, params);
    if (!this.auth.allows(token)) {
      if (isJson) sendJson(req, res, 401, { error: 'token required' }, { 'WWW-Authenticate': 'Bearer' });
      else sendHtml(req, res, 401, tokenPageHtml(token !== undefined), { 'WWW-Authenticate': 'Bearer' });
      return true;
    }
    if (isPage) this.page(req, res);
    else void this.json(req, res, params);
    return true;
  };

  private page(req: IncomingMessage, res: ServerResponse): void {
    const html = statsPageHtml(this.assets, {
      jsonUrl: '/stats.json',
      announceUrl: this.announceUrl(req),
      statsPeers: this.config.statsPeers,
      tokenRequired: this.auth.required,
      refreshMs: REFRESH_MS,
      store: this.store.kind,
    });
    sendHtml(req, res, 200, html, { 'Content-Security-Policy': PAGE_CSP });
  }

  private async json(req: IncomingMessage, res: ServerResponse, params: URLSearchParams): Promise<void> {
    try {
      if (params.has('draw')) return sendJson(req, res, 200, await this.table(params));
      const torrent = params.get('torrent');
      if (torrent !== null) {
        if (!HASH_HEX.test(torrent)) throw new BadRequest('torrent must be 40 hex digits');
        const detail = await this.torrent(torrent.toLowerCase());
        if (!detail) return sendJson(req, res, 404, { error: 'no live peers for this torrent' });
        return sendJson(req, res, 200, detail);
      }
      return sendJson(req, res, 200, await this.summary(params.get('history') === '1'));
    } catch (err) {
      if (err instanceof BadRequest) return sendJson(req, res, 400, { error: err.message });
      this.errors.error('stats', err, 'stats request failed');
      sendJson(req, res, 503, { error: 'tracker storage is unavailable, retry later' });
    }
  }

  /** Totals (global, from the store) and rates (this process). */
  async summary(withHistory: boolean): Promise<Record<string, unknown>> {
    const [totals, webrtc] = await Promise.all([this.totals(), this.store.webrtc.totals()]);
    const now = this.options.now();
    const c = this.collector;
    return {
      store: this.store.kind,
      startedAt: new Date(c.startedAt).toISOString(),
      uptimeSeconds: Math.floor((now - c.startedAt) / 1000),
      totals: {
        torrents: totals.torrents,
        peers: totals.peers,
        seeders: totals.seeders,
        leechers: totals.leechers,
        peers4: totals.peers4,
        peers6: totals.peers6,
        completed: totals.downloaded,
        // The WebSocket tracker's swarms: browser peers, counted apart (docs/websocket.md).
        webrtc,
      },
      process: {
        pid: process.pid,
        httpPath: this.options.httpPath?.(),
        rates: c.rates(),
        counters: c.counters,
        udp: this.options.udpCounters?.(),
        ws: this.options.wsCounters?.(),
      },
      snapshotError: this.snapshots.lastError ? 'the torrent table could not be refreshed from the store' : undefined,
      history: withHistory ? c.history() : undefined,
    };
  }

  private async table(params: URLSearchParams): Promise<Record<string, unknown>> {
    const request = parseTableRequest(params);
    const page = await this.snapshots.page(request);
    return {
      draw: request.draw,
      recordsTotal: page.total,
      recordsFiltered: page.recordsFiltered,
      data: page.rows,
      snapshotAt: page.builtAt,
      truncated: page.truncated || undefined,
    };
  }

  private async torrent(hex: string): Promise<Record<string, unknown> | undefined> {
    const infoHash = Buffer.from(hex, 'hex');
    const [counts] = await this.store.scrape([infoHash]);
    const peers = this.config.statsPeers ? await this.store.torrentPeers(infoHash, MAX_LISTED_PEERS) : undefined;
    if (!counts || (counts.complete === 0 && counts.incomplete === 0)) return undefined;
    const row = await this.snapshots.find(hex).catch(() => undefined);
    const lastSeen = peers?.reduce((max, p) => Math.max(max, p.lastSeen), 0);
    return {
      infoHash: hex,
      seeders: counts.complete,
      leechers: counts.incomplete,
      completed: counts.downloaded,
      lastAnnounce: lastSeen || row?.lastAnnounce || null,
      peersShown: this.config.statsPeers,
      peersLimit: MAX_LISTED_PEERS,
      peers: peers ? peers.flatMap(peerRows) : undefined,
    };
  }

  /** One store call however many pages poll at once. */
  private totals(): Promise<SwarmTotals> {
    if (!this.totalsInFlight) {
      const p = this.store.totals();
      this.totalsInFlight = p;
      const clear = () => {
        this.totalsInFlight = undefined;
      };
      p.then(clear, clear);
    }
    return this.totalsInFlight;
  }

  /**
   * For magnet links: --announce-url when set; otherwise the host the browser
   * used (it reached the tracker that way, with TLS when --tls-cert or an
   * embedding https server served the page; behind a TLS proxy set --announce-url).
   */
  private announceUrl(req: IncomingMessage): string {
    if (this.config.announceUrl) return this.config.announceUrl;
    const host = req.headers.host;
    const scheme = (req.socket as { encrypted?: boolean }).encrypted === true ? 'https' : 'http';
    if (host && HOST_HEADER.test(host)) return `${scheme}://${host}/announce`;
    return this.options.announceUrls()[0] ?? '/announce';
  }
}

/** A peer as rows of the detail view: one per endpoint (a dual-stack peer has two). */
function peerRows(peer: StoredPeer): Record<string, unknown>[] {
  const client = formatPeerClient(decodePeerClient(peer.peerId));
  const rows: Record<string, unknown>[] = [];
  for (const ep of [peer.ipv4, peer.ipv6]) {
    if (!ep) continue;
    const { ip, port, family } = unpackEndpoint(ep);
    rows.push({ ip, port, family, seeder: peer.seeder, client, lastSeen: peer.lastSeen });
  }
  return rows;
}

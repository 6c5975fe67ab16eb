import { collectDefaultMetrics, Registry } from 'prom-client';
import type { TrackerEvents } from '../core/events.js';
import type { AnnounceEvent, Transport } from '../protocol/types.js';
import type { SwarmStore, SwarmTotals } from '../store/swarm-store.js';
import { CustomMetric, FixedHistogram, type MetricValue } from './custom-metric.js';

const TRANSPORTS: readonly Transport[] = ['http', 'udp', 'ws'];
const EVENTS: readonly AnnounceEvent[] = ['started', 'completed', 'stopped', 'update'];
const OPERATIONS = ['announce', 'scrape'] as const;
/** Request and store latencies, in ms: from a cached memory-store answer (~0.1 ms) to a Redis deadline (~1 s). */
const BOUNDS_MS = [0.1, 0.25, 0.5, 1, 2.5, 5, 10, 25, 50, 100, 250, 500, 1000, 2500];
/** Gauges that need a walk of the store are refreshed at most this often, never per scrape. */
export const STORE_GAUGES_EVERY_MS = 5000;

export interface MetricsSources {
  events: TrackerEvents;
  store: SwarmStore;
  /** UDP connect replies sent so far (undefined while UDP is off). */
  udpConnects: () => number | undefined;
  /** Open WebSocket sockets (undefined with --ws off). */
  wsSockets: () => number | undefined;
  now: () => number;
}

/**
 * The tracker's Prometheus metrics (prom-client's registry and exposition).
 * Event listeners only increment typed arrays (they run on every announce);
 * values are assembled when Prometheus scrapes. Aggregators say how the
 * primary merges workers' values under --workers: counters and histograms
 * add up, gauges read from the shared store take the largest (every worker
 * sees the same store), sockets add up, `store_up` takes the smallest.
 */
export class TrackerMetrics {
  readonly registry = new Registry();
  private readonly announces = new Float64Array(TRANSPORTS.length * EVENTS.length);
  private readonly scrapes = new Float64Array(TRANSPORTS.length);
  private readonly errors = new Map<string, number>();
  private readonly requests = new FixedHistogram(
    BOUNDS_MS,
    TRANSPORTS.flatMap((transport) => OPERATIONS.map((operation) => ({ transport, operation }))),
  );
  private readonly storeOps = new FixedHistogram(BOUNDS_MS, [{ operation: 'announce' }]);
  private totals: { at: number; value: SwarmTotals | undefined } = { at: 0, value: undefined };
  private refreshing: Promise<void> | undefined;
  private readonly unsubscribe: (() => void)[] = [];

  constructor(private readonly sources: MetricsSources) {
    const { events } = sources;
    this.unsubscribe.push(
      events.on('announce', (e) => {
        const t = TRANSPORTS.indexOf(e.transport);
        const at = t * EVENTS.length + EVENTS.indexOf(e.event);
        this.announces[at] = (this.announces[at] as number) + 1;
        if (e.ms !== undefined) this.requests.observe(t * 2, e.ms);
        if (e.storeMs !== undefined) this.storeOps.observe(0, e.storeMs);
      }),
      events.on('scrape', (e) => {
        const t = TRANSPORTS.indexOf(e.transport);
        this.scrapes[t] = (this.scrapes[t] as number) + 1;
        if (e.ms !== undefined) this.requests.observe(t * 2 + 1, e.ms);
      }),
      events.on('failure', (e) => {
        const key = `${e.transport}\n${e.code}`;
        this.errors.set(key, (this.errors.get(key) ?? 0) + 1);
      }),
    );
    collectDefaultMetrics({ register: this.registry });
    const add = (metric: CustomMetric): void => this.registry.registerMetric(metric as never);
    add(
      new CustomMetric(
        'bitstorm_announces_total',
        'Announces answered, by transport and event.',
        'counter',
        'sum',
        () =>
          TRANSPORTS.flatMap((transport, t) =>
            EVENTS.map((event, e) => ({
              labels: { transport, event },
              value: this.announces[t * EVENTS.length + e] as number,
            })),
          ),
      ),
    );
    add(
      new CustomMetric('bitstorm_scrapes_total', 'Scrapes answered, by transport.', 'counter', 'sum', () =>
        TRANSPORTS.map((transport, t) => ({ labels: { transport }, value: this.scrapes[t] as number })),
      ),
    );
    add(
      new CustomMetric(
        'bitstorm_errors_total',
        'Requests refused, by transport and error code (docs/errors.md).',
        'counter',
        'sum',
        () =>
          [...this.errors].map(([key, value]) => {
            const [transport, code] = key.split('\n') as [string, string];
            return { labels: { transport, code }, value };
          }),
      ),
    );
    add(
      new CustomMetric(
        'bitstorm_request_duration_seconds',
        'Time the tracker core took for a request, store included, by transport and operation.',
        'histogram',
        'sum',
        () => this.requests.values('bitstorm_request_duration_seconds'),
      ),
    );
    add(
      new CustomMetric(
        'bitstorm_store_operation_duration_seconds',
        'Time the store took for an announce (Redis: the round trip, batching included).',
        'histogram',
        'sum',
        () => this.storeOps.values('bitstorm_store_operation_duration_seconds'),
      ),
    );
    add(
      new CustomMetric(
        'bitstorm_torrents',
        'Torrents with live peers (refreshed at most every 5 s).',
        'gauge',
        'max',
        async () => {
          const t = await this.storeTotals();
          return t ? [{ labels: {}, value: t.torrents }] : [];
        },
      ),
    );
    add(
      new CustomMetric(
        'bitstorm_peers',
        'Live peers by role (refreshed at most every 5 s). A dual-stack peer counts once.',
        'gauge',
        'max',
        async () => {
          const t = await this.storeTotals();
          return t
            ? [
                { labels: { role: 'seeder' }, value: t.seeders },
                { labels: { role: 'leecher' }, value: t.leechers },
              ]
            : [];
        },
      ),
    );
    add(
      new CustomMetric(
        'bitstorm_peer_endpoints',
        'Live peer endpoints by address family (a dual-stack peer counts in both; refreshed at most every 5 s).',
        'gauge',
        'max',
        async () => {
          const t = await this.storeTotals();
          return t
            ? [
                { labels: { family: '4' }, value: t.peers4 },
                { labels: { family: '6' }, value: t.peers6 },
              ]
            : [];
        },
      ),
    );
    add(
      new CustomMetric(
        'bitstorm_udp_connections_total',
        'UDP connect requests answered (BEP 15).',
        'counter',
        'sum',
        () => {
          const n = sources.udpConnects();
          return n === undefined ? [] : [{ labels: {}, value: n }];
        },
      ),
    );
    add(
      new CustomMetric('bitstorm_ws_sockets', 'Open WebSocket (WebTorrent) connections.', 'gauge', 'sum', () => {
        const n = sources.wsSockets();
        return n === undefined ? [] : [{ labels: {}, value: n }];
      }),
    );
    add(
      new CustomMetric('bitstorm_store_up', '1 while the store answers, 0 during an outage.', 'gauge', 'min', () => [
        { labels: { store: sources.store.kind }, value: (sources.store.health?.().up ?? true) ? 1 : 0 },
      ]),
    );
    add(
      new CustomMetric(
        'bitstorm_store_outages_total',
        'Store outages since start (each counted when it begins).',
        'counter',
        'sum',
        () => [{ labels: { store: sources.store.kind }, value: sources.store.health?.().outages ?? 0 }],
      ),
    );
  }

  /** The exposition text (Prometheus format 0.0.4). */
  text(): Promise<string> {
    return this.registry.metrics();
  }

  get contentType(): string {
    return this.registry.contentType;
  }

  close(): void {
    for (const off of this.unsubscribe.splice(0)) off();
  }

  /** The store's totals, at most STORE_GAUGES_EVERY_MS old; the last known ones while the store fails. */
  private async storeTotals(): Promise<SwarmTotals | undefined> {
    const now = this.sources.now();
    if (now - this.totals.at >= STORE_GAUGES_EVERY_MS && !this.refreshing) {
      this.refreshing = this.sources.store
        .totals()
        .then(
          (value) => {
            this.totals = { at: this.sources.now(), value };
          },
          () => {
            this.totals = { at: this.sources.now(), value: this.totals.value };
          },
        )
        .finally(() => {
          this.refreshing = undefined;
        });
    }
    await this.refreshing;
    return this.totals.value;
  }
}

export type { MetricValue };

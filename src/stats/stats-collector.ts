import type { TrackerEvents } from '../core/events.js';
import type { Transport } from '../protocol/types.js';
import type { SwarmStore, SwarmTotals } from '../store/swarm-store.js';

/**
 * This process's request counters and the history behind the stats chart.
 *
 * The event listeners only increment counters (they run on every announce).
 * A 1-second tick records the cumulative counters in a 61-slot ring, so a rate
 * over the last minute is one subtraction; a slower tick samples the store's
 * totals into a fixed-size ring for the chart (an hour at 5-second samples).
 * Rates are per process: with several workers each one counts its own requests,
 * while totals come from the shared store.
 */
export const TRANSPORTS: readonly Transport[] = ['http', 'udp', 'ws'];

export interface TransportCounters {
  announces: number;
  scrapes: number;
  failures: number;
}

export interface Rates {
  /** Seconds the rates are averaged over (up to 60; less right after start). */
  windowSeconds: number;
  announcesPerSecond: number;
  scrapesPerSecond: number;
  /** Announces per second by transport over the same window. */
  announcesPerSecondBy: Record<Transport, number>;
}

export interface History {
  intervalSeconds: number;
  /** Epoch seconds of each sample, oldest first. */
  t: number[];
  peers: number[];
  seeders: number[];
  leechers: number[];
  announcesPerSecond: number[];
}

export interface CollectorOptions {
  now: () => number;
  /** Milliseconds between chart samples. */
  sampleMs?: number;
  /** Samples kept (sampleMs * historySize is the chart's span). */
  historySize?: number;
}

const RATE_SLOTS = 61;
/** Counter fields recorded each second: announces and scrapes per transport. */
const FIELDS = TRANSPORTS.length * 2;

export class StatsCollector {
  readonly startedAt: number;
  readonly counters: Record<Transport, TransportCounters>;
  readonly sampleMs: number;
  private readonly now: () => number;
  private readonly unsubscribe: (() => void)[] = [];
  private readonly timers: NodeJS.Timeout[] = [];

  // Per-second ring of cumulative counters: slot s holds time and FIELDS values.
  private readonly rateTimes = new Float64Array(RATE_SLOTS);
  private readonly rateValues = new Float64Array(RATE_SLOTS * FIELDS);
  private rateHead = 0;
  private rateCount = 0;

  // Chart ring.
  private readonly historySize: number;
  private readonly hTime: Float64Array;
  private readonly hPeers: Float64Array;
  private readonly hSeeders: Float64Array;
  private readonly hLeechers: Float64Array;
  private readonly hRate: Float64Array;
  private hHead = 0;
  private hCount = 0;
  private lastSample: { time: number; announces: number } | undefined;
  private sampling = false;

  constructor(
    events: TrackerEvents,
    private readonly store: SwarmStore,
    options: CollectorOptions,
  ) {
    this.now = options.now;
    this.startedAt = this.now();
    this.sampleMs = options.sampleMs ?? 5000;
    this.historySize = options.historySize ?? Math.ceil(3_600_000 / this.sampleMs);
    this.hTime = new Float64Array(this.historySize);
    this.hPeers = new Float64Array(this.historySize);
    this.hSeeders = new Float64Array(this.historySize);
    this.hLeechers = new Float64Array(this.historySize);
    this.hRate = new Float64Array(this.historySize);
    const blank = (): TransportCounters => ({ announces: 0, scrapes: 0, failures: 0 });
    this.counters = { http: blank(), udp: blank(), ws: blank() };
    const c = this.counters;
    this.unsubscribe.push(
      events.on('announce', (e) => void c[e.transport].announces++),
      events.on('scrape', (e) => void c[e.transport].scrapes++),
      events.on('failure', (e) => void c[e.transport].failures++),
    );
    this.recordSecond();
  }

  /** Starts the timers (unref'd: they never keep the process alive). */
  start(): void {
    if (this.timers.length > 0) return;
    const second = setInterval(() => this.recordSecond(), 1000);
    const sample = setInterval(() => void this.sample(), this.sampleMs);
    second.unref();
    sample.unref();
    this.timers.push(second, sample);
    void this.sample();
  }

  stop(): void {
    for (const t of this.timers) clearInterval(t);
    this.timers.length = 0;
    for (const off of this.unsubscribe) off();
    this.unsubscribe.length = 0;
  }

  totalAnnounces(): number {
    let n = 0;
    for (const t of TRANSPORTS) n += this.counters[t].announces;
    return n;
  }

  /** Rates over the last minute (or since start, if sooner). */
  rates(): Rates {
    const now = this.now();
    const current = this.currentValues();
    // The oldest slot still inside the window.
    const oldest = (this.rateHead - this.rateCount + RATE_SLOTS) % RATE_SLOTS;
    const then = this.rateTimes[oldest]!;
    const seconds = Math.max((now - then) / 1000, 1);
    const by = { http: 0, udp: 0, ws: 0 } as Record<Transport, number>;
    let announces = 0;
    let scrapes = 0;
    TRANSPORTS.forEach((t, k) => {
      const a = current[k * 2]! - this.rateValues[oldest * FIELDS + k * 2]!;
      const s = current[k * 2 + 1]! - this.rateValues[oldest * FIELDS + k * 2 + 1]!;
      by[t] = a / seconds;
      announces += a;
      scrapes += s;
    });
    return {
      windowSeconds: Math.round(seconds),
      announcesPerSecond: announces / seconds,
      scrapesPerSecond: scrapes / seconds,
      announcesPerSecondBy: by,
    };
  }

  history(): History {
    const out: History = {
      intervalSeconds: this.sampleMs / 1000,
      t: [],
      peers: [],
      seeders: [],
      leechers: [],
      announcesPerSecond: [],
    };
    for (let k = this.hCount; k > 0; k--) {
      const i = (this.hHead - k + this.historySize) % this.historySize;
      out.t.push(Math.round(this.hTime[i]! / 1000));
      out.peers.push(this.hPeers[i]!);
      out.seeders.push(this.hSeeders[i]!);
      out.leechers.push(this.hLeechers[i]!);
      out.announcesPerSecond.push(Math.round(this.hRate[i]! * 100) / 100);
    }
    return out;
  }

  /** Takes one chart sample now (the timer calls this; tests may too). */
  async sample(): Promise<void> {
    if (this.sampling) return; // a slow store must not pile up samples
    this.sampling = true;
    try {
      const totals: SwarmTotals = await this.store.totals();
      const time = this.now();
      const announces = this.totalAnnounces();
      const prev = this.lastSample;
      const rate = prev && time > prev.time ? ((announces - prev.announces) * 1000) / (time - prev.time) : 0;
      this.lastSample = { time, announces };
      const i = this.hHead;
      this.hTime[i] = time;
      this.hPeers[i] = totals.peers;
      this.hSeeders[i] = totals.seeders;
      this.hLeechers[i] = totals.leechers;
      this.hRate[i] = rate;
      this.hHead = (i + 1) % this.historySize;
      this.hCount = Math.min(this.hCount + 1, this.historySize);
    } catch {
      // The store is down: leave a gap in the chart; the page reports the error from its own poll.
    } finally {
      this.sampling = false;
    }
  }

  private currentValues(): number[] {
    const out: number[] = [];
    for (const t of TRANSPORTS) out.push(this.counters[t].announces, this.counters[t].scrapes);
    return out;
  }

  private recordSecond(): void {
    const i = this.rateHead;
    this.rateTimes[i] = this.now();
    this.rateValues.set(this.currentValues(), i * FIELDS);
    this.rateHead = (i + 1) % RATE_SLOTS;
    this.rateCount = Math.min(this.rateCount + 1, RATE_SLOTS);
  }
}

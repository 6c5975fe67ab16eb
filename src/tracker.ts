import type { AddressInfo } from 'node:net';
import { DEFAULTS, type TrackerConfig, validateConfig } from './config/options.js';
import { TrackerCore } from './core/tracker.js';
import { createStore } from './store/create-store.js';
import type { SwarmStore } from './store/swarm-store.js';
import { HttpTransport } from './transport/http/http-transport.js';

export interface TrackerOptions extends Partial<TrackerConfig> {
  /** Use this store instead of the one the configuration names (tests, embedding). */
  store?: SwarmStore;
  /** Clock in epoch ms (tests drive expiry with it). */
  now?: () => number;
}

export interface ListenInfo {
  http: AddressInfo;
  /** Announce URLs a user can put into a torrent. */
  announceUrls: string[];
}

/** A tracker instance: the core, its store and its transports, started with listen(). */
export class Tracker {
  readonly config: Readonly<TrackerConfig>;
  readonly core: TrackerCore;
  readonly store: SwarmStore;
  readonly http: HttpTransport;
  private listenInfo: ListenInfo | undefined;

  constructor(options: TrackerOptions = {}) {
    const { store, now, ...rest } = options;
    this.config = validateConfig({ ...DEFAULTS, ...rest } as TrackerConfig);
    const clock = now ?? Date.now;
    this.store = store ?? createStore(this.config, clock);
    this.core = new TrackerCore(this.config, this.store);
    this.http = new HttpTransport(this.core, this.config);
  }

  /** Binds the configured host and port. `::` falls back to 0.0.0.0 where IPv6 is unavailable. */
  async listen(): Promise<ListenInfo> {
    let http: AddressInfo;
    try {
      http = await this.http.listen(this.config.host, this.config.port);
    } catch (err) {
      const code = (err as NodeJS.ErrnoException).code;
      if (this.config.host !== '::' || (code !== 'EAFNOSUPPORT' && code !== 'EADDRNOTAVAIL')) throw err;
      http = await this.http.listen('0.0.0.0', this.config.port);
    }
    this.listenInfo = { http, announceUrls: announceUrls(this.config, http) };
    return this.listenInfo;
  }

  get address(): ListenInfo | undefined {
    return this.listenInfo;
  }

  /** Stops accepting, finishes in-flight requests, closes the store. */
  async close(): Promise<void> {
    await this.http.close();
    await this.store.close();
  }
}

export function createTracker(options: TrackerOptions = {}): Tracker {
  return new Tracker(options);
}

function announceUrls(config: Readonly<TrackerConfig>, http: AddressInfo): string[] {
  if (config.announceUrl) return [config.announceUrl];
  const port = http.port;
  const host = http.address;
  if (host === '::' || host === '0.0.0.0') {
    const urls = [`http://127.0.0.1:${port}/announce`];
    if (host === '::') urls.push(`http://[::1]:${port}/announce`);
    return urls;
  }
  return [http.family === 'IPv6' ? `http://[${host}]:${port}/announce` : `http://${host}:${port}/announce`];
}

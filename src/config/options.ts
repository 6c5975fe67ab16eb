import { LOG_LEVELS, type LogFormat, type LogLevel } from '../logging/logger.js';

/**
 * One schema for every setting: its default, its validation and its help text.
 * Sources, lowest precedence first: defaults < environment (BITSTORM_<NAME>) <
 * command-line flags. The result is validated once at start and frozen.
 */
export interface TrackerConfig {
  host: string;
  port: number;
  /** Seconds. */
  interval: number;
  minInterval: number;
  peerTtl: number;
  defaultNumwant: number;
  maxNumwant: number;
  trustProxy: readonly string[];
  allowIpParam: boolean;
  fullScrape: boolean;
  maxScrapeHashes: number;
  /** A file of info hashes: only these are tracked ('' = none). */
  allowList: string;
  /** A file of info hashes: these are refused ('' = none). */
  denyList: string;
  /** Peer-id prefixes: only these clients may announce (empty = all). */
  clientAllow: readonly string[];
  /** Peer-id prefixes refused. */
  clientDeny: readonly string[];
  /** A private tracker: every announce and scrape carries a member's passkey. */
  private: boolean;
  /** The members' passkeys: a file, or 'redis' for a Redis set shared by every node ('' = none). */
  keys: string;
  /** Milliseconds a client may take to send a whole request. */
  requestTimeout: number;
  /**
   * Answer plain announce/scrape requests without node:http (see
   * docs/architecture.md): true on the Node majors it is tested on, 'force'
   * on any major whose internals fit, false never.
   */
  httpFastPath: boolean | 'force';
  /** PEM certificate (chain) file: serve HTTPS and WSS on the HTTP port ('' = plain HTTP). Needs tlsKey. */
  tlsCert: string;
  /** PEM private key file of tlsCert. */
  tlsKey: string;
  announceUrl: string;
  udpPort: number | 'off' | 'same';
  udpSecret: string;
  /** Serve the WebSocket (WebTorrent) tracker on the HTTP port. */
  ws: boolean;
  /** Seconds: the `interval` of WebSocket announce replies. */
  wsInterval: number;
  /** Seconds a WebSocket peer is kept after its last announce (a socket that closes removes its peers at once). */
  wsPeerTtl: number;
  /** The memory store's swarms are kept in this file across restarts ('' = none). */
  stateFile: string;
  /** Seconds between saves of the state file (it is also saved on shutdown). */
  stateInterval: number;
  /** Seconds a WebSocket may stay open without announcing before it is closed. */
  wsIdleTimeout: number | 'off';
  /** Open WebSockets per source (an IPv4 address or an IPv6 /64). */
  wsMaxSocketsPerIp: number | 'off';
  /** Announces and scrapes a second per source (IPv4 address, IPv6 /64), over every transport together. */
  rateLimit: number | 'off';
  /** Announces and scrapes a source may make at once before --rate-limit holds it back. */
  rateBurst: number;
  /** Invalid UDP connection ids a source may send a minute before it is ignored. */
  udpBadIdLimit: number | 'off';
  /** Seconds such a source is ignored. */
  udpBadIdIgnore: number;
  /** Open TCP connections on the HTTP port per process, WebSockets included. */
  httpMaxConnections: number | 'off';
  /** Open HTTP connections per source, WebSockets not included; trusted proxies are not limited. */
  httpMaxConnectionsPerIp: number | 'off';
  redisUrl: string;
  redisCluster: readonly string[];
  redisPrefix: string;
  redisTimeout: number;
  workers: number;
  stats: boolean;
  statsToken: string;
  statsPeers: boolean;
  /** Rebuild the stats page's torrent table once it is this many seconds old, even while nobody looks, or off. */
  statsWarm: number | 'off';
  /** Serve Prometheus metrics (`/metrics`). */
  metrics: boolean;
  /** Serve /metrics on this port instead of the HTTP port (0: on the HTTP port). */
  metricsPort: number;
  /** Least severe level logged (logging/logger.ts). */
  logLevel: LogLevel;
  /** JSON lines, or one readable line each; `auto` is pretty on a terminal, JSON otherwise. */
  logFormat: LogFormat;
  /** The old flag: the same as logLevel 'warn' (a stricter 'error' still applies; effectiveLogLevel). */
  quiet: boolean;
}

type Kind = 'int' | 'int-or-off' | 'string' | 'bool' | 'list' | 'udp-port' | 'on-off' | 'on-off-force' | 'choice';

export interface OptionSpec {
  key: keyof TrackerConfig;
  kind: Kind;
  help: string;
  min?: number;
  max?: number;
  /** Shown in --help in place of the raw default. */
  defaultText?: string;
  /** The values a 'choice' option takes. */
  choices?: readonly string[];
}

export const DEFAULTS: Readonly<TrackerConfig> = Object.freeze({
  host: '::',
  port: 6969,
  interval: 1800,
  minInterval: 300,
  peerTtl: 1860,
  defaultNumwant: 50,
  maxNumwant: 200,
  trustProxy: [],
  allowIpParam: false,
  fullScrape: false,
  maxScrapeHashes: 100,
  allowList: '',
  denyList: '',
  clientAllow: [],
  private: false,
  keys: '',
  clientDeny: [],
  requestTimeout: 10_000,
  httpFastPath: true,
  tlsCert: '',
  tlsKey: '',
  announceUrl: '',
  udpPort: 'same',
  udpSecret: '',
  ws: true,
  wsInterval: 120,
  wsPeerTtl: 300,
  stateFile: '',
  stateInterval: 300,
  wsIdleTimeout: 600,
  wsMaxSocketsPerIp: 100,
  rateLimit: 20,
  rateBurst: 1000,
  udpBadIdLimit: 60,
  udpBadIdIgnore: 60,
  httpMaxConnections: 50_000,
  httpMaxConnectionsPerIp: 100,
  redisUrl: '',
  redisCluster: [],
  redisPrefix: 'bitstorm:',
  redisTimeout: 800,
  workers: 1,
  stats: true,
  statsToken: '',
  statsPeers: false,
  statsWarm: 'off',
  metrics: true,
  metricsPort: 0,
  logLevel: 'info',
  logFormat: 'auto',
  quiet: false,
});

export const OPTIONS: readonly OptionSpec[] = [
  { key: 'host', kind: 'string', help: 'address to listen on (:: is IPv4 and IPv6 on one socket)' },
  { key: 'port', kind: 'int', min: 0, max: 65535, help: 'HTTP port; 0 picks a free port' },
  { key: 'interval', kind: 'int', min: 1, max: 86400, help: 'seconds clients should wait between announces' },
  { key: 'minInterval', kind: 'int', min: 1, max: 86400, help: 'seconds clients must wait at least' },
  { key: 'peerTtl', kind: 'int', min: 1, max: 86400 * 7, help: 'seconds a peer is kept after its last announce' },
  { key: 'defaultNumwant', kind: 'int', min: 0, max: 10_000, help: 'peers returned when the client does not ask' },
  { key: 'maxNumwant', kind: 'int', min: 0, max: 10_000, help: 'most peers returned in one reply' },
  {
    key: 'trustProxy',
    kind: 'list',
    help: 'comma-separated addresses/CIDRs of reverse proxies whose X-Forwarded-For / X-Real-IP is believed',
    defaultText: 'none',
  },
  { key: 'allowIpParam', kind: 'bool', help: 'honour the ip=, ipv4= and ipv6= announce parameters (spoofable)' },
  { key: 'fullScrape', kind: 'bool', help: 'answer a scrape without info_hash with every torrent' },
  { key: 'maxScrapeHashes', kind: 'int', min: 1, max: 10_000, help: 'most info_hashes in one scrape' },
  {
    key: 'allowList',
    kind: 'string',
    help: 'file of info hashes (hex, base32 or magnet links, one per line): only these are tracked; re-read on change and SIGHUP; "redis" for the Redis set <prefix>allow-list',
    defaultText: 'none',
  },
  {
    key: 'denyList',
    kind: 'string',
    help: 'file of info hashes that are refused; re-read on change and SIGHUP; "redis" for the Redis set <prefix>deny-list',
    defaultText: 'none',
  },
  {
    key: 'clientAllow',
    kind: 'list',
    help: 'comma-separated peer-id prefixes (e.g. -qB,-TR): only these clients may announce',
    defaultText: 'all',
  },
  {
    key: 'clientDeny',
    kind: 'list',
    help: 'comma-separated peer-id prefixes whose clients are refused',
    defaultText: 'none',
  },
  {
    key: 'private',
    kind: 'bool',
    help: 'private tracker: announces and scrapes need a passkey in the URL (/announce/<passkey>); needs --keys and --stats-token',
  },
  {
    key: 'keys',
    kind: 'string',
    help: 'the passkeys of --private: a file (one per line; re-read on change and SIGHUP), or "redis" for the Redis set <prefix>passkeys',
    defaultText: 'none',
  },
  {
    key: 'rateLimit',
    kind: 'int-or-off',
    min: 1,
    max: 1_000_000,
    help: 'announces and scrapes a second per IPv4 address or IPv6 /64, over HTTP, UDP and WebSocket together, or off',
  },
  {
    key: 'rateBurst',
    kind: 'int',
    min: 1,
    max: 1_000_000,
    help: 'announces and scrapes a source may make at once before --rate-limit holds it back',
  },
  {
    key: 'requestTimeout',
    kind: 'int',
    min: 100,
    max: 600_000,
    help: 'milliseconds a client may take to send a request',
  },
  {
    key: 'httpFastPath',
    kind: 'on-off-force',
    help: 'answer plain HTTP announces and scrapes on raw sockets, bypassing node:http, on the Node majors it is tested on ("off": all through node:http; "force": also on untested majors)',
  },
  {
    key: 'tlsCert',
    kind: 'string',
    help: 'PEM certificate (chain) file: serve HTTPS and WSS on the HTTP port with node:https (turns the HTTP fast path off; UDP stays plain); re-read with --tls-key on SIGHUP; needs --tls-key',
    defaultText: 'none (plain HTTP)',
  },
  {
    key: 'tlsKey',
    kind: 'string',
    help: 'PEM private key file of --tls-cert',
    defaultText: 'none',
  },
  {
    key: 'httpMaxConnections',
    kind: 'int-or-off',
    min: 1,
    max: 10_000_000,
    help: 'open TCP connections on the HTTP port, WebSockets included (per process), or off',
  },
  {
    key: 'httpMaxConnectionsPerIp',
    kind: 'int-or-off',
    min: 1,
    max: 10_000_000,
    help: 'open HTTP connections (WebSockets not included) per IPv4 address or IPv6 /64; trusted proxies are not limited; or off',
  },
  {
    key: 'announceUrl',
    kind: 'string',
    help: 'public announce URL to print and to put in magnet links',
    defaultText: 'derived from host and port',
  },
  {
    key: 'udpPort',
    kind: 'udp-port',
    help: 'UDP tracker port; "same" uses the HTTP port, "off" disables UDP',
  },
  {
    key: 'udpSecret',
    kind: 'string',
    help: 'secret for UDP connection ids (shared through Redis when empty)',
    defaultText: 'random',
  },
  {
    key: 'udpBadIdLimit',
    kind: 'int-or-off',
    min: 1,
    max: 1_000_000,
    help: 'invalid UDP connection ids a source may send a minute before its packets with invalid ids go unanswered, or off',
  },
  {
    key: 'udpBadIdIgnore',
    kind: 'int',
    min: 1,
    max: 86400,
    help: 'seconds a source past --udp-bad-id-limit gets no answer to its packets with invalid connection ids',
  },
  {
    key: 'ws',
    kind: 'on-off',
    help: 'serve the WebSocket (WebTorrent) tracker on the HTTP port (ws://host:port/announce)',
  },
  {
    key: 'wsInterval',
    kind: 'int',
    min: 10,
    max: 86400,
    help: 'seconds WebSocket clients should wait between announces (each brings new offers)',
  },
  {
    key: 'wsPeerTtl',
    kind: 'int',
    min: 10,
    max: 86400,
    help: 'seconds a WebSocket peer is kept after its last announce if its socket dies silently',
  },
  {
    key: 'stateFile',
    kind: 'string',
    help: 'memory store: keep the swarms in this file across restarts (loaded at start, saved on shutdown and every --state-interval)',
    defaultText: 'none',
  },
  {
    key: 'stateInterval',
    kind: 'int',
    min: 1,
    max: 86400,
    help: 'seconds between saves of --state-file (a crash loses at most this much)',
  },
  {
    key: 'wsIdleTimeout',
    kind: 'int-or-off',
    min: 60,
    max: 86400,
    help: 'seconds a WebSocket may stay open without announcing before it is closed (at least twice --ws-interval), or off',
  },
  {
    key: 'wsMaxSocketsPerIp',
    kind: 'int-or-off',
    min: 1,
    max: 1_000_000,
    help: 'open WebSockets per IPv4 address or IPv6 /64 (behind a proxy: per X-Forwarded-For address, with --trust-proxy), or off',
  },
  {
    key: 'redisUrl',
    kind: 'string',
    help: 'redis://[user:pass@]host:port[/db] to keep swarms in Redis',
    defaultText: 'memory store',
  },
  { key: 'redisCluster', kind: 'list', help: 'comma-separated Redis Cluster seed URLs', defaultText: 'none' },
  { key: 'redisPrefix', kind: 'string', help: 'prefix of every Redis key' },
  {
    key: 'redisTimeout',
    kind: 'int',
    min: 50,
    max: 60_000,
    help: 'milliseconds a Redis command may take before the announce is answered "retry" (also while Redis hangs)',
  },
  {
    key: 'workers',
    kind: 'int',
    min: 1,
    max: 256,
    help: 'worker processes sharing the HTTP port; worker 0 answers UDP (needs Redis when > 1)',
  },
  { key: 'stats', kind: 'on-off', help: 'serve the statistics page and /stats.json' },
  {
    key: 'statsToken',
    kind: 'string',
    help: 'require ?token= or a Bearer token for the statistics page',
    defaultText: 'none',
  },
  { key: 'statsPeers', kind: 'bool', help: 'show peer addresses in the per-torrent statistics view' },
  {
    key: 'statsWarm',
    kind: 'int-or-off',
    min: 1,
    max: 86_400,
    help: 'rebuild the statistics torrent table in the background once it is this many seconds old, even while nobody looks (a first visit to a big tracker gets it at once instead of waiting for a walk of the store), or off',
  },
  { key: 'metrics', kind: 'on-off', help: 'serve Prometheus metrics at /metrics' },
  {
    key: 'metricsPort',
    kind: 'int',
    min: 0,
    max: 65535,
    help: 'serve /metrics on this port (on --host) instead of the HTTP port, so it need not be public',
    defaultText: 'the HTTP port',
  },
  {
    key: 'logLevel',
    kind: 'choice',
    choices: LOG_LEVELS,
    help: 'least severe log lines written: error, warn, info (start-up, reloads, outages; nothing per request) or debug',
  },
  {
    key: 'logFormat',
    kind: 'choice',
    choices: ['auto', 'json', 'pretty'],
    help: 'json: one JSON object a line (pino); pretty: "HH:MM:SS LEVEL message key=value"; auto: pretty when standard output is a terminal, json otherwise',
  },
  { key: 'quiet', kind: 'bool', help: 'the same as --log-level warn (kept from before --log-level)' },
];

export class ConfigError extends Error {}

/** --log-level with --quiet applied: quiet is warn, unless --log-level asks for less (error). */
export function effectiveLogLevel(config: Readonly<Pick<TrackerConfig, 'logLevel' | 'quiet'>>): LogLevel {
  return config.quiet && config.logLevel !== 'error' ? 'warn' : config.logLevel;
}

/** `minInterval` → `min-interval` */
export function flagName(key: string): string {
  return key.replace(/[A-Z]/g, (c) => `-${c.toLowerCase()}`);
}

/** `minInterval` → `BITSTORM_MIN_INTERVAL` */
export function envName(key: string): string {
  return `BITSTORM_${flagName(key).replace(/-/g, '_').toUpperCase()}`;
}

export function parseValue(spec: OptionSpec, raw: string, source: string): TrackerConfig[keyof TrackerConfig] {
  switch (spec.kind) {
    case 'int':
    case 'int-or-off': {
      const orOff = spec.kind === 'int-or-off';
      if (orOff && /^off$/i.test(raw)) return 'off';
      if (!/^-?[0-9]+$/.test(raw)) {
        throw new ConfigError(`${source}: expected a whole number${orOff ? ' or off' : ''}, got "${raw}"`);
      }
      const n = Number(raw);
      if ((spec.min !== undefined && n < spec.min) || (spec.max !== undefined && n > spec.max)) {
        throw new ConfigError(`${source}: must be between ${spec.min} and ${spec.max}, got ${n}`);
      }
      return n;
    }
    case 'bool':
      if (/^(1|true|yes|on)$/i.test(raw)) return true;
      if (/^(0|false|no|off)$/i.test(raw)) return false;
      throw new ConfigError(`${source}: expected true or false, got "${raw}"`);
    case 'on-off':
    case 'on-off-force':
      if (/^(on|true|1)$/i.test(raw)) return true;
      if (/^(off|false|0)$/i.test(raw)) return false;
      if (spec.kind === 'on-off-force' && /^force$/i.test(raw)) return 'force';
      throw new ConfigError(
        `${source}: expected on${spec.kind === 'on-off-force' ? ', off or force' : ' or off'}, got "${raw}"`,
      );
    case 'list':
      return raw
        .split(',')
        .map((s) => s.trim())
        .filter((s) => s.length > 0);
    case 'choice':
      if (!spec.choices?.includes(raw)) {
        throw new ConfigError(`${source}: expected ${spec.choices?.join(', ')}, got "${raw}"`);
      }
      return raw;
    case 'udp-port': {
      if (raw === 'off' || raw === 'same') return raw;
      if (!/^[0-9]+$/.test(raw) || Number(raw) > 65535) {
        throw new ConfigError(`${source}: expected a port, "same" or "off", got "${raw}"`);
      }
      return Number(raw);
    }
    default:
      return raw;
  }
}

/** Cross-field checks; returns a frozen copy. Also used for library callers' options. */
export function validateConfig(input: TrackerConfig): Readonly<TrackerConfig> {
  // Library callers pass values, not text: each is checked against its schema entry as a flag would be.
  for (const spec of OPTIONS) checkValue(spec, input[spec.key]);
  const c = { ...input, trustProxy: [...input.trustProxy], redisCluster: [...input.redisCluster] };
  if (c.minInterval > c.interval) throw new ConfigError('--min-interval must not exceed --interval');
  if (c.peerTtl < c.interval) throw new ConfigError('--peer-ttl must be at least --interval, or live peers expire');
  if (c.allowList && c.denyList) throw new ConfigError('--allow-list and --deny-list cannot be used together');
  if (c.private && !c.keys) throw new ConfigError('--private needs --keys (a file of passkeys, or redis)');
  if (c.keys && !c.private) throw new ConfigError('--keys is for a private tracker: add --private');
  if (c.private && !c.statsToken) {
    throw new ConfigError(
      '--private needs --stats-token: it guards the accounts (/accounts.json) and the stats, which list info hashes',
    );
  }
  const redis = c.redisUrl !== '' || c.redisCluster.length > 0;
  for (const [flag, value] of [
    ['--keys', c.keys],
    ['--allow-list', c.allowList],
    ['--deny-list', c.denyList],
  ] as const) {
    if (value === 'redis' && !redis) throw new ConfigError(`${flag} redis needs --redis-url or --redis-cluster`);
  }
  if (c.wsPeerTtl < c.wsInterval) {
    throw new ConfigError('--ws-peer-ttl must be at least --ws-interval, or live WebSocket peers expire');
  }
  if (c.wsIdleTimeout !== 'off' && c.wsIdleTimeout < 2 * c.wsInterval) {
    throw new ConfigError(
      '--ws-idle-timeout must be at least twice --ws-interval, or clients that announce are closed',
    );
  }
  if (c.redisUrl && !/^rediss?:\/\//.test(c.redisUrl)) {
    throw new ConfigError('--redis-url must start with redis:// or rediss://');
  }
  for (const url of c.redisCluster) {
    if (!/^rediss?:\/\//.test(url)) throw new ConfigError(`--redis-cluster: "${url}" must start with redis://`);
  }
  if (c.redisUrl && c.redisCluster.length > 0) throw new ConfigError('use either --redis-url or --redis-cluster');
  if (c.stateFile && redis) {
    throw new ConfigError(
      '--state-file is for the memory store; with --redis-url or --redis-cluster, Redis keeps the swarms',
    );
  }
  if (c.workers > 1 && !c.redisUrl && c.redisCluster.length === 0) {
    throw new ConfigError('--workers > 1 needs --redis-url or --redis-cluster: workers share swarms through Redis');
  }
  for (const entry of c.trustProxy) {
    if (!isAddressOrCidr(entry)) throw new ConfigError(`--trust-proxy: "${entry}" is not an address or CIDR`);
  }
  // One without the other would serve plain HTTP where the operator asked for TLS: refuse it.
  if (c.tlsCert && !c.tlsKey)
    throw new ConfigError('--tls-cert needs --tls-key (the PEM private key of the certificate)');
  if (c.tlsKey && !c.tlsCert) throw new ConfigError('--tls-key needs --tls-cert (the PEM certificate of the key)');
  if (c.announceUrl && !/^(https?|udp):\/\//.test(c.announceUrl)) {
    throw new ConfigError('--announce-url must be an http://, https:// or udp:// URL');
  }
  return Object.freeze(c);
}

/** A value of the right kind and range for its option (what parseValue guarantees for text). */
function checkValue(spec: OptionSpec, value: unknown): void {
  const name = `${flagName(spec.key)} (${spec.key})`;
  const fail = (expected: string): never => {
    throw new ConfigError(`${name}: expected ${expected}, got ${JSON.stringify(value)}`);
  };
  switch (spec.kind) {
    case 'int-or-off':
      if (value === 'off') return;
      if (typeof value !== 'number' || !Number.isInteger(value)) fail("a whole number or 'off'");
      if (
        (spec.min !== undefined && (value as number) < spec.min) ||
        (spec.max !== undefined && (value as number) > spec.max)
      ) {
        fail(`a number between ${spec.min} and ${spec.max}, or 'off'`);
      }
      return;
    case 'int':
      if (typeof value !== 'number' || !Number.isInteger(value)) fail('a whole number');
      if (
        (spec.min !== undefined && (value as number) < spec.min) ||
        (spec.max !== undefined && (value as number) > spec.max)
      ) {
        fail(`a number between ${spec.min} and ${spec.max}`);
      }
      return;
    case 'bool':
    case 'on-off':
      if (typeof value !== 'boolean') fail('true or false');
      return;
    case 'on-off-force':
      if (typeof value !== 'boolean' && value !== 'force') fail("true, false or 'force'");
      return;
    case 'list':
      if (!Array.isArray(value) || !value.every((v) => typeof v === 'string')) fail('a list of strings');
      return;
    case 'choice':
      if (typeof value !== 'string' || !spec.choices?.includes(value)) fail(spec.choices?.join(', ') ?? '');
      return;
    case 'udp-port':
      if (
        value !== 'off' &&
        value !== 'same' &&
        !(Number.isInteger(value) && (value as number) >= 0 && (value as number) <= 65535)
      ) {
        fail("a port, 'same' or 'off'");
      }
      return;
    default:
      if (typeof value !== 'string') fail('a string');
  }
}

function isAddressOrCidr(text: string): boolean {
  const [ip, bits, extra] = text.split('/');
  if (extra !== undefined || ip === undefined) return false;
  const v4 = /^\d{1,3}(\.\d{1,3}){3}$/.test(ip) && ip.split('.').every((o) => Number(o) <= 255);
  const v6 = !v4 && ip.includes(':') && /^[0-9a-fA-F:.]+$/.test(ip);
  if (!v4 && !v6) return false;
  if (bits === undefined) return true;
  return /^\d+$/.test(bits) && Number(bits) <= (v4 ? 32 : 128);
}

export function helpText(): string {
  const lines = [
    'Usage: bitstorm [options]',
    '       bitstorm print-config [options]   print the effective configuration as a TOML file for --config',
    '',
    'Every option can also be set as BITSTORM_<OPTION> in the environment, or in a',
    'TOML file (--config FILE, or BITSTORM_CONFIG) keyed by the flag names;',
    'defaults < file < environment < flags.',
    '',
    `  ${'--config <file>'.padEnd(30)} read options from a TOML file (bitstorm print-config writes one)`,
  ];
  for (const spec of OPTIONS) {
    const flag = `--${flagName(spec.key)}${spec.kind === 'bool' ? '' : ' <value>'}`;
    const dflt = spec.defaultText ?? String(DEFAULTS[spec.key]);
    const value = DEFAULTS[spec.key];
    const onOff = spec.kind === 'on-off' || spec.kind === 'on-off-force';
    const shownDefault = onOff ? (value === 'force' ? 'force' : value ? 'on' : 'off') : dflt;
    lines.push(`  ${flag.padEnd(30)} ${spec.help} (default: ${shownDefault}; ${envName(spec.key)})`);
  }
  lines.push(`  ${'--help'.padEnd(30)} show this help`);
  return lines.join('\n');
}

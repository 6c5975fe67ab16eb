import type { TrackerConfig } from '../config/options.js';
import {
  asStoreError,
  PolicyError,
  ProtocolError,
  RATE_LIMITED,
  rethrowAsStoreError,
  TrackerError,
} from '../errors.js';
import { type ParsedAddress, packEndpoint, parseIp } from '../protocol/compact.js';
import type { AnnounceParams, AnnounceReply, RequestContext, ScrapeEntry, Transport } from '../protocol/types.js';
import type { Account, AccountAnnounce } from '../store/account-store.js';
import type { StoreAnnounce, SwarmStore } from '../store/swarm-store.js';
import { ClientRules } from './client-rules.js';
import { TrackerEvents } from './events.js';
import { Passkeys } from './passkeys.js';
import { RateLimiter } from './rate-limiter.js';
import { SharedSetCache } from './shared-set-cache.js';
import { TorrentAccess } from './torrent-access.js';

/** The most torrents a full scrape returns (it is off by default). */
const FULL_SCRAPE_LIMIT = 100_000;

/**
 * Announce and scrape policy, independent of any transport: numwant defaults
 * and caps, which addresses to believe, intervals, key checks. Transports parse
 * bytes into AnnounceParams, call the core, and encode what it returns.
 */
export class TrackerCore {
  readonly events = new TrackerEvents();
  /** Which torrents are served (--allow-list / --deny-list); tracker.ts keeps its list current. */
  readonly access: TorrentAccess;
  /** Which clients may announce (--client-allow / --client-deny). */
  readonly clients: ClientRules;
  /** Members of a private tracker (--private, --keys); tracker.ts keeps a keys file current. */
  readonly passkeys: Passkeys;
  /** Per-source budgets (--rate-limit, --udp-bad-id-limit); undefined when both are off. */
  readonly limiter: RateLimiter | undefined;

  constructor(
    readonly config: Readonly<TrackerConfig>,
    /** Private: transports reach the store only through the core's operations. */
    private readonly store: SwarmStore,
    /** Clock in ms: the shared-set caches, the rate limits (tests inject one). */
    now: () => number = Date.now,
  ) {
    const stored = (name: string): SharedSetCache => {
      if (!store.sharedSet) throw new Error(`this store cannot keep the ${name} (use the Redis store)`);
      return new SharedSetCache(store.sharedSet(name), now);
    };
    const list = config.allowList || config.denyList;
    this.access = new TorrentAccess(
      config.allowList ? 'allow' : config.denyList ? 'deny' : 'off',
      list === 'redis' ? stored(config.allowList ? 'allow-list' : 'deny-list') : undefined,
    );
    this.clients = new ClientRules(config.clientAllow, config.clientDeny);
    this.passkeys = new Passkeys(
      !config.private ? 'off' : config.keys === 'redis' ? 'store' : 'file',
      config.private && config.keys === 'redis' ? stored('passkeys') : undefined,
    );
    if (config.rateLimit !== 'off' || config.udpBadIdLimit !== 'off') {
      this.limiter = new RateLimiter({
        rate: config.rateLimit === 'off' ? 0 : config.rateLimit,
        burst: config.rateBurst,
        badIdLimit: config.udpBadIdLimit === 'off' ? 0 : config.udpBadIdLimit,
        badIdIgnoreMs: config.udpBadIdIgnore * 1000,
        now,
      });
    }
  }

  /**
   * A private tracker's accounting of one announce (any transport): the
   * passkey's uploaded/downloaded deltas and completions (store/account-store.ts).
   * Nothing on a public tracker. `announce` is the request's AnnounceParams as
   * they are (no copy per announce).
   */
  account(passkey: string | undefined, announce: AccountAnnounce): void | Promise<void> {
    if (!this.passkeys.required || passkey === undefined) return;
    try {
      // Synchronous on the memory store: no promise, no allocation per announce.
      const recorded = this.store.accounts.record(passkey, announce);
      if (recorded) return recorded.catch(rethrowAsStoreError);
    } catch (err) {
      throw asStoreError(err);
    }
  }

  /** The accounts of the given passkeys (the operator's accounts endpoint). */
  async accounts(passkeys: readonly string[]): Promise<Account[]> {
    try {
      return await this.store.accounts.read(passkeys);
    } catch (err) {
      throw asStoreError(err);
    }
  }

  /**
   * Charges one announce or scrape (any request a transport will answer) to
   * its source, the address the transport resolved (HTTP: after
   * --trust-proxy; UDP: only once the connection id proved it). False: the
   * source is past --rate-limit; the transport answers RATE_LIMITED (a
   * `failure reason` with `retry in`) or, over UDP, drops the packet. The one
   * budget for every transport. Announcing before `min interval` is not
   * refused: it costs one request like any other (docs/access.md).
   */
  admit(address: ParsedAddress, transport: Transport): boolean {
    if (this.limiter === undefined || this.limiter.take(address)) return true;
    this.reportFailure(transport, RATE_LIMITED);
    return false;
  }

  /**
   * A UDP packet from `address` carried a connection id we did not issue.
   * False: the source sent too many (--udp-bad-id-limit) and is ignored for
   * now; the transport drops the packet unanswered.
   */
  admitBadConnectionId(address: ParsedAddress): boolean {
    return this.limiter === undefined || this.limiter.takeBadId(address);
  }

  /**
   * Refuses a torrent the access list does not allow, or a client the client
   * rules do not: the one check for every transport (the WebSocket core calls
   * it too) and every store.
   */
  checkAccess(infoHash: Buffer, peerId: Buffer): void | Promise<void> {
    if (!this.clients.allows(peerId)) {
      throw new PolicyError('client_not_allowed', 'client not allowed on this tracker');
    }
    const allowed = this.access.allows(infoHash);
    // Synchronous unless the list is kept in the store and this torrent was not asked about lately.
    if (typeof allowed !== 'boolean') return allowed.then(refuseUnless);
    refuseUnless(allowed);
  }

  async announce(params: AnnounceParams, ctx: RequestContext): Promise<AnnounceReply> {
    const started = performance.now();
    const timing = { storeMs: 0 };
    try {
      const reply = await this.doAnnounce(params, ctx, timing);
      this.events.emit('announce', {
        transport: ctx.transport,
        event: params.event,
        family: ctx.address.family,
        ms: performance.now() - started,
        storeMs: timing.storeMs,
      });
      return reply;
    } catch (err) {
      this.reportFailure(ctx.transport, err);
      throw err;
    }
  }

  private async doAnnounce(
    params: AnnounceParams,
    ctx: RequestContext,
    timing: { storeMs: number },
  ): Promise<AnnounceReply> {
    const { config } = this;
    // First, so that a stranger learns nothing of which torrents or clients are allowed.
    if (this.passkeys.required) {
      const verified = this.passkeys.verify(ctx.passkey);
      if (verified) await verified;
    }
    const access = this.checkAccess(params.infoHash, params.peerId);
    if (access) await access;
    // --max-numwant caps the default too, so lowering the cap alone is enough.
    const asked = params.numWant === undefined || params.numWant < 0 ? config.defaultNumwant : params.numWant;
    const numWant = Math.min(asked, config.maxNumwant, ctx.maxPeers ?? config.maxNumwant);

    let ipv4: Buffer | null = null;
    let ipv6: Buffer | null = null;
    const set = (address: ParsedAddress, port: number): void => {
      if (address.family === 4) ipv4 = packEndpoint(address, port);
      else ipv6 = packEndpoint(address, port);
    };

    // Threat model: ip=/ipv4=/ipv6= let anyone point a swarm at a third party
    // (traffic amplification). By default only the transport's source address is
    // believed; the operator may opt in, e.g. on a private network.
    let source = ctx.address;
    if (config.allowIpParam && params.ip) {
      const claimed = parseIp(params.ip);
      if (!claimed || !isUsable(claimed)) throw new ProtocolError('invalid_ip', `invalid ip "${params.ip}"`);
      source = claimed;
    }
    set(source, params.port);
    if (config.allowIpParam) {
      for (const [text, family] of [
        [params.ipv4, 4],
        [params.ipv6, 6],
      ] as const) {
        if (!text) continue;
        const parsed = parseHostPort(text, params.port);
        if (!parsed || parsed.address.family !== family || !isUsable(parsed.address)) {
          throw new ProtocolError('invalid_ip', `invalid ipv${family} "${text}"`);
        }
        set(parsed.address, parsed.port);
      }
    }

    const wantBoth = ctx.families === 'both';
    const request: StoreAnnounce = {
      infoHash: params.infoHash,
      peerId: params.peerId,
      event: params.event,
      seeder: params.left === 0,
      ipv4,
      ipv6,
      key: params.key,
      numWant,
      want4: wantBoth || ctx.address.family === 4,
      want6: wantBoth || ctx.address.family === 6,
      withPeerIds: ctx.withPeerIds,
    };
    let result: Awaited<ReturnType<SwarmStore['announce']>>;
    const storeStarted = performance.now();
    try {
      // A private tracker's accounting runs beside the announce, which waits for both.
      const accounted = this.account(ctx.passkey, params);
      result = accounted
        ? (await Promise.all([this.store.announce(request), accounted]))[0]
        : await this.store.announce(request);
    } catch (err) {
      throw asStoreError(err);
    } finally {
      timing.storeMs = performance.now() - storeStarted;
    }
    if (result.status === 'key-mismatch') {
      throw new PolicyError('key_mismatch', 'this peer_id is registered from another address with another key');
    }
    return {
      interval: config.interval,
      minInterval: config.minInterval,
      complete: result.complete,
      incomplete: result.incomplete,
      downloaded: result.downloaded,
      peers4: result.peers4,
      peers6: result.peers6,
      peerIds4: result.peerIds4,
      peerIds6: result.peerIds6,
    };
  }

  /** Counts for the given hashes; with none, a full scrape if the operator enabled it. */
  async scrape(infoHashes: readonly Buffer[], transport: Transport, passkey?: string): Promise<ScrapeEntry[]> {
    const started = performance.now();
    try {
      if (this.passkeys.required) await this.passkeys.verify(passkey);
      const entries = await this.doScrape(infoHashes);
      this.events.emit('scrape', { transport, hashes: entries.length, ms: performance.now() - started });
      return entries;
    } catch (err) {
      this.reportFailure(transport, err);
      throw err;
    }
  }

  private async doScrape(infoHashes: readonly Buffer[]): Promise<ScrapeEntry[]> {
    try {
      if (infoHashes.length > 0) {
        if (infoHashes.length > this.config.maxScrapeHashes) {
          // The one check of --max-scrape-hashes for every transport (a UDP packet
          // cannot carry more than 74 anyway).
          throw new ProtocolError(
            'too_many_info_hashes',
            `at most ${this.config.maxScrapeHashes} info_hash per scrape, got ${infoHashes.length}`,
          );
        }
        // A refused torrent is reported as unknown (zeros) and marked, so a transport
        // whose reply is a dictionary leaves it out; UDP's reply is positional.
        const verdicts = await this.access.allowsEach(infoHashes);
        const allowed = infoHashes.filter((_, i) => verdicts[i]);
        const counts = allowed.length > 0 ? await this.store.scrape(allowed) : [];
        let next = 0;
        return infoHashes.map((infoHash, i) =>
          verdicts[i]
            ? { infoHash, ...(counts[next++] ?? { complete: 0, incomplete: 0, downloaded: 0 }) }
            : { infoHash, complete: 0, incomplete: 0, downloaded: 0, refused: true },
        );
      }
      if (!this.config.fullScrape)
        throw new PolicyError('full_scrape_disabled', 'full scrape is disabled; pass info_hash');
      const entries: ScrapeEntry[] = [];
      let cursor = '0';
      do {
        const page = await this.store.scanTorrents(cursor, 1000);
        const verdicts = await this.access.allowsEach(page.torrents.map((t) => t.infoHash));
        page.torrents.forEach((t, i) => {
          if (verdicts[i]) entries.push(t);
        });
        cursor = page.cursor;
      } while (cursor !== '0' && entries.length < FULL_SCRAPE_LIMIT);
      return entries.slice(0, FULL_SCRAPE_LIMIT);
    } catch (err) {
      throw err instanceof TrackerError ? err : asStoreError(err);
    }
  }

  /** A refusal for the counters and metrics; transports call it for requests refused before they reached the core (a parse error). */
  reportFailure(transport: Transport, err: unknown): void {
    const code = err instanceof TrackerError ? err.code : 'internal';
    this.events.emit('failure', { transport, code });
  }
}

function refuseUnless(allowed: boolean): void {
  if (!allowed) throw new PolicyError('torrent_not_allowed', 'torrent not allowed on this tracker');
}

/** Unspecified and multicast addresses can never be a peer. */
function isUsable(address: ParsedAddress): boolean {
  const b = address.bytes;
  if (b.every((x) => x === 0)) return false;
  if (address.family === 4) return (b[0] as number) < 224;
  return b[0] !== 0xff;
}

/** `1.2.3.4`, `1.2.3.4:6881`, `::1`, `[::1]:6881` (BEP 7 ipv4=/ipv6= values). */
function parseHostPort(text: string, defaultPort: number): { address: ParsedAddress; port: number } | undefined {
  let host = text;
  let port = defaultPort;
  const bracket = /^\[([^\]]+)\](?::(\d+))?$/.exec(text);
  if (bracket) {
    host = bracket[1] as string;
    if (bracket[2] !== undefined) port = Number(bracket[2]);
  } else {
    const v4port = /^(\d{1,3}(?:\.\d{1,3}){3}):(\d+)$/.exec(text);
    if (v4port) {
      host = v4port[1] as string;
      port = Number(v4port[2]);
    }
  }
  if (!(port >= 1 && port <= 65535)) return undefined;
  const address = parseIp(host);
  return address ? { address, port } : undefined;
}

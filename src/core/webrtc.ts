import type { TrackerConfig } from '../config/options.js';
import { asStoreError, PolicyError, ProtocolError, TrackerError } from '../errors.js';
import type { ParsedAddress } from '../protocol/compact.js';
import type { ScrapeEntry } from '../protocol/types.js';
import type { WsAnnounce } from '../protocol/ws-messages.js';
import type { SwarmStore } from '../store/swarm-store.js';
import type { RelayedMessage, WebRtcPeerRef } from '../store/webrtc-store.js';
import type { TrackerEvents } from './events.js';
import type { TrackerCore } from './tracker.js';

export type { RelayedMessage };

/** The most peers one announce's offers go to, whatever the client sends (WebTorrent makes up to 10). */
export const MAX_OFFERS_RELAYED = 10;

export interface WebRtcAnnounceOutcome {
  interval: number;
  complete: number;
  incomplete: number;
  /** One per offer to relay, in offer order: offer i goes to targets[i]. */
  targets: WebRtcPeerRef[];
}

/**
 * The WebSocket tracker's policy, independent of sockets: how many peers an
 * announce's offers may reach, the interval, error mapping and the events the
 * stats count. The transport parses frames, calls this, and sends what it
 * returns; the store keeps the WebRTC swarms and carries messages between
 * tracker nodes (store/webrtc-store.ts).
 */
export class WebRtcCore {
  constructor(
    private readonly config: Readonly<TrackerConfig>,
    private readonly store: SwarmStore,
    private readonly events: TrackerEvents,
    /** The BitTorrent core: its access list, client rules, passkeys and per-source budgets apply here too. */
    private readonly core: Pick<TrackerCore, 'checkAccess' | 'access' | 'passkeys' | 'account' | 'admit'>,
  ) {}

  /**
   * Charges one frame to the client's source: the same budget as its HTTP and
   * UDP requests (--rate-limit). False: past it (the transport answers with
   * RATE_LIMITED).
   */
  admit(address: ParsedAddress): boolean {
    return this.core.admit(address, 'ws');
  }

  /** `passkey`: the one in the socket's path (`/announce/<passkey>`), for a private tracker. */
  async announce(params: WsAnnounce, node: string, passkey?: string): Promise<WebRtcAnnounceOutcome> {
    const started = performance.now();
    try {
      if (this.core.passkeys.required) await this.core.passkeys.verify(passkey);
      const access = this.core.checkAccess(params.infoHash, params.peerId);
      if (access) await access;
      // Offers beyond numwant, --max-numwant or the relay cap are not relayed;
      // stopped and completed announces carry none worth relaying.
      const relayable = params.event === 'stopped' ? 0 : params.offers.length;
      const targets = Math.min(relayable, params.numWant ?? relayable, this.config.maxNumwant, MAX_OFFERS_RELAYED);
      const storeStarted = performance.now();
      const announced = this.store.webrtc
        .announce({
          infoHash: params.infoHash,
          peerId: params.peerId,
          event: params.event,
          seeder: params.seeder,
          node,
          targets,
        })
        .catch((err: unknown) => {
          throw asStoreError(err);
        });
      // A private tracker's accounting runs beside the announce, which waits for both.
      const result = this.core.passkeys.required
        ? (await Promise.all([announced, this.core.account(passkey, params)]))[0]
        : await announced;
      const now = performance.now();
      this.events.emit('announce', {
        transport: 'ws',
        event: params.event,
        family: 4,
        ms: now - started,
        storeMs: now - storeStarted,
      });
      return {
        interval: this.config.wsInterval,
        complete: result.complete,
        incomplete: result.incomplete,
        targets: result.targets.slice(0, targets),
      };
    } catch (err) {
      this.reportFailure(err);
      throw err;
    }
  }

  /** A peer's socket leaves the swarm (the socket closed): no reply, no event. */
  async leave(infoHash: Buffer, peerId: Buffer, node: string): Promise<void> {
    await this.store.webrtc.leave(infoHash, peerId, node);
  }

  /** The node holding the socket of a live peer of the torrent, or undefined. */
  locate(infoHash: Buffer, peerId: Buffer): Promise<string | undefined> {
    return this.store.webrtc.locate(infoHash, peerId);
  }

  /** Hands a message to another node (in-process for the memory store). */
  relay(node: string, message: RelayedMessage): Promise<void> {
    return this.store.webrtc.publish(node, message);
  }

  subscribe(node: string, onMessage: (message: RelayedMessage) => void): Promise<() => Promise<void>> {
    return this.store.webrtc.subscribe(node, onMessage);
  }

  /** Counts of the WebRTC swarms; a full scrape (no hashes) only with --full-scrape. */
  async scrape(infoHashes: readonly Buffer[], passkey?: string): Promise<ScrapeEntry[]> {
    try {
      if (this.core.passkeys.required) await this.core.passkeys.verify(passkey);
      if (infoHashes.length === 0) {
        throw new PolicyError(
          'full_scrape_disabled',
          'a WebSocket scrape needs info_hash (no full scrape over WebSocket)',
        );
      }
      if (infoHashes.length > this.config.maxScrapeHashes) {
        throw new ProtocolError(
          'too_many_info_hashes',
          `at most ${this.config.maxScrapeHashes} info_hash per scrape, got ${infoHashes.length}`,
        );
      }
      const verdicts = await this.core.access.allowsEach(infoHashes);
      const allowed = infoHashes.filter((_, i) => verdicts[i]);
      const counts = await this.store.webrtc.scrape(allowed).catch((err: unknown) => {
        throw asStoreError(err);
      });
      this.events.emit('scrape', { transport: 'ws', hashes: allowed.length });
      return allowed.map((infoHash, i) => ({
        infoHash,
        ...(counts[i] ?? { complete: 0, incomplete: 0, downloaded: 0 }),
      }));
    } catch (err) {
      this.reportFailure(err);
      throw err;
    }
  }

  /** A request refused before it reached the core (a frame that does not parse). */
  reportFailure(err: unknown): void {
    this.events.emit('failure', { transport: 'ws', code: err instanceof TrackerError ? err.code : 'internal' });
  }
}

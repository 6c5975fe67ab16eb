import { randomBytes } from 'node:crypto';
import { performance } from 'node:perf_hooks';
import { lineSink, stderrLogger } from '../../logging/logger.js';
import type { SharedTorrentRows } from '../shared-torrent-rows.js';
import {
  DEFAULT_WEBRTC_TTL_MS,
  type StoreAnnounce,
  type StoreAnnounceResult,
  type StoredPeer,
  type StoreOptions,
  type SwarmCounts,
  type SwarmStore,
  type SwarmTotals,
  type TorrentScan,
  type TorrentSummary,
} from '../swarm-store.js';
import { MemoryAccounts } from './accounts.js';
import { COMPLETED, HAS_KEY, HAS4, HAS6, PeerTable } from './peer-table.js';
import { RetiredCounts } from './retired-counts.js';
import { samplePeers, sampleSmallSwarm } from './sampler.js';
import { SMALL_SLOTS, SmallSwarms } from './small-swarms.js';
import { type DecodedPeer, decodeState, StateEncoder } from './state-file.js';
import { readStateBytes, writeFileAtomically } from './state-file-io.js';
import { SwarmForms } from './swarm-forms.js';
import { NO_ROW, TorrentTable } from './torrent-table.js';
import { MemoryWebRtcSwarms } from './webrtc-swarms.js';

/**
 * The embedded store: swarms in process memory.
 *
 * Torrents are rows of a TorrentTable (one shared buffer, 84 bytes a torrent,
 * its one peer inline); a torrent of two to eight IPv4 peers keeps them in a
 * small swarm (a run of 36-byte slots in a shared buffer), and one
 * with more peers, or with an IPv6 endpoint, in a PeerTable (~50 bytes a
 * peer, beside the table's own ~200 bytes of object). Nothing is allocated
 * per announce but the reply. Expiry is exact without timers per peer: every
 * PeerTable knows a lower bound of its peers' last-seen times, so an announce
 * or scrape prunes it only when something there can have expired (a small
 * swarm's few times are simply read). The rows are linked in the order of
 * the second of each torrent's last announce, so torrents whose peers all
 * expired sit at its head and are dropped in O(dropped); a background sweep
 * walks the rest in bounded slices so idle tables release their memory.
 */
/** What a start got back from the state file. */
export interface StateRestored {
  torrents: number;
  peers: number;
  /** Peers in the file whose TTL ran out while the tracker was down. */
  expired: number;
  retired: number;
  bytes: number;
  ms: number;
}

/** What one save of the state file wrote. */
export interface StateSaved {
  torrents: number;
  peers: number;
  bytes: number;
  ms: number;
}

export interface MemoryStoreOptions extends StoreOptions {
  backgroundSweep?: boolean;
  downloadedTtlMs?: number;
  /** At most this many retired downloaded counts (retired-counts.ts); default 100,000. */
  retiredMax?: number;
  /** --state-file: swarms are loaded from it at start and written to it by close() and every `stateIntervalMs`. */
  stateFile?: string;
  /** Between periodic saves of the state file; default 300 s. */
  stateIntervalMs?: number;
  /** Where problems with the state file are reported (one line each); standard error by default. */
  log?: (line: string) => void;
}

const DEFAULT_STATE_INTERVAL_MS = 300_000;

const EMPTY = Buffer.alloc(0);
const SWEEP_TICK_MS = 1000;
const SWEEP_SLICE = 10_000;

export class MemoryStore implements SwarmStore {
  readonly kind = 'memory';
  readonly webrtc: MemoryWebRtcSwarms;
  readonly accounts: MemoryAccounts;
  /** The torrents (torrent-table.ts). */
  private readonly torrents = new TorrentTable();
  /** The swarms of two to eight IPv4 peers, by place (small-swarms.ts). */
  private readonly small = new SmallSwarms();
  /** Moves between a torrent's forms: inline, small swarm, PeerTable (swarm-forms.ts). */
  private readonly forms = new SwarmForms(this.torrents, this.small);
  /** Downloaded counts of torrents whose last peer left, kept a while (retired-counts.ts). */
  private readonly retired: RetiredCounts;
  private readonly secrets = new Map<string, Buffer>();
  private readonly ttl: number;
  private readonly now: () => number;
  /** The next row the background sweep looks at. */
  private sweepRow = 0;
  /** The info hash of the torrent a state file save is encoding. */
  private readonly scanHash = Buffer.alloc(20);
  private readonly timer: NodeJS.Timeout | undefined;
  private readonly counts = { peers: 0, seeders: 0, peers4: 0, peers6: 0, downloaded: 0 };
  private readonly stateFile: string | undefined;
  private readonly stateTimer: NodeJS.Timeout | undefined;
  /** The save under way or queued last: saves run one after another. */
  private saving: Promise<StateSaved> | undefined;
  private readonly log: (line: string) => void;
  /** What the state file gave back at start; undefined without --state-file, or when there was no usable file. */
  readonly restored: StateRestored | undefined;

  constructor(options: MemoryStoreOptions) {
    this.ttl = options.peerTtlMs;
    this.retired = new RetiredCounts(
      Math.max(options.downloadedTtlMs ?? 30 * 86_400_000, this.ttl),
      options.retiredMax ?? 100_000,
    );
    this.now = options.now;
    this.webrtc = new MemoryWebRtcSwarms({ ttlMs: options.webrtcTtlMs ?? DEFAULT_WEBRTC_TTL_MS, now: options.now });
    this.accounts = new MemoryAccounts({ ttlMs: options.peerTtlMs, now: options.now });
    if (options.backgroundSweep !== false) {
      this.timer = setInterval(() => this.sweep(SWEEP_SLICE), SWEEP_TICK_MS);
      this.timer.unref();
    }
    this.log = options.log ?? lineSink(stderrLogger, 'error');
    this.stateFile = options.stateFile || undefined;
    if (this.stateFile) {
      // Synchronous: the tracker serves nothing before its swarms are back.
      this.restored = this.restoreState(this.stateFile);
      const file = this.stateFile;
      this.stateTimer = setInterval(() => {
        if (this.saving) return; // a slow disk: let the running save finish rather than queue another
        this.saveState().catch((err: unknown) => {
          this.log(`bitstorm: state file ${file} not saved (${(err as Error).message})`);
        });
      }, options.stateIntervalMs ?? DEFAULT_STATE_INTERVAL_MS);
      this.stateTimer.unref();
    }
  }

  async announce(req: StoreAnnounce): Promise<StoreAnnounceResult> {
    return this.apply(req);
  }

  /** The announce itself, synchronous: the memory store never waits. */
  private apply(req: StoreAnnounce): StoreAnnounceResult {
    const now = this.now();
    const torrents = this.torrents;
    let row = torrents.find(req.infoHash);
    if (row < 0) {
      if (req.event === 'stopped')
        return { status: 'ok', complete: 0, incomplete: 0, downloaded: 0, peers4: EMPTY, peers6: EMPTY };
      row = torrents.add(req.infoHash, now);
      const back = this.retired.takeBack(req.infoHash);
      if (back > 0) {
        torrents.setDownloaded(row, back);
        this.counts.downloaded += back;
      }
    }
    let place = torrents.place(row);
    if (place < 0) {
      const answered = this.applyInline(row, req, now);
      if (answered !== undefined) return answered;
      if (req.ipv6 !== null) return this.applyTable(row, this.forms.promote(row), req, now);
      place = this.forms.inlineToSmall(row);
    }
    let table = torrents.tableAt(place);
    if (table === undefined) {
      const answered = this.applySmall(row, place, req, now);
      if (answered !== undefined) return answered;
      table = this.forms.smallToTable(row, place);
    }
    return this.applyTable(row, table, req, now);
  }

  /**
   * An announce to a torrent whose peer (if any) is inline. Undefined when
   * the torrent needs more room: a second peer, or an IPv6 endpoint.
   */
  private applyInline(row: number, req: StoreAnnounce, now: number): StoreAnnounceResult | undefined {
    const torrents = this.torrents;
    const c = this.counts;
    this.pruneCounted(row, now);
    if (!torrents.hasPeer(row)) {
      if (req.event === 'stopped') return this.dropAnswered(row);
      if (req.ipv6 !== null) return undefined;
      // The announce is taken: touch first, as the inline peer's time is kept relative to the row's.
      torrents.touch(row, now);
      torrents.setPeer(row, req.peerId, req.seeder, now);
      c.peers++;
      if (req.seeder) c.seeders++;
    } else {
      if (!torrents.samePeerId(row, req.peerId)) {
        return req.event === 'stopped' ? this.result(row, 'ok') : undefined;
      }
      if (
        (torrents.peerFlags(row) & HAS_KEY) !== 0 &&
        req.key !== torrents.peerKey(row) &&
        !(req.ipv4 !== null && torrents.samePeerIp4(row, req.ipv4))
      ) {
        return this.result(row, 'key-mismatch');
      }
      if (req.event === 'stopped') {
        this.removeInline(row);
        return this.dropAnswered(row);
      }
      if (req.ipv6 !== null) return undefined;
      torrents.touch(row, now);
      if (torrents.peerIsSeeder(row) !== req.seeder) {
        torrents.setPeerSeeder(row, req.seeder);
        c.seeders += req.seeder ? 1 : -1;
      }
      torrents.setPeerLastSeen(row, now);
    }
    if (req.ipv4 !== null) {
      if ((torrents.peerFlags(row) & HAS4) === 0) c.peers4++;
      torrents.setPeerEndpoint4(row, req.ipv4);
    }
    if (req.key !== undefined) torrents.setPeerKey(row, req.key);
    if (req.event === 'completed' && (torrents.peerFlags(row) & COMPLETED) === 0) {
      torrents.setPeerFlag(row, COMPLETED);
      torrents.setDownloaded(row, torrents.downloaded(row) + 1);
      c.downloaded++;
    }
    return this.result(row, 'ok'); // its one peer is the requester: nobody to sample
  }

  /**
   * An announce to a torrent whose peers are a small swarm. Undefined when it
   * needs a PeerTable: a peer past SMALL_SLOTS, or an IPv6 endpoint.
   */
  private applySmall(row: number, place: number, req: StoreAnnounce, now: number): StoreAnnounceResult | undefined {
    const small = this.small;
    const torrents = this.torrents;
    // The swarm's counts before this announce, as applyTable() keeps them.
    const count = small.count(place);
    const seeders = small.seeders(place);
    const count4 = small.count4(place);
    small.removeSeenBefore(place, now - this.ttl);
    let slot = small.find(place, req.peerId);

    if (
      slot >= 0 &&
      (small.flags(place, slot) & HAS_KEY) !== 0 &&
      req.key !== small.key(place, slot) &&
      !(req.ipv4 !== null && small.sameIp4(place, slot, req.ipv4))
    ) {
      this.accountSmall(row, place, count, seeders, count4);
      return this.result(row, 'key-mismatch');
    }

    if (req.event === 'stopped') {
      if (slot >= 0) small.remove(place, slot);
      this.accountSmall(row, place, count, seeders, count4);
      if (small.count(place) === 0) return this.dropAnswered(row);
      const out = this.result(row, 'ok');
      this.forms.settleSmall(row, place);
      return out;
    }

    if (req.ipv6 !== null || (slot < 0 && small.full(place))) {
      this.accountSmall(row, place, count, seeders, count4); // what the prune removed
      return undefined;
    }

    if (slot < 0) slot = small.insert(place, req.peerId, req.seeder, now);
    else {
      small.setSeeder(place, slot, req.seeder);
      small.touch(place, slot, now);
    }
    if (req.ipv4 !== null) small.setEndpoint4(place, slot, req.ipv4);
    if (req.key !== undefined) small.setKey(place, slot, req.key);
    if (req.event === 'completed' && (small.flags(place, slot) & COMPLETED) === 0) {
      small.setFlag(place, slot, COMPLETED);
      torrents.setDownloaded(row, torrents.downloaded(row) + 1);
      this.counts.downloaded++;
    }
    this.accountSmall(row, place, count, seeders, count4);
    torrents.touch(row, now);

    const out = this.result(row, 'ok');
    if (small.count(place) === 1)
      this.forms.settleSmall(row, place); // the requester alone: nobody to sample
    else if (req.numWant > 0) sampleSmallSwarm(small, place, slot, req, out);
    return out;
  }

  /** An announce to a torrent whose peers are in a PeerTable. */
  private applyTable(row: number, table: PeerTable, req: StoreAnnounce, now: number): StoreAnnounceResult {
    const torrents = this.torrents;
    // The table's counts before this announce (numbers, not an array: no garbage per announce).
    const count = table.count;
    const seeders = table.seeders;
    const count4 = table.count4;
    const count6 = table.count6;
    this.prune(table, now);
    let slot = table.find(req.peerId);

    if (slot >= 0 && (table.flags(slot) & HAS_KEY) !== 0 && req.key !== table.key(slot)) {
      const same =
        (req.ipv4 !== null && table.sameIp4(slot, req.ipv4)) || (req.ipv6 !== null && table.sameIp6(slot, req.ipv6));
      if (!same) {
        this.account(row, table, count, seeders, count4, count6);
        return this.result(row, 'key-mismatch');
      }
    }

    if (req.event === 'stopped') {
      if (slot >= 0) table.remove(slot);
      this.account(row, table, count, seeders, count4, count6);
      if (table.count === 0) return this.dropAnswered(row);
      const out = this.result(row, 'ok');
      this.forms.settle(row, table);
      return out;
    }

    if (slot < 0) slot = table.insert(req.peerId, req.seeder, now);
    else slot = table.setSeeder(slot, req.seeder);
    table.touch(slot, now);
    // An endpoint replaces the stored one of its family; a family the announce
    // did not speak for is kept (dual-stack clients announce over each family).
    if (req.ipv4 !== null) table.setEndpoint4(slot, req.ipv4);
    if (req.ipv6 !== null) table.setEndpoint6(slot, req.ipv6);
    if (req.key !== undefined) table.setKey(slot, req.key);
    if (req.event === 'completed' && (table.flags(slot) & COMPLETED) === 0) {
      table.setFlag(slot, COMPLETED);
      torrents.setDownloaded(row, torrents.downloaded(row) + 1);
      this.counts.downloaded++;
    }
    this.account(row, table, count, seeders, count4, count6);
    torrents.touch(row, now);

    const out = this.result(row, 'ok');
    if (table.count === 1)
      this.forms.settle(row, table); // the requester alone: nobody to sample
    else if (req.numWant > 0) samplePeers(table, slot, req, out);
    return out;
  }

  /** The row's counts as an announce's answer (no peers yet). */
  private result(row: number, status: StoreAnnounceResult['status']): StoreAnnounceResult {
    const complete = this.seedersOf(row);
    return {
      status,
      complete,
      incomplete: this.countOf(row) - complete,
      downloaded: this.torrents.downloaded(row),
      peers4: EMPTY,
      peers6: EMPTY,
    };
  }

  /** Drops a torrent left without peers and answers with what it had (its downloaded count). */
  private dropAnswered(row: number): StoreAnnounceResult {
    const out = this.result(row, 'ok');
    this.dropRow(row);
    return out;
  }

  async scrape(infoHashes: readonly Buffer[]): Promise<SwarmCounts[]> {
    const now = this.now();
    const torrents = this.torrents;
    return infoHashes.map((hash) => {
      const row = torrents.find(hash);
      if (row < 0) return { complete: 0, incomplete: 0, downloaded: this.retired.downloaded(hash, now) };
      this.pruneCounted(row, now);
      const complete = this.seedersOf(row);
      return { complete, incomplete: this.countOf(row) - complete, downloaded: torrents.downloaded(row) };
    });
  }

  /**
   * Up to `count` live torrents from `cursor`, a row number, pruning as it
   * goes. Rows do not move, so a scan sees every torrent that lives
   * throughout it once; one dropped and created again meanwhile may be seen
   * twice (as with Redis SCAN).
   */
  async scanTorrents(cursor: string, count: number): Promise<TorrentScan> {
    const torrents = this.torrents;
    const now = this.now();
    const out: TorrentSummary[] = [];
    for (let row = Number(cursor) || 0; row < torrents.rowEnd; row++) {
      if (!torrents.isLive(row)) continue;
      this.pruneCounted(row, now);
      const peers = this.countOf(row);
      if (peers === 0) continue;
      const complete = this.seedersOf(row);
      const infoHash = Buffer.allocUnsafe(20);
      torrents.copyInfoHash(row, infoHash, 0);
      const lastAnnounce = torrents.lastAnnounce(row);
      out.push({
        infoHash,
        complete,
        incomplete: peers - complete,
        downloaded: torrents.downloaded(row),
        lastAnnounce,
      });
      if (out.length >= count) return { cursor: String(row + 1), torrents: out };
    }
    return { cursor: '0', torrents: out };
  }

  /**
   * The torrents in shared memory, for a walk on another thread
   * (shared-torrent-rows.ts). Torrents whose every peer expired are dropped
   * first; a swarm's expired peers still count there until its next announce
   * or the background sweep prunes them, where scanTorrents() prunes as it goes.
   */
  sharedTorrents(): SharedTorrentRows {
    const now = this.now();
    this.dropExpiredSwarms(now);
    return this.torrents.shared(now - this.ttl);
  }

  async torrentPeers(infoHash: Buffer, limit: number): Promise<StoredPeer[]> {
    const row = this.torrents.find(infoHash);
    if (row < 0) return [];
    this.pruneCounted(row, this.now());
    const peers = this.forms.peersOf(row);
    const out: StoredPeer[] = [];
    for (let slot = 0; slot < peers.count && out.length < limit; slot++) {
      const flags = peers.flags(slot);
      const peerId = Buffer.allocUnsafe(20);
      peers.copyId(slot, peerId, 0);
      let ipv4: Buffer | null = null;
      let ipv6: Buffer | null = null;
      if (flags & HAS4) peers.copyEndpoint4(slot, (ipv4 = Buffer.allocUnsafe(6)), 0);
      if (flags & HAS6) peers.copyEndpoint6(slot, (ipv6 = Buffer.allocUnsafe(18)), 0);
      out.push({ peerId, ipv4, ipv6, seeder: peers.isSeeder(slot), lastSeen: peers.lastSeen(slot) });
    }
    return out;
  }

  async totals(): Promise<SwarmTotals> {
    this.dropExpiredSwarms(this.now());
    const c = this.counts;
    return {
      torrents: this.torrents.size,
      peers: c.peers,
      seeders: c.seeders,
      leechers: c.peers - c.seeders,
      peers4: c.peers4,
      peers6: c.peers6,
      downloaded: c.downloaded,
    };
  }

  /** Torrents held in memory, including expired ones the sweep has not reached yet. */
  get heldTorrents(): number {
    return this.torrents.size;
  }

  async sharedSecret(name: string, bytes: number): Promise<Buffer> {
    let secret = this.secrets.get(name);
    if (!secret) {
      secret = randomBytes(bytes);
      this.secrets.set(name, secret);
    }
    return secret;
  }

  /** Stops the timers; with a state file, saves the swarms (and rejects if that fails: they would be lost). */
  async close(): Promise<void> {
    if (this.timer) clearInterval(this.timer);
    if (this.stateTimer) clearInterval(this.stateTimer);
    if (this.stateFile) await this.saveState();
  }

  /**
   * Writes every swarm and retired count to the state file, atomically
   * (state-file-io.ts). Saves run one at a time: a call during a save starts
   * after it. The walk yields to the event loop after each chunk of about
   * 256 KiB (some 7,000 peers; a few ms), so announces are served during a save.
   */
  saveState(): Promise<StateSaved> {
    const path = this.stateFile;
    if (!path) return Promise.reject(new Error('the memory store has no state file'));
    const previous = this.saving;
    const run = (previous ? previous.catch(() => undefined) : Promise.resolve()).then(() => this.writeState(path));
    this.saving = run;
    const clear = (): void => {
      if (this.saving === run) this.saving = undefined;
    };
    run.then(clear, clear);
    return run;
  }

  private async writeState(path: string): Promise<StateSaved> {
    const started = performance.now();
    const encoder = new StateEncoder(this.now());
    const tally = { torrents: 0, peers: 0 };
    const bytes = await writeFileAtomically(path, this.stateChunks(encoder, tally));
    return { ...tally, bytes, ms: performance.now() - started };
  }

  /**
   * The file's chunks. The rows are walked by number, live across the
   * writes: a torrent is encoded whole between two chunks, so it is never
   * seen half changed; one created meanwhile in a row not yet walked is
   * written too; one dropped and created again in such a row is written twice
   * (a load keeps the later record).
   */
  private *stateChunks(encoder: StateEncoder, tally: { torrents: number; peers: number }): Generator<Buffer> {
    const torrents = this.torrents;
    const hash = this.scanHash;
    for (let row = 0; row < torrents.rowEnd; row++) {
      if (!torrents.isLive(row)) continue;
      const peers = this.forms.peersOf(row);
      torrents.copyInfoHash(row, hash, 0);
      encoder.torrent(hash, torrents.downloaded(row), torrents.lastAnnounce(row), peers);
      tally.torrents++;
      tally.peers += peers.count;
      yield* encoder.take();
    }
    for (const [key, r] of this.retired.entries()) {
      encoder.retired(key, r.downloaded, r.at);
      yield* encoder.take();
    }
    yield* encoder.finish();
  }

  /**
   * Loads the state file into the (empty) store. A missing file is a first
   * start; any other problem is one log line and an empty store: a tracker
   * that lost its swarms still serves, and clients re-announce within an
   * interval.
   */
  private restoreState(path: string): StateRestored | undefined {
    const started = performance.now();
    try {
      const bytes = readStateBytes(path);
      if (bytes === undefined) return undefined;
      return { ...this.restore(bytes, this.now()), bytes: bytes.length, ms: performance.now() - started };
    } catch (err) {
      this.forgetAll();
      this.log(`bitstorm: state file ${path} ignored, starting empty: ${(err as Error).message}`);
      return undefined;
    }
  }

  /** Empties the store (a state file that could not be loaded whole). */
  private forgetAll(): void {
    const torrents = this.torrents;
    for (let row = 0; row < torrents.rowEnd; row++) torrents.table(row)?.release();
    torrents.clear();
    this.small.clear();
    this.retired.clear();
    const c = this.counts;
    c.peers = c.seeders = c.peers4 = c.peers6 = c.downloaded = 0;
  }

  /**
   * Rebuilds the torrents through the tables' own API (so every index is
   * keyed afresh), leaving out peers whose TTL ran out while the tracker was
   * down, and retiring torrents left empty.
   */
  private restore(bytes: Buffer, now: number): Omit<StateRestored, 'bytes' | 'ms'> {
    const cutoff = now - this.ttl;
    const torrents = this.torrents;
    const retired: Array<[string, number, number]> = [];
    let row = -1;
    let expired = 0;
    decodeState(bytes, {
      torrent: (infoHash, downloaded, lastAnnounce, peers) => {
        // A torrent written twice (dropped and created again during a save) keeps its later record.
        const earlier = torrents.find(infoHash);
        if (earlier >= 0) {
          this.forms.releasePeers(earlier);
          torrents.remove(earlier);
        }
        row = torrents.add(infoHash, lastAnnounce);
        torrents.setDownloaded(row, downloaded);
        // Room for every peer at once, so a big table does not grow step by step.
        if (peers > SMALL_SLOTS) torrents.setPlaceTable(torrents.openPlace(row), new PeerTable(peers));
      },
      peer: (peer) => {
        if (row < 0) throw new Error('a peer before any torrent');
        if (peer.lastSeen <= cutoff) {
          expired++;
          return;
        }
        this.loadPeer(row, peer);
      },
      retired: (infoHash, downloaded, at) => retired.push([infoHash.toString('latin1'), downloaded, at]),
    });

    // Counts, torrents left empty, and tables made smaller (one was made for the file's count).
    const emptied: Array<[string, number, number]> = [];
    const c = this.counts;
    let peers = 0;
    for (let r = 0; r < torrents.rowEnd; r++) {
      if (!torrents.isLive(r)) continue;
      this.settleRow(r);
      const count = this.countOf(r);
      if (count === 0) {
        emptied.push([torrents.infoHashKey(r), torrents.downloaded(r), torrents.lastAnnounce(r)]);
        this.forms.releasePeers(r);
        torrents.remove(r);
        continue;
      }
      const place = torrents.place(r);
      const t = place < 0 ? undefined : torrents.tableAt(place);
      const seeders = this.seedersOf(r);
      torrents.setTableCounts(r, seeders, count - seeders); // nothing for an inline peer
      c.peers += count;
      c.seeders += seeders;
      if (place < 0) c.peers4 += (torrents.peerFlags(r) & HAS4) !== 0 ? 1 : 0;
      else if (t === undefined) c.peers4 += this.small.count4(place);
      else {
        c.peers4 += t.count4;
        c.peers6 += t.count6;
      }
      c.downloaded += torrents.downloaded(r);
      peers += count;
    }
    // The order by second (dropExpiredSwarms relies on it): rows came in file order.
    torrents.sortOrder();
    // Retired counts in retirement order: the file's, then the torrents that emptied while the tracker was down.
    for (const [key, downloaded, at] of retired) this.retire(key, downloaded, at, now);
    for (const [key, downloaded, at] of emptied) this.retire(key, downloaded, at, now);
    return { torrents: torrents.size, peers, expired, retired: this.retired.size };
  }

  /** Adds a peer from the state file to a row being loaded (inline, then a small swarm, then a PeerTable). */
  private loadPeer(row: number, peer: DecodedPeer): void {
    const torrents = this.torrents;
    let place = torrents.place(row);
    let table: PeerTable | undefined;
    if (place < 0) {
      if (!torrents.hasPeer(row) && peer.ep6 === null) {
        torrents.setPeer(row, peer.id, peer.seeder, peer.lastSeen);
        if (peer.ep4) torrents.setPeerEndpoint4(row, peer.ep4);
        if (peer.key !== undefined) torrents.setPeerKey(row, peer.key);
        if (peer.completed) torrents.setPeerFlag(row, COMPLETED);
        return;
      }
      if (torrents.hasPeer(row) && torrents.samePeerId(row, peer.id)) return; // only a hand-made file repeats an id
      if (peer.ep6 !== null) table = this.forms.promote(row);
      else place = this.forms.inlineToSmall(row);
    }
    if (table === undefined) table = torrents.tableAt(place);
    if (table === undefined) {
      const small = this.small;
      if (small.find(place, peer.id) >= 0) return;
      if (peer.ep6 === null && !small.full(place)) {
        const slot = small.insert(place, peer.id, peer.seeder, peer.lastSeen);
        if (peer.ep4) small.setEndpoint4(place, slot, peer.ep4);
        if (peer.key !== undefined) small.setKey(place, slot, peer.key);
        if (peer.completed) small.setFlag(place, slot, COMPLETED);
        return;
      }
      table = this.forms.smallToTable(row, place);
    }
    if (table.find(peer.id) >= 0) return;
    const slot = table.insert(peer.id, peer.seeder, peer.lastSeen);
    if (peer.ep4) table.setEndpoint4(slot, peer.ep4);
    if (peer.ep6) table.setEndpoint6(slot, peer.ep6);
    if (peer.key !== undefined) table.setKey(slot, peer.key);
    if (peer.completed) table.setFlag(slot, COMPLETED);
  }

  /** Keeps a loaded downloaded count unless its torrent is live or its TTL is past. */
  private retire(key: string, downloaded: number, at: number, now: number): void {
    if (downloaded <= 0 || !this.retired.live(at, now)) return;
    if (this.torrents.find(Buffer.from(key, 'latin1')) >= 0) return;
    this.retired.keep(key, downloaded, at);
  }

  /**
   * Drops expired torrents and prunes up to `maxSwarms` torrents in all
   * (each at most once), continuing where the previous call stopped; a
   * torrent down to one IPv4 peer goes back inline. Bounded so a sweep never pauses the process for
   * long; exposed for tests that drive the clock by hand.
   */
  sweep(maxSwarms = Number.POSITIVE_INFINITY): void {
    const now = this.now();
    const torrents = this.torrents;
    this.retired.drop(now, maxSwarms);
    let visited = this.dropExpiredSwarms(now, maxSwarms);
    // Each row at most once a call, wrapping at the end: sweep() with no bound looks at every torrent.
    for (let rows = torrents.rowEnd; visited < maxSwarms && rows > 0; rows--) {
      if (this.sweepRow >= torrents.rowEnd) this.sweepRow = 0;
      const row = this.sweepRow++;
      visited++;
      if (!torrents.isLive(row)) continue;
      this.pruneCounted(row, now);
      if (this.countOf(row) === 0) this.dropRow(row);
      else this.settleRow(row);
    }
  }

  /** A table or small swarm that has become smaller than its form moves to the smaller one. */
  private settleRow(row: number): void {
    const place = this.torrents.place(row);
    if (place < 0) return;
    const table = this.torrents.tableAt(place);
    if (table === undefined) this.forms.settleSmall(row, place);
    else this.forms.settle(row, table);
  }

  /**
   * Torrents at the head of the order announced in the oldest seconds; those
   * whose last announce is past the TTL have no live peer left. Stops at the
   * first second that may still hold a live torrent, so the cost is O(dropped).
   */
  private dropExpiredSwarms(now: number, max = Number.POSITIVE_INFINITY): number {
    const torrents = this.torrents;
    let dropped = 0;
    for (let row = torrents.head; row !== NO_ROW && dropped < max; ) {
      const next = torrents.nextInOrder(row);
      const last = torrents.lastAnnounce(row);
      if (Math.floor(last / 1000) * 1000 + this.ttl > now) break;
      if (last + this.ttl <= now) {
        // Otherwise the same second, still live.
        dropped++;
        const place = torrents.place(row);
        const table = place < 0 ? undefined : torrents.tableAt(place);
        if (place < 0) {
          if (torrents.hasPeer(row)) this.removeInline(row);
        } else if (table === undefined) {
          this.pruneSmallCounted(row, place, Number.POSITIVE_INFINITY);
        } else {
          const count = table.count;
          const seeders = table.seeders;
          const count4 = table.count4;
          const count6 = table.count6;
          table.removeSeenBefore(Number.POSITIVE_INFINITY);
          this.account(row, table, count, seeders, count4, count6);
        }
        this.dropRow(row);
      }
      row = next;
    }
    return dropped;
  }

  /** Removes the table's expired peers (the caller accounts for the change). */
  private prune(table: PeerTable, now: number): void {
    const cutoff = now - this.ttl;
    if (table.oldest <= cutoff) table.removeSeenBefore(cutoff);
  }

  /** Removes a torrent's expired peers and accounts for them; the torrent stays, maybe empty. */
  private pruneCounted(row: number, now: number): void {
    const torrents = this.torrents;
    const place = torrents.place(row);
    if (place < 0) {
      if (torrents.hasPeer(row) && torrents.peerLastSeen(row) <= now - this.ttl) this.removeInline(row);
      return;
    }
    const t = torrents.tableAt(place);
    if (t === undefined) {
      if (this.small.oldest(place) <= now - this.ttl) this.pruneSmallCounted(row, place, now - this.ttl);
      return;
    }
    if (t.oldest > now - this.ttl) return; // nothing can have expired (prune's own test)
    const count = t.count;
    const seeders = t.seeders;
    const count4 = t.count4;
    const count6 = t.count6;
    this.prune(t, now);
    this.account(row, t, count, seeders, count4, count6);
  }

  /** Removes the inline peer and accounts for it. */
  private removeInline(row: number): void {
    const torrents = this.torrents;
    const c = this.counts;
    c.peers--;
    if (torrents.peerIsSeeder(row)) c.seeders--;
    if ((torrents.peerFlags(row) & HAS4) !== 0) c.peers4--;
    torrents.clearPeer(row);
  }

  private countOf(row: number): number {
    const place = this.torrents.place(row);
    if (place < 0) return this.torrents.hasPeer(row) ? 1 : 0;
    const table = this.torrents.tableAt(place);
    return table ? table.count : this.small.count(place);
  }

  private seedersOf(row: number): number {
    const place = this.torrents.place(row);
    if (place < 0) return this.torrents.peerSeeders(row);
    const table = this.torrents.tableAt(place);
    return table ? table.seeders : this.small.seeders(place);
  }

  /**
   * Where the torrents' peers are: inline, in small swarms, in PeerTables,
   * and the slots the small swarms' runs hold (O(torrents): for tests and
   * diagnostics).
   */
  swarmForms(): { inline: number; small: number; tables: number; smallSlots: number } {
    const torrents = this.torrents;
    const forms = { inline: 0, small: 0, tables: 0, smallSlots: this.small.slotsInUse };
    for (let row = 0; row < torrents.rowEnd; row++) {
      if (!torrents.isLive(row)) continue;
      const place = torrents.place(row);
      if (place < 0) forms.inline += torrents.hasPeer(row) ? 1 : 0;
      else if (torrents.tableAt(place) === undefined) forms.small++;
      else forms.tables++;
    }
    return forms;
  }

  /** Drops a torrent whose peers are gone (and accounted for), keeping its downloaded count a while. */
  private dropRow(row: number): void {
    const torrents = this.torrents;
    const downloaded = torrents.downloaded(row);
    this.counts.downloaded -= downloaded;
    this.forms.releasePeers(row);
    if (downloaded > 0) this.retired.keep(torrents.infoHashKey(row), downloaded, torrents.lastAnnounce(row));
    torrents.remove(row);
  }

  /** Removes a small swarm's peers last seen at or before `cutoff` and accounts for them. */
  private pruneSmallCounted(row: number, place: number, cutoff: number): void {
    const small = this.small;
    const count = small.count(place);
    const seeders = small.seeders(place);
    const count4 = small.count4(place);
    small.removeSeenBefore(place, cutoff);
    this.accountSmall(row, place, count, seeders, count4);
  }

  /** account() for a small swarm (no IPv6 endpoints). */
  private accountSmall(row: number, place: number, count: number, seeders: number, count4: number): void {
    const small = this.small;
    const n = small.count(place);
    const s = small.seeders(place);
    this.torrents.setTableCounts(row, s, n - s);
    const c = this.counts;
    c.peers += n - count;
    c.seeders += s - seeders;
    c.peers4 += small.count4(place) - count4;
  }

  /**
   * Moves the global totals by what happened to one row's table since it held
   * these counts, and mirrors its counts in the row for the stats snapshot's thread.
   */
  private account(row: number, table: PeerTable, count: number, seeders: number, count4: number, count6: number): void {
    this.torrents.setTableCounts(row, table.seeders, table.count - table.seeders);
    const c = this.counts;
    c.peers += table.count - count;
    c.seeders += table.seeders - seeders;
    c.peers4 += table.count4 - count4;
    c.peers6 += table.count6 - count6;
  }
}

import { COMPLETED, HAS_KEY, HAS4, type PeerSlots, PeerTable } from './peer-table.js';
import { SMALL_SLOTS, SmallSwarmPeers, type SmallSwarms } from './small-swarms.js';
import { InlinePeer, type TorrentTable } from './torrent-table.js';

/**
 * A PeerTable down to this many peers (none with an IPv6 endpoint) becomes a
 * small swarm again. Half of SMALL_SLOTS, so a swarm going back and forth
 * across the small swarm's size does not move on every announce.
 */
const SMALL_AGAIN_AT = SMALL_SLOTS / 2;

/**
 * Moves a torrent's peers between the memory store's three forms, with all
 * each peer carries: inline in its row (one IPv4 peer, torrent-table.ts), a
 * small swarm (two to eight IPv4 peers, small-swarms.ts) and a PeerTable
 * (more, or any with an IPv6 endpoint). memory-store.ts decides when a torrent
 * needs more room (a second peer, a ninth, an IPv6 endpoint); settle() and
 * settleSmall() decide when it has become small enough to move back. A move
 * changes where the peers live, never how many there are, so the store's
 * totals do not move with it.
 */
export class SwarmForms {
  /** A row's inline peer as PeerSlots (reused). */
  private readonly inlinePeer: InlinePeer;
  /** A small swarm as PeerSlots (reused). */
  private readonly smallPeers: SmallSwarmPeers;
  /** Scratch for moving a peer between forms. */
  private readonly moveId = Buffer.alloc(20);
  private readonly moveEp4 = Buffer.alloc(6);

  constructor(
    private readonly torrents: TorrentTable,
    private readonly small: SmallSwarms,
  ) {
    this.inlinePeer = new InlinePeer(torrents);
    this.smallPeers = new SmallSwarmPeers(small);
  }

  /** The row's peers, whatever their form, through PeerTable's read interface (a reused view for the first two). */
  peersOf(row: number): PeerSlots {
    const place = this.torrents.place(row);
    if (place < 0) return this.inlinePeer.at(row);
    return this.torrents.tableAt(place) ?? this.smallPeers.at(place);
  }

  /** Gives the row a PeerTable holding its inline peer, if any. */
  promote(row: number): PeerTable {
    const table = new PeerTable();
    this.torrents.movePeerTo(row, table);
    this.torrents.setPlaceTable(this.torrents.openPlace(row), table);
    return table;
  }

  /** Moves the row's inline peer (if any) into a new small swarm, and returns its place. */
  inlineToSmall(row: number): number {
    const torrents = this.torrents;
    const place = torrents.openPlace(row);
    this.small.open(place);
    if (torrents.hasPeer(row)) {
      this.copyToSmall(this.inlinePeer.at(row), place);
      torrents.clearPeer(row);
    }
    return place;
  }

  /** Moves a small swarm's peers into a PeerTable at the same place, and returns it. */
  smallToTable(row: number, place: number): PeerTable {
    // Room for one more peer (tables of 2 and 4 are slab chunks), and then some when it is a big one.
    const n = this.small.count(place) + 1;
    const table = new PeerTable(n <= 2 ? 2 : n <= 4 ? 4 : n + (n >> 1));
    this.copyToTable(this.smallPeers.at(place), table);
    this.small.close(place); // the place's swarm is the table now
    this.torrents.setPlaceTable(place, table);
    this.torrents.setTableCounts(row, table.seeders, table.count - table.seeders);
    return table;
  }

  /**
   * Moves a table's peers back inline when one peer without an IPv6 endpoint
   * is left, or into a small swarm when at most SMALL_AGAIN_AT are.
   */
  settle(row: number, table: PeerTable): void {
    if (table.count6 !== 0 || table.count > SMALL_AGAIN_AT) return;
    const torrents = this.torrents;
    if (table.count === 1) {
      torrents.takePeerFrom(row, table, 0);
      torrents.closePlace(row);
    } else {
      const place = torrents.place(row);
      this.small.open(place);
      this.copyToSmall(table, place);
      torrents.setPlaceTable(place, undefined);
    }
    table.release();
  }

  /** Moves a small swarm's last peer back inline and gives up its place. */
  settleSmall(row: number, place: number): void {
    if (this.small.count(place) !== 1) return;
    this.torrents.takePeerFrom(row, this.smallPeers.at(place), 0);
    this.small.close(place);
    this.torrents.closePlace(row);
  }

  /**
   * Gives back what holds the row's peers, a PeerTable's slab chunk or a
   * small swarm's run (neither is garbage collected), before the row goes.
   */
  releasePeers(row: number): void {
    const place = this.torrents.place(row);
    if (place < 0) return;
    const table = this.torrents.tableAt(place);
    if (table === undefined) this.small.close(place);
    else table.release();
  }

  /** Copies every peer of `from` (none with an IPv6 endpoint, at most SMALL_SLOTS) into the empty small swarm at `place`. */
  private copyToSmall(from: PeerSlots, place: number): void {
    const small = this.small;
    const id = this.moveId;
    const ep4 = this.moveEp4;
    for (let i = 0; i < from.count; i++) {
      from.copyId(i, id, 0);
      const slot = small.insert(place, id, from.isSeeder(i), from.lastSeen(i));
      const flags = from.flags(i);
      if (flags & HAS4) {
        from.copyEndpoint4(i, ep4, 0);
        small.setEndpoint4(place, slot, ep4);
      }
      if (flags & HAS_KEY) small.setKey(place, slot, from.key(i));
      if (flags & COMPLETED) small.setFlag(place, slot, COMPLETED);
    }
  }

  /** Copies every peer of `from` (no IPv6 endpoints) into the empty `table`. */
  private copyToTable(from: PeerSlots, table: PeerTable): void {
    const id = this.moveId;
    const ep4 = this.moveEp4;
    for (let i = 0; i < from.count; i++) {
      from.copyId(i, id, 0);
      const slot = table.insert(id, from.isSeeder(i), from.lastSeen(i));
      const flags = from.flags(i);
      if (flags & HAS4) {
        from.copyEndpoint4(i, ep4, 0);
        table.setEndpoint4(slot, ep4);
      }
      if (flags & HAS_KEY) table.setKey(slot, from.key(i));
      if (flags & COMPLETED) table.setFlag(slot, COMPLETED);
    }
  }
}

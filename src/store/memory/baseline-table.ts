/**
 * The memory store's accounting baselines (accounts.ts): per (account, info
 * hash, peer id), the totals a peer reported last, when, and whether its
 * completion was counted. A private tracker has one per peer, and one is
 * read and written on every announce, so they are packed into typed arrays
 * like a swarm's PeerTable: about 80 bytes an entry and no garbage per
 * announce, where an object, its 40-byte key string and a Map entry cost
 * some 200 bytes and a string built for every lookup.
 *
 * Entries live in slots 0..size-1 (removal moves the last one into the
 * hole), found through an open-addressing index (linear probing,
 * backward-shift deletion) of slot + 1. Clients choose info hashes and peer
 * ids, so the index hash is keyed with random secrets of the table's own
 * (SipHash-1-3, as PeerTable and for the same reason: ids crafted to share a
 * probe run would slow every lookup down); each entry keeps its hash, so
 * moves and growth do not hash again.
 */

import { randomFillSync } from 'node:crypto';
import { siphash13Id } from '../../protocol/siphash.js';

const ID_BYTES = 40;
const MIN_CAPACITY = 64;

export class BaselineTable {
  /** Entries in use: slots 0..size-1. */
  size = 0;
  /** The account (accounts.ts' number for a passkey) of each slot. */
  private account = new Uint32Array(0);
  /** Info hash then peer id, 40 bytes a slot. */
  private ids = new Uint8Array(0);
  private hashes = new Int32Array(0);
  /** The totals of the slot's last announce, in bytes. */
  uploaded = new Float64Array(0);
  downloaded = new Float64Array(0);
  /** Epoch ms of the slot's last announce. */
  seen = new Float64Array(0);
  /** 1 once the slot's completion was counted. */
  completed = new Uint8Array(0);
  private index = new Uint32Array(0);
  private mask = 0;
  private capacity = 0;
  /** Two SipHash keys (info hash, peer id), four int32 words each. */
  private readonly key = new Int32Array(8);

  constructor() {
    randomFillSync(this.key);
    this.allocate(MIN_CAPACITY);
  }

  /** The slot of this entry, or -1. */
  find(account: number, infoHash: Uint8Array, peerId: Uint8Array): number {
    const { index, ids } = this;
    const mask = this.mask;
    const h = this.hash(account, infoHash, peerId);
    for (let i = h & mask; ; i = (i + 1) & mask) {
      const entry = index[i] as number;
      if (entry === 0) return -1;
      const slot = entry - 1;
      if (this.hashes[slot] === h && this.account[slot] === account && sameId(ids, slot * ID_BYTES, infoHash, peerId)) {
        return slot;
      }
    }
  }

  /**
   * Adds an entry (not already present) and returns its slot, its fields
   * zero. The field arrays may be replaced: read them after this call.
   */
  insert(account: number, infoHash: Uint8Array, peerId: Uint8Array): number {
    if (this.size === this.capacity) this.resize(this.capacity * 2);
    const slot = this.size++;
    this.account[slot] = account;
    this.ids.set(infoHash.subarray(0, 20), slot * ID_BYTES);
    this.ids.set(peerId.subarray(0, 20), slot * ID_BYTES + 20);
    this.hashes[slot] = this.hash(account, infoHash, peerId);
    this.uploaded[slot] = 0;
    this.downloaded[slot] = 0;
    this.seen[slot] = 0;
    this.completed[slot] = 0;
    this.indexInsert(slot);
    return slot;
  }

  /** Removes the entry in `slot`; the last entry moves into it. */
  remove(slot: number): void {
    this.indexDelete(slot);
    const last = --this.size;
    if (slot !== last) {
      this.index[this.indexPosition(last)] = slot + 1;
      this.account[slot] = this.account[last] as number;
      this.ids.copyWithin(slot * ID_BYTES, last * ID_BYTES, (last + 1) * ID_BYTES);
      this.hashes[slot] = this.hashes[last] as number;
      this.uploaded[slot] = this.uploaded[last] as number;
      this.downloaded[slot] = this.downloaded[last] as number;
      this.seen[slot] = this.seen[last] as number;
      this.completed[slot] = this.completed[last] as number;
    }
  }

  /** Removes every entry last seen before `before`; shrinks the arrays when few are left. Returns how many went. */
  removeOlderThan(before: number): number {
    let removed = 0;
    // Backwards, so the entry moved into a freed slot was already looked at.
    for (let slot = this.size - 1; slot >= 0; slot--) {
      if ((this.seen[slot] as number) < before) {
        this.remove(slot);
        removed++;
      }
    }
    if (this.size * 4 < this.capacity) {
      // Down to twice what is left, so the next few inserts do not grow it straight back.
      let capacity = MIN_CAPACITY;
      while (capacity < this.size * 2) capacity *= 2;
      if (capacity < this.capacity) this.resize(capacity);
    }
    return removed;
  }

  /** Bytes held by the arrays (for tests and sizing). */
  get bytes(): number {
    return this.capacity * (4 + ID_BYTES + 4 + 8 + 8 + 8 + 1) + this.index.byteLength;
  }

  /** The index hash of an entry: keyed SipHash-1-3 of the info hash and of the peer id, mixed with the account. */
  private hash(account: number, infoHash: Uint8Array, peerId: Uint8Array): number {
    const k = this.key;
    const a = siphash13Id(k[0] as number, k[1] as number, k[2] as number, k[3] as number, infoHash, 0);
    const b = siphash13Id(k[4] as number, k[5] as number, k[6] as number, k[7] as number, peerId, 0);
    return (a ^ Math.imul(b ^ account, 0x9e3779b1)) | 0;
  }

  private allocate(capacity: number): void {
    this.capacity = capacity;
    this.account = new Uint32Array(capacity);
    this.ids = new Uint8Array(capacity * ID_BYTES);
    this.hashes = new Int32Array(capacity);
    this.uploaded = new Float64Array(capacity);
    this.downloaded = new Float64Array(capacity);
    this.seen = new Float64Array(capacity);
    this.completed = new Uint8Array(capacity);
    // A power of two at least twice the capacity: load ≤ 1/2, short probe runs.
    let indexSize = 4;
    while (indexSize < capacity * 2) indexSize *= 2;
    this.index = new Uint32Array(indexSize);
    this.mask = indexSize - 1;
  }

  private resize(capacity: number): void {
    const { account, ids, hashes, uploaded, downloaded, seen, completed, size } = this;
    this.allocate(capacity);
    this.account.set(account.subarray(0, size));
    this.ids.set(ids.subarray(0, size * ID_BYTES));
    this.hashes.set(hashes.subarray(0, size));
    this.uploaded.set(uploaded.subarray(0, size));
    this.downloaded.set(downloaded.subarray(0, size));
    this.seen.set(seen.subarray(0, size));
    this.completed.set(completed.subarray(0, size));
    for (let slot = 0; slot < size; slot++) this.indexInsert(slot);
  }

  private indexInsert(slot: number): void {
    const { index, mask } = this;
    let i = (this.hashes[slot] as number) & mask;
    while (index[i] !== 0) i = (i + 1) & mask;
    index[i] = slot + 1;
  }

  /** The index position that points at `slot`. */
  private indexPosition(slot: number): number {
    const { index, mask } = this;
    for (let i = (this.hashes[slot] as number) & mask; ; i = (i + 1) & mask) {
      if (index[i] === slot + 1) return i;
    }
  }

  /** Backward-shift deletion: later entries of the probe run move up, so lookups need no tombstones. */
  private indexDelete(slot: number): void {
    const { index, mask } = this;
    let hole = this.indexPosition(slot);
    let i = hole;
    for (;;) {
      i = (i + 1) & mask;
      const entry = index[i] as number;
      if (entry === 0) break;
      const home = (this.hashes[entry - 1] as number) & mask;
      // Move the entry into the hole if its home is not in (hole, i] (cyclically).
      const inRange = hole <= i ? home > hole && home <= i : home > hole || home <= i;
      if (!inRange) {
        index[hole] = entry;
        hole = i;
      }
    }
    index[hole] = 0;
  }
}

function sameId(ids: Uint8Array, at: number, infoHash: Uint8Array, peerId: Uint8Array): boolean {
  for (let i = 0; i < 20; i++) if (ids[at + i] !== infoHash[i]) return false;
  for (let i = 0; i < 20; i++) if (ids[at + 20 + i] !== peerId[i]) return false;
  return true;
}

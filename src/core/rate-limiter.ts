import { randomBytes } from 'node:crypto';
import type { ParsedAddress } from '../protocol/compact.js';
import { siphash24 } from '../protocol/siphash.js';

/**
 * Per-source request budgets in a table of fixed size (docs/access.md, "Rate
 * limits and abuse limits"). A source is an IPv4 address or an IPv6 /64 (one
 * subscriber's network: a host picks any address in its /64 at will, so
 * counting per address would limit nothing).
 *
 * Each source has two budgets, both GCRA (the generic cell rate algorithm, a
 * token bucket kept as one number, its "theoretical arrival time" TAT: the
 * moment its bucket would be full again):
 * - requests (announces and scrapes): `rate` a second, `burst` at once;
 * - bad UDP connection ids: `badIdLimit` a minute; the one that empties it
 *   makes the source ignored for `badIdIgnoreMs`.
 *
 * Memory is bounded whatever clients send: the table is allocated once (open
 * addressing over typed arrays, 20 bytes a slot) and never grows. A source
 * lives in one bucket of 8 slots chosen by a keyed hash (SipHash-2-4 with a
 * random salt), so nobody can aim many sources at one bucket. A new source
 * takes an empty slot of its bucket or evicts the one whose budgets are the
 * fullest (the smallest TAT): a source whose TATs are past holds nothing a
 * fresh entry would not, so evicting it changes nothing, and a source in debt
 * (limited, or ignored) is the last to go. To push one out, 8 sources of its
 * bucket must be deeper in debt than it is.
 *
 * Pure: no timers, no I/O; the clock is injected.
 */

/**
 * How many leading bytes of an address name its source: the IPv4 address, or
 * the IPv6 /64. The one grouping rule of every per-source limit.
 */
export function sourceLength(address: ParsedAddress): 4 | 8 {
  return address.family === 4 ? 4 : 8;
}

/** The source of an address as a Map key (4 or 8 characters, so the families never meet). */
export function sourceKey(address: ParsedAddress): string {
  return address.bytes.toString('latin1', 0, sourceLength(address));
}

/** Slots per bucket: the probe window (8 keys are one 32-byte read). */
const WAYS = 8;
/** Default slots: sources in debt at once that the table holds exactly (5 MiB). */
export const DEFAULT_SLOTS = 1 << 18;
/** Bytes per slot: a 32-bit key and two 64-bit TATs. */
export const BYTES_PER_SLOT = 4 + 8 + 8;

export interface RateLimiterOptions {
  /** Requests a second per source; 0: requests are not limited. */
  rate: number;
  /** Requests a source may make at once (the bucket's size); at least 1. */
  burst: number;
  /** Bad UDP connection ids a source may send a minute before it is ignored; 0: never ignored. */
  badIdLimit: number;
  /** How long a source that sent too many bad connection ids is ignored (ms). */
  badIdIgnoreMs: number;
  /** Clock in ms; any origin, should not step (a step back is tolerated, see below). */
  now: () => number;
  /** Table slots, a power of two ≥ 8 (tests use small tables). */
  slots?: number;
  /** 16 bytes of SipHash key (tests); random by default. */
  salt?: Uint8Array;
}

/** One GCRA budget: `interval` ms per request, `tolerance` ms of debt allowed (burst − 1 intervals). */
interface Budget {
  interval: number;
  tolerance: number;
}

export class RateLimiter {
  /** Bytes the table holds, allocated once whatever the number of sources. */
  readonly bytes: number;
  private readonly keys: Uint32Array;
  /** Per slot: [request TAT, bad-id TAT], in the clock's ms. */
  private readonly tats: Float64Array;
  private readonly bucketMask: number;
  private readonly key: Uint32Array;
  private readonly hash = new Uint32Array(2);
  private readonly requests: Budget | undefined;
  private readonly badIds: Budget | undefined;
  private readonly ignoreMs: number;
  private readonly now: () => number;

  constructor(options: RateLimiterOptions) {
    const slots = options.slots ?? DEFAULT_SLOTS;
    if (!Number.isInteger(Math.log2(slots)) || slots < WAYS) throw new RangeError('slots must be a power of two ≥ 8');
    this.requests = options.rate > 0 ? budget(1000 / options.rate, Math.max(1, options.burst)) : undefined;
    this.badIds = options.badIdLimit > 0 ? budget(60_000 / options.badIdLimit, options.badIdLimit) : undefined;
    this.ignoreMs = options.badIdIgnoreMs;
    this.now = options.now;
    this.keys = new Uint32Array(slots);
    this.tats = new Float64Array(slots * 2);
    this.bytes = this.keys.byteLength + this.tats.byteLength;
    this.bucketMask = slots / WAYS - 1;
    const salt = options.salt ?? randomBytes(16);
    const view = Buffer.from(salt.buffer, salt.byteOffset, 16);
    this.key = new Uint32Array([0, 4, 8, 12].map((at) => view.readUInt32LE(at)));
  }

  /**
   * Charges one request to the source. True: serve it. False: the source is
   * over its rate; nothing is charged (a refused request costs the client
   * nothing, so a client that keeps asking gets through at the rate).
   */
  take(address: ParsedAddress): boolean {
    const requests = this.requests;
    if (requests === undefined) return true;
    const slot = this.slot(address);
    const now = this.now();
    const at = slot * 2;
    const tat = start(this.tats[at] as number, now, requests);
    if (tat - now > requests.tolerance) return false;
    this.tats[at] = tat + requests.interval;
    return true;
  }

  /**
   * A UDP packet from the source carried a connection id we did not issue.
   * True: answer it (BEP 15's error). False: the source is ignored: it sent
   * `badIdLimit` of them within a minute, and the last `badIdIgnoreMs` ms
   * (or it keeps sending them).
   */
  takeBadId(address: ParsedAddress): boolean {
    const badIds = this.badIds;
    if (badIds === undefined) return true;
    const slot = this.slot(address);
    const now = this.now();
    const at = slot * 2 + 1;
    const tat = start(this.tats[at] as number, now, badIds, this.ignoreMs);
    if (tat - now > badIds.tolerance) return false;
    const next = tat + badIds.interval;
    // This one empties the budget: answer it, then ignore the source for ignoreMs.
    this.tats[at] = next - now > badIds.tolerance ? now + badIds.tolerance + this.ignoreMs : next;
    return true;
  }

  /** The source's slot: found in its bucket, or taken from the entry with the fullest budgets. */
  private slot(address: ParsedAddress): number {
    // IPv4: the address; IPv6: its /64. The lengths differ, and SipHash hashes
    // the length too, so the two families never share a key.
    siphash24(this.key, address.bytes, 0, sourceLength(address), this.hash);
    const fingerprint = (this.hash[1] as number) || 1; // 0 marks an empty slot
    const keys = this.keys;
    const first = ((this.hash[0] as number) & this.bucketMask) * WAYS;
    for (let i = first; i < first + WAYS; i++) if (keys[i] === fingerprint) return i;
    const tats = this.tats;
    let victim = first;
    let fullest = Number.POSITIVE_INFINITY;
    for (let i = first; i < first + WAYS; i++) {
      if (keys[i] === 0) {
        victim = i;
        break;
      }
      const debt = Math.max(tats[i * 2] as number, tats[i * 2 + 1] as number);
      if (debt < fullest) {
        fullest = debt;
        victim = i;
      }
    }
    keys[victim] = fingerprint;
    // A fresh entry: both budgets full (a TAT in the past, or 0, reads as "now").
    tats[victim * 2] = 0;
    tats[victim * 2 + 1] = 0;
    return victim;
  }
}

function budget(interval: number, burst: number): Budget {
  return { interval, tolerance: (burst - 1) * interval };
}

/**
 * The TAT a request is measured from: the stored one, or now if that is past
 * (a full bucket holds no credit beyond full). A TAT further ahead than any
 * request could have put it means the clock stepped back: start afresh rather
 * than refuse the source until the clock catches up.
 */
function start(tat: number, now: number, b: Budget, extra = 0): number {
  if (tat < now || tat - now > b.tolerance + b.interval + extra) return now;
  return tat;
}

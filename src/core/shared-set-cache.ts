import { asStoreError } from '../errors.js';
import type { SharedSet } from '../store/swarm-store.js';

/** An answer of the store is trusted this long: a change made there applies on every node within it. */
export const SHARED_SET_CACHE_MS = 1000;
/** At most this many answers are cached (client-chosen members must not grow memory); the oldest go first. */
const MAX_CACHED = 100_000;

/**
 * Membership in a set kept in the store (`--keys redis`, `--allow-list redis`),
 * asked of the store at most once per member per SHARED_SET_CACHE_MS on this
 * node. A cached answer is returned synchronously, so a member announcing
 * often costs a Map lookup; only a miss waits for the store.
 */
export class SharedSetCache {
  private readonly cache = new Map<string, { member: boolean; until: number }>();

  constructor(
    readonly set: SharedSet,
    private readonly now: () => number,
  ) {}

  /** `member` as the store spells it; a boolean when cached, else a promise (a StoreError when the store is down). */
  has(member: string): boolean | Promise<boolean> {
    const now = this.now();
    const cached = this.cache.get(member);
    if (cached && cached.until > now) return cached.member;
    return this.ask(member, now);
  }

  private async ask(member: string, now: number): Promise<boolean> {
    let found: boolean;
    try {
      found = await this.set.has(member);
    } catch (err) {
      throw asStoreError(err);
    }
    this.cache.delete(member);
    if (this.cache.size >= MAX_CACHED) {
      // A Map iterates in insertion order: the first key is the oldest answer.
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(member, { member: found, until: now + SHARED_SET_CACHE_MS });
    return found;
  }
}

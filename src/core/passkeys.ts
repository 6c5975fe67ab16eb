import { createHash, timingSafeEqual } from 'node:crypto';
import { PolicyError, StoreError } from '../errors.js';
import type { StoredPasskeys } from '../store/account-store.js';

/** With `--keys redis`, an answer of the store is trusted this long (a key removed there stops working within it). */
export const STORED_KEY_CACHE_MS = 1000;
/** At most this many answers are cached (random keys from a client must not grow memory). */
const STORED_KEY_CACHE_MAX = 100_000;

/**
 * Who is a member of a private tracker (`--private`): the passkeys of the keys
 * file (`--keys PATH`, replaced whole on each read) or of the store
 * (`--keys redis`). The one check for every transport: the core calls it
 * before an announce or scrape reaches the store.
 *
 * Threat model: anyone who can reach the port may guess keys and time the
 * answers. A key is looked up by its SHA-256 digest, never compared as text,
 * so the time a lookup takes says nothing about how close a guess was; the
 * digest found is compared again with timingSafeEqual. Keys never reach a log
 * line whole (protocol/passkey.ts: maskPasskey).
 */
export class Passkeys {
  /** Digests of the file's keys (latin1 strings of 32 bytes). */
  private digests: ReadonlyMap<string, Buffer> = new Map();
  /** The file's keys, sorted (for the accounts endpoint). */
  private sorted: readonly string[] = [];
  /** `--keys redis`: recent answers of the store, by digest. */
  private readonly cache = new Map<string, { member: boolean; until: number }>();

  constructor(
    readonly mode: 'off' | 'file' | 'store',
    private readonly stored: StoredPasskeys | undefined,
    private readonly now: () => number,
  ) {
    if (mode === 'store' && !stored) throw new Error('--keys redis needs the Redis store');
  }

  get required(): boolean {
    return this.mode !== 'off';
  }

  /** The keys file's new contents. */
  replace(keys: ReadonlySet<string>): void {
    const digests = new Map<string, Buffer>();
    for (const key of keys) {
      const d = digest(key);
      digests.set(d.toString('latin1'), d);
    }
    this.digests = digests;
    this.sorted = [...keys].sort();
  }

  /** Resolves when `passkey` is a member's; throws PolicyError `unknown_passkey` otherwise (StoreError if the store is down). */
  async verify(passkey: string | undefined): Promise<void> {
    if (this.mode === 'off') return;
    if (passkey === undefined || !(await this.has(passkey))) {
      throw new PolicyError('unknown_passkey', 'unknown passkey');
    }
  }

  /** The members' keys, a page at a time (cursor '0' starts; '0' back means done). */
  async list(cursor: string, count: number): Promise<{ cursor: string; passkeys: string[] }> {
    if (this.mode === 'store' && this.stored) return this.stored.scan(cursor, count);
    const from = Number(cursor) || 0;
    const page = this.sorted.slice(from, from + count);
    const next = from + page.length;
    return { cursor: next >= this.sorted.length ? '0' : String(next), passkeys: page };
  }

  private async has(passkey: string): Promise<boolean> {
    const d = digest(passkey);
    const id = d.toString('latin1');
    if (this.mode === 'file') {
      const found = this.digests.get(id);
      return found !== undefined && timingSafeEqual(found, d);
    }
    const now = this.now();
    const cached = this.cache.get(id);
    if (cached && cached.until > now) return cached.member;
    let member: boolean;
    try {
      member = await (this.stored as StoredPasskeys).has(passkey);
    } catch (err) {
      throw err instanceof StoreError
        ? err
        : new StoreError('tracker storage is unavailable, retry later', { cause: err });
    }
    this.cache.delete(id);
    if (this.cache.size >= STORED_KEY_CACHE_MAX) {
      // The oldest answer goes first (a Map iterates in insertion order).
      const oldest = this.cache.keys().next();
      if (!oldest.done) this.cache.delete(oldest.value);
    }
    this.cache.set(id, { member, until: now + STORED_KEY_CACHE_MS });
    return member;
  }
}

function digest(passkey: string): Buffer {
  return createHash('sha256').update(passkey, 'latin1').digest();
}

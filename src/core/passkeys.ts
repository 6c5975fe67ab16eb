import { createHash, timingSafeEqual } from 'node:crypto';
import { PolicyError } from '../errors.js';
import type { SharedSetCache } from './shared-set-cache.js';

/**
 * Who is a member of a private tracker (`--private`): the passkeys of the keys
 * file (`--keys PATH`, replaced whole on each read) or of the store
 * (`--keys redis`). The one check for every transport: the core calls it
 * before an announce or scrape reaches the store.
 *
 * Threat model: anyone who can reach the port may guess keys and time the
 * answers. A key is looked up by its SHA-256 digest, never compared as text,
 * so the time a lookup takes says nothing about how close a guess was; the
 * digest found is compared again with timingSafeEqual. (With `--keys redis`
 * Redis looks the key up in its own hash table, whose timing reveals as
 * little.) Keys never reach a log line whole (protocol/passkey.ts: maskPasskey).
 */
export class Passkeys {
  /** Digests of the file's keys (latin1 strings of 32 bytes). */
  private digests: ReadonlyMap<string, Buffer> = new Map();
  /** The file's keys, sorted (for the accounts endpoint). */
  private sorted: readonly string[] = [];
  constructor(
    readonly mode: 'off' | 'file' | 'store',
    /** `--keys redis`: the set in the store, with this node's recent answers. */
    private readonly stored: SharedSetCache | undefined,
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
    if (this.mode === 'store' && this.stored) {
      const page = await this.stored.set.scan(cursor, count);
      return { cursor: page.cursor, passkeys: page.members };
    }
    const from = Number(cursor) || 0;
    const page = this.sorted.slice(from, from + count);
    const next = from + page.length;
    return { cursor: next >= this.sorted.length ? '0' : String(next), passkeys: page };
  }

  private async has(passkey: string): Promise<boolean> {
    if (this.mode === 'store') return (this.stored as SharedSetCache).has(passkey);
    const d = digest(passkey);
    const found = this.digests.get(d.toString('latin1'));
    return found !== undefined && timingSafeEqual(found, d);
  }
}

function digest(passkey: string): Buffer {
  return createHash('sha256').update(passkey, 'latin1').digest();
}

import { randomBytes, timingSafeEqual } from 'node:crypto';
import { PolicyError } from '../errors.js';
import { siphash24 } from '../protocol/siphash.js';
import type { SharedSetCache } from './shared-set-cache.js';

/**
 * Who is a member of a private tracker (`--private`): the passkeys of the keys
 * file (`--keys PATH`, replaced whole on each read) or of the store
 * (`--keys redis`). The one check for every transport: the core calls it
 * before an announce or scrape reaches the store.
 *
 * Threat model: anyone who can reach the port may guess keys and time the
 * answers. A key is looked up by its SipHash-2-4 under a random per-process
 * secret (a keyed digest: without the secret, a guess's digest says nothing
 * about the real key's), never compared as text, so the time a lookup takes
 * says nothing about how close a guess was; a key found under that digest is
 * then compared with timingSafeEqual. SipHash, not SHA-256: it is the check of
 * every announce of a private tracker, and costs a tenth as much. (With `--keys redis`
 * Redis looks the key up in its own hash table, whose timing reveals as
 * little.) Keys never reach a log line whole (protocol/passkey.ts: maskPasskey).
 */
export class Passkeys {
  /** The file's keys by their digest (digest()); a list, as two keys may share 53 bits of digest. */
  private digests: ReadonlyMap<number, readonly Buffer[]> = new Map();
  private readonly secret = new Uint32Array(randomBytes(16).buffer);
  private readonly out = new Uint32Array(2);
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
    const digests = new Map<number, Buffer[]>();
    for (const key of keys) {
      const bytes = Buffer.from(key, 'latin1');
      const d = this.digest(bytes);
      const same = digests.get(d);
      if (same) same.push(bytes);
      else digests.set(d, [bytes]);
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
    const bytes = Buffer.from(passkey, 'latin1');
    const candidates = this.digests.get(this.digest(bytes));
    if (!candidates) return false;
    let found = false;
    for (const key of candidates) if (key.length === bytes.length && timingSafeEqual(key, bytes)) found = true;
    return found;
  }

  /** 53 bits of the key's SipHash-2-4 under this process' secret (a Map key without an allocation). */
  private digest(bytes: Buffer): number {
    siphash24(this.secret, bytes, 0, bytes.length, this.out);
    return (this.out[0] as number) * 0x200000 + ((this.out[1] as number) & 0x1fffff);
  }
}

import { randomBytes } from 'node:crypto';
import { PolicyError } from '../errors.js';
import { PASSKEY_MAX } from '../protocol/passkey.js';
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
 * then compared byte by byte without an early exit (constantTimeEqual). SipHash, not SHA-256: it is the check of
 * every announce of a private tracker, and costs a tenth as much. (With `--keys redis`
 * Redis looks the key up in its own hash table, whose timing reveals as
 * little.) Keys never reach a log line whole (protocol/passkey.ts: maskPasskey).
 */
export class Passkeys {
  /** The file's keys by their digest (digest()); a list, as two keys may share 53 bits of digest. */
  private digests: ReadonlyMap<number, readonly Buffer[]> = new Map();
  private readonly secret = new Uint32Array(randomBytes(16).buffer);
  private readonly out = new Uint32Array(2);
  private readonly scratch = Buffer.alloc(PASSKEY_MAX);
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
      const d = this.digest(bytes, bytes.length);
      const same = digests.get(d);
      if (same) same.push(bytes);
      else digests.set(d, [bytes]);
    }
    this.digests = digests;
    this.sorted = [...keys].sort();
  }

  /**
   * Returns when `passkey` is a member's; throws PolicyError `unknown_passkey`
   * otherwise. Synchronous for a keys file; with `--keys redis` a promise
   * unless this node asked the store about the key lately (then a StoreError
   * when the store is down).
   */
  verify(passkey: string | undefined): void | Promise<void> {
    if (this.mode === 'off') return;
    if (passkey === undefined) throw UNKNOWN();
    if (this.mode === 'store') {
      const found = (this.stored as SharedSetCache).has(passkey);
      if (typeof found !== 'boolean') return found.then(refuseUnless);
      return refuseUnless(found);
    }
    refuseUnless(this.fileHas(passkey));
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

  private fileHas(passkey: string): boolean {
    const length = passkey.length;
    if (length > PASSKEY_MAX) return false;
    // Into a buffer kept for it: no allocation per announce.
    const bytes = this.scratch;
    bytes.write(passkey, 0, length, 'latin1');
    const candidates = this.digests.get(this.digest(bytes, length));
    if (!candidates) return false;
    let found = false;
    for (const key of candidates) if (key.length === length && constantTimeEqual(key, bytes, length)) found = true;
    return found;
  }

  /** 53 bits of the key's SipHash-2-4 under this process' secret (a Map key without an allocation). */
  private digest(bytes: Buffer, length: number): number {
    siphash24(this.secret, bytes, 0, length, this.out);
    return (this.out[0] as number) * 0x200000 + ((this.out[1] as number) & 0x1fffff);
  }
}

const UNKNOWN = (): PolicyError => new PolicyError('unknown_passkey', 'unknown passkey');

function refuseUnless(found: boolean): void {
  if (!found) throw UNKNOWN();
}

/**
 * Whether the first `length` bytes of `a` and `b` are equal, in a time that
 * depends on `length` only: every byte is looked at and no branch depends on
 * them (what crypto.timingSafeEqual does, without a subarray per call).
 */
function constantTimeEqual(a: Uint8Array, b: Uint8Array, length: number): boolean {
  let diff = 0;
  for (let i = 0; i < length; i++) diff |= (a[i] as number) ^ (b[i] as number);
  return diff === 0;
}

import {
  type Account,
  type AccountAnnounce,
  type AccountStore,
  type AccountStoreOptions,
  accountDelta,
  emptyAccount,
} from '../account-store.js';
import { BaselineTable } from './baseline-table.js';

/** Forgotten baselines are swept at most this often (one pass over all of them). */
const SWEEP_EVERY_MS = 60_000;

/**
 * Per-passkey accounting in process memory (account-store.ts has the rules).
 * Synchronous: an announce's accounting is done when record() returns.
 */
export class MemoryAccounts implements AccountStore {
  /** Accounts by number; `numbers` maps a passkey to its number. Members are few, so these are plain objects. */
  private readonly accounts: Account[] = [];
  private readonly numbers = new Map<string, number>();
  private readonly baselines = new BaselineTable();
  private lastSweep = 0;

  constructor(private readonly options: AccountStoreOptions) {}

  record(passkey: string, a: AccountAnnounce): void {
    const now = this.options.now();
    this.sweepIfDue(now);
    let number = this.numbers.get(passkey);
    if (number === undefined) {
      number = this.accounts.length;
      this.numbers.set(passkey, number);
      this.accounts.push(emptyAccount(passkey));
    }
    const account = this.accounts[number] as Account;
    const table = this.baselines;
    let slot = table.find(number, a.infoHash, a.peerId);
    const elapsed = slot < 0 ? 0 : now - (table.seen[slot] as number);
    // A baseline older than the TTL is as good as forgotten (the sweep has not reached it yet).
    const known = slot >= 0 && elapsed <= this.options.ttlMs && a.event !== 'started';
    if (known) {
      account.uploaded += accountDelta(table.uploaded[slot] as number, a.uploaded, elapsed);
      account.downloaded += accountDelta(table.downloaded[slot] as number, a.downloaded, elapsed);
    }
    const completedBefore = known && table.completed[slot] === 1;
    if (a.event === 'completed' && !completedBefore) account.completed++;
    account.announces++;
    account.lastAnnounce = now;
    if (a.event === 'stopped') {
      if (slot >= 0) table.remove(slot);
      return;
    }
    if (slot < 0) slot = table.insert(number, a.infoHash, a.peerId);
    table.uploaded[slot] = a.uploaded;
    table.downloaded[slot] = a.downloaded;
    table.seen[slot] = now;
    table.completed[slot] = completedBefore || a.event === 'completed' ? 1 : 0;
  }

  async read(passkeys: readonly string[]): Promise<Account[]> {
    return passkeys.map((key) => {
      const number = this.numbers.get(key);
      return { ...(number === undefined ? emptyAccount(key) : (this.accounts[number] as Account)) };
    });
  }

  /** Baselines held (for tests). */
  get baselineCount(): number {
    return this.baselines.size;
  }

  private sweepIfDue(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    this.baselines.removeOlderThan(now - this.options.ttlMs);
  }
}

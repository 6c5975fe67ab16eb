import {
  type Account,
  type AccountAnnounce,
  type AccountStore,
  type AccountStoreOptions,
  accountDelta,
  emptyAccount,
} from '../account-store.js';

interface Baseline {
  uploaded: number;
  downloaded: number;
  seen: number;
  completed: boolean;
}

/** Forgotten baselines are swept at most this often (one pass over all of them). */
const SWEEP_EVERY_MS = 60_000;

/** Per-passkey accounting in process memory (account-store.ts has the rules). */
export class MemoryAccounts implements AccountStore {
  private readonly accounts = new Map<string, Account>();
  /** Baselines by passkey, then by info hash + peer id (latin1). */
  private readonly baselines = new Map<string, Map<string, Baseline>>();
  private lastSweep = 0;

  constructor(private readonly options: AccountStoreOptions) {}

  async record(a: AccountAnnounce): Promise<void> {
    const now = this.options.now();
    this.sweepIfDue(now);
    let account = this.accounts.get(a.passkey);
    if (!account) {
      account = emptyAccount(a.passkey);
      this.accounts.set(a.passkey, account);
    }
    let peers = this.baselines.get(a.passkey);
    if (!peers) {
      peers = new Map();
      this.baselines.set(a.passkey, peers);
    }
    const id = a.infoHash.toString('latin1') + a.peerId.toString('latin1');
    let base = peers.get(id);
    if (base && now - base.seen > this.options.ttlMs) base = undefined;
    if (base && a.event !== 'started') {
      account.uploaded += accountDelta(base.uploaded, a.uploaded, now - base.seen);
      account.downloaded += accountDelta(base.downloaded, a.downloaded, now - base.seen);
    }
    const completedBefore = base !== undefined && a.event !== 'started' && base.completed;
    if (a.event === 'completed' && !completedBefore) account.completed++;
    account.announces++;
    account.lastAnnounce = now;
    if (a.event === 'stopped') {
      peers.delete(id);
      if (peers.size === 0) this.baselines.delete(a.passkey);
      return;
    }
    const completed = completedBefore || a.event === 'completed';
    const kept = peers.get(id);
    if (kept) {
      // Updated in place: a new object per announce would be old-generation garbage for the GC.
      kept.uploaded = a.uploaded;
      kept.downloaded = a.downloaded;
      kept.seen = now;
      kept.completed = completed;
    } else {
      peers.set(id, { uploaded: a.uploaded, downloaded: a.downloaded, seen: now, completed });
    }
  }

  async read(passkeys: readonly string[]): Promise<Account[]> {
    return passkeys.map((key) => ({ ...(this.accounts.get(key) ?? emptyAccount(key)) }));
  }

  private sweepIfDue(now: number): void {
    if (now - this.lastSweep < SWEEP_EVERY_MS) return;
    this.lastSweep = now;
    for (const [key, peers] of this.baselines) {
      for (const [id, base] of peers) if (now - base.seen > this.options.ttlMs) peers.delete(id);
      if (peers.size === 0) this.baselines.delete(key);
    }
  }
}

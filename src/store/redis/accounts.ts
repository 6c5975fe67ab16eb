import {
  type Account,
  type AccountAnnounce,
  type AccountStore,
  type AccountStoreOptions,
  MAX_BYTES_PER_SECOND,
  MIN_ELAPSED_MS,
} from '../account-store.js';
import type { RedisConnection } from './connection.js';
import { accountKeys } from './keys.js';
import type { Script } from './scripts.js';

/** Per-passkey accounting in Redis (scripts/account.lua has the layout), shared by every tracker node. */
export class RedisAccounts implements AccountStore {
  constructor(
    private readonly connection: RedisConnection,
    private readonly script: Script,
    private readonly prefix: string,
    private readonly options: AccountStoreOptions,
  ) {}

  async record(passkey: string, a: AccountAnnounce): Promise<void> {
    await this.connection.evalScript(this.script, accountKeys(this.prefix, passkey), [
      String(this.options.now()),
      String(this.options.ttlMs),
      Buffer.concat([a.infoHash, a.peerId]),
      a.event,
      String(a.uploaded),
      String(a.downloaded),
      String(MAX_BYTES_PER_SECOND),
      String(MIN_ELAPSED_MS),
    ]);
  }

  async read(passkeys: readonly string[]): Promise<Account[]> {
    return Promise.all(
      passkeys.map(async (passkey) => {
        const [key] = accountKeys(this.prefix, passkey);
        const fields = await this.connection.command<(Buffer | null)[]>(key, [
          'HMGET',
          key,
          'uploaded',
          'downloaded',
          'completed',
          'announces',
          'last',
        ]);
        const n = (i: number): number => Number(fields[i]?.toString() ?? 0);
        return { passkey, uploaded: n(0), downloaded: n(1), completed: n(2), announces: n(3), lastAnnounce: n(4) };
      }),
    );
  }
}

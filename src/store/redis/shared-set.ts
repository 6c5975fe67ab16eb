import type { SharedSet } from '../swarm-store.js';
import type { RedisConnection } from './connection.js';

/**
 * A set of strings in Redis that an operator's application changes with SADD
 * and SREM (`<prefix><name>`: the passkeys, an allow or deny list); the
 * tracker only reads it. docs/redis-layout.md.
 */
export class RedisSharedSet implements SharedSet {
  constructor(
    private readonly connection: RedisConnection,
    private readonly key: string,
  ) {}

  async has(member: string): Promise<boolean> {
    return (await this.connection.command<number>(this.key, ['SISMEMBER', this.key, member])) === 1;
  }

  async scan(cursor: string, count: number): Promise<{ cursor: string; members: string[] }> {
    const [next, members] = await this.connection.command<[Buffer, Buffer[]]>(this.key, [
      'SSCAN',
      this.key,
      cursor,
      'COUNT',
      String(count),
    ]);
    return { cursor: next.toString(), members: members.map((m) => m.toString('latin1')) };
  }
}

import { createHash, timingSafeEqual } from 'node:crypto';
import type { IncomingMessage } from 'node:http';

/**
 * The optional --stats-token check. The token may come as `?token=` (so a
 * bookmark works) or as `Authorization: Bearer` (what the page's own requests
 * use, keeping it out of access logs after the first load).
 *
 * Threat model: anyone who can reach the port may guess. Both sides are hashed
 * to equal-length digests and compared with timingSafeEqual, so neither the
 * token's content nor its length leaks through response timing.
 */
export class StatsAuth {
  private readonly expected: Buffer | undefined;

  constructor(token: string) {
    this.expected = token ? digest(token) : undefined;
  }

  get required(): boolean {
    return this.expected !== undefined;
  }

  /** The token the request carries, if any (a Bearer header wins over the query). */
  static presented(req: IncomingMessage, params: URLSearchParams): string | undefined {
    const header = req.headers.authorization;
    if (header) {
      const m = /^Bearer[ \t]+(\S+)[ \t]*$/i.exec(header);
      if (m) return m[1];
    }
    return params.get('token') ?? undefined;
  }

  allows(presented: string | undefined): boolean {
    if (!this.expected) return true;
    if (presented === undefined) return false;
    return timingSafeEqual(digest(presented), this.expected);
  }
}

function digest(text: string): Buffer {
  return createHash('sha256').update(text, 'utf8').digest();
}

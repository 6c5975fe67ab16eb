import { sourceKey } from '../core/rate-limiter.js';
import type { ParsedAddress } from '../protocol/compact.js';

/** Gives back what acquire() counted; calling it again does nothing. */
export type Release = () => void;

/** The release of something not counted (a cap that is off, a trusted proxy). */
export const NOT_COUNTED: Release = () => undefined;

/**
 * What a source (an IPv4 address or an IPv6 /64, as for the rate limit) has
 * open: HTTP connections, WebSockets. Unlike the rate limiter's table, an
 * entry cannot be evicted (a count lost would never come back down), so only
 * sources with something open have one: the map is bounded by the open
 * connections themselves, which --http-max-connections bounds.
 */
export class SourceCounts {
  private readonly open = new Map<string, number>();
  /** Refused at the cap since start. */
  refused = 0;

  /** `max`: what one source may have open at once; 'off': no cap (nothing is counted). */
  constructor(private readonly max: number | 'off') {}

  /** One more open for the address' source: how to give it back, or undefined when the source is at the cap. */
  acquire(address: ParsedAddress): Release | undefined {
    const max = this.max;
    if (max === 'off') return NOT_COUNTED;
    const key = sourceKey(address);
    const count = this.open.get(key) ?? 0;
    if (count >= max) {
      this.refused++;
      return undefined;
    }
    this.open.set(key, count + 1);
    let released = false;
    return () => {
      if (released) return;
      released = true;
      const left = (this.open.get(key) ?? 1) - 1;
      if (left > 0) this.open.set(key, left);
      else this.open.delete(key);
    };
  }

  /** Sources with something open (tests: nothing is left behind). */
  get sources(): number {
    return this.open.size;
  }
}

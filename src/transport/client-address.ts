import { BlockList, isIPv4 } from 'node:net';
import { formatIp, type ParsedAddress, parseIp } from '../protocol/compact.js';

/**
 * Who is the client? The TCP peer, unless the TCP peer is a reverse proxy the
 * operator trusts (--trust-proxy). Threat model: X-Forwarded-For is set by
 * whoever sends the request, so believing it from anyone lets a client claim any
 * address; we read it only from trusted proxies, and take the right-most hop
 * that is not itself a trusted proxy (the left part of the list is the client's
 * own word).
 */
export class ClientAddressResolver {
  private readonly trusted: BlockList | undefined;

  constructor(trustProxy: readonly string[]) {
    if (trustProxy.length === 0) return;
    this.trusted = new BlockList();
    for (const entry of trustProxy) {
      const [ip, bits] = entry.split('/') as [string, string | undefined];
      const type = isIPv4(ip) ? 'ipv4' : 'ipv6';
      if (bits === undefined) this.trusted.addAddress(ip, type);
      else this.trusted.addSubnet(ip, Number(bits), type);
    }
  }

  resolve(
    remoteAddress: string | undefined,
    headers: Record<string, string | string[] | undefined>,
  ): ParsedAddress | undefined {
    if (remoteAddress === undefined) return undefined;
    const peer = parseIp(remoteAddress);
    if (!peer || !this.trusted || !this.isTrusted(peer)) return peer;
    const forwarded = headerValue(headers['x-forwarded-for']);
    if (forwarded) {
      const hops = forwarded
        .split(',')
        .map((h) => h.trim())
        .filter(Boolean);
      for (let i = hops.length - 1; i >= 0; i--) {
        const hop = parseIp(stripPort(hops[i] as string));
        if (!hop) return peer; // garbage in the chain: do not guess
        if (i === 0 || !this.isTrusted(hop)) return hop;
      }
    }
    const real = headerValue(headers['x-real-ip']);
    if (real) return parseIp(stripPort(real.trim())) ?? peer;
    return peer;
  }

  /**
   * A reverse proxy the operator trusts (--trust-proxy): its connections carry
   * many clients, so per-address connection caps do not count them (the
   * clients behind it are counted by the address it reports, where it can be).
   */
  isTrustedProxy(address: ParsedAddress): boolean {
    return this.trusted !== undefined && this.isTrusted(address);
  }

  private isTrusted(address: ParsedAddress): boolean {
    return this.trusted?.check(formatIp(address), address.family === 4 ? 'ipv4' : 'ipv6') ?? false;
  }
}

function headerValue(value: string | string[] | undefined): string | undefined {
  return Array.isArray(value) ? value.join(',') : value;
}

/** `1.2.3.4:5678` and `[::1]:5678` appear in some proxies' headers. */
function stripPort(hop: string): string {
  const bracket = /^\[([^\]]+)\](?::\d+)?$/.exec(hop);
  if (bracket) return bracket[1] as string;
  const v4 = /^(\d{1,3}(?:\.\d{1,3}){3}):\d+$/.exec(hop);
  return v4 ? (v4[1] as string) : hop;
}

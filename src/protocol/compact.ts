import { isIPv4, isIPv6 } from 'node:net';

/**
 * Compact peer endpoints (BEP 23, BEP 7): 4-byte IPv4 or 16-byte IPv6 address
 * followed by a 2-byte big-endian port. Stores keep peers in this form so that
 * a response is a concatenation of stored bytes.
 */
export const COMPACT_V4_LENGTH = 6;
export const COMPACT_V6_LENGTH = 18;

export type AddressFamily = 4 | 6;

export interface ParsedAddress {
  family: AddressFamily;
  /** 4 or 16 bytes. */
  bytes: Buffer;
}

/**
 * Parses an IP address in text form. IPv4-mapped IPv6 (`::ffff:1.2.3.4`, what a
 * dual-stack socket reports for IPv4 clients) is returned as the IPv4 address.
 * Zone ids (`fe80::1%eth0`) are dropped. Returns undefined for anything else.
 */
export function parseIp(text: string): ParsedAddress | undefined {
  // Fast path for the common case (every UDP packet, every HTTP request):
  // dotted IPv4, bare or IPv4-mapped, parsed by hand without splitting.
  const start = text.startsWith('::ffff:') ? 7 : 0;
  const fast = parseDottedIpv4(text, start);
  if (fast !== undefined) return { family: 4, bytes: fast };
  const zone = text.indexOf('%');
  const ip = zone >= 0 ? text.slice(0, zone) : text;
  if (isIPv4(ip)) return { family: 4, bytes: ipv4Bytes(ip) };
  if (!isIPv6(ip)) return undefined;
  const bytes = ipv6Bytes(ip);
  if (isV4Mapped(bytes)) return { family: 4, bytes: Buffer.from(bytes.subarray(12)) };
  return { family: 6, bytes };
}

/**
 * `a.b.c.d` from `start` to the end, or undefined when it is anything else
 * (including leading zeros, which the general parser decides about).
 */
function parseDottedIpv4(text: string, start: number): Buffer | undefined {
  const bytes = Buffer.allocUnsafe(4);
  let part = 0;
  let value = 0;
  let digits = 0;
  for (let i = start; i < text.length; i++) {
    const c = text.charCodeAt(i);
    if (c === 0x2e) {
      if (digits === 0 || part === 3) return undefined;
      bytes[part++] = value;
      value = 0;
      digits = 0;
    } else if (c >= 0x30 && c <= 0x39 && digits < 3 && !(digits === 1 && value === 0)) {
      value = value * 10 + (c - 0x30);
      if (value > 255) return undefined;
      digits++;
    } else {
      return undefined;
    }
  }
  if (digits === 0 || part !== 3) return undefined;
  bytes[3] = value;
  return bytes;
}

/** Text form of a parsed address (IPv6 in RFC 5952 form). */
export function formatIp(address: ParsedAddress): string {
  if (address.family === 4) return address.bytes.join('.');
  const groups: string[] = [];
  for (let i = 0; i < 16; i += 2) groups.push(address.bytes.readUInt16BE(i).toString(16));
  return compressIpv6(groups);
}

function ipv4Bytes(ip: string): Buffer {
  const out = Buffer.allocUnsafe(4);
  const parts = ip.split('.');
  for (let i = 0; i < 4; i++) out[i] = Number(parts[i]);
  return out;
}

/** Expands a (valid, per net.isIPv6) IPv6 text address into 16 bytes. */
function ipv6Bytes(ip: string): Buffer {
  const out = Buffer.alloc(16);
  let text = ip;
  // A trailing dotted IPv4 part (`::ffff:1.2.3.4`) is two 16-bit groups.
  const lastColon = text.lastIndexOf(':');
  let tail: Buffer | undefined;
  if (text.indexOf('.', lastColon) >= 0) {
    tail = ipv4Bytes(text.slice(lastColon + 1));
    text = `${text.slice(0, lastColon + 1)}0:0`;
  }
  const halves = text.split('::');
  const head = halves[0] ? halves[0].split(':') : [];
  const rest = halves.length > 1 && halves[1] ? halves[1].split(':') : [];
  for (let i = 0; i < head.length; i++) out.writeUInt16BE(Number.parseInt(head[i] as string, 16), i * 2);
  for (let i = 0; i < rest.length; i++) {
    out.writeUInt16BE(Number.parseInt(rest[i] as string, 16), 16 - (rest.length - i) * 2);
  }
  if (tail) tail.copy(out, 12);
  return out;
}

function isV4Mapped(bytes: Buffer): boolean {
  for (let i = 0; i < 10; i++) if (bytes[i] !== 0) return false;
  return bytes[10] === 0xff && bytes[11] === 0xff;
}

/** 6- or 18-byte compact endpoint. */
export function packEndpoint(address: ParsedAddress, port: number): Buffer {
  const out = Buffer.allocUnsafe(address.bytes.length + 2);
  address.bytes.copy(out, 0);
  out.writeUInt16BE(port, address.bytes.length);
  return out;
}

/** Text form of a compact endpoint's address and its port. */
export function unpackEndpoint(entry: Buffer): { ip: string; port: number; family: AddressFamily } {
  if (entry.length === COMPACT_V4_LENGTH) {
    return { ip: `${entry[0]}.${entry[1]}.${entry[2]}.${entry[3]}`, port: entry.readUInt16BE(4), family: 4 };
  }
  if (entry.length === COMPACT_V6_LENGTH) {
    const groups: string[] = [];
    for (let i = 0; i < 16; i += 2) groups.push(entry.readUInt16BE(i).toString(16));
    return { ip: compressIpv6(groups), port: entry.readUInt16BE(16), family: 6 };
  }
  throw new RangeError(`compact endpoint must be 6 or 18 bytes, got ${entry.length}`);
}

/** RFC 5952 text: the longest run of zero groups (length >= 2) becomes `::`. */
function compressIpv6(groups: string[]): string {
  let bestStart = -1;
  let bestLen = 0;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== '0') {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === '0') j++;
    if (j - i > bestLen) {
      bestStart = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (bestLen < 2) return groups.join(':');
  return `${groups.slice(0, bestStart).join(':')}::${groups.slice(bestStart + bestLen).join(':')}`;
}

/** Splits concatenated compact entries into their text forms. */
export function unpackPeers(data: Buffer, family: AddressFamily): { ip: string; port: number }[] {
  const size = family === 4 ? COMPACT_V4_LENGTH : COMPACT_V6_LENGTH;
  const out: { ip: string; port: number }[] = [];
  for (let i = 0; i + size <= data.length; i += size) {
    const { ip, port } = unpackEndpoint(data.subarray(i, i + size));
    out.push({ ip, port });
  }
  return out;
}

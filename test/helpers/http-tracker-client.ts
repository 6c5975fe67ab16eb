import { request } from 'node:http';
import { type DecodedDict, decodeBencode } from '../../src/protocol/bencode.js';

/** Percent-encodes every byte (what careful clients do with info_hash / peer_id). */
export function encodeBytes(bytes: Buffer): string {
  let out = '';
  for (const b of bytes) out += `%${b.toString(16).padStart(2, '0')}`;
  return out;
}

export interface AnnounceOptions {
  infoHash: Buffer;
  peerId: Buffer;
  port: number;
  left?: number;
  uploaded?: number;
  downloaded?: number;
  event?: string;
  numwant?: number;
  compact?: 0 | 1;
  noPeerId?: boolean;
  key?: string;
  /** Extra raw query text appended as is. */
  extra?: string;
}

export function announceQuery(o: AnnounceOptions): string {
  let q = `info_hash=${encodeBytes(o.infoHash)}&peer_id=${encodeBytes(o.peerId)}&port=${o.port}`;
  q += `&uploaded=${o.uploaded ?? 0}&downloaded=${o.downloaded ?? 0}&left=${o.left ?? 1000}`;
  if (o.event !== undefined) q += `&event=${o.event}`;
  if (o.numwant !== undefined) q += `&numwant=${o.numwant}`;
  if (o.compact !== undefined) q += `&compact=${o.compact}`;
  if (o.noPeerId) q += '&no_peer_id=1';
  if (o.key !== undefined) q += `&key=${o.key}`;
  if (o.extra) q += `&${o.extra}`;
  return q;
}

export interface RawResponse {
  status: number;
  headers: Record<string, string | string[] | undefined>;
  body: Buffer;
}

/** One GET on a fresh connection (as most clients announce), bounded by a timeout. */
export function httpGet(
  base: string,
  pathAndQuery: string,
  options: { headers?: Record<string, string>; localAddress?: string; method?: string; timeoutMs?: number } = {},
): Promise<RawResponse> {
  const url = new URL(base);
  return new Promise((resolve, reject) => {
    const req = request(
      {
        host: url.hostname.replace(/^\[|\]$/g, ''),
        port: url.port,
        path: pathAndQuery,
        method: options.method ?? 'GET',
        headers: { ...options.headers, connection: 'close' },
        localAddress: options.localAddress,
        agent: false,
      },
      (res) => {
        const chunks: Buffer[] = [];
        res.on('data', (c: Buffer) => chunks.push(c));
        res.on('end', () =>
          resolve({ status: res.statusCode ?? 0, headers: res.headers, body: Buffer.concat(chunks) }),
        );
        res.on('error', reject);
      },
    );
    req.setTimeout(options.timeoutMs ?? 5000, () => req.destroy(new Error(`timeout: ${pathAndQuery.slice(0, 80)}`)));
    req.on('error', reject);
    req.end();
  });
}

/** Announces and decodes the bencoded reply (throws if the status is not 200). */
export async function announce(base: string, o: AnnounceOptions, path = '/announce'): Promise<DecodedDict> {
  const res = await httpGet(base, `${path}?${announceQuery(o)}`);
  if (res.status !== 200) throw new Error(`announce: HTTP ${res.status}`);
  return decodeBencode(res.body) as DecodedDict;
}

export async function scrape(base: string, hashes: Buffer[], path = '/scrape'): Promise<DecodedDict> {
  const q = hashes.map((h) => `info_hash=${encodeBytes(h)}`).join('&');
  const res = await httpGet(base, `${path}?${q}`);
  if (res.status !== 200) throw new Error(`scrape: HTTP ${res.status}`);
  return decodeBencode(res.body) as DecodedDict;
}

/** A 20-byte id: a fixed prefix and a counter, so tests can tell peers apart. */
export function makeId(prefix: string, n: number): Buffer {
  const id = Buffer.alloc(20, 0x2d);
  id.write(prefix.slice(0, 8), 0, 'latin1');
  id.writeUInt32BE(n >>> 0, 16);
  return id;
}

import { ProtocolError } from '../errors.js';
import type { QueryParams } from './query.js';
import type { ScrapeEntry } from './types.js';

/**
 * HTTP scrape (BEP 48): any number of repeated info_hash, each 20 raw bytes
 * (the core caps how many, on every transport; the request line's length
 * bounds how many reach this parser).
 */
export function parseHttpScrape(query: QueryParams): Buffer[] {
  const hashes = query.get('info_hash') ?? [];
  for (const hash of hashes) {
    if (hash.length !== 20)
      throw new ProtocolError('invalid_info_hash', `info_hash must be 20 bytes, got ${hash.length}`);
  }
  return hashes;
}

/** `d5:filesd<20-byte hash>d8:completei…e10:downloadedi…e10:incompletei…eee…ee`; files keys sorted by bytes. */
export function encodeHttpScrape(entries: readonly ScrapeEntry[]): Buffer {
  const unique = new Map<string, ScrapeEntry>();
  for (const e of entries) unique.set(e.infoHash.toString('latin1'), e);
  const sorted = [...unique.values()].sort((a, b) => Buffer.compare(a.infoHash, b.infoHash));
  const parts: Buffer[] = [Buffer.from('d5:filesd', 'latin1')];
  for (const e of sorted) {
    parts.push(
      Buffer.from('20:', 'latin1'),
      e.infoHash,
      Buffer.from(`d8:completei${e.complete}e10:downloadedi${e.downloaded}e10:incompletei${e.incomplete}ee`, 'latin1'),
    );
  }
  parts.push(Buffer.from('ee', 'latin1'));
  return Buffer.concat(parts);
}

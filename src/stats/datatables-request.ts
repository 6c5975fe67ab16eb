import { COLUMNS, type SnapshotQuery } from './table-query.js';

/**
 * DataTables' server-side processing request (https://datatables.net/manual/server-side):
 * `draw`, `start`, `length`, `search[value]`, `order[0][column]`, `order[0][dir]`.
 * Everything else it sends (`columns[i][…]`, `search[regex]`, `_`) is ignored.
 */
export interface TableRequest extends SnapshotQuery {
  draw: number;
}

/** The largest page a request may ask for; DataTables' "All" (length=-1) is refused on purpose. */
export const MAX_PAGE_LENGTH = 1000;
/** DataTables sends the column DataTables sorts by first (seeders, descending) when none is given. */
const DEFAULT_COLUMN = 1;
const MAX_START = 1e9;
const MAX_SEARCH_LENGTH = 200;

export class BadRequest extends Error {}

/** A non-negative decimal integer no larger than `max`, or `fallback` when absent. */
function intParam(params: URLSearchParams, name: string, max: number, fallback?: number): number {
  const raw = params.get(name);
  if (raw === null || raw === '') {
    if (fallback !== undefined) return fallback;
    throw new BadRequest(`${name} is required`);
  }
  if (!/^[0-9]{1,10}$/.test(raw)) throw new BadRequest(`${name} must be a non-negative integer`);
  const n = Number(raw);
  if (n > max) throw new BadRequest(`${name} must be at most ${max}`);
  return n;
}

export function parseTableRequest(params: URLSearchParams): TableRequest {
  const draw = intParam(params, 'draw', 2 ** 31 - 1);
  const start = intParam(params, 'start', MAX_START, 0);
  const length = intParam(params, 'length', MAX_PAGE_LENGTH, 10);
  if (length === 0) throw new BadRequest('length must be at least 1');
  const column = intParam(params, 'order[0][column]', COLUMNS.length - 1, DEFAULT_COLUMN);
  const rawDir = params.get('order[0][dir]') ?? 'desc';
  if (rawDir !== 'asc' && rawDir !== 'desc') throw new BadRequest('order[0][dir] must be asc or desc');
  const search = params.get('search[value]') ?? '';
  if (search.length > MAX_SEARCH_LENGTH) throw new BadRequest('search[value] is too long');
  return { draw, start, length, column, dir: rawDir, prefix: searchPrefix(search) };
}

/**
 * What the user typed in the search box, as an info-hash prefix: hex digits in
 * either case, optionally inside a pasted magnet link. Anything that cannot be
 * a prefix of a hex info hash matches nothing (null) rather than being an
 * error: the user may still be typing.
 */
export function searchPrefix(search: string): string | null {
  let text = search.trim().toLowerCase();
  const btih = /urn:btih:([0-9a-z]*)/.exec(text);
  if (btih) text = btih[1] as string;
  if (text === '') return '';
  return /^[0-9a-f]{1,40}$/.test(text) ? text : null;
}

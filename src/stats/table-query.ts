/** The stats table's request and answer, as the snapshot and its preview serve them. */

/** Table columns, in the order the page's DataTable declares them. */
export const COLUMNS = ['infoHash', 'seeders', 'leechers', 'completed', 'lastAnnounce'] as const;
export type ColumnName = (typeof COLUMNS)[number];

export interface TorrentRow {
  /** 40 lowercase hex digits. */
  infoHash: string;
  seeders: number;
  leechers: number;
  completed: number;
  /** Epoch ms. */
  lastAnnounce: number;
}

export interface SnapshotQuery {
  start: number;
  length: number;
  /** Column index into COLUMNS. */
  column: number;
  dir: 'asc' | 'desc';
  /** Lowercase hex digits (already validated); '' for all rows, null for none. */
  prefix: string | null;
}

export interface SnapshotPage {
  recordsFiltered: number;
  rows: TorrentRow[];
}

/** A page of the table with what the page shows about the whole. */
export interface TablePage extends SnapshotPage {
  /** Torrents in the table. */
  total: number;
  /** Epoch ms when the rows were read (at least this fresh). */
  builtAt: number;
  /** More torrents than a snapshot holds: the rest were left out. */
  truncated: boolean;
}

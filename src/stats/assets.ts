import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { gzipSync } from 'node:zlib';
import { packageDir } from '../package-dir.js';

/**
 * The stats page's static files, served by the tracker itself so the page works
 * without internet access: jQuery, DataTables and uPlot from node_modules, and
 * the page's own script and stylesheet from src/stats/public/.
 *
 * URLs carry a version (the npm package's, or a content hash for our own files),
 * so responses can be cached for a year as immutable: a new version is a new URL.
 * Only the files listed here can be served, by exact URL: no path ever reaches
 * the file system from a request.
 *
 * Why src/stats/public/ and not a string in a .ts module: the client code stays
 * plain JavaScript that Biome lints and a browser debugger shows as a file. tsc
 * does not copy it into dist/, so it is found by walking up from this module to
 * the directory that holds src/stats/public (the package root, from dist/src/stats
 * or from src/stats alike).
 */
export interface Asset {
  url: string;
  type: string;
  body: Buffer;
  gzip: Buffer;
}

interface AssetSpec {
  /** npm package, or null for our own files. */
  pkg: string | null;
  /** Path inside the package (or inside src/stats/public). */
  file: string;
  /** Name the page refers to it by. */
  name: string;
}

const SPECS: readonly AssetSpec[] = [
  { pkg: 'jquery', file: 'dist/jquery.min.js', name: 'jquery' },
  { pkg: 'datatables.net', file: 'js/dataTables.min.js', name: 'datatables' },
  { pkg: 'datatables.net-dt', file: 'js/dataTables.dataTables.min.js', name: 'datatables-style' },
  { pkg: 'datatables.net-dt', file: 'css/dataTables.dataTables.min.css', name: 'datatables-css' },
  { pkg: 'uplot', file: 'dist/uPlot.iife.min.js', name: 'uplot' },
  { pkg: 'uplot', file: 'dist/uPlot.min.css', name: 'uplot-css' },
  { pkg: null, file: 'stats-page.js', name: 'page' },
  { pkg: null, file: 'stats-page.css', name: 'page-css' },
];

export const ASSET_PREFIX = '/stats/assets/';

const TYPES: Readonly<Record<string, string>> = {
  js: 'text/javascript; charset=utf-8',
  css: 'text/css; charset=utf-8',
};

export class StatsAssets {
  /** By page name (`jquery`, `page-css`, …). */
  readonly byName = new Map<string, Asset>();
  private readonly byUrl = new Map<string, Asset>();

  /** Reads every file once, at start: a missing dependency fails loudly then, not on first view. */
  constructor() {
    const require = createRequire(import.meta.url);
    const publicDir = findPublicDir();
    for (const spec of SPECS) {
      let path: string;
      let version: string;
      let body: Buffer;
      if (spec.pkg) {
        const pkgJson = require.resolve(`${spec.pkg}/package.json`);
        version = (JSON.parse(readFileSync(pkgJson, 'utf8')) as { version: string }).version;
        path = join(dirname(pkgJson), spec.file);
        body = readFileSync(path);
      } else {
        path = join(publicDir, spec.file);
        body = readFileSync(path);
        version = createHash('sha256').update(body).digest('hex').slice(0, 12);
      }
      const base = spec.file.slice(spec.file.lastIndexOf('/') + 1);
      const ext = base.slice(base.lastIndexOf('.') + 1);
      const url = `${ASSET_PREFIX}${spec.pkg ?? 'bitstorm'}@${version}/${base}`;
      const asset: Asset = { url, type: TYPES[ext] ?? 'application/octet-stream', body, gzip: gzipSync(body) };
      this.byName.set(spec.name, asset);
      this.byUrl.set(url, asset);
    }
  }

  url(name: string): string {
    const asset = this.byName.get(name);
    if (!asset) throw new Error(`no stats asset named ${name}`);
    return asset.url;
  }

  /** Serves `path` if it is one of ours; false means "not an asset URL we know" (a 404). */
  serve(req: IncomingMessage, res: ServerResponse, path: string): boolean {
    const asset = this.byUrl.get(path);
    if (!asset) return false;
    const gzip = /\bgzip\b/.test(String(req.headers['accept-encoding'] ?? ''));
    const body = gzip ? asset.gzip : asset.body;
    const headers: Record<string, string | number> = {
      'Content-Type': asset.type,
      'Content-Length': body.length,
      'Cache-Control': 'public, max-age=31536000, immutable',
      'X-Content-Type-Options': 'nosniff',
      Vary: 'Accept-Encoding',
    };
    if (gzip) headers['Content-Encoding'] = 'gzip';
    res.writeHead(200, headers);
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}

function findPublicDir(): string {
  try {
    return packageDir(import.meta.url, join('src', 'stats', 'public'), 'stats-page.js');
  } catch {
    throw new Error('bitstorm: src/stats/public/ not found (the stats page needs it; or run with --stats off)');
  }
}

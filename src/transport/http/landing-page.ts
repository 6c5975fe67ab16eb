import type { TrackerConfig } from '../../config/options.js';

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/** What a browser sees at / or /announce without a query. */
export function landingPage(config: Readonly<TrackerConfig>): string {
  const url = config.announceUrl || '/announce';
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>BitStorm tracker</title></head>
<body>
<h1>BitStorm tracker</h1>
<p>This is a BitTorrent tracker. Put its announce URL into a torrent:</p>
<pre>${escapeHtml(url)}</pre>
</body></html>
`;
}

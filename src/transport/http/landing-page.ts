import type { TrackerConfig } from '../../config/options.js';

const escapeHtml = (s: string): string =>
  s.replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string);

/**
 * What a browser sees at / or at /announce without a query when the statistics
 * page is off. With --stats on (the default) those URLs redirect to /stats
 * instead, as the original BitStorm's announce.php did to stats.php; the stats
 * module handles that before the transport's own routes.
 */
export function landingPage(config: Readonly<TrackerConfig>): string {
  const url = config.announceUrl || (config.private ? '/announce/<your passkey>' : '/announce');
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>BitStorm tracker</title></head>
<body style="font-family:system-ui,sans-serif;max-width:40em;margin:4em auto;padding:0 1em">
<h1>BitStorm tracker</h1>
<p>This is a BitTorrent tracker. Put its announce URL into a torrent:</p>
<pre>${escapeHtml(url)}</pre>
<p>Statistics are not published by this tracker.</p>
</body></html>
`;
}

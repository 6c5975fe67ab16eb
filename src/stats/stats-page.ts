import type { StatsAssets } from './assets.js';

/** Escapes text for HTML element content and quoted attribute values. */
export function escapeHtml(s: string): string {
  return s.replace(
    /[&<>"']/g,
    (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c] as string,
  );
}

/** JSON safe inside a <script> element: `<` cannot open `</script>` or `<!--`. */
function scriptJson(value: unknown): string {
  return JSON.stringify(value)
    .replace(/</g, '\\u003c')
    .replace(/\u2028/g, '\\u2028')
    .replace(/\u2029/g, '\\u2029');
}

export interface PageConfig {
  /** Where the page fetches its data. */
  jsonUrl: string;
  announceUrl: string;
  statsPeers: boolean;
  tokenRequired: boolean;
  refreshMs: number;
  store: string;
}

/**
 * The statistics page. Static markup only: every number is filled in by
 * stats-page.js from /stats.json, so the HTML is the same for every request
 * (apart from the announce URL used in magnet links). No inline script runs:
 * settings travel in a JSON data block, which the Content-Security-Policy allows.
 */
export function statsPageHtml(assets: StatsAssets, config: PageConfig): string {
  const css = (name: string) => `<link rel="stylesheet" href="${escapeHtml(assets.url(name))}">`;
  const js = (name: string) => `<script src="${escapeHtml(assets.url(name))}"></script>`;
  const card = (key: string, label: string, note = '') =>
    `<div class="card" data-key="${key}"><div class="label">${escapeHtml(label)}${
      note ? ` <span class="note">${escapeHtml(note)}</span>` : ''
    }</div><div class="value" id="v-${key}">–</div></div>`;
  return `<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="no-referrer">
<title>BitStorm tracker statistics</title>
<link rel="icon" href="data:,">
${css('datatables-css')}
${css('uplot-css')}
${css('page-css')}
<script type="application/json" id="bitstorm-config">${scriptJson(config)}</script>
</head>
<body>
<header>
  <h1>BitStorm <span>tracker statistics</span></h1>
  <div class="meta">
    <span>store <b id="v-store">${escapeHtml(config.store)}</b></span>
    <span>up <b id="v-uptime">–</b></span>
    <span>announce URL <code id="v-announce">${escapeHtml(config.announceUrl)}</code></span>
    <span id="status" class="status" role="status">loading…</span>
  </div>
</header>
<main>
<section class="cards" aria-label="Totals">
  ${card('torrents', 'Torrents')}
  ${card('peers', 'Peers')}
  ${card('seeders', 'Seeders')}
  ${card('leechers', 'Leechers')}
  ${card('peers4', 'IPv4 peers')}
  ${card('peers6', 'IPv6 peers')}
  ${card('completed', 'Completed downloads')}
  ${card('webrtcPeers', 'WebRTC peers', 'browsers, over WebSocket')}
  ${card('announceRate', 'Announces / s', 'this process, last minute')}
  ${card('scrapeRate', 'Scrapes / s', 'this process, last minute')}
  ${card('transportShare', 'HTTP / UDP / WS', 'share of announces, this process')}
</section>
<section class="chart-box" aria-label="Last hour">
  <h2>Last hour <span class="note">peers and seeders (all processes), announces / s (this process)</span></h2>
  <div id="chart"></div>
</section>
<section aria-label="Torrents">
  <h2>Torrents <span class="note" id="snapshot-note"></span></h2>
  <table id="torrents" class="display compact" style="width:100%">
    <thead><tr><th>Info hash</th><th>Seeders</th><th>Leechers</th><th>Completed</th><th>Last announce</th></tr></thead>
  </table>
</section>
</main>
<dialog id="torrent" aria-labelledby="torrent-title">
  <form method="dialog"><button class="close" aria-label="Close">×</button></form>
  <h2 id="torrent-title">Torrent</h2>
  <div id="torrent-body"></div>
</dialog>
${js('jquery')}
${js('datatables')}
${js('datatables-style')}
${js('uplot')}
${js('page')}
</body>
</html>
`;
}

/** The 401 page: a form, so a browser user can type the token without crafting a URL. */
export function tokenPageHtml(wrong: boolean): string {
  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>BitStorm statistics: token required</title>
<link rel="icon" href="data:,">
<meta name="viewport" content="width=device-width, initial-scale=1"></head>
<body style="font-family:system-ui,sans-serif;max-width:32em;margin:4em auto">
<h1>Statistics token required</h1>
<p>${wrong ? 'That token is not valid.' : 'This tracker protects its statistics with a token.'}</p>
<form method="get" action="/stats"><label>Token <input name="token" type="password" autocomplete="current-password" autofocus></label>
<button>Open</button></form>
</body></html>
`;
}

// BitStorm statistics page. Plain browser JavaScript, served as-is by the
// tracker (see src/stats/assets.ts). Depends on jQuery, DataTables and uPlot,
// loaded before it. Everything it shows comes from /stats.json.
(() => {
  const config = JSON.parse(document.getElementById('bitstorm-config').textContent);
  // A token given in the page URL is sent as a Bearer header on the page's own
  // requests, so it does not spread into more URLs (and access logs).
  const token = new URLSearchParams(location.search).get('token');
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const $ = window.jQuery;

  const numberFormat = new Intl.NumberFormat('en-US');
  const fmtInt = (n) => (typeof n === 'number' ? numberFormat.format(n) : '–');
  const fmtRate = (n) => (n >= 100 ? numberFormat.format(Math.round(n)) : n.toFixed(n >= 10 ? 1 : 2));

  const HTML_ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const esc = (value) => String(value).replace(/[&<>"']/g, (c) => HTML_ESCAPES[c]);

  function fmtAge(ms) {
    const s = Math.max(0, Math.round((Date.now() - ms) / 1000));
    if (s < 60) return `${s} s ago`;
    if (s < 3600) return `${Math.floor(s / 60)} min ago`;
    if (s < 86400) return `${Math.floor(s / 3600)} h ago`;
    return `${Math.floor(s / 86400)} d ago`;
  }

  function fmtUptime(seconds) {
    const d = Math.floor(seconds / 86400);
    const h = Math.floor((seconds % 86400) / 3600);
    const m = Math.floor((seconds % 3600) / 60);
    if (d > 0) return `${d} d ${h} h`;
    if (h > 0) return `${h} h ${m} min`;
    return `${m} min ${seconds % 60} s`;
  }

  const magnet = (hex) => `magnet:?xt=urn:btih:${hex}&tr=${encodeURIComponent(config.announceUrl)}`;

  async function getJson(url) {
    const res = await fetch(url, { headers, cache: 'no-store' });
    if (!res.ok) throw new Error(`${url.split('?')[0]}: HTTP ${res.status}`);
    return res.json();
  }

  const statusEl = document.getElementById('status');
  function setStatus(text, isError) {
    statusEl.textContent = text;
    statusEl.classList.toggle('error', Boolean(isError));
  }

  function setValue(key, text) {
    const el = document.getElementById(`v-${key}`);
    if (el) el.textContent = text;
  }

  // ---- Totals and chart ------------------------------------------------------

  function renderSummary(s) {
    const t = s.totals;
    setValue('torrents', fmtInt(t.torrents));
    setValue('peers', fmtInt(t.peers));
    setValue('seeders', fmtInt(t.seeders));
    setValue('leechers', fmtInt(t.leechers));
    setValue('peers4', fmtInt(t.peers4));
    setValue('peers6', fmtInt(t.peers6));
    setValue('completed', fmtInt(t.completed));
    setValue('webrtcPeers', t.webrtc ? fmtInt(t.webrtc.peers) : '–');
    const r = s.process.rates;
    setValue('announceRate', fmtRate(r.announcesPerSecond));
    setValue('scrapeRate', fmtRate(r.scrapesPerSecond));
    // Share of announces by transport over the last minute; since start when idle.
    const c = s.process.counters;
    let http = r.announcesPerSecondBy.http;
    let udp = r.announcesPerSecondBy.udp;
    let ws = r.announcesPerSecondBy.ws;
    if (http + udp + ws === 0) {
      http = c.http.announces;
      udp = c.udp.announces;
      ws = c.ws.announces;
    }
    const total = http + udp + ws;
    const pct = (n) => Math.round((100 * n) / total);
    setValue('transportShare', total === 0 ? '–' : `${pct(http)} / ${pct(udp)} / ${pct(ws)} %`);
    setValue('uptime', fmtUptime(s.uptimeSeconds));
    setValue('store', s.store);
    if (s.history) renderChart(s.history);
  }

  const chartEl = document.getElementById('chart');
  let plot;

  function chartSize() {
    return { width: Math.max(chartEl.clientWidth, 300), height: 240 };
  }

  function renderChart(h) {
    const data = [h.t, h.peers, h.seeders, h.announcesPerSecond];
    if (plot) {
      plot.setData(data);
      return;
    }
    const count = (_u, v) => (v == null ? '–' : fmtInt(v));
    plot = new window.uPlot(
      {
        ...chartSize(),
        cursor: { drag: { x: false, y: false } },
        scales: { x: { time: true }, rate: { range: (_u, _min, max) => [0, Math.max(1, max * 1.1)] } },
        series: [
          {},
          { label: 'Peers', stroke: '#2563eb', width: 2, fill: 'rgba(37,99,235,0.08)', value: count },
          { label: 'Seeders', stroke: '#16a34a', width: 2, value: count },
          {
            label: 'Announces / s',
            stroke: '#ea580c',
            width: 1.5,
            scale: 'rate',
            value: (_u, v) => (v == null ? '–' : fmtRate(v)),
          },
        ],
        axes: [
          {},
          { values: (_u, splits) => splits.map((v) => fmtInt(v)), size: 60 },
          { scale: 'rate', side: 1, grid: { show: false }, size: 50 },
        ],
      },
      data,
      chartEl,
    );
  }

  window.addEventListener('resize', () => plot?.setSize(chartSize()));

  async function refreshSummary() {
    try {
      const s = await getJson(`${config.jsonUrl}?history=1`);
      renderSummary(s);
      if (s.snapshotError) setStatus(s.snapshotError, true);
      else setStatus(`updated ${new Date().toLocaleTimeString()}`, false);
    } catch (err) {
      setStatus(`cannot load statistics (${err.message})`, true);
    }
  }

  // ---- Torrent table (DataTables server-side processing) ----------------------

  // Errors are shown in the status line rather than as alert() boxes.
  $.fn.dataTable.ext.errMode = 'none';

  const snapshotNote = document.getElementById('snapshot-note');

  const table = $('#torrents').DataTable({
    serverSide: true,
    processing: true,
    searchDelay: 300,
    pageLength: 25,
    lengthMenu: [10, 25, 50, 100],
    order: [[1, 'desc']],
    autoWidth: false,
    language: {
      search: 'Info hash',
      searchPlaceholder: 'hex prefix or magnet link',
      emptyTable: 'No live torrents',
      zeroRecords: 'No torrent with that info hash prefix',
    },
    ajax: {
      url: config.jsonUrl,
      headers,
      // Only the parameters the server reads: keeps request URLs short.
      data: (d) => ({
        draw: d.draw,
        start: d.start,
        length: d.length,
        'search[value]': d.search.value,
        'order[0][column]': d.order[0] ? d.order[0].column : 1,
        'order[0][dir]': d.order[0] ? d.order[0].dir : 'desc',
      }),
      dataSrc: (json) => {
        snapshotNote.textContent = `table as of ${new Date(json.snapshotAt).toLocaleTimeString()}${
          json.truncated ? ' (truncated)' : ''
        }`;
        return json.data;
      },
    },
    columns: [
      {
        data: 'infoHash',
        className: 'hash',
        render: (hex, type) =>
          type === 'display'
            ? `<code>${esc(hex)}</code> <a class="magnet" href="${esc(magnet(hex))}" title="magnet link">magnet</a>` +
              ` <button type="button" class="copy" data-hash="${esc(hex)}" title="copy magnet link">copy</button>`
            : hex,
      },
      { data: 'seeders', className: 'dt-right', render: (n, type) => (type === 'display' ? fmtInt(n) : n) },
      { data: 'leechers', className: 'dt-right', render: (n, type) => (type === 'display' ? fmtInt(n) : n) },
      { data: 'completed', className: 'dt-right', render: (n, type) => (type === 'display' ? fmtInt(n) : n) },
      {
        data: 'lastAnnounce',
        className: 'dt-right',
        render: (ms, type) =>
          type === 'display' ? `<time datetime="${esc(new Date(ms).toISOString())}">${esc(fmtAge(ms))}</time>` : ms,
      },
    ],
  });

  table.on('dt-error', (_e, _settings, _techNote, message) => setStatus(`table: ${message}`, true));

  async function copyText(text) {
    if (navigator.clipboard && window.isSecureContext) {
      await navigator.clipboard.writeText(text);
      return;
    }
    // Plain-HTTP pages have no async clipboard API: fall back to a selection.
    const area = document.createElement('textarea');
    area.value = text;
    area.setAttribute('readonly', '');
    area.className = 'offscreen';
    document.body.appendChild(area);
    area.select();
    document.execCommand('copy');
    area.remove();
  }

  $('#torrents tbody').on('click', 'button.copy', async function onCopy(e) {
    e.stopPropagation();
    try {
      await copyText(magnet(this.dataset.hash));
      this.textContent = 'copied';
    } catch {
      this.textContent = 'failed';
    }
    setTimeout(() => {
      this.textContent = 'copy';
    }, 1500);
  });

  $('#torrents tbody').on('click', 'a.magnet', (e) => e.stopPropagation());

  $('#torrents tbody').on('click', 'tr', function onRow() {
    const row = table.row(this).data();
    if (row) void openTorrent(row.infoHash);
  });

  // ---- Per-torrent view -----------------------------------------------------

  const dialog = document.getElementById('torrent');
  const dialogBody = document.getElementById('torrent-body');

  async function openTorrent(hex) {
    document.getElementById('torrent-title').textContent = `Torrent ${hex}`;
    dialogBody.innerHTML = '<p class="note">loading…</p>';
    if (!dialog.open) dialog.showModal();
    try {
      const t = await getJson(`${config.jsonUrl}?torrent=${encodeURIComponent(hex)}`);
      dialogBody.innerHTML = renderTorrent(t);
    } catch (err) {
      dialogBody.innerHTML = `<p class="error">${esc(err.message.includes('404') ? 'This torrent has no live peers any more.' : err.message)}</p>`;
    }
  }

  function renderTorrent(t) {
    const counts = `<dl class="counts">
      <div><dt>Seeders</dt><dd id="t-seeders">${fmtInt(t.seeders)}</dd></div>
      <div><dt>Leechers</dt><dd id="t-leechers">${fmtInt(t.leechers)}</dd></div>
      <div><dt>Completed</dt><dd id="t-completed">${fmtInt(t.completed)}</dd></div>
      <div><dt>Last announce</dt><dd>${t.lastAnnounce ? esc(fmtAge(t.lastAnnounce)) : '–'}</dd></div>
    </dl>
    <p class="magnet-line"><a href="${esc(magnet(t.infoHash))}">magnet link</a></p>`;
    if (!t.peersShown) {
      return `${counts}<p class="note" id="peers-hidden">Peer addresses are private: start the tracker with <code>--stats-peers</code> to list them here.</p>`;
    }
    const rows = t.peers
      .map(
        (p) =>
          `<tr><td><code>${esc(p.ip)}</code></td><td class="num">${esc(p.port)}</td><td>${p.seeder ? 'seeder' : 'leecher'}</td><td>${esc(p.client)}</td><td>${esc(fmtAge(p.lastSeen))}</td></tr>`,
      )
      .join('');
    const more = t.peers.length >= t.peersLimit ? `<p class="note">first ${t.peersLimit} shown</p>` : '';
    return `${counts}<table class="peers" id="peers"><thead><tr><th>Address</th><th class="num">Port</th><th>Role</th><th>Client</th><th>Last seen</th></tr></thead><tbody>${rows}</tbody></table>${more}`;
  }

  dialog.addEventListener('click', (e) => {
    if (e.target === dialog) dialog.close(); // a click on the backdrop
  });

  // ---- Refresh loop -------------------------------------------------------

  function tick() {
    if (document.hidden) return;
    void refreshSummary();
    table.ajax.reload(null, false); // false: stay on the current page
  }

  void refreshSummary();
  setInterval(tick, config.refreshMs);
  document.addEventListener('visibilitychange', () => {
    if (!document.hidden) tick();
  });
})();

import assert from 'node:assert/strict';
import { createHash } from 'node:crypto';
import { after, before, describe, it } from 'node:test';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { announce, httpGet, makeId, scrape } from '../helpers/http-tracker-client.js';

/**
 * /stats.json scenarios that depend on the store: totals, the DataTables table
 * (paging, ordering, search) and the per-torrent view, checked against a model
 * of the announces made. Run once per store (memory; Redis; Redis Cluster).
 */
export type StoreSetup = () => Promise<Partial<TrackerOptions>>;

export interface ModelTorrent {
  hash: Buffer;
  hex: string;
  seeders: number;
  leechers: number;
  completed: number;
  /** Every peer announced, to stop them later. */
  peers: { peerId: Buffer; port: number; base: string; left: number }[];
}

export interface Model {
  torrents: ModelTorrent[];
  peers4: number;
  peers6: number;
  announces: number;
}

/** Deterministic, well-spread info hashes (search prefixes hit several). */
export function torrentHash(tag: string, i: number): Buffer {
  return createHash('sha1').update(`${tag}-${i}`).digest();
}

/**
 * Announces `count` torrents with varied counts: torrent i has i % 4 seeders
 * and (i * 7) % 5 leechers (at least one peer), min(seeders, i % 3) completed
 * downloads, and every fifth torrent one more leecher over IPv6. Peer ids are
 * qBittorrent-style so the detail view has a client name to decode.
 */
export async function populate(base4: string, base6: string, tag: string, count: number): Promise<Model> {
  const model: Model = { torrents: [], peers4: 0, peers6: 0, announces: 0 };
  let peerNo = 0;
  for (let i = 0; i < count; i++) {
    const hash = torrentHash(tag, i);
    const seeders = i % 4;
    let leechers = (i * 7) % 5;
    if (seeders + leechers === 0) leechers = 1;
    const completed = Math.min(seeders, i % 3);
    const jobs: Promise<unknown>[] = [];
    const peers: ModelTorrent['peers'] = [];
    for (let s = 0; s < seeders; s++) {
      const peer = { infoHash: hash, peerId: makeId('-qB4650-', ++peerNo), port: 10000 + (peerNo % 50000), left: 0 };
      peers.push({ ...peer, base: base4 });
      jobs.push(
        announce(base4, { ...peer, event: 'started' }).then(() =>
          s < completed ? announce(base4, { ...peer, event: 'completed' }) : undefined,
        ),
      );
      model.announces += s < completed ? 2 : 1;
    }
    for (let l = 0; l < leechers; l++) {
      const peer = { infoHash: hash, peerId: makeId('-TR3000-', ++peerNo), port: 10000 + (peerNo % 50000), left: 5 };
      peers.push({ ...peer, base: base4 });
      jobs.push(announce(base4, { ...peer, event: 'started' }));
      model.announces++;
    }
    model.peers4 += seeders + leechers;
    if (i % 5 === 0) {
      const peer = { infoHash: hash, peerId: aria2Id(++peerNo), port: 10000 + (peerNo % 50000), left: 9 };
      peers.push({ ...peer, base: base6 });
      jobs.push(announce(base6, { ...peer, event: 'started' }));
      model.announces++;
      model.peers6++;
      leechers++;
    }
    await Promise.all(jobs);
    model.torrents.push({ hash, hex: hash.toString('hex'), seeders, leechers, completed, peers });
  }
  return model;
}

/** An aria2-style id (`A2-1-36-0-` is longer than makeId's 8-byte prefix). */
function aria2Id(n: number): Buffer {
  const id = Buffer.alloc(20, 0x41);
  id.write('A2-1-36-0-', 0, 'latin1');
  id.writeUInt32BE(n, 16);
  return id;
}

export interface TableRow {
  infoHash: string;
  seeders: number;
  leechers: number;
  completed: number;
  lastAnnounce: number;
}

export interface TableReply {
  draw: number;
  recordsTotal: number;
  recordsFiltered: number;
  data: TableRow[];
}

export async function getJson(base: string, path: string, headers: Record<string, string> = {}) {
  const res = await httpGet(base, path, { headers });
  const text = res.body.toString('utf8');
  return { status: res.status, headers: res.headers, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} };
}

export function tableQuery(o: {
  draw?: number;
  start?: number;
  length?: number;
  column?: number;
  dir?: string;
  search?: string;
}): string {
  // The form jQuery gives DataTables' parameters (brackets percent-encoded).
  const p = new URLSearchParams();
  p.set('draw', String(o.draw ?? 1));
  p.set('start', String(o.start ?? 0));
  p.set('length', String(o.length ?? 10));
  p.set('search[value]', o.search ?? '');
  p.set('search[regex]', 'false');
  p.set('order[0][column]', String(o.column ?? 1));
  p.set('order[0][dir]', o.dir ?? 'desc');
  p.set('columns[0][data]', 'infoHash');
  return `/stats.json?${p.toString()}`;
}

export async function table(base: string, o: Parameters<typeof tableQuery>[0]): Promise<TableReply> {
  const res = await getJson(base, tableQuery(o));
  assert.equal(res.status, 200, JSON.stringify(res.body));
  return res.body as unknown as TableReply;
}

/** Every row, page by page. */
async function allRows(base: string, column: number, dir: string, search = '', length = 7): Promise<TableRow[]> {
  const rows: TableRow[] = [];
  for (let start = 0, draw = 1; ; start += length, draw++) {
    const page = await table(base, { draw, start, length, column, dir, search });
    assert.equal(page.draw, draw, 'draw is echoed');
    assert.ok(page.data.length <= length);
    rows.push(...page.data);
    if (start + length >= page.recordsFiltered) break;
    assert.equal(page.data.length, length, 'a page before the last is full');
  }
  return rows;
}

const KEYS = ['infoHash', 'seeders', 'leechers', 'completed', 'lastAnnounce'] as const;

/** Rows ordered by the column, ties by info hash, both reversed for desc (what the server promises). */
function assertOrdered(rows: TableRow[], column: number, dir: string): void {
  const key = KEYS[column] as (typeof KEYS)[number];
  for (let i = 1; i < rows.length; i++) {
    const a = rows[i - 1] as TableRow;
    const b = rows[i] as TableRow;
    let c = a[key] < b[key] ? -1 : a[key] > b[key] ? 1 : 0;
    if (c === 0) c = a.infoHash < b.infoHash ? -1 : 1;
    assert.equal(c, dir === 'asc' ? -1 : 1, `rows ${i - 1} and ${i} out of order by ${key} ${dir}`);
  }
}

export function runStatsJsonSuite(storeName: string, storeOptions: StoreSetup): void {
  describe(`/stats.json on ${storeName}`, () => {
    let tracker: Tracker;
    let base4: string;
    let base6: string;
    let model: Model;
    const tag = `suite-${process.pid}-${storeName}`;

    before(async () => {
      tracker = createTracker({ host: '::', port: 0, udpPort: 'off', statsPeers: true, ...(await storeOptions()) });
      const info = await tracker.listen();
      base4 = `http://127.0.0.1:${info.http.port}`;
      base6 = `http://[::1]:${info.http.port}`;
      model = await populate(base4, base6, tag, 60);
      await scrape(base4, [model.torrents[0]?.hash as Buffer]);
    });
    after(async () => {
      await tracker?.close();
    });

    it('totals match the announces made', async () => {
      const res = await getJson(base4, '/stats.json');
      assert.equal(res.status, 200);
      assert.equal(res.headers['cache-control'], 'no-store');
      const totals = res.body.totals as Record<string, number>;
      const sum = (f: (t: ModelTorrent) => number) => model.torrents.reduce((n, t) => n + f(t), 0);
      assert.deepEqual(totals, {
        torrents: 60,
        peers: model.peers4 + model.peers6,
        seeders: sum((t) => t.seeders),
        leechers: sum((t) => t.leechers),
        peers4: model.peers4,
        peers6: model.peers6,
        completed: sum((t) => t.completed),
        // No WebSocket peers announced here (the WebSocket suites check these totals).
        webrtc: { torrents: 0, peers: 0, seeders: 0, leechers: 0 },
      });
      assert.equal(res.body.store, tracker.store.kind);
      const proc = res.body.process as {
        counters: Record<string, Record<string, number>>;
        rates: Record<string, number>;
        httpPath: string;
      };
      assert.equal(proc.httpPath, tracker.http.path.path);
      assert.ok(['fast', 'node:http'].includes(proc.httpPath));
      assert.equal(proc.counters.http?.announces, model.announces);
      assert.equal(proc.counters.http?.scrapes, 1);
      assert.equal(proc.counters.udp?.announces, 0);
      assert.ok((proc.rates.announcesPerSecond as number) > 0, 'announces were counted in the rate');
      assert.equal(res.body.history, undefined, 'history only when asked for');
      // The timer samples every few seconds; take one now rather than wait.
      await tracker.stats?.collector.sample();
      const withHistory = await getJson(base4, '/stats.json?history=1');
      const history = withHistory.body.history as Record<string, number[]>;
      assert.ok(Array.isArray(history.t) && history.t.length >= 1, 'a sample was recorded');
      assert.equal(history.peers?.at(-1), totals.peers, 'the last sample has the current peer count');
      assert.equal(history.t.length, history.seeders?.length);
      assert.equal(history.t.length, history.announcesPerSecond?.length);
    });

    it('pages through every torrent exactly once, in each column order', async () => {
      await tracker.stats?.snapshots.refresh();
      const byHash = new Map(model.torrents.map((t) => [t.hex, t]));
      for (let column = 0; column < 5; column++) {
        for (const dir of ['asc', 'desc']) {
          const rows = await allRows(base4, column, dir);
          assert.equal(rows.length, 60, `${column} ${dir}`);
          assert.equal(new Set(rows.map((r) => r.infoHash)).size, 60, 'no duplicates');
          assertOrdered(rows, column, dir);
          for (const r of rows) {
            const t = byHash.get(r.infoHash);
            assert.ok(t, `known torrent ${r.infoHash}`);
            assert.deepEqual([r.seeders, r.leechers, r.completed], [t.seeders, t.leechers, t.completed], r.infoHash);
            assert.ok(Math.abs(r.lastAnnounce - Date.now()) < 120_000, 'lastAnnounce is a recent epoch-ms time');
          }
        }
      }
      const first = await table(base4, { start: 0, length: 5, column: 0, dir: 'asc' });
      assert.equal(first.recordsTotal, 60);
      assert.equal(first.recordsFiltered, 60);
      assert.deepEqual(
        first.data.map((r) => r.infoHash),
        model.torrents
          .map((t) => t.hex)
          .sort()
          .slice(0, 5),
      );
      const beyond = await table(base4, { start: 500, length: 10 });
      assert.deepEqual(beyond.data, []);
      assert.equal(beyond.recordsFiltered, 60);
    });

    it('searches by info-hash prefix, in any case, or by a pasted magnet link', async () => {
      const target = model.torrents[7] as ModelTorrent;
      for (const prefix of [target.hex.slice(0, 1), target.hex.slice(0, 2), target.hex.slice(0, 5)]) {
        const want = model.torrents.filter((t) => t.hex.startsWith(prefix));
        for (const column of [0, 1, 4]) {
          const rows = await allRows(base4, column, 'desc', prefix.toUpperCase(), 3);
          assert.deepEqual(rows.map((r) => r.infoHash).sort(), want.map((t) => t.hex).sort(), `prefix ${prefix}`);
          assertOrdered(rows, column, 'desc');
        }
        const page = await table(base4, { search: prefix });
        assert.equal(page.recordsFiltered, want.length);
        assert.equal(page.recordsTotal, 60);
      }
      const magnet = await table(base4, { search: `magnet:?xt=urn:btih:${target.hex.toUpperCase()}&tr=x` });
      assert.deepEqual(
        magnet.data.map((r) => r.infoHash),
        [target.hex],
      );
      const none = await table(base4, { search: 'not-hex' });
      assert.equal(none.recordsFiltered, 0);
      assert.deepEqual(none.data, []);
    });

    it('shows one torrent with its peers and their decoded clients (--stats-peers)', async () => {
      const target = model.torrents.find((t, i) => i % 5 === 0 && t.seeders > 0) as ModelTorrent;
      const res = await getJson(base4, `/stats.json?torrent=${target.hex.toUpperCase()}`);
      assert.equal(res.status, 200);
      assert.equal(res.body.infoHash, target.hex);
      assert.deepEqual(
        [res.body.seeders, res.body.leechers, res.body.completed],
        [target.seeders, target.leechers, target.completed],
      );
      assert.equal(res.body.peersShown, true);
      const peers = res.body.peers as { ip: string; port: number; seeder: boolean; client: string; family: number }[];
      assert.equal(peers.length, target.seeders + target.leechers);
      assert.equal(peers.filter((p) => p.seeder).length, target.seeders);
      for (const p of peers) {
        if (p.seeder) assert.equal(p.client, 'qBittorrent 4.6.5');
        assert.ok(p.port >= 10000);
      }
      assert.ok(peers.some((p) => p.ip === '127.0.0.1' && p.family === 4));
      assert.ok(peers.some((p) => p.ip === '::1' && p.family === 6 && p.client === 'aria2 1.36.0'));
      assert.ok(peers.some((p) => p.client === 'Transmission 3.00') || target.leechers === 1);

      const unknown = await getJson(base4, `/stats.json?torrent=${'0'.repeat(40)}`);
      assert.equal(unknown.status, 404);
      const bad = await getJson(base4, '/stats.json?torrent=xyz');
      assert.equal(bad.status, 400);
    });

    it('a refreshed snapshot and the totals follow swarms that changed', async () => {
      const gone = model.torrents[1] as ModelTorrent;
      const before = (await getJson(base4, '/stats.json')).body.totals as Record<string, number>;
      // Every peer of one torrent stops: it leaves the table and the totals.
      for (const p of gone.peers) {
        await announce(p.base, { infoHash: gone.hash, peerId: p.peerId, port: p.port, left: p.left, event: 'stopped' });
      }
      const fresh = torrentHash(`${tag}-late`, 0);
      await announce(base4, { infoHash: fresh, peerId: makeId('-DE13F0-', 1), port: 7777, left: 0 });
      await tracker.stats?.snapshots.refresh();

      const added = await table(base4, { search: fresh.toString('hex') });
      assert.equal(added.recordsTotal, 60, '60 - 1 + 1');
      assert.deepEqual(
        added.data.map((r) => [r.infoHash, r.seeders, r.leechers]),
        [[fresh.toString('hex'), 1, 0]],
      );
      const removed = await table(base4, { search: gone.hex });
      assert.equal(removed.recordsFiltered, 0);
      const after = (await getJson(base4, '/stats.json')).body.totals as Record<string, number>;
      assert.equal(after.torrents, before.torrents);
      assert.equal(after.peers, (before.peers as number) - gone.peers.length + 1);
      assert.equal(after.seeders, (before.seeders as number) - gone.seeders + 1);
      assert.equal((await getJson(base4, `/stats.json?torrent=${gone.hex}`)).status, 404);
    });
  });

  describe(`--stats-warm on ${storeName}`, () => {
    it('rebuilds the table in the background, so a visitor gets a fresh one without waiting for a build', async () => {
      // The tracker's clock moves only when the test moves it, 4 s a round, never 5 s past a table: a
      // request rebuilds the table itself only once it is older than that, so every new table seen
      // here was made in the background. No table is made before the clock moves either (it is never
      // 1 s old), but the one listen() starts (waited for below). A rebuild also waits ten times the
      // last build's time (real ms) after it: 4 s leaves builds of up to 0.4 s.
      let clock = Date.now();
      const tracker = createTracker({
        host: '127.0.0.1',
        port: 0,
        udpPort: 'off',
        statsWarm: 1,
        now: () => clock,
        ...(await storeOptions()),
      });
      try {
        const info = await tracker.listen();
        const base = `http://127.0.0.1:${info.http.port}`;
        // The table listen() started, before any torrent: a first request waits for its build.
        assert.equal((await table(base, { length: 10, column: 0, dir: 'asc' })).recordsTotal, 0);
        // Twice: the table keeps following the store, rebuild after rebuild, with nobody asking.
        for (let round = 1; round <= 2; round++) {
          const hash = torrentHash(`warm-${process.pid}-${storeName}`, round);
          await announce(base, { infoHash: hash, peerId: makeId('-qB4650-', round), port: 6881, left: 0 });
          const before = await table(base, { length: 10, column: 0, dir: 'asc' });
          assert.equal(before.recordsTotal, round - 1, `round ${round}: the table before the clock moved`);
          clock += 4000;
          let found: (TableReply & { snapshotAt: number }) | undefined;
          for (const deadline = Date.now() + 4000; !found && Date.now() < deadline; ) {
            const page = (await table(base, { length: 10, column: 0, dir: 'asc' })) as TableReply & {
              snapshotAt: number;
            };
            if (page.recordsTotal === round) found = page;
            else await new Promise((r) => setTimeout(r, 100));
          }
          assert.ok(found, `round ${round}: a table listing the new torrent within 4 s`);
          assert.ok(found.data.some((r) => r.infoHash === hash.toString('hex')));
          assert.equal(found.snapshotAt, clock, `round ${round}: made after the clock moved`);
        }
      } finally {
        await tracker.close();
      }
    });
  });
}

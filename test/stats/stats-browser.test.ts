import assert from 'node:assert/strict';
import { existsSync } from 'node:fs';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { type BrowserContext, chromium, type Page } from 'playwright-core';
import { createTracker, type Tracker } from '../../src/tracker.js';
import { CHROMIUM, CHROMIUM_ARGS } from '../helpers/chromium.js';
import { type Model, populate } from './stats-json-suite.js';

/**
 * The stats page in a real browser: Debian's Chromium driven by playwright-core
 * (no browser download). Loads /stats on a tracker holding a few hundred
 * torrents, checks totals and rows, pages, sorts, searches, opens a torrent,
 * and saves screenshots into test-artifacts/. Every wait is bounded.
 */
// The functions passed to page.waitForFunction/evaluate run in the browser; the
// project compiles without the DOM library, so declare the little they touch.
interface DomNode {
  textContent: string | null;
}
declare const document: {
  getElementById(id: string): DomNode | null;
  querySelector(selector: string): DomNode | null;
};
declare const window: unknown;

const WAIT_MS = 15_000;
const TORRENTS = 300;
const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const ARTIFACTS = join(ROOT, 'test-artifacts');

describe('stats page in Chromium', { timeout: 180_000 }, () => {
  let tracker: Tracker;
  let base: string;
  let model: Model;
  let context: BrowserContext;
  let page: Page;
  let profile: string;
  const problems: string[] = [];

  before(async () => {
    // Not a skip: the test command installs Chromium (scripts/test.sh); without it this fails loudly.
    assert.ok(existsSync(CHROMIUM), `${CHROMIUM} is missing: apt-get install chromium (npm test does)`);
    await mkdir(ARTIFACTS, { recursive: true });
    // --rate-limit off: two addresses (127.0.0.1, ::1) announce hundreds of peers at once, as no real client does.
    tracker = createTracker({ host: '::', port: 0, udpPort: 'off', statsPeers: true, rateLimit: 'off' });
    const info = await tracker.listen();
    base = `http://127.0.0.1:${info.http.port}`;
    // Announce in batches, sampling the chart in between so it has a history to draw.
    const merged: Model = { torrents: [], peers4: 0, peers6: 0, announces: 0 };
    for (let batch = 0; batch < 6; batch++) {
      const part = await populate(base, `http://[::1]:${info.http.port}`, `browser-${batch}`, TORRENTS / 6);
      merged.torrents.push(...part.torrents);
      merged.peers4 += part.peers4;
      merged.peers6 += part.peers6;
      merged.announces += part.announces;
      await tracker.stats?.collector.sample();
      await new Promise((r) => setTimeout(r, 150));
    }
    model = merged;

    profile = await mkdtemp(join(tmpdir(), 'bitstorm-chromium-'));
    context = await chromium.launchPersistentContext(profile, {
      executablePath: CHROMIUM,
      headless: true,
      timeout: WAIT_MS,
      args: [...CHROMIUM_ARGS],
      viewport: { width: 1280, height: 900 },
    });
    page = context.pages()[0] ?? (await context.newPage());
    page.setDefaultTimeout(WAIT_MS);
    page.setDefaultNavigationTimeout(WAIT_MS);
    // Any script error or CSP violation on the page fails the test at the end.
    page.on('pageerror', (err) => problems.push(`pageerror: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    page.on('response', (res) => {
      if (res.status() >= 400) problems.push(`HTTP ${res.status()}: ${res.url()}`);
    });
    // Only the tracker itself may be contacted: the page must work offline.
    page.on('request', (req) => {
      const url = req.url();
      if (!url.startsWith('http://127.0.0.1:') && !url.startsWith('data:')) problems.push(`external request: ${url}`);
    });
  });

  after(async () => {
    await context?.close().catch(() => {});
    if (profile) await rm(profile, { recursive: true, force: true });
    await tracker?.close();
  });

  const firstHash = () => page.locator('#torrents tbody tr').first().locator('td.hash code').innerText();
  const hashes = () => page.locator('#torrents tbody tr td.hash code').allInnerTexts();
  const waitInfo = (re: RegExp) =>
    page.waitForFunction(
      (source) => new RegExp(source).test(document.querySelector('.dt-info')?.textContent ?? ''),
      re.source,
      { timeout: WAIT_MS },
    );

  it('shows the totals and the first page of torrents', async () => {
    await page.goto(`${base}/`); // the landing URL redirects to /stats
    assert.equal(new URL(page.url()).pathname, '/stats');
    await page.waitForFunction(
      (n) => document.getElementById('v-torrents')?.textContent === n,
      TORRENTS.toLocaleString('en-US'),
    );
    const seeders = model.torrents.reduce((n, t) => n + t.seeders, 0);
    const leechers = model.torrents.reduce((n, t) => n + t.leechers, 0);
    const text = async (id: string) => page.locator(`#v-${id}`).innerText();
    assert.equal(await text('peers'), (seeders + leechers).toLocaleString('en-US'));
    assert.equal(await text('seeders'), seeders.toLocaleString('en-US'));
    assert.equal(await text('leechers'), leechers.toLocaleString('en-US'));
    assert.equal(await text('peers6'), String(model.peers6));
    assert.equal(await text('store'), 'memory');
    assert.equal(await text('transportShare'), '100 / 0 / 0 %');

    await waitInfo(new RegExp(`Showing 1 to 25 of ${TORRENTS} entries`));
    assert.equal(await page.locator('#torrents tbody tr').count(), 25);
    // Default order: seeders, most first.
    const top = await page.locator('#torrents tbody tr').first().locator('td').nth(1).innerText();
    assert.equal(Number(top), Math.max(...model.torrents.map((t) => t.seeders)));
    const href = await page.locator('#torrents tbody tr a.magnet').first().getAttribute('href');
    assert.match(href ?? '', /^magnet:\?xt=urn:btih:[0-9a-f]{40}&tr=http%3A%2F%2F127\.0\.0\.1%3A\d+%2Fannounce$/);
    // The chart drew (uPlot renders into a canvas).
    assert.equal(await page.locator('#chart .uplot canvas').count(), 1);
    await page.screenshot({ path: join(ARTIFACTS, 'stats-page.png'), fullPage: true });
  });

  it('pages', async () => {
    const before = await hashes();
    await page.locator('.dt-paging-button.next').click();
    await waitInfo(new RegExp(`Showing 26 to 50 of ${TORRENTS} entries`));
    const after = await hashes();
    assert.equal(after.length, 25);
    assert.equal(after.filter((h) => before.includes(h)).length, 0, 'the second page has other torrents');
  });

  it('sorts by info hash, both ways', async () => {
    const sorted = model.torrents.map((t) => t.hex).sort();
    await page.locator('#torrents thead th').first().click();
    await page.waitForFunction(
      (hex) => document.querySelector('#torrents tbody td.hash code')?.textContent === hex,
      sorted[0],
    );
    await waitInfo(/Showing 1 to 25/); // sorting goes back to the first page
    assert.deepEqual(await hashes(), sorted.slice(0, 25));
    await page.locator('#torrents thead th').first().click();
    await page.waitForFunction(
      (hex) => document.querySelector('#torrents tbody td.hash code')?.textContent === hex,
      sorted.at(-1),
    );
    assert.equal(await firstHash(), sorted.at(-1));
  });

  it('searches by info-hash prefix', async () => {
    const target = model.torrents[42]?.hex as string;
    const prefix = target.slice(0, 2);
    const expected = model.torrents.filter((t) => t.hex.startsWith(prefix)).length;
    await page.locator('.dt-search input').fill(prefix.toUpperCase());
    await waitInfo(new RegExp(`of ${expected} entr(y|ies) \\(filtered from ${TORRENTS} total entries\\)`));
    const shown = await hashes();
    assert.ok(shown.length > 0 && shown.length <= expected);
    for (const h of shown) assert.ok(h.startsWith(prefix), h);
    await page.locator('.dt-search input').fill(target);
    await waitInfo(new RegExp(`of 1 entry \\(filtered from ${TORRENTS} total entries\\)`));
    assert.deepEqual(await hashes(), [target]);
  });

  it('opens a torrent with its counts and peers', async () => {
    const target = model.torrents[42];
    assert.ok(target);
    await page.locator('#torrents tbody tr').first().locator('td').nth(2).click();
    await page.locator('dialog#torrent[open]').waitFor({ state: 'visible' });
    await page.locator('#t-seeders').waitFor();
    assert.equal(await page.locator('#torrent-title').innerText(), `Torrent ${target.hex}`);
    assert.equal(await page.locator('#t-seeders').innerText(), String(target.seeders));
    assert.equal(await page.locator('#t-leechers').innerText(), String(target.leechers));
    assert.equal(await page.locator('#t-completed').innerText(), String(target.completed));
    assert.equal(await page.locator('#peers tbody tr').count(), target.seeders + target.leechers);
    const clients = await page.locator('#peers tbody tr td:nth-child(4)').allInnerTexts();
    for (const c of clients) assert.match(c, /^(qBittorrent 4\.6\.5|Transmission 3\.00|aria2 1\.36\.0)$/);
    await page.screenshot({ path: join(ARTIFACTS, 'stats-torrent.png') });
    await page.keyboard.press('Escape');
    await page.locator('dialog#torrent').waitFor({ state: 'hidden' });
  });

  it('refreshes itself without a reload', async () => {
    await page.locator('.dt-search input').fill('');
    await waitInfo(new RegExp(`of ${TORRENTS} entries`));
    const marker = await page.evaluate(() => {
      (window as unknown as { marker: number }).marker = 1;
      return document.getElementById('v-torrents')?.textContent;
    });
    assert.equal(marker, String(TORRENTS));
    await populate(base, base.replace('127.0.0.1', '[::1]'), 'browser-late', 5);
    await tracker.stats?.snapshots.refresh();
    await page.waitForFunction(
      (n) => document.getElementById('v-torrents')?.textContent === n,
      (TORRENTS + 5).toLocaleString('en-US'),
      { timeout: WAIT_MS },
    );
    await waitInfo(new RegExp(`of ${TORRENTS + 5} entries`));
    assert.equal(await page.evaluate(() => (window as unknown as { marker?: number }).marker), 1, 'same document');
    assert.deepEqual(problems, []);
  });

  it('works behind --stats-token, sending the token from the page URL as a Bearer header', async () => {
    const guarded = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', statsToken: 'browser-secret' });
    try {
      const { http } = await guarded.listen();
      const origin = `http://127.0.0.1:${http.port}`;
      await populate(origin, origin, 'browser-token', 3);
      const bearer: string[] = [];
      const onRequest = (req: { url(): string; headers(): Record<string, string> }) => {
        if (req.url().startsWith(`${origin}/stats.json`)) bearer.push(req.headers().authorization ?? 'none');
      };
      page.on('request', onRequest);
      try {
        const denied = await page.goto(`${origin}/stats`);
        assert.equal(denied?.status(), 401);
        await page.locator('input[name="token"]').fill('browser-secret');
        await page.locator('form button').click();
        await page.waitForFunction(() => document.getElementById('v-torrents')?.textContent === '3');
        await page.waitForFunction(() => /of 3 entries/.test(document.querySelector('.dt-info')?.textContent ?? ''));
      } finally {
        page.off('request', onRequest);
      }
      assert.ok(bearer.length >= 2, 'totals and table were requested');
      assert.ok(
        bearer.every((h) => h === 'Bearer browser-secret'),
        `every JSON request carried the token: ${bearer.join(', ')}`,
      );
      problems.splice(0, problems.length, ...problems.filter((p) => !p.includes('401')));
      assert.deepEqual(problems, [], 'nothing but the expected 401');
    } finally {
      await guarded.close();
    }
  });
});

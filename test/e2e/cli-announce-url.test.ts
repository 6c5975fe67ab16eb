/**
 * The README's promise: start `bitstorm`, put the announce URL it prints into a
 * torrent, and clients meet through it. Runs the real CLI (`node
 * bin/bitstorm.js --port 0`, defaults otherwise: memory store, `::`, stats
 * on), reads the URLs from its output and has real clients use them.
 *
 * aria2 on both ends (3–8 s a transfer): the client pairs and Transmission's
 * settings are covered by transfer.test.ts; this test is about the printed
 * URLs. Every printed URL these clients can use on loopback is used; the
 * printed udp://[::1] URL is not, since neither aria2 nor Transmission
 * announces to a UDP tracker over IPv6 here (see clients.ts).
 */
import assert from 'node:assert/strict';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ClientProcess, makeTempDir, removeTempDir, requirePrograms, tail } from './clients.js';
import { runTransfer } from './transfer.js';

const ROOT = fileURLToPath(new URL('../../../', import.meta.url));
const CASE_TIMEOUT_MS = 60_000;

describe('announce URLs printed by the bitstorm CLI work with real clients', { concurrency: 3 }, () => {
  let cli: ClientProcess | undefined;
  let dir = '';
  let logFile = '';
  let urls: string[] = [];

  before(async () => {
    await requirePrograms(['aria2c', 'mktorrent']);
    dir = await makeTempDir('cli');
    logFile = join(dir, 'bitstorm.log');
    // BITSTORM_* from the caller's environment would change what is tested.
    const env = Object.fromEntries(Object.entries(process.env).filter(([k]) => !k.startsWith('BITSTORM_')));
    // Its own process group, killed in after() whatever happens.
    cli = new ClientProcess(
      'bitstorm CLI',
      process.execPath,
      [join(ROOT, 'bin/bitstorm.js'), '--port', '0'],
      logFile,
      env,
    );
    // The CLI prints its URLs once it listens; bounded wait on its output.
    const deadline = Date.now() + 15_000;
    for (;;) {
      const out = await tail(logFile, 50);
      // Read from a file, the lines are JSON (--log-format auto): the URL ends at the quote.
      urls = [...out.matchAll(/announce URL ([^\s"]+)/g)].map((m) => m[1] as string);
      if (urls.some((u) => u.startsWith('http://127.0.0.1:'))) break;
      if (!cli.running) throw new Error(`bitstorm CLI ${cli.exitStatus}:\n${out}`);
      if (Date.now() > deadline) throw new Error(`bitstorm CLI printed no announce URL within 15 s:\n${out}`);
      await new Promise((r) => setTimeout(r, 100));
    }
  });

  after(async () => {
    await cli?.stop();
    if (dir) await removeTempDir(dir);
  });

  it('prints an http://127.0.0.1 and an http://[::1] announce URL on the port it bound', async () => {
    const http4 = urls.find((u) => /^http:\/\/127\.0\.0\.1:\d+\/announce$/.test(u));
    const http6 = urls.find((u) => /^http:\/\/\[::1\]:\d+\/announce$/.test(u));
    assert.ok(http4, `no http://127.0.0.1 URL among ${urls.join(', ')}`);
    assert.ok(http6, `no http://[::1] URL among ${urls.join(', ')}`);
    assert.notEqual(new URL(http4).port, '0', 'the printed port is the bound one, not 0');
    assert.equal(new URL(http4).port, new URL(http6).port);
  });

  const usable: [string, RegExp, 4 | 6][] = [
    ['http://127.0.0.1', /^http:\/\/127\.0\.0\.1:\d+\//, 4],
    ['http://[::1]', /^http:\/\/\[::1\]:\d+\//, 6],
    ['udp://127.0.0.1', /^udp:\/\/127\.0\.0\.1:\d+/, 4],
  ];
  for (const [label, pattern, family] of usable) {
    it(`aria2 → aria2 through the printed ${label} URL`, { timeout: CASE_TIMEOUT_MS + 30_000 }, async () => {
      const url = urls.find((u) => pattern.test(u));
      assert.ok(url, `the CLI printed no ${label} URL (printed: ${urls.join(', ')})`);
      const httpUrl = urls.find((u) => u.startsWith(label.startsWith('udp') ? 'http://127.0.0.1' : label)) as string;
      const base = new URL(httpUrl);
      const result = await runTransfer({
        label: `cli-${label.replace(/\W+/g, '')}`,
        seeder: 'aria2',
        leecher: 'aria2',
        announceUrl: url,
        scrapeBase: `${base.protocol}//${base.host}`,
        family,
        deadline: Date.now() + CASE_TIMEOUT_MS,
        trackerDiagnostics: async () => `bitstorm CLI (${cli?.exitStatus ?? 'running'}):\n${await tail(logFile, 30)}`,
      });
      assert.equal(result.scrape.complete, 2);
      assert.ok(result.scrape.downloaded >= 1);
    });
  }
});

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { createHash, randomBytes } from 'node:crypto';
import { once } from 'node:events';
import { mkdir, mkdtemp, readFile, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { promisify } from 'node:util';
import type { AnnounceEvent } from '../../src/protocol/types.js';
import type { UdpAnnounceParams } from '../../src/protocol/udp.js';
import { createTracker, type Tracker } from '../../src/tracker.js';
import { freePort } from '../helpers/free-port.js';
import { UdpTrackerClient } from './udp-client.js';
import { asScrape } from './udp-suite.js';

/**
 * A real client against our udp:// URL: aria2 seeding a private torrent whose
 * only tracker is udp://127.0.0.1:PORT/announce. aria2's UDP tracker client
 * sends through its DHT socket, so DHT is on (with an empty routing table and a
 * private torrent it contacts nobody else); PEX and LPD are off. The full
 * client-pair transfer suite lives in test/e2e/.
 */
const run = promisify(execFile);
const WAIT_MS = 20_000;

/** The info hash of a single-file torrent from mktorrent, whose `info` is the last key of the top dict. */
function infoHashOf(torrent: Buffer): Buffer {
  const at = torrent.indexOf('4:info');
  assert.ok(at > 0, 'torrent has an info dict');
  return createHash('sha1')
    .update(torrent.subarray(at + 6, torrent.length - 1))
    .digest();
}

describe('aria2 announcing to our UDP tracker', () => {
  let tracker: Tracker;
  let udpPort: number;
  let dir: string;
  let aria: ChildProcess | undefined;
  let ariaLog = '';
  const seen: { params: UdpAnnounceParams; event: AnnounceEvent }[] = [];

  before(async () => {
    tracker = createTracker({ host: '::', port: 0, quiet: true });
    const info = await tracker.listen();
    assert.ok(info.udp);
    udpPort = info.udp.port;
    const core = tracker.core;
    const original = core.announce;
    core.announce = function (params, ctx) {
      if (ctx.transport === 'udp') seen.push({ params: params as UdpAnnounceParams, event: params.event });
      return original.call(this, params, ctx);
    };
    dir = await mkdtemp(join(tmpdir(), 'bitstorm-aria2-udp-'));
  });

  after(async () => {
    if (aria && aria.exitCode === null && aria.signalCode === null) {
      aria.kill('SIGKILL');
      await once(aria, 'exit');
    }
    await tracker.close();
    await rm(dir, { recursive: true, force: true });
  });

  it('sees the seeder announce over UDP, with the torrent info hash, and shows it in a scrape', async () => {
    const data = join(dir, 'data');
    await mkdir(data);
    await writeFile(join(data, 'file.bin'), randomBytes(256 * 1024));
    const torrentPath = join(dir, 'seed.torrent');
    await run('mktorrent', [
      '-p',
      '-a',
      `udp://127.0.0.1:${udpPort}/announce`,
      '-o',
      torrentPath,
      join(data, 'file.bin'),
    ]);
    const infoHash = infoHashOf(await readFile(torrentPath));

    aria = spawn(
      'aria2c',
      [
        '--no-conf',
        `--dir=${data}`,
        '--enable-dht=true',
        `--dht-listen-port=${await freePort({ tcp: false, udp: true })}`,
        `--dht-file-path=${join(dir, 'dht.dat')}`,
        '--enable-dht6=false',
        '--enable-peer-exchange=false',
        '--bt-enable-lpd=false',
        '--check-integrity=true',
        '--seed-ratio=0.0',
        `--listen-port=${await freePort()}`,
        '--summary-interval=0',
        '--console-log-level=notice',
        torrentPath,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    aria.stdout?.on('data', (c: Buffer) => (ariaLog += c.toString()));
    aria.stderr?.on('data', (c: Buffer) => (ariaLog += c.toString()));

    const deadline = Date.now() + WAIT_MS;
    while (seen.length === 0 && Date.now() < deadline && aria.exitCode === null) {
      await new Promise((r) => setTimeout(r, 100));
    }
    assert.ok(seen.length > 0, `no UDP announce from aria2 within ${WAIT_MS} ms; aria2 said:\n${ariaLog}`);
    const first = seen[0];
    assert.ok(first);
    assert.equal(first.params.infoHash.toString('hex'), infoHash.toString('hex'));
    assert.equal(first.params.left, 0, 'aria2 verified the file and seeds');
    assert.equal(first.event, 'started');
    assert.ok((tracker.udp?.counters.connects ?? 0) >= 1, 'it connected first');

    const c = await UdpTrackerClient.open('127.0.0.1', udpPort);
    try {
      assert.deepEqual(asScrape(await c.scrape([infoHash])).files, [{ seeders: 1, completed: 0, leechers: 0 }]);
    } finally {
      await c.close();
    }
  });
});

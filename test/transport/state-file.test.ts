import assert from 'node:assert/strict';
import { existsSync, mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import type { DecodedDict } from '../../src/protocol/bencode.js';
import { unpackPeers } from '../../src/protocol/compact.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';
import { tempPathFor } from '../../src/store/memory/state-file-io.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { announce, makeId, scrape } from '../helpers/http-tracker-client.js';
import { UdpTrackerClient } from './udp-client.js';
import { asAnnounce, asScrape } from './udp-suite.js';

/**
 * --state-file end to end: peers announced over HTTP and UDP to a real
 * tracker, the tracker closed (as the CLI does on SIGTERM), a new tracker
 * started on the same file.
 */

const dir = mkdtempSync(join(tmpdir(), 'bitstorm-state-tracker-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const STARTED = 2;
const COMPLETED = 1;

async function start(
  file: string,
  extra: TrackerOptions = {},
): Promise<{ tracker: Tracker; base: string; udp: UdpTrackerClient }> {
  const tracker = createTracker({ host: '127.0.0.1', port: 0, quiet: true, stateFile: file, ...extra });
  const info = await tracker.listen();
  assert.ok(info.udp);
  const udp = await UdpTrackerClient.open('127.0.0.1', info.udp.port);
  return { tracker, base: `http://127.0.0.1:${info.http.port}`, udp };
}

async function stop(t: { tracker: Tracker; udp: UdpTrackerClient }): Promise<void> {
  await t.udp.close();
  await t.tracker.close();
}

const h = Buffer.from('5717e5f11e5717e5f11e5717e5f11e5717e5f11e', 'hex');
const other = Buffer.from('00112233445566778899aabbccddeeff00112233', 'hex');

async function httpCounts(base: string, hash: Buffer): Promise<DecodedDict> {
  return (await scrape(base, [hash])).files as DecodedDict;
}

describe('--state-file across a restart of the tracker', () => {
  it('brings back seeders, leechers, downloaded and the peers themselves (HTTP and UDP)', async () => {
    const file = join(dir, 'round-trip.state');
    const a = await start(file);
    assert.ok(a.tracker.store instanceof MemoryStore);
    await announce(a.base, { infoHash: h, peerId: makeId('-HT0001-', 1), port: 7001, event: 'started' });
    await announce(a.base, {
      infoHash: h,
      peerId: makeId('-HT0001-', 2),
      port: 7002,
      left: 0,
      event: 'completed',
      key: 'abcd1234',
    });
    await announce(a.base, { infoHash: other, peerId: makeId('-HT0001-', 9), port: 7009 });
    asAnnounce(
      await a.udp.announce({ infoHash: h, peerId: makeId('-UD0001-', 3), port: 7003, left: 9, event: STARTED }),
    );
    asAnnounce(
      await a.udp.announce({ infoHash: h, peerId: makeId('-UD0001-', 4), port: 7004, left: 0, event: COMPLETED }),
    );
    const before = await httpCounts(a.base, h);
    assert.deepEqual(before[h.toString('latin1')], { complete: 2, downloaded: 2, incomplete: 2 });
    await stop(a);
    assert.ok(existsSync(file), 'close() saved the state');
    assert.ok(!existsSync(tempPathFor(file)));

    const b = await start(file);
    assert.equal((b.tracker.store as MemoryStore).restored?.peers, 5);
    assert.deepEqual(await httpCounts(b.base, h), before, 'HTTP scrape as before the restart');
    assert.deepEqual(asScrape(await b.udp.scrape([h, other])).files, [
      { seeders: 2, completed: 2, leechers: 2 },
      { seeders: 0, completed: 0, leechers: 1 },
    ]);
    // A new leecher is given the peers announced before the restart.
    const r = await announce(b.base, { infoHash: h, peerId: makeId('-HT0001-', 5), port: 7005, numwant: 50 });
    assert.equal(r.complete, 2);
    assert.equal(r.incomplete, 3);
    const ports = unpackPeers(r.peers as Buffer, 4)
      .map((p) => p.port)
      .sort();
    assert.deepEqual(ports, [7001, 7002, 7003, 7004]);
    const u = asAnnounce(
      await b.udp.announce({ infoHash: h, peerId: makeId('-UD0001-', 6), port: 7006, left: 5, numWant: 50 }),
    );
    assert.deepEqual(
      unpackPeers(u.peers, 4)
        .map((p) => p.port)
        .sort(),
      [7001, 7002, 7003, 7004, 7005],
    );
    await stop(b);
  });

  it('leaves out the peers that expired while the tracker was down, keeping downloaded counts', async () => {
    const file = join(dir, 'expiry.state');
    const a = await start(file);
    await announce(a.base, { infoHash: h, peerId: makeId('-EX0001-', 1), port: 7101, left: 0, event: 'completed' });
    await announce(a.base, { infoHash: other, peerId: makeId('-EX0001-', 2), port: 7102 });
    await stop(a);

    // Back after --peer-ttl (1860 s by default) and a bit: every peer is past its TTL.
    const later = Date.now() + 1861 * 1000;
    const b = await start(file, { now: () => later });
    const restored = (b.tracker.store as MemoryStore).restored;
    assert.equal(restored?.peers, 0);
    assert.equal(restored?.expired, 2);
    const files = (await scrape(b.base, [h, other])).files as DecodedDict;
    assert.deepEqual(files[h.toString('latin1')], { complete: 0, downloaded: 1, incomplete: 0 });
    assert.deepEqual(files[other.toString('latin1')], { complete: 0, downloaded: 0, incomplete: 0 });
    const r = await announce(b.base, { infoHash: h, peerId: makeId('-EX0001-', 3), port: 7103 });
    assert.equal((r.peers as Buffer).length, 0, 'no expired peer handed out');
    await stop(b);
  });
});

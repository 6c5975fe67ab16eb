import assert from 'node:assert/strict';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { parseInfoHashList } from '../../src/protocol/info-hash-list.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { announce, makeId, scrape } from '../helpers/http-tracker-client.js';
import { rawCommand, withRedisServer } from '../helpers/redis-server.js';
import { sleep, wsConnect } from '../helpers/ws-client.js';
import { UdpTrackerClient } from './udp-client.js';
import { asAnnounce, asError, asScrape } from './udp-suite.js';

/** --allow-list and --deny-list on every transport, on both stores, reloaded by file change and SIGHUP. */

const dir = mkdtempSync(join(tmpdir(), 'bitstorm-lists-'));
after(() => rmSync(dir, { recursive: true, force: true }));
let files = 0;

function listFile(lines: string[]): string {
  const path = join(dir, `list-${++files}.txt`);
  writeFileSync(path, `${lines.join('\n')}\n`);
  return path;
}

const hash = (n: number): Buffer => makeId('-ACL-', n);
const REFUSED = 'torrent not allowed on this tracker';

async function started(options: TrackerOptions): Promise<{ tracker: Tracker; base: string; port: number }> {
  const tracker = createTracker({ host: '127.0.0.1', port: 0, quiet: true, ...options });
  const info = await tracker.listen();
  return { tracker, base: `http://127.0.0.1:${info.http.port}`, port: info.http.port };
}

describe('the list file format', () => {
  it('reads hex, base32 and magnet links, skips comments and blank lines, reports bad lines by number', () => {
    const h = Buffer.from('0123456789abcdef0123456789abcdef01234567', 'hex');
    // The same hash in base32 (RFC 4648, as magnet links use it).
    const base32 = 'AERUKZ4JVPG66AJDIVTYTK6N54ASGRLH';
    const { hashes, problems } = parseInfoHashList(
      [
        '# a comment',
        '',
        h.toString('hex').toUpperCase(),
        `  ${base32}  # trailing comment`,
        `magnet:?xt=urn:btih:${h.toString('hex')}&dn=x`,
        `magnet:?dn=y&xt=urn:btih:${'ff'.repeat(20)}`,
        'not a hash',
        'abcd',
      ].join('\r\n'),
    );
    assert.deepEqual([...hashes].sort(), [h.toString('latin1'), Buffer.alloc(20, 0xff).toString('latin1')].sort());
    assert.deepEqual(
      problems.map((p) => p.split(':')[0]),
      ['line 7', 'line 8'],
    );
  });
});

function runAccessSuite(name: string, extra: () => TrackerOptions): void {
  describe(`access lists: ${name}`, () => {
    it('an allow list admits listed torrents only, on HTTP, UDP and WebSocket; scrape leaves out the others', async () => {
      const path = listFile([hash(1).toString('hex'), `magnet:?xt=urn:btih:${hash(2).toString('hex')}`]);
      const { tracker, base, port } = await started({ ...extra(), allowList: path });
      try {
        const ok = await announce(base, { infoHash: hash(1), peerId: makeId('-P-', 1), port: 7001 });
        assert.equal(ok['failure reason'], undefined);
        const refused = await announce(base, { infoHash: hash(3), peerId: makeId('-P-', 1), port: 7001 });
        assert.equal(String(refused['failure reason']), REFUSED);

        const udp = await UdpTrackerClient.open('127.0.0.1', port);
        try {
          asAnnounce(await udp.announce({ infoHash: hash(2), peerId: makeId('-U-', 1), left: 1, port: 7002 }));
          const err = asError(await udp.announce({ infoHash: hash(3), peerId: makeId('-U-', 1), left: 1, port: 7002 }));
          assert.equal(err.message, REFUSED);
          // A UDP scrape reply is positional: the refused hash reads as unknown (zeros).
          const s = asScrape(await udp.scrape([hash(1), hash(3)]));
          assert.equal(s.files.length, 2);
          assert.equal(s.files[0]?.leechers, 1);
          assert.deepEqual(s.files[1], { seeders: 0, completed: 0, leechers: 0 });
        } finally {
          udp.socket.close();
        }

        const ws = await wsConnect(`ws://127.0.0.1:${port}/announce`);
        try {
          ws.send({
            action: 'announce',
            info_hash: hash(3).toString('latin1'),
            peer_id: makeId('-W-', 1).toString('latin1'),
          });
          const f = await ws.next((m) => m['failure reason'] !== undefined, 'refusal');
          assert.deepEqual(f, { action: 'announce', info_hash: hash(3).toString('latin1'), 'failure reason': REFUSED });
          ws.send({
            action: 'announce',
            info_hash: hash(1).toString('latin1'),
            peer_id: makeId('-W-', 1).toString('latin1'),
          });
          await ws.next((m) => m.complete !== undefined, 'an allowed announce');
        } finally {
          ws.close();
        }

        const files = (await scrape(base, [hash(1), hash(3)])).files as Map<string, unknown> | Record<string, unknown>;
        const keys = files instanceof Map ? [...files.keys()] : Object.keys(files);
        assert.equal(keys.length, 1);
      } finally {
        await tracker.close();
      }
    });

    it('a deny list refuses listed torrents only', async () => {
      const path = listFile([hash(10).toString('hex')]);
      const { tracker, base } = await started({ ...extra(), denyList: path });
      try {
        const refused = await announce(base, { infoHash: hash(10), peerId: makeId('-P-', 2), port: 7003 });
        assert.equal(String(refused['failure reason']), REFUSED);
        const ok = await announce(base, { infoHash: hash(11), peerId: makeId('-P-', 2), port: 7003 });
        assert.equal(ok['failure reason'], undefined);
      } finally {
        await tracker.close();
      }
    });
  });
}

runAccessSuite('memory store', () => ({}));
describe('on Redis', () => {
  const redis = withRedisServer();
  runAccessSuite('Redis store', () => ({ redisUrl: redis.url }));

  it('--allow-list redis and --deny-list redis follow SADD and SREM on every node within about a second', async () => {
    const prefix = `acl${Date.now()}:`;
    const allow = await started({ redisUrl: redis.url, redisPrefix: prefix, allowList: 'redis' });
    const allow2 = await started({ redisUrl: redis.url, redisPrefix: prefix, allowList: 'redis' });
    const deny = await started({ redisUrl: redis.url, redisPrefix: prefix, denyList: 'redis' });
    const udp = await UdpTrackerClient.open('127.0.0.1', allow2.port);
    const announced = async (base: string, n: number) =>
      (await announce(base, { infoHash: hash(n), peerId: makeId('-S-', n), port: 7400 }))['failure reason'] ===
      undefined;
    const eventually = async (what: string, check: () => Promise<boolean>) => {
      const deadline = Date.now() + 5000;
      while (!(await check())) {
        assert.ok(Date.now() < deadline, `${what} within 5 s`);
        await sleep(100);
      }
    };
    try {
      assert.equal(await announced(allow.base, 40), false);
      assert.equal(await announced(deny.base, 40), true);
      await rawCommand(redis.port, ['SADD', `${prefix}allow-list`, hash(40).toString('hex')]);
      await rawCommand(redis.port, ['SADD', `${prefix}deny-list`, hash(40).toString('hex')]);
      await eventually('listed on the first node', () => announced(allow.base, 40));
      await eventually('listed over UDP on the second', async () => {
        const reply = await udp.announce({ infoHash: hash(40), peerId: makeId('-U-', 40), left: 1, port: 7401 });
        return reply.action === 'announce';
      });
      await eventually('denied', async () => !(await announced(deny.base, 40)));
      const files = (await scrape(allow.base, [hash(40), hash(41)])).files as
        | Map<string, unknown>
        | Record<string, unknown>;
      assert.equal(files instanceof Map ? files.size : Object.keys(files).length, 1);
      await rawCommand(redis.port, ['SREM', `${prefix}allow-list`, hash(40).toString('hex')]);
      await eventually('unlisted again', async () => !(await announced(allow2.base, 40)));
    } finally {
      udp.socket.close();
      await allow.tracker.close();
      await allow2.tracker.close();
      await deny.tracker.close();
    }
  });
});

describe('reloading a list', () => {
  it('follows the file when it changes (within a few seconds) and on SIGHUP, keeping the old list if the file vanishes', async () => {
    const path = listFile([hash(20).toString('hex')]);
    const logger = captureLogger();
    const { tracker, base } = await started({ allowList: path, udpPort: 'off', logger });
    const refusedNow = async (n: number): Promise<boolean> => {
      const reply = await announce(base, { infoHash: hash(n), peerId: makeId('-R-', n), port: 7100 });
      return String(reply['failure reason']) === REFUSED;
    };
    try {
      assert.equal(await refusedNow(21), true);
      // Replaced by a rename, as editors and deploy tools do: whole or not at all.
      const next = `${path}.new`;
      writeFileSync(next, `${hash(20).toString('hex')}\n${hash(21).toString('hex')}\n`);
      renameSync(next, path);
      // The file is polled every 2 s; the bound leaves room for a loaded machine.
      const deadline = Date.now() + 15_000;
      while ((await refusedNow(21)) && Date.now() < deadline) await sleep(200);
      assert.equal(await refusedNow(21), false, 'the changed file was not picked up within 15 s');
      assert.match(logger.at('info')[0]?.msg ?? '', /^allow list loaded from .*: 1 entries$/);
      assert.ok(
        logger.at('info').some((l) => /^allow list reloaded \(change\) from .*: 2 entries \(was 1\)$/.test(l.msg)),
        logger.lines.map((l) => l.msg).join('\n'),
      );

      // SIGHUP reloads at once (a write that keeps size and mtime would not be seen by polling).
      writeFileSync(path, `${hash(22).toString('hex')}\n`);
      process.kill(process.pid, 'SIGHUP');
      await sleep(100);
      assert.equal(await refusedNow(22), false);
      assert.equal(await refusedNow(20), true);
      // SIGHUP says what it did: the list, its file, how many entries now and before.
      const hup = logger.at('info').find((l) => l.fields.why === 'SIGHUP');
      assert.match(hup?.msg ?? '', /^allow list reloaded \(SIGHUP\) from .*: 1 entries \(was 2\)$/);
      assert.deepEqual([hup?.fields.entries, hup?.fields.was, hup?.fields.file], [1, 2, path]);

      rmSync(path);
      process.kill(process.pid, 'SIGHUP');
      await sleep(100);
      assert.equal(await refusedNow(22), false, 'a vanished file keeps the list in force');
      const failed = logger.at('error');
      assert.equal(failed.length, 1, logger.lines.map((l) => l.msg).join('\n'));
      assert.match(
        failed[0]?.msg ?? '',
        /^allow list .* not reloaded \(SIGHUP\): .*ENOENT.*; the previous list stays$/,
      );
    } finally {
      await tracker.close();
    }
  });

  it('refuses to start with both lists, or with a list it cannot read', () => {
    assert.throws(() => createTracker({ allowList: listFile([]), denyList: listFile([]) }), /together/);
    assert.throws(() => createTracker({ allowList: join(dir, 'missing.txt') }), /ENOENT/);
  });
});

describe('client rules', () => {
  const CLIENT_REFUSED = 'client not allowed on this tracker';

  it('--client-allow admits only the listed peer-id prefixes, on HTTP, UDP and WebSocket', async () => {
    const { tracker, base, port } = await started({ clientAllow: ['-qB', '-WW'] });
    try {
      const qb = Buffer.from('-qB4650-abcdefghijkl', 'latin1');
      const tr = Buffer.from('-TR4050-abcdefghijkl', 'latin1');
      assert.equal((await announce(base, { infoHash: hash(30), peerId: qb, port: 7200 }))['failure reason'], undefined);
      const refused = await announce(base, { infoHash: hash(30), peerId: tr, port: 7201 });
      assert.equal(String(refused['failure reason']), CLIENT_REFUSED);

      const udp = await UdpTrackerClient.open('127.0.0.1', port);
      try {
        const err = asError(await udp.announce({ infoHash: hash(30), peerId: tr, left: 1, port: 7202 }));
        assert.equal(err.message, CLIENT_REFUSED);
        asAnnounce(await udp.announce({ infoHash: hash(30), peerId: qb, left: 1, port: 7202 }));
      } finally {
        udp.socket.close();
      }

      const ws = await wsConnect(`ws://127.0.0.1:${port}/announce`);
      try {
        const h = hash(31).toString('latin1');
        ws.send({ action: 'announce', info_hash: h, peer_id: tr.toString('latin1') });
        const f = await ws.next((m) => m['failure reason'] !== undefined, 'refusal');
        assert.equal(f['failure reason'], CLIENT_REFUSED);
        ws.send({ action: 'announce', info_hash: h, peer_id: '-WW0208-abcdefghijkl' });
        await ws.next((m) => m.complete !== undefined, 'a WebTorrent announce');
      } finally {
        ws.close();
      }
    } finally {
      await tracker.close();
    }
  });

  it('--client-deny refuses the listed prefixes only', async () => {
    const { tracker, base } = await started({ udpPort: 'off', clientDeny: ['-XX'] });
    try {
      const bad = await announce(base, { infoHash: hash(32), peerId: Buffer.from('-XX0001-abcdefghijkl'), port: 7300 });
      assert.equal(String(bad['failure reason']), CLIENT_REFUSED);
      const good = await announce(base, {
        infoHash: hash(32),
        peerId: Buffer.from('-XY0001-abcdefghijkl'),
        port: 7300,
      });
      assert.equal(good['failure reason'], undefined);
    } finally {
      await tracker.close();
    }
  });
});

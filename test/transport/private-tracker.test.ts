import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, it } from 'node:test';
import { encodeUdpUrlDataOptions } from '../../src/protocol/udp-client-codec.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { announce, announceQuery, httpGet, makeId, scrape } from '../helpers/http-tracker-client.js';
import { rawCommand, withRedisServer } from '../helpers/redis-server.js';
import { sleep, wsConnect } from '../helpers/ws-client.js';
import { UdpTrackerClient } from './udp-client.js';
import { asAnnounce, asError } from './udp-suite.js';

/**
 * A private tracker (--private): passkeys in the URL on every transport (HTTP
 * fast path and node:http, UDP's BEP 41 URL data, the WebSocket's path), per-key
 * accounting read through /accounts.json, the keys file reloaded, and on Redis
 * the keys kept in a set a web application changes.
 */

const dir = mkdtempSync(join(tmpdir(), 'bitstorm-keys-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const ALICE = 'alice0000000000000000000000000001';
const BOB = 'bob00000000000000000000000000000002';
const STRANGER = 'stranger0000000000000000000000003';
const TOKEN = 'operator-token';
const UNKNOWN = 'unknown passkey';
const hash = (n: number): Buffer => makeId('-PRV-', n);

function keysFile(keys: string[]): string {
  const path = join(dir, `keys-${Math.random().toString(36).slice(2)}.txt`);
  writeFileSync(path, `# members\n${keys.join('\n')}\n`);
  return path;
}

async function started(options: TrackerOptions): Promise<{ tracker: Tracker; base: string; port: number }> {
  const tracker = createTracker({
    host: '127.0.0.1',
    port: 0,
    quiet: true,
    private: true,
    statsToken: TOKEN,
    ...options,
  });
  const info = await tracker.listen();
  return { tracker, base: `http://127.0.0.1:${info.http.port}`, port: info.http.port };
}

async function accounts(base: string, query: string, token: string | null = TOKEN) {
  const res = await httpGet(base, `/accounts.json?${query}`, {
    headers: token ? { authorization: `Bearer ${token}` } : {},
  });
  return { status: res.status, body: JSON.parse(res.body.toString()) as Record<string, unknown> };
}

for (const fastPath of [true, false]) {
  describe(`private tracker over HTTP (${fastPath ? 'fast path' : 'node:http'}), memory store`, () => {
    it('serves members by their passkey, refuses others, and accounts deltas per key', async () => {
      const { tracker, base } = await started({ keys: keysFile([ALICE, BOB]), httpFastPath: fastPath });
      try {
        assert.equal(tracker.http.path.path, fastPath ? 'fast' : 'node:http');
        const peer = { infoHash: hash(1), peerId: makeId('-A-', 1), port: 7001 };
        // No key, a stranger's key, a malformed key.
        assert.equal((await announce(base, peer))['failure reason']?.toString(), UNKNOWN);
        assert.equal((await announce(base, peer, `/announce/${STRANGER}`))['failure reason']?.toString(), UNKNOWN);
        assert.equal((await httpGet(base, `/announce/bad!key?${announceQuery(peer)}`)).status, 404);

        const first = await announce(base, { ...peer, event: 'started' }, `/announce/${ALICE}`);
        assert.equal(first['failure reason'], undefined);
        assert.equal(first.incomplete, 1);
        await announce(base, { ...peer, uploaded: 4000, downloaded: 1000 }, `/announce/${ALICE}`);
        await announce(
          base,
          { ...peer, uploaded: 5000, downloaded: 3000, left: 0, event: 'completed' },
          `/announce/${ALICE}`,
        );
        const other = await announce(base, { ...peer, peerId: makeId('-B-', 1) }, `/announce/${BOB}`);
        assert.equal(other.complete, 1);

        const s = await scrape(base, [hash(1)], `/scrape/${BOB}`);
        assert.equal(s['failure reason'], undefined);
        assert.ok(s.files !== undefined, 'a member scrapes');
        assert.equal((await scrape(base, [hash(1)]))['failure reason']?.toString(), UNKNOWN);

        // The accounts: never without the token.
        assert.equal((await accounts(base, '', null)).status, 401);
        assert.equal((await accounts(base, '', 'wrong')).status, 401);
        const one = await accounts(base, `passkey=${ALICE}`);
        assert.equal(one.status, 200);
        const [alice] = one.body.accounts as Record<string, number>[];
        assert.deepEqual([alice?.uploaded, alice?.downloaded, alice?.completed, alice?.announces], [5000, 3000, 1, 3]);
        const all = await accounts(base, 'count=1');
        assert.equal((all.body.accounts as unknown[]).length, 1);
        const rest = await accounts(base, `cursor=${all.body.cursor}`);
        assert.equal(rest.body.cursor, '0');
        const listed = [
          ...(all.body.accounts as { passkey: string }[]),
          ...(rest.body.accounts as { passkey: string }[]),
        ];
        assert.deepEqual(listed.map((a) => a.passkey).sort(), [ALICE, BOB]);
      } finally {
        await tracker.close();
      }
    });
  });
}

describe('private tracker over UDP and WebSocket, memory store', () => {
  it('reads the passkey from BEP 41 URL data and from the WebSocket path', async () => {
    const { tracker, base, port } = await started({ keys: keysFile([ALICE]) });
    const udp = await UdpTrackerClient.open('127.0.0.1', port);
    try {
      const peer = { infoHash: hash(2), peerId: makeId('-U-', 1), left: 1, port: 7002 };
      assert.equal(asError(await udp.announce(peer)).message, UNKNOWN);
      const withStranger = encodeUdpUrlDataOptions(`/announce/${STRANGER}`);
      assert.equal(asError(await udp.announce({ ...peer, options: withStranger })).message, UNKNOWN);
      const withKey = encodeUdpUrlDataOptions(`/announce/${ALICE}?extra=1`);
      asAnnounce(await udp.announce({ ...peer, event: 2, options: withKey }));
      asAnnounce(await udp.announce({ ...peer, uploaded: 2048, options: withKey }));
      // A UDP scrape cannot carry URL data: refused in private mode.
      assert.equal(asError(await udp.scrape([hash(2)])).message, UNKNOWN);

      const url = `ws://127.0.0.1:${port}`;
      await assert.rejects(wsConnect(`${url}/announce/not-a-key!`));
      const anonymous = await wsConnect(`${url}/announce`);
      const member = await wsConnect(`${url}/announce/${ALICE}`);
      try {
        const ws = (n: number, extra: Record<string, unknown> = {}) => ({
          action: 'announce',
          info_hash: hash(3).toString('latin1'),
          peer_id: makeId('-W-', n).toString('latin1'),
          left: 10,
          ...extra,
        });
        anonymous.send(ws(1));
        const refused = await anonymous.next((m) => m['failure reason'] !== undefined, 'a refusal');
        assert.equal(refused['failure reason'], UNKNOWN);
        member.send(ws(2, { event: 'started', uploaded: 0 }));
        await member.next((m) => m.interval !== undefined, 'the first reply');
        member.send(ws(2, { uploaded: 1000, downloaded: 10 }));
        await sleep(50);
        const deadline = Date.now() + 5000;
        let alice: Record<string, number> | undefined;
        do {
          await sleep(50);
          const { body } = await accounts(base, `passkey=${ALICE}`);
          alice = (body.accounts as Record<string, number>[])[0];
        } while (alice?.announces !== 4 && Date.now() < deadline);
        // UDP's 2048 and the WebSocket's 1000 (each after a baseline).
        assert.deepEqual([alice?.uploaded, alice?.downloaded, alice?.announces], [3048, 10, 4]);
      } finally {
        anonymous.close();
        member.close();
      }
    } finally {
      await udp.close();
      await tracker.close();
    }
  });

  it('re-reads the keys file when it changes; a public tracker 404s keyed paths', async () => {
    const path = keysFile([ALICE]);
    const { tracker, base } = await started({ keys: path });
    const pub = createTracker({ host: '127.0.0.1', port: 0, quiet: true });
    try {
      const peer = { infoHash: hash(4), peerId: makeId('-K-', 1), port: 7004 };
      assert.equal((await announce(base, peer, `/announce/${BOB}`))['failure reason']?.toString(), UNKNOWN);
      writeFileSync(path, `${BOB}\nnot a key\n`);
      const deadline = Date.now() + 8000;
      let reply = await announce(base, peer, `/announce/${BOB}`);
      while (reply['failure reason'] !== undefined && Date.now() < deadline) {
        await sleep(200);
        reply = await announce(base, peer, `/announce/${BOB}`);
      }
      assert.equal(reply['failure reason'], undefined, 'the new key works within the file poll');
      assert.equal((await announce(base, peer, `/announce/${ALICE}`))['failure reason']?.toString(), UNKNOWN);

      const info = await pub.listen();
      const res = await httpGet(`http://127.0.0.1:${info.http.port}`, `/announce/${ALICE}?${announceQuery(peer)}`);
      assert.equal(res.status, 404);
    } finally {
      await tracker.close();
      await pub.close();
    }
  });

  it('refuses a private configuration without keys or without a stats token', () => {
    assert.throws(() => createTracker({ private: true }), /--private needs --keys/);
    assert.throws(() => createTracker({ private: true, keys: keysFile([ALICE]) }), /--stats-token/);
    assert.throws(() => createTracker({ keys: keysFile([ALICE]) }), /add --private/);
    assert.throws(() => createTracker({ private: true, keys: 'redis', statsToken: TOKEN }), /--keys redis needs/);
  });
});

describe('private tracker with --keys redis', () => {
  const redis = withRedisServer();

  it('shares the keys and the accounts between trackers; SADD and SREM apply within a second or so', async () => {
    const prefix = `prv${Date.now()}:`;
    const options = { keys: 'redis', redisUrl: redis.url, redisPrefix: prefix };
    const one = await started(options);
    const two = await started(options);
    try {
      const peer = { infoHash: hash(5), peerId: makeId('-R-', 1), port: 7005 };
      const path = `/announce/${ALICE}`;
      assert.equal((await announce(one.base, peer, path))['failure reason']?.toString(), UNKNOWN);
      await rawCommand(redis.port, ['SADD', `${prefix}passkeys`, ALICE]);
      const until = async (base: string, ok: boolean) => {
        const deadline = Date.now() + 5000;
        for (;;) {
          const reply = await announce(base, { ...peer, uploaded: 0 }, path);
          if ((reply['failure reason'] === undefined) === ok) return;
          assert.ok(Date.now() < deadline, `the key was not ${ok ? 'accepted' : 'refused'} within 5 s`);
          await sleep(200);
        }
      };
      await until(one.base, true);
      await until(two.base, true);
      // A delta over both trackers: one baseline, shared in Redis.
      await announce(one.base, { ...peer, uploaded: 100 }, path);
      await announce(two.base, { ...peer, uploaded: 700, downloaded: 50 }, path);
      const { body } = await accounts(two.base, '');
      const listed = body.accounts as Record<string, number | string>[];
      assert.equal(listed.length, 1);
      assert.deepEqual([listed[0]?.passkey, listed[0]?.uploaded, listed[0]?.downloaded], [ALICE, 700, 50]);
      const raw = await rawCommand(redis.port, ['HGET', `${prefix}account:{${ALICE}}`, 'uploaded']);
      assert.equal(String(raw), '700');

      await rawCommand(redis.port, ['SREM', `${prefix}passkeys`, ALICE]);
      await until(one.base, false);
      await until(two.base, false);
    } finally {
      await one.tracker.close();
      await two.tracker.close();
    }
  });
});

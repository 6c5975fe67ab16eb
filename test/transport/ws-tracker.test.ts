import assert from 'node:assert/strict';
import { after, before, describe, it } from 'node:test';
import WebSocket from 'ws';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';
import { announce as httpAnnounce, makeId } from '../helpers/http-tracker-client.js';
import { withRedisServer } from '../helpers/redis-server.js';
import { sleep, type WsTestClient, wsConnect, wsId } from '../helpers/ws-client.js';

/**
 * The WebSocket tracker's rules (docs/websocket.md) over real sockets, on the
 * memory store and on Redis, and what bad input gets. Every case uses its own
 * info hashes, so the cases of one tracker do not see each other's peers.
 */

const offer = (i: number) => ({ offer: { type: 'offer', sdp: `v=0 offer ${i}` }, offer_id: wsId('-OF-', i) });
let hashes = 0;
const freshHash = (): string => wsId('-IH-', ++hashes);

function runWsSuite(name: string, options: () => TrackerOptions): void {
  describe(`WebSocket tracker: ${name}`, () => {
    let tracker: Tracker;
    let url: string;
    let httpBase: string;
    const open: WsTestClient[] = [];
    const client = async (path = '/announce'): Promise<WsTestClient> => {
      const c = await wsConnect(url.replace('/announce', path));
      open.push(c);
      return c;
    };
    before(async () => {
      tracker = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', quiet: true, ...options() });
      const info = await tracker.listen();
      url = `ws://127.0.0.1:${info.http.port}/announce`;
      httpBase = `http://127.0.0.1:${info.http.port}`;
    });
    after(async () => {
      for (const c of open) c.close();
      await tracker.close();
    });

    const announceAndWait = async (
      c: WsTestClient,
      infoHash: string,
      peerId: string,
      extra: Record<string, unknown> = {},
    ): Promise<Record<string, unknown>> => {
      const before = c.messages.length;
      c.send({ action: 'announce', info_hash: infoHash, peer_id: peerId, numwant: 10, ...extra });
      return c.next(
        (m) => c.messages.indexOf(m) >= before && m.complete !== undefined && m.info_hash === infoHash,
        'announce reply',
      );
    };

    it('answers an announce with counts only: left null is a leecher, left 0 a seeder', async () => {
      const h = freshHash();
      const a = await client();
      const reply = await announceAndWait(a, h, wsId('-A-', 1), { left: null, event: 'started' });
      assert.deepEqual(reply, { action: 'announce', info_hash: h, interval: 120, complete: 0, incomplete: 1 });
      const b = await client();
      const seeder = await announceAndWait(b, h, wsId('-B-', 1), { left: 0 });
      assert.deepEqual([seeder.complete, seeder.incomplete], [1, 1]);
    });

    it('hands each offer to a different other peer, never the sender, capped at numwant', async () => {
      const h = freshHash();
      const peers: WsTestClient[] = [];
      for (let i = 0; i < 4; i++) {
        const c = await client();
        peers.push(c);
        await announceAndWait(c, h, wsId('-P-', i), { left: 5 });
      }
      const sender = await client();
      await announceAndWait(sender, h, wsId('-S-', 1), { left: 5, numwant: 3, offers: [0, 1, 2, 3, 4].map(offer) });
      await sleep(300);
      const got = peers.flatMap((p, i) => p.messages.filter((m) => m.offer !== undefined).map((m) => ({ i, m })));
      assert.equal(got.length, 3, 'numwant 3: three offers relayed');
      assert.equal(new Set(got.map((g) => g.i)).size, 3, 'to three different peers');
      assert.equal(new Set(got.map((g) => g.m.offer_id)).size, 3, 'never the same offer twice');
      for (const { m } of got) {
        assert.equal(m.peer_id, wsId('-S-', 1));
        assert.equal(m.info_hash, h);
        assert.equal(m.action, 'announce');
      }
      assert.ok(!sender.messages.some((m) => m.offer !== undefined), 'never back to the sender');
    });

    it("relays at most ten offers, and a seeder's to leechers only", async () => {
      const h = freshHash();
      const leechers: WsTestClient[] = [];
      for (let i = 0; i < 12; i++) {
        const c = await client();
        leechers.push(c);
        await announceAndWait(c, h, wsId('-L-', i), { left: 1 });
      }
      const otherSeeder = await client();
      await announceAndWait(otherSeeder, h, wsId('-Z-', 1), { left: 0 });
      const seeder = await client();
      await announceAndWait(seeder, h, wsId('-Z-', 2), {
        left: 0,
        numwant: 50,
        offers: Array.from({ length: 15 }, (_, i) => offer(i)),
      });
      await sleep(300);
      const relayed = leechers.filter((c) => c.messages.some((m) => m.offer !== undefined)).length;
      assert.equal(relayed, 10, 'the relay cap');
      assert.ok(!otherSeeder.messages.some((m) => m.offer !== undefined), 'no offer from a seeder to a seeder');
    });

    it('routes an answer to the offerer only, with the answerer as peer_id; nothing goes back', async () => {
      const h = freshHash();
      const a = await client();
      await announceAndWait(a, h, wsId('-A-', 2), { left: 1 });
      const b = await client();
      await announceAndWait(b, h, wsId('-B-', 2), { left: 1, offers: [offer(7)] });
      const got = await a.next((m) => m.offer !== undefined, 'the offer');
      const answer = { type: 'answer', sdp: 'v=0 answer' };
      const before = a.messages.length;
      a.send({
        action: 'announce',
        info_hash: h,
        peer_id: wsId('-A-', 2),
        to_peer_id: got.peer_id,
        offer_id: got.offer_id,
        answer,
      });
      const delivered = await b.next((m) => m.answer !== undefined, 'the answer');
      assert.deepEqual(delivered, {
        action: 'announce',
        info_hash: h,
        peer_id: wsId('-A-', 2),
        offer_id: wsId('-OF-', 7),
        answer,
      });
      // An answer to a peer nobody holds is dropped without a word.
      a.send({
        action: 'announce',
        info_hash: h,
        peer_id: wsId('-A-', 2),
        to_peer_id: wsId('-NOBODY-', 1),
        offer_id: wsId('-OF-', 8),
        answer,
      });
      await sleep(200);
      assert.equal(a.messages.length, before, 'no reply to an answer, known or not');
    });

    it('scrapes one hash or a list (keys are the binary hashes); refuses a scrape without one', async () => {
      const h1 = freshHash();
      const h2 = freshHash();
      const a = await client();
      await announceAndWait(a, h1, wsId('-A-', 3), { left: 0, event: 'completed' });
      await announceAndWait(a, h2, wsId('-A-', 3), { left: 4 });
      a.send({ action: 'scrape', info_hash: h1 });
      const one = await a.next((m) => m.action === 'scrape', 'scrape reply');
      assert.deepEqual(one, { action: 'scrape', files: { [h1]: { complete: 1, incomplete: 0, downloaded: 1 } } });
      a.send({ action: 'scrape', info_hash: [h1, h2, freshHash()] });
      const many = await a.next((m) => m.action === 'scrape' && Object.keys(m.files as object).length === 3, 'list');
      const files = many.files as Record<string, { incomplete: number }>;
      assert.equal(files[h2]?.incomplete, 1);
      a.send({ action: 'scrape' });
      const refused = await a.next((m) => m.action === 'scrape' && m['failure reason'] !== undefined, 'refusal');
      assert.match(String(refused['failure reason']), /info_hash/);
    });

    it('counts completed once; a first completed is a new seeder; stopped removes', async () => {
      const h = freshHash();
      const a = await client();
      let r = await announceAndWait(a, h, wsId('-C-', 1), { left: 0, event: 'completed' });
      assert.deepEqual([r.complete, r.incomplete], [1, 0]);
      await announceAndWait(a, h, wsId('-C-', 1), { left: 0, event: 'completed' });
      a.send({ action: 'scrape', info_hash: h });
      const s = await a.next((m) => m.action === 'scrape', 'scrape');
      assert.equal((s.files as Record<string, { downloaded: number }>)[h]?.downloaded, 1);
      r = await announceAndWait(a, h, wsId('-C-', 1), { left: 0, event: 'stopped' });
      assert.deepEqual([r.complete, r.incomplete], [0, 0]);
    });

    it('removes every peer of a socket that closes, over several torrents', async () => {
      const h1 = freshHash();
      const h2 = freshHash();
      const a = await client();
      await announceAndWait(a, h1, wsId('-X-', 1), { left: 1 });
      await announceAndWait(a, h2, wsId('-Y-', 1), { left: 1 });
      const watcher = await client();
      let r = await announceAndWait(watcher, h1, wsId('-W-', 1), { left: 1 });
      assert.equal(r.incomplete, 2);
      a.close();
      await a.closed();
      const deadline = Date.now() + 3000;
      do {
        await sleep(50);
        r = await announceAndWait(watcher, h1, wsId('-W-', 1), { left: 1 });
      } while (r.incomplete !== 1 && Date.now() < deadline);
      assert.equal(r.incomplete, 1);
      watcher.send({ action: 'scrape', info_hash: h2 });
      const s = await watcher.next((m) => m.action === 'scrape', 'scrape');
      assert.equal((s.files as Record<string, { incomplete: number }>)[h2]?.incomplete, 0);
    });

    it('keeps WebSocket and HTTP peers apart', async () => {
      const h = freshHash();
      const raw = Buffer.from(h, 'latin1');
      const http = await httpAnnounce(httpBase, { infoHash: raw, peerId: makeId('-H-', 1), port: 7001, left: 1 });
      assert.equal(http.incomplete, 1);
      const a = await client();
      const r = await announceAndWait(a, h, wsId('-A-', 9), { left: 1, offers: [offer(1)] });
      assert.deepEqual([r.complete, r.incomplete], [0, 1], 'the HTTP peer is not counted');
      const again = await httpAnnounce(httpBase, { infoHash: raw, peerId: makeId('-H-', 2), port: 7002, left: 1 });
      assert.equal(again.incomplete, 2, 'the WebSocket peer is not counted over HTTP');
      const peers = again.peers as Buffer;
      assert.equal(peers.length, 6, 'only the HTTP peer is handed out');
    });

    it('refuses ids that are not 20 bytes, echoing action and info_hash', async () => {
      const h = freshHash();
      const a = await client();
      a.send({ action: 'announce', info_hash: h, peer_id: `${'x'.repeat(19)}\u0100` });
      const f = await a.next((m) => m['failure reason'] !== undefined, 'failure');
      assert.deepEqual(f, {
        action: 'announce',
        info_hash: h,
        'failure reason': 'peer_id must be a string of 20 bytes',
      });
      a.send({ action: 'announce', info_hash: 'short', peer_id: wsId('-A-', 1) });
      const g = await a.next((m) => m['failure reason'] !== undefined && m !== f, 'second failure');
      assert.equal(g.action, 'announce');
      assert.equal(g.info_hash, undefined);
    });

    it('accepts the upgrade on / and /announce only', async () => {
      const root = await client('/');
      await announceAndWait(root, freshHash(), wsId('-R-', 1), { left: 1 });
      const refused = new WebSocket(url.replace('/announce', '/nope'));
      const status = await new Promise<number>((resolve) => {
        refused.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        refused.on('error', () => resolve(-1));
      });
      assert.equal(status, 404);
    });

    describe('bad input: a failure reason or a close, and the tracker keeps serving', () => {
      const stillServes = async (): Promise<void> => {
        const c = await client();
        await announceAndWait(c, freshHash(), wsId('-OK-', 1), { left: 1 });
        const r = await httpAnnounce(httpBase, { infoHash: makeId('-OK-', 2), peerId: makeId('-OK-', 3), port: 7100 });
        assert.equal(r['failure reason'], undefined);
      };
      const failureFor = async (text: string | Buffer): Promise<Record<string, unknown>> => {
        const c = await client();
        c.ws.send(text);
        return c.next((m) => m['failure reason'] !== undefined, `a failure for ${String(text).slice(0, 40)}`);
      };

      it('bad JSON, a JSON non-object, a binary frame, an unknown action', async () => {
        assert.equal((await failureFor('{"action":')).action, undefined);
        await failureFor('[1,2,3]');
        await failureFor('"just a string"');
        const c = await client();
        c.ws.send(Buffer.from('{"action":"scrape"}'), { binary: true });
        await c.next((m) => /binary/.test(String(m['failure reason'])), 'binary refusal');
        const u = await failureFor(JSON.stringify({ action: 'leave', info_hash: freshHash() }));
        assert.match(String(u['failure reason']), /unknown action/);
        await stillServes();
      });

      it('wrong types for each field', async () => {
        const h = freshHash();
        const base = { action: 'announce', info_hash: h, peer_id: wsId('-T-', 1) };
        for (const bad of [
          { info_hash: 12 },
          { peer_id: null },
          { numwant: 'ten' },
          { left: '5' },
          { uploaded: {} },
          { event: 'paused' },
          { event: 7 },
          { offers: 'many' },
          { offers: [{ offer_id: wsId('-O-', 1), offer: 'sdp' }] },
          { offers: [{ offer_id: 'x', offer: { type: 'offer', sdp: 'v=0' } }] },
          { to_peer_id: wsId('-P-', 1), offer_id: wsId('-O-', 1), answer: { type: 'answer' } },
        ]) {
          const f = await failureFor(JSON.stringify({ ...base, ...bad }));
          assert.equal(f.action, 'announce', JSON.stringify(bad));
        }
        await stillServes();
      });

      it('closes a socket that sends 1 MiB in one frame (1009)', async () => {
        const c = await client();
        c.ws.send(JSON.stringify({ action: 'announce', junk: 'x'.repeat(1024 * 1024) }));
        assert.equal(await c.closed(), 1009);
        await stillServes();
      });

      it('10,000 offers: closed when the frame is too large, capped when it fits', async () => {
        const h = freshHash();
        const many = Array.from({ length: 10_000 }, (_, i) => offer(i));
        const c = await client();
        c.send({ action: 'announce', info_hash: h, peer_id: wsId('-M-', 1), offers: many });
        assert.equal(await c.closed(), 1009);
        // Small offers, 300 of them in one frame under the size limit: at most ten relayed.
        const receivers: WsTestClient[] = [];
        for (let i = 0; i < 12; i++) {
          const r = await client();
          receivers.push(r);
          await announceAndWait(r, h, wsId('-RC-', i), { left: 1 });
        }
        const sender = await client();
        const small = Array.from({ length: 300 }, (_, i) => ({
          offer: { type: 'offer', sdp: 's' },
          offer_id: wsId('-SO-', i),
        }));
        await announceAndWait(sender, h, wsId('-M-', 2), { left: 1, numwant: 300, offers: small });
        await sleep(300);
        const offers = receivers.map((r) => r.messages.filter((m) => m.offer !== undefined).length);
        assert.equal(
          offers.reduce((a, b) => a + b, 0),
          10,
        );
        assert.ok(offers.every((n) => n <= 1));
        await stillServes();
      });
    });
  });
}

runWsSuite('memory store', () => ({}));

describe('on Redis', () => {
  const redis = withRedisServer();
  runWsSuite('Redis store', () => ({ redisUrl: redis.url, redisPrefix: `ws${Date.now()}:` }));
});

describe('WebSocket tracker off', () => {
  it('refuses the upgrade with --ws off, and HTTP still serves', async () => {
    const tracker = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', quiet: true, ws: false });
    const { http, announceUrls } = await tracker.listen();
    try {
      assert.ok(!announceUrls.some((u) => u.startsWith('ws:')));
      const ws = new WebSocket(`ws://127.0.0.1:${http.port}/announce`);
      const status = await new Promise<number>((resolve) => {
        ws.on('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
        ws.on('error', () => resolve(-1));
      });
      assert.equal(status, 404);
      const r = await httpAnnounce(`http://127.0.0.1:${http.port}`, {
        infoHash: makeId('-OFF-', 1),
        peerId: makeId('-OFF-', 2),
        port: 7200,
      });
      assert.equal(r.incomplete, 1);
    } finally {
      await tracker.close();
    }
  });
});

describe('WebSocket keepalive', () => {
  it('drops a socket that answers no ping, and its peers with it', async () => {
    const tracker = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', quiet: true, wsPingMs: 200 });
    const { http } = await tracker.listen();
    const url = `ws://127.0.0.1:${http.port}/announce`;
    try {
      // autoPong off: this client reads pings but never answers them, like a dead peer behind a NAT.
      const silent = new WebSocket(url, { autoPong: false });
      await new Promise((resolve) => silent.once('open', resolve));
      const h = freshHash();
      silent.send(JSON.stringify({ action: 'announce', info_hash: h, peer_id: wsId('-Q-', 1), left: 1 }));
      const live = await wsConnect(url);
      const first = await new Promise<Record<string, unknown>>((resolve) => {
        live.send({ action: 'announce', info_hash: h, peer_id: wsId('-Q-', 2), left: 1 });
        void live.next((m) => m.complete !== undefined, 'reply').then(resolve);
      });
      assert.ok(Number(first.incomplete) >= 1);
      const code = await new Promise<number>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error('the silent socket was not dropped within 3 s')), 3000);
        silent.once('close', (c) => {
          clearTimeout(timer);
          resolve(c);
        });
      });
      assert.equal(code, 1006, 'terminated, not closed politely');
      await sleep(100);
      // The answering client survived the same pings; the silent one's peer is gone.
      live.send({ action: 'scrape', info_hash: h });
      const s = await live.next((m) => m.action === 'scrape', 'scrape');
      assert.equal((s.files as Record<string, { incomplete: number }>)[h]?.incomplete, 1);
      assert.equal(live.ws.readyState, WebSocket.OPEN);
      assert.equal(tracker.ws?.counters.dropped, 1);
      live.close();
    } finally {
      await tracker.close();
    }
  });
});

describe('WebSocket backpressure', () => {
  it('drops a socket that does not read instead of buffering for it', async () => {
    const tracker = createTracker({ host: '127.0.0.1', port: 0, udpPort: 'off', quiet: true });
    const { http } = await tracker.listen();
    const url = `ws://127.0.0.1:${http.port}/announce`;
    try {
      const h = freshHash();
      const sink = await wsConnect(url);
      sink.send({ action: 'announce', info_hash: h, peer_id: wsId('-SINK-', 1), left: 1 });
      await sink.next((m) => m.complete !== undefined, 'reply');
      // From now on the sink reads nothing: its kernel buffers fill, then the tracker's send buffer.
      (sink.ws as unknown as { _socket: { pause(): void } })._socket.pause();
      const sender = await wsConnect(url);
      const sdp = 'a'.repeat(60_000);
      let sent = 0;
      const deadline = Date.now() + 20_000;
      while ((tracker.ws?.counters.dropped ?? 0) === 0 && Date.now() < deadline) {
        sender.send({
          action: 'announce',
          info_hash: h,
          peer_id: wsId('-SEND-', 1),
          left: 1,
          offers: [{ offer: { type: 'offer', sdp }, offer_id: wsId('-BIG-', sent++) }],
        });
        await sleep(sent % 20 === 0 ? 20 : 0);
      }
      assert.equal(tracker.ws?.counters.dropped, 1, `not dropped after ${sent} offers of 60 KB`);
      assert.ok(sent * 60_000 < 64 * 1024 * 1024, 'dropped within a bounded amount of data');
      // The sender was not hurt.
      sender.send({ action: 'scrape', info_hash: h });
      await sender.next((m) => m.action === 'scrape', 'scrape after the drop');
      sender.close();
    } finally {
      await tracker.close();
    }
  });
});

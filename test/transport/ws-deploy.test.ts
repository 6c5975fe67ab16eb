import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { createTracker } from '../../src/tracker.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { freePort } from '../helpers/free-port.js';
import { announce, makeId } from '../helpers/http-tracker-client.js';
import { withRedisServer } from '../helpers/redis-server.js';
import { type WsTestClient, wsConnect } from '../helpers/ws-client.js';

/**
 * The WebSocket tracker as deployed: embedded in an application's own HTTP
 * server (Tracker.attach), and under `--workers 2` through the real CLI, where
 * sockets land on either worker and offers and answers cross between them
 * over Redis.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');

const bin = (tag: string, n: number): string => makeId(tag, n).toString('latin1');

describe('WebSocket tracker embedded with attach()', () => {
  it("serves HTTP announces, WebSocket signalling and the stats from the application's server", async () => {
    const tracker = createTracker({ udpPort: 'off', quiet: true });
    const server = createServer();
    await tracker.attach(server);
    server.listen(0, '127.0.0.1');
    await once(server, 'listening');
    const { port } = server.address() as AddressInfo;
    const a = await wsConnect(`ws://127.0.0.1:${port}/announce`);
    const b = await wsConnect(`ws://127.0.0.1:${port}/`);
    try {
      const infoHash = bin('-E-', 1);
      a.ws.send(JSON.stringify({ action: 'announce', info_hash: infoHash, peer_id: bin('-A-', 1), left: 5 }));
      await a.next((m) => m.complete !== undefined, 'announce reply');
      const offer = { type: 'offer', sdp: 'v=0 embedded' };
      b.ws.send(
        JSON.stringify({
          action: 'announce',
          info_hash: infoHash,
          peer_id: bin('-B-', 1),
          left: 0,
          offers: [{ offer, offer_id: bin('-O-', 1) }],
        }),
      );
      const relayed = await a.next((m) => m.offer !== undefined, 'relayed offer');
      assert.deepEqual(relayed.offer, offer);
      assert.equal(relayed.peer_id, bin('-B-', 1));

      const http = await announce(`http://127.0.0.1:${port}`, {
        infoHash: makeId('-E-', 1),
        peerId: makeId('-H-', 1),
        port: 6881,
        left: 0,
      });
      assert.equal(http.complete, 1, 'the HTTP swarm counts its own peer only');
      assert.equal(http.incomplete, 0);

      const stats = (await (await fetch(`http://127.0.0.1:${port}/stats.json`)).json()) as {
        totals: { peers: number; webrtc: { peers: number; seeders: number } };
        process: { ws: { sockets: number } };
      };
      assert.equal(stats.totals.peers, 1);
      assert.deepEqual([stats.totals.webrtc.peers, stats.totals.webrtc.seeders], [2, 1]);
      assert.equal(stats.process.ws.sockets, 2);
    } finally {
      a.ws.close();
      b.ws.close();
      server.close();
      await tracker.close();
    }
  });
});

describe('WebSocket tracker under --workers 2 (real CLI, Redis)', () => {
  const redis = withRedisServer();
  let child: ChildProcess | undefined;
  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
  });

  it('relays every offer and answer whichever worker holds each socket', async () => {
    const port = await freePort();
    child = spawn(
      process.execPath,
      [
        join(root, 'bin', 'bitstorm.js'),
        '--port',
        String(port),
        '--host',
        '127.0.0.1',
        '--udp-port',
        'off',
        '--workers',
        '2',
        '--redis-url',
        redis.url,
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    let output = '';
    child.stdout?.on('data', (d) => (output += d));
    child.stderr?.on('data', (d) => (output += d));
    const deadline = Date.now() + 20_000;
    while ((output.match(/announce URL ws:/g) ?? []).length < 2) {
      assert.ok(Date.now() < deadline, `workers did not start within 20 s:\n${output}`);
      await new Promise((resolve) => setTimeout(resolve, 100));
    }
    // Eight leechers, each on its own connection (the kernel spreads them over the workers).
    const infoHash = bin('-W-', 1);
    const leechers: WsTestClient[] = [];
    try {
      for (let i = 0; i < 8; i++) {
        const c = await wsConnect(`ws://127.0.0.1:${port}/announce`);
        leechers.push(c);
        c.ws.send(JSON.stringify({ action: 'announce', info_hash: infoHash, peer_id: bin('-L-', i), left: 9 }));
        await c.next((m) => m.complete !== undefined, `leecher ${i}'s announce reply`);
      }
      const seeder = await wsConnect(`ws://127.0.0.1:${port}/announce`);
      leechers.push(seeder);
      const offers = Array.from({ length: 8 }, (_, i) => ({
        offer: { type: 'offer', sdp: `sdp ${i}` },
        offer_id: bin('-O-', i),
      }));
      seeder.ws.send(
        JSON.stringify({
          action: 'announce',
          info_hash: infoHash,
          peer_id: bin('-S-', 1),
          left: 0,
          numwant: 8,
          offers,
        }),
      );
      // Every leecher gets exactly one of the eight offers, and answers it.
      for (let i = 0; i < 8; i++) {
        const c = leechers[i] as WsTestClient;
        const got = await c.next((m) => m.offer !== undefined, `leecher ${i}'s offer`);
        c.ws.send(
          JSON.stringify({
            action: 'announce',
            info_hash: infoHash,
            peer_id: bin('-L-', i),
            to_peer_id: got.peer_id,
            offer_id: got.offer_id,
            answer: { type: 'answer', sdp: `answer ${i}` },
          }),
        );
      }
      const answerDeadline = Date.now() + 5000;
      while (seeder.messages.filter((m) => m.answer !== undefined).length < 8 && Date.now() < answerDeadline) {
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
      const answers = seeder.messages.filter((m) => m.answer !== undefined);
      assert.equal(answers.length, 8, `answers: ${JSON.stringify(answers)}`);
      const offerIds = new Set(answers.map((m) => m.offer_id));
      assert.equal(offerIds.size, 8, 'each offer answered once, by its own recipient');
    } finally {
      for (const c of leechers) c.ws.close();
      child.kill('SIGTERM');
      await once(child, 'exit');
    }
  });
});

describe('WebSocket tracker through a Redis outage', () => {
  const redis = withRedisServer();

  it('answers retry while Redis is gone, then relays again across two trackers by itself', async () => {
    // The outage lines go to a logger of the test's, not to its output.
    const options = {
      host: '127.0.0.1',
      port: 0,
      udpPort: 'off' as const,
      redisUrl: redis.url,
      logger: captureLogger(),
    };
    const one = createTracker({ ...options, redisTimeout: 300 });
    const two = createTracker({ ...options, redisTimeout: 300 });
    const a = await wsConnect(`ws://127.0.0.1:${(await one.listen()).http.port}/announce`);
    const b = await wsConnect(`ws://127.0.0.1:${(await two.listen()).http.port}/announce`);
    try {
      const infoHash = bin('-R-', 1);
      const announceA = (n: number) =>
        a.ws.send(JSON.stringify({ action: 'announce', info_hash: infoHash, peer_id: bin('-A-', 1), left: 3, n }));
      await redis.kill();
      announceA(1);
      const failure = await a.next((m) => m['failure reason'] !== undefined, 'a failure while Redis is gone');
      assert.equal(failure['retry in'], 1);
      assert.equal(failure.action, 'announce');
      assert.equal(failure.info_hash, infoHash);

      await redis.restart();
      // Both trackers reconnect (commands and the relay's subscription) without being told.
      const deadline = Date.now() + 15_000;
      const offer = { type: 'offer', sdp: 'after the outage' };
      for (let round = 0; !a.messages.some((m) => m.offer !== undefined); round++) {
        assert.ok(Date.now() < deadline, `no offer relayed within 15 s of the restart: ${JSON.stringify(a.messages)}`);
        announceA(round);
        b.ws.send(
          JSON.stringify({
            action: 'announce',
            info_hash: infoHash,
            peer_id: bin('-B-', 1),
            left: 0,
            offers: [{ offer, offer_id: bin('-O-', round) }],
          }),
        );
        await new Promise((resolve) => setTimeout(resolve, 200));
      }
      const relayed = a.messages.find((m) => m.offer !== undefined) as Record<string, unknown>;
      assert.deepEqual(relayed.offer, offer);
    } finally {
      a.ws.close();
      b.ws.close();
      await one.close();
      await two.close();
    }
  });
});

describe('WebSocket peer that reconnects to another tracker node', () => {
  const redis = withRedisServer();

  it('stays in the swarm when its old socket on the first node closes', async () => {
    const options = { host: '127.0.0.1', port: 0, udpPort: 'off' as const, quiet: true, redisUrl: redis.url };
    const one = createTracker(options);
    const two = createTracker(options);
    const urlOne = `ws://127.0.0.1:${(await one.listen()).http.port}/announce`;
    const urlTwo = `ws://127.0.0.1:${(await two.listen()).http.port}/announce`;
    const oldSocket = await wsConnect(urlOne);
    const newSocket = await wsConnect(urlTwo);
    const seeder = await wsConnect(urlOne);
    try {
      const infoHash = bin('-M-', 1);
      const leecher = { action: 'announce', info_hash: infoHash, peer_id: bin('-L-', 1), left: 5 };
      oldSocket.send(leecher);
      await oldSocket.next((m) => m.interval !== undefined, 'the first node’s reply');
      newSocket.send(leecher);
      await newSocket.next((m) => m.interval !== undefined, 'the second node’s reply');
      oldSocket.close();
      await oldSocket.closed();
      // The first node removes what it held only; the peer is still on the second node.
      const offer = { type: 'offer', sdp: 'after the reconnect' };
      const deadline = Date.now() + 5_000;
      for (let round = 0; !newSocket.messages.some((m) => m.offer !== undefined); round++) {
        assert.ok(Date.now() < deadline, `no offer reached the reconnected peer: ${JSON.stringify(seeder.messages)}`);
        seeder.send({
          action: 'announce',
          info_hash: infoHash,
          peer_id: bin('-S-', 1),
          left: 0,
          offers: [{ offer, offer_id: bin('-O-', round) }],
        });
        const reply = await seeder.next(
          (m) => m.interval !== undefined && seeder.messages.indexOf(m) >= round,
          'the seeder’s reply',
        );
        assert.equal(reply.incomplete, 1, 'the reconnected leecher is still counted');
        await new Promise((resolve) => setTimeout(resolve, 100));
      }
    } finally {
      newSocket.close();
      seeder.close();
      await one.close();
      await two.close();
    }
  });
});

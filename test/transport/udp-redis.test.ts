import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { once } from 'node:events';
import { after, before, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { unpackPeers } from '../../src/protocol/compact.js';
import { encodeUdpAnnounceRequest, parseUdpReply, type UdpReply } from '../../src/protocol/udp-client-codec.js';
import { createTracker, type Tracker } from '../../src/tracker.js';
import { makeId } from '../helpers/http-tracker-client.js';
import { withRedisServer } from '../helpers/redis-server.js';
import { UdpTrackerClient } from './udp-client.js';
import { asAnnounce, asError, freshHash, runUdpSuite } from './udp-suite.js';

const redis = withRedisServer();
let trackers = 0;

// The same scenarios as on the memory store; each tracker gets its own key prefix.
runUdpSuite('the Redis store', async () => ({ redisUrl: redis.url, redisPrefix: `udp${++trackers}:` }));

const BIN = fileURLToPath(new URL('../../../bin/bitstorm.js', import.meta.url));

/** Starts `bitstorm` as a separate process on 127.0.0.1 and resolves with its UDP port. */
async function startProcess(args: string[]): Promise<{ child: ChildProcess; udpPort: number }> {
  const child = spawn(process.execPath, [BIN, '--host', '127.0.0.1', '--port', '0', ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  let out = '';
  const udpPort = await new Promise<number>((resolve, reject) => {
    const timer = setTimeout(() => reject(new Error(`bitstorm did not start within 10 s:\n${out}`)), 10_000);
    const onData = (chunk: Buffer): void => {
      out += chunk.toString();
      const m = /UDP tracker listening on [^\n]*:(\d+)/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve(Number(m[1]));
      }
    };
    child.stdout?.on('data', onData);
    child.stderr?.on('data', onData);
    child.once('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`bitstorm exited with ${code}:\n${out}`));
    });
  });
  return { child, udpPort };
}

/** Sends an announce with a given connection id from the client's socket to another tracker's port. */
async function announceTo(
  c: UdpTrackerClient,
  port: number,
  cid: Buffer,
  infoHash: Buffer,
  n: number,
): Promise<UdpReply> {
  const tid = c.tid();
  const req = encodeUdpAnnounceRequest({
    connectionId: cid,
    transactionId: tid,
    infoHash,
    peerId: makeId('-UR0001-', n),
    port: 7000 + n,
    left: 1,
  });
  const previousPort = c.port;
  try {
    Object.assign(c, { port });
    return parseUdpReply(await c.request(req, tid));
  } finally {
    Object.assign(c, { port: previousPort });
  }
}

describe('UDP trackers in two processes on one Redis', () => {
  const prefix = 'udp-shared:';
  let local: Tracker;
  let localPort: number;
  let remote: { child: ChildProcess; udpPort: number };
  let stranger: { child: ChildProcess; udpPort: number };
  let client: UdpTrackerClient;

  before(async () => {
    local = createTracker({ host: '127.0.0.1', port: 0, quiet: true, redisUrl: redis.url, redisPrefix: prefix });
    const info = await local.listen();
    assert.ok(info.udp);
    localPort = info.udp.port;
    remote = await startProcess(['--redis-url', redis.url, '--redis-prefix', prefix]);
    // Another deployment on the same Redis (another prefix): another secret.
    stranger = await startProcess(['--redis-url', redis.url, '--redis-prefix', 'udp-other:']);
    client = await UdpTrackerClient.open('127.0.0.1', localPort);
  });

  after(async () => {
    await client?.close();
    for (const p of [remote, stranger]) {
      if (p && p.child.exitCode === null && p.child.signalCode === null) {
        p.child.kill('SIGTERM');
        await once(p.child, 'exit');
      }
    }
    await local?.close();
  });

  it('accept each other’s connection ids and share the swarm', async () => {
    const h = freshHash();
    const fromLocal = await client.connect();
    asAnnounce(await announceTo(client, localPort, fromLocal, h, 1));
    const viaRemote = asAnnounce(await announceTo(client, remote.udpPort, fromLocal, h, 2));
    assert.equal(viaRemote.leechers, 2, 'the other process sees the first announce');
    assert.deepEqual(unpackPeers(viaRemote.peers, 4), [{ ip: '127.0.0.1', port: 7001 }]);

    // And the other way: an id issued by the other process works here.
    Object.assign(client, { port: remote.udpPort });
    const fromRemote = await client.connect();
    Object.assign(client, { port: localPort });
    const back = asAnnounce(await announceTo(client, localPort, fromRemote, h, 3));
    assert.equal(back.leechers, 3);
  });

  it('a tracker with another secret refuses those ids', async () => {
    const cid = await client.connect();
    const refused = asError(await announceTo(client, stranger.udpPort, cid, freshHash(), 4));
    assert.match(refused.message, /connection id/);
  });
});

import assert from 'node:assert/strict';
import { type ChildProcess, execFile, spawn, spawnSync } from 'node:child_process';
import { X509Certificate } from 'node:crypto';
import { once } from 'node:events';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { Agent, request } from 'node:https';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, before, describe, it } from 'node:test';
import { connect, type TLSSocket } from 'node:tls';
import { fileURLToPath } from 'node:url';
import WebSocket from 'ws';
import { loadConfig } from '../../src/config/load-config.js';
import { ConfigError } from '../../src/config/options.js';
import { type DecodedDict, decodeBencode } from '../../src/protocol/bencode.js';
import { createTracker, type Tracker } from '../../src/tracker.js';
import { captureLogger } from '../helpers/capture-logger.js';
import { freePort } from '../helpers/free-port.js';
import { announceQuery, makeId } from '../helpers/http-tracker-client.js';
import { type RedisServerHandle, startRedisServer } from '../helpers/redis-server.js';

/**
 * --tls-cert/--tls-key: HTTPS and WSS on the HTTP port through node:https,
 * with real clients (node's https and ws, curl) trusting a self-signed
 * certificate made by openssl, and the certificate replaced on SIGHUP.
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const bin = join(root, 'bin', 'bitstorm.js');

/** A missing program fails the suite with the line that installs it (never a skip). */
function need(program: string, pkg: string): void {
  if (spawnSync('sh', ['-c', `command -v ${program}`]).status !== 0) {
    throw new Error(`${program} is missing: sudo apt-get install -y ${pkg}`);
  }
}

interface CertPair {
  cert: string;
  key: string;
  pem: Buffer;
  fingerprint: string;
}

/** A self-signed certificate for 127.0.0.1 and localhost, valid one day. */
function makeCert(dir: string, name: string, cn: string): CertPair {
  const cert = join(dir, `${name}-cert.pem`);
  const key = join(dir, `${name}-key.pem`);
  const r = spawnSync(
    'openssl',
    [
      'req',
      '-x509',
      '-newkey',
      'rsa:2048',
      '-nodes',
      '-days',
      '1',
      '-subj',
      `/CN=${cn}`,
      '-addext',
      'subjectAltName=IP:127.0.0.1,DNS:localhost',
      '-keyout',
      key,
      '-out',
      cert,
    ],
    { encoding: 'utf8', timeout: 30_000 },
  );
  assert.equal(r.status, 0, `openssl failed: ${r.stderr}`);
  const pem = readFileSync(cert);
  return { cert, key, pem, fingerprint: new X509Certificate(pem).fingerprint256 };
}

interface HttpsReply {
  status: number;
  body: Buffer;
  /** The connection was one the agent kept alive from an earlier request. */
  reused: boolean;
  socket: TLSSocket;
  /** The certificate this connection was shown (read while the response holds the socket). */
  fingerprint: string | undefined;
}

function httpsGet(port: number, path: string, ca: Buffer[], agent: Agent | false): Promise<HttpsReply> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path, ca, agent, timeout: 10_000 }, (res) => {
      // Once the body ended, a keep-alive agent takes the socket back and res.socket is null.
      const socket = res.socket as TLSSocket;
      const fingerprint = socket.getPeerX509Certificate()?.fingerprint256;
      const chunks: Buffer[] = [];
      res.on('data', (c: Buffer) => chunks.push(c));
      res.on('end', () =>
        resolve({
          status: res.statusCode ?? 0,
          body: Buffer.concat(chunks),
          reused: req.reusedSocket,
          socket,
          fingerprint,
        }),
      );
      res.on('error', reject);
    });
    req.on('timeout', () => req.destroy(new Error('no answer within 10 s')));
    req.on('error', reject);
    req.end();
  });
}

/**
 * The certificate a NEW TLS connection is shown (fingerprint), trusting both
 * certificates: no session is resumed (a fresh tls.connect has none to offer).
 */
async function servedFingerprint(port: number, ca: Buffer[]): Promise<string> {
  const socket = connect({ host: '127.0.0.1', port, ca, servername: 'localhost' });
  const timer = setTimeout(() => socket.destroy(new Error('no handshake within 10 s')), 10_000);
  try {
    await once(socket, 'secureConnect');
    assert.equal(socket.authorized, true, String(socket.authorizationError));
    return socket.getPeerX509Certificate()?.fingerprint256 ?? '';
  } finally {
    clearTimeout(timer);
    socket.destroy();
  }
}

function wssConnect(
  port: number,
  ca: Buffer[],
): Promise<{ ws: WebSocket; next: () => Promise<Record<string, unknown>> }> {
  const ws = new WebSocket(`wss://127.0.0.1:${port}/announce`, { ca, handshakeTimeout: 10_000 });
  const queue: Record<string, unknown>[] = [];
  let wake: (() => void) | undefined;
  ws.on('message', (data) => {
    queue.push(JSON.parse(String(data)) as Record<string, unknown>);
    wake?.();
  });
  const next = (): Promise<Record<string, unknown>> =>
    new Promise((resolve, reject) => {
      const take = (): boolean => {
        const m = queue.shift();
        if (m === undefined) return false;
        clearTimeout(timer);
        wake = undefined;
        resolve(m);
        return true;
      };
      const timer = setTimeout(() => reject(new Error('no WebSocket message within 10 s')), 10_000);
      if (!take()) wake = () => void take();
    });
  return new Promise((resolve, reject) => {
    ws.once('open', () => resolve({ ws, next }));
    ws.once('error', reject);
  });
}

const hashOf = (n: number): Buffer => Buffer.alloc(20, n);
const query = (n: number, peer: number): string =>
  announceQuery({ infoHash: hashOf(n), peerId: makeId('-TL-', peer), port: 6881 + peer, compact: 1 });

describe('TLS (--tls-cert, --tls-key)', () => {
  let dir: string;
  let first: CertPair;
  let second: CertPair;
  /** The files the tracker is started with; a reload copies other pairs over them. */
  let live: { cert: string; key: string };

  before(() => {
    need('openssl', 'openssl');
    need('curl', 'curl');
    dir = mkdtempSync(join(tmpdir(), 'bitstorm-tls-'));
    first = makeCert(dir, 'first', 'localhost');
    second = makeCert(dir, 'second', 'bitstorm-renewed');
    assert.notEqual(first.fingerprint, second.fingerprint);
    live = { cert: join(dir, 'cert.pem'), key: join(dir, 'key.pem') };
  });
  after(() => rmSync(dir, { recursive: true, force: true }));

  const install = (pair: CertPair): void => {
    copyFileSync(pair.cert, live.cert);
    copyFileSync(pair.key, live.key);
  };

  const started = async (logger = captureLogger()): Promise<{ tracker: Tracker; port: number }> => {
    install(first);
    const tracker = createTracker({ host: '127.0.0.1', port: 0, tlsCert: live.cert, tlsKey: live.key, logger });
    const info = await tracker.listen();
    return { tracker, port: info.http.port };
  };

  it('answers announces over HTTPS (node, curl) and WSS, with the fast path off and https/wss URLs', async () => {
    const { tracker, port } = await started();
    try {
      assert.equal(tracker.http.path.path, 'node:http');
      assert.match(tracker.http.path.reason, /TLS.*cannot decrypt/);
      const urls = tracker.address?.announceUrls ?? [];
      assert.deepEqual(
        urls.filter((u) => !u.startsWith('udp://')),
        [`https://127.0.0.1:${port}/announce`, `wss://127.0.0.1:${port}/announce`],
      );
      assert.ok(
        urls.some((u) => u.startsWith('udp://')),
        'UDP stays plain UDP',
      );

      const one = await httpsGet(port, `/announce?${query(1, 1)}`, [first.pem], false);
      assert.equal(one.status, 200);
      const reply = decodeBencode(one.body) as DecodedDict;
      assert.equal(reply.interval, 1800);
      assert.equal(reply.incomplete, 1);

      // curl, a real client, checking the certificate against the file alone.
      const url = `https://127.0.0.1:${port}/announce?${query(1, 2)}`;
      const body = await new Promise<Buffer>((resolve, reject) =>
        execFile(
          'curl',
          ['-sS', '--max-time', '10', '--cacert', first.cert, url],
          { encoding: 'buffer', timeout: 15_000 },
          (err, stdout, stderr) => (err ? reject(new Error(`curl: ${err.message} ${stderr}`)) : resolve(stdout)),
        ),
      );
      const byCurl = decodeBencode(body) as DecodedDict;
      assert.equal(byCurl.incomplete, 2, 'curl sees the peer node announced');
      assert.equal((byCurl.peers as Buffer).length, 6, 'one compact peer: the first announcer');

      const wss = await wssConnect(port, [first.pem]);
      try {
        const infoHash = hashOf(2).toString('latin1');
        wss.ws.send(JSON.stringify({ action: 'announce', info_hash: infoHash, peer_id: 'W'.repeat(20), numwant: 1 }));
        const m = await wss.next();
        assert.equal(m.action, 'announce');
        assert.equal(m.info_hash, infoHash);
        assert.equal(m.incomplete, 1);
      } finally {
        wss.ws.terminate();
      }

      // The stats page's magnet links name the scheme the page came by.
      const page = await httpsGet(port, '/stats', [first.pem], false);
      assert.equal(page.status, 200);
      assert.ok(page.body.toString().includes(`https://127.0.0.1:${port}/announce`), 'the page shows an https:// URL');

      // A client that does not trust the certificate is refused by its own TLS check.
      await assert.rejects(httpsGet(port, `/announce?${query(1, 3)}`, [second.pem], false), /self[- ]signed|verify/i);
    } finally {
      await tracker.close();
    }
  });

  it('reloads the certificate on SIGHUP for new connections; open ones keep working; a bad pair keeps the old', async () => {
    const hupBefore = process.listenerCount('SIGHUP');
    const logger = captureLogger();
    const { tracker, port } = await started(logger);
    const agent = new Agent({ keepAlive: true, maxSockets: 1 });
    const logged = {
      get length() {
        return logger.at('error').length;
      },
      at: (i: number) => logger.at('error')[i]?.msg,
    };
    const both = [first.pem, second.pem];
    try {
      assert.equal(process.listenerCount('SIGHUP'), hupBefore + 1, 'listen() installs a SIGHUP listener');
      // Node's default SIGHUP action ends the process: send it only while the tracker listens for it.
      const hup = (): void => {
        assert.ok(process.listenerCount('SIGHUP') > 0, 'a SIGHUP listener is installed');
        process.kill(process.pid, 'SIGHUP');
      };
      assert.equal(await servedFingerprint(port, both), first.fingerprint);
      const kept = await httpsGet(port, `/announce?${query(3, 1)}`, both, agent);
      assert.equal(kept.status, 200);
      assert.equal(kept.fingerprint, first.fingerprint, 'the kept-alive connection began under the first');
      const keptSocket = kept.socket;
      const wss = await wssConnect(port, [first.pem]);

      install(second);
      hup();
      // The signal arrives asynchronously: poll new connections, bounded.
      let seen = first.fingerprint;
      for (let i = 0; i < 100 && seen !== second.fingerprint; i++) {
        await new Promise((resolve) => setTimeout(resolve, 50));
        seen = await servedFingerprint(port, both);
      }
      assert.equal(seen, second.fingerprint, 'a new connection is shown the new certificate');
      assert.deepEqual(
        logger.at('info').map((l) => l.msg),
        [`TLS certificate reloaded from ${live.cert} (SIGHUP)`],
        'SIGHUP says it reloaded the certificate',
      );

      // The keep-alive connection made before the reload still answers, on the same socket.
      const again = await httpsGet(port, `/announce?${query(3, 2)}`, both, agent);
      assert.equal(again.status, 200);
      assert.equal(again.reused, true, 'the kept-alive connection was used');
      assert.equal(again.socket, keptSocket);
      assert.equal((decodeBencode(again.body) as DecodedDict).incomplete, 2);
      // So does the WebSocket.
      wss.ws.send(
        JSON.stringify({ action: 'announce', info_hash: hashOf(4).toString('latin1'), peer_id: 'V'.repeat(20) }),
      );
      assert.equal((await wss.next()).action, 'announce');
      wss.ws.terminate();

      // A pair that does not fit (the first key with the second certificate) is not taken.
      copyFileSync(first.key, live.key);
      hup();
      for (let i = 0; i < 100 && logged.length === 0; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.equal(logged.length, 1, logger.lines.map((l) => l.msg).join('\n'));
      assert.match(
        logged.at(0) as string,
        /TLS certificate not reloaded \(SIGHUP\): .*not a usable pair.*previous one stays/,
      );
      assert.equal(await servedFingerprint(port, both), second.fingerprint, 'the previous certificate stays');
      // An unreadable file likewise.
      rmSync(live.cert);
      hup();
      for (let i = 0; i < 100 && logged.length === 1; i++) await new Promise((resolve) => setTimeout(resolve, 50));
      assert.match(logged.at(1) as string, /cannot read it/);
      assert.equal(await servedFingerprint(port, both), second.fingerprint);
    } finally {
      agent.destroy();
      await tracker.close();
    }
    assert.equal(process.listenerCount('SIGHUP'), hupBefore, 'close() removes the SIGHUP listener');
  });

  it('with --workers 2, SIGHUP to the primary reloads the certificate in every worker', async () => {
    install(first);
    const redis: RedisServerHandle = await startRedisServer();
    const port = await freePort();
    let output = '';
    const child: ChildProcess = spawn(
      process.execPath,
      [
        bin,
        ...['--workers', '2', '--redis-url', redis.url, '--host', '127.0.0.1', '--port', String(port)],
        ...['--udp-port', 'off', '--tls-cert', live.cert, '--tls-key', live.key],
      ],
      { stdio: ['ignore', 'pipe', 'pipe'] },
    );
    child.stdout?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    child.stderr?.on('data', (d: Buffer) => {
      output += d.toString();
    });
    const count = (re: RegExp): number => (output.match(re) ?? []).length;
    const waitFor = async (ok: () => boolean, ms: number, what: string): Promise<void> => {
      const deadline = Date.now() + ms;
      while (!ok()) {
        if (Date.now() > deadline || child.exitCode !== null)
          throw new Error(`${what}: not within ${ms} ms\n${output}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    try {
      // Each worker logs its listening line and its announce URLs in separate writes, which can reach
      // this pipe in separate chunks: wait for the last line a worker logs before it serves.
      await waitFor(() => count(/announce URL wss:\/\//g) >= 2, 20_000, 'both workers listening');
      assert.equal(count(/HTTPS tracker listening/g), 2, output);
      assert.equal(count(/announce URL https:\/\//g), 2, output);
      install(second);
      child.kill('SIGHUP');
      await waitFor(() => count(/TLS certificate reloaded/g) >= 2, 10_000, 'both workers reloaded');
      assert.equal(child.exitCode, null, 'the primary survives SIGHUP');
      // Whichever worker accepts a new connection shows the new certificate.
      for (let i = 0; i < 6; i++)
        assert.equal(await servedFingerprint(port, [first.pem, second.pem]), second.fingerprint);
    } finally {
      if (child.exitCode === null && child.signalCode === null) {
        const exited = new Promise((resolve) => child.once('exit', resolve));
        child.kill('SIGTERM');
        const timer = setTimeout(() => child.kill('SIGKILL'), 15_000);
        await exited;
        clearTimeout(timer);
      }
      await redis.stop();
    }
  });

  it('refuses one option without the other, and stops the start on files it cannot use', () => {
    assert.throws(
      () => loadConfig(['--tls-cert', live.cert]),
      (e) => e instanceof ConfigError && /--tls-key/.test(e.message),
    );
    assert.throws(
      () => loadConfig([], { BITSTORM_TLS_KEY: live.key }),
      (e) => e instanceof ConfigError && /--tls-key needs --tls-cert/.test(e.message),
    );
    assert.equal(
      loadConfig([], { BITSTORM_TLS_CERT: first.cert, BITSTORM_TLS_KEY: first.key }).config.tlsKey,
      first.key,
    );

    const cli = (args: string[]) => spawnSync(process.execPath, [bin, ...args], { encoding: 'utf8', timeout: 10_000 });
    const half = cli(['--tls-cert', first.cert]);
    assert.equal(half.status, 2);
    assert.match(half.stderr, /--tls-cert needs --tls-key/);

    const missing = join(dir, 'missing.pem');
    assert.throws(
      () => createTracker({ tlsCert: missing, tlsKey: first.key }),
      /--tls-cert .*missing\.pem: cannot read it/,
    );
    const unreadable = cli(['--port', '0', '--tls-cert', first.cert, '--tls-key', missing]);
    assert.equal(unreadable.status, 1);
    assert.match(unreadable.stderr, /--tls-key .*missing\.pem: cannot read it \(ENOENT/);

    const garbage = join(dir, 'garbage.pem');
    writeFileSync(garbage, 'not a certificate\n');
    assert.throws(() => createTracker({ tlsCert: garbage, tlsKey: first.key }), /not a usable pair/);
    assert.throws(() => createTracker({ tlsCert: first.cert, tlsKey: second.key }), /not a usable pair/);
  });
});

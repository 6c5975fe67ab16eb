import { type ChildProcess, execFile, spawn } from 'node:child_process';
import { mkdir, mkdtemp, rm } from 'node:fs/promises';
import { createConnection } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before } from 'node:test';
import { freePort } from './free-port.js';

/**
 * Throwaway Redis servers for tests: `redis-server` from PATH on a free port of
 * 127.0.0.1, no persistence (`--save "" --appendonly no`), its files in a temp
 * directory. Never the system Redis on 6379. Every wait is bounded, and the
 * servers are killed when the test process exits, even after a failure.
 *
 *   const redis = await startRedisServer();
 *   const store = new RedisStore({ url: redis.url, ... });
 *   ...
 *   await redis.stop();
 *
 *   const cluster = await startRedisCluster(); // 3 masters, no replicas
 *   new RedisStore({ clusterUrls: cluster.urls, ... });
 *   await cluster.stop();
 */
export interface RedisServerHandle {
  /** redis://127.0.0.1:<port> */
  readonly url: string;
  readonly port: number;
  /** Shuts the server down (SIGTERM, then SIGKILL) and removes its directory. */
  stop(): Promise<void>;
  /** Kills the server abruptly (SIGKILL): clients see the connection drop. Data is lost. */
  kill(): Promise<void>;
  /** Starts a fresh (empty) server on the same port after kill() (or kills it first). */
  restart(): Promise<void>;
  /** SIGSTOP: the server keeps its connections but answers nothing (a hung Redis). */
  pause(): void;
  /** SIGCONT after pause(). */
  resume(): void;
  /** Sends one command over a fresh connection; the reply is decoded loosely (see rawCommand). */
  command(...args: string[]): Promise<RespValue>;
}

export interface RedisClusterHandle {
  /** One redis:// URL per master (seed nodes for the cluster client). */
  readonly urls: string[];
  readonly ports: number[];
  stop(): Promise<void>;
  /** SIGKILLs master `index` (0–2). With full coverage required (the default) the cluster stops serving after the node timeout (2 s). */
  killNode(index: number): Promise<void>;
  /** Starts master `index` again (empty, same slots: its nodes.conf is kept) and waits for cluster_state:ok. */
  restartNode(index: number): Promise<void>;
}

const START_TIMEOUT_MS = 10_000;
const live = new Set<ChildProcess>();
process.once('exit', () => {
  for (const child of live) child.kill('SIGKILL');
});

/** Starts one standalone redis-server. Extra arguments go to the command line (e.g. ['--maxmemory', '10mb']). */
export async function startRedisServer(extraArgs: string[] = []): Promise<RedisServerHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'bitstorm-redis-'));
  // The free port may be taken by a parallel test between the probe and the
  // bind: then try another one.
  const started = await withFreshPort(false, (p) => spawnServer(p, dir, extraArgs));
  const port = started.port;
  let child: ChildProcess | undefined = started.value;
  return {
    url: `redis://127.0.0.1:${port}`,
    port,
    command: (...args) => rawCommand(port, args),
    async kill() {
      if (child) await killChild(child, 'SIGKILL');
      child = undefined;
    },
    async restart() {
      if (child) await killChild(child, 'SIGKILL');
      child = await spawnServer(port, dir, extraArgs);
    },
    pause() {
      child?.kill('SIGSTOP');
    },
    resume() {
      child?.kill('SIGCONT');
    },
    async stop() {
      if (child) await killChild(child, 'SIGTERM');
      child = undefined;
      await rm(dir, { recursive: true, force: true });
    },
  };
}

/** Starts three cluster-enabled masters and joins them (no replicas); resolves once cluster_state is ok everywhere. */
export async function startRedisCluster(): Promise<RedisClusterHandle> {
  const dir = await mkdtemp(join(tmpdir(), 'bitstorm-cluster-'));
  const children: ChildProcess[] = [];
  const ports: number[] = [];
  const nodeArgs = (port: number): string[] => {
    const nodeDir = join(dir, String(port));
    return [
      '--cluster-enabled',
      'yes',
      '--cluster-config-file',
      join(nodeDir, 'nodes.conf'),
      '--cluster-node-timeout',
      '2000',
    ];
  };
  const stop = async (): Promise<void> => {
    await Promise.all(children.map((c) => killChild(c, 'SIGTERM')));
    await rm(dir, { recursive: true, force: true });
  };
  try {
    for (let i = 0; i < 3; i++) {
      // The cluster bus listens on port + 10000: both must be free.
      const { port, value } = await withFreshPort(true, async (p) => {
        const nodeDir = join(dir, String(p));
        await mkdir(nodeDir, { recursive: true });
        return spawnServer(p, nodeDir, nodeArgs(p));
      });
      children.push(value);
      ports.push(port);
    }
    await run(
      'redis-cli',
      ['--cluster', 'create', ...ports.map((p) => `127.0.0.1:${p}`), '--cluster-replicas', '0', '--cluster-yes'],
      30_000,
    );
    await clusterOk(ports);
  } catch (err) {
    await stop();
    throw err;
  }
  return {
    urls: ports.map((p) => `redis://127.0.0.1:${p}`),
    ports,
    stop,
    async killNode(index) {
      const child = children[index];
      if (child) await killChild(child, 'SIGKILL');
    },
    async restartNode(index) {
      const port = ports[index];
      if (port === undefined) throw new Error(`no cluster node ${index}`);
      const child = children[index];
      if (child) await killChild(child, 'SIGKILL');
      children[index] = await spawnServer(port, join(dir, String(port)), nodeArgs(port));
      await clusterOk(ports);
    },
  };
}

/**
 * A redis-server for the enclosing file or describe(): started in its before()
 * hook, stopped in its after() hook. The handle may be kept at module level and
 * used from the tests; it throws if used before the server started.
 *
 *   const redis = withRedisServer();
 *   it('…', async () => { new RedisStore({ url: redis.url, … }) });
 */
export function withRedisServer(extraArgs: string[] = []): RedisServerHandle {
  let server: RedisServerHandle | undefined;
  before(async () => {
    server = await startRedisServer(extraArgs);
  });
  after(async () => {
    await server?.stop();
  });
  const started = (): RedisServerHandle => {
    if (!server) throw new Error('withRedisServer: the server is used before its before() hook ran');
    return server;
  };
  return {
    get url() {
      return started().url;
    },
    get port() {
      return started().port;
    },
    stop: () => started().stop(),
    kill: () => started().kill(),
    restart: () => started().restart(),
    pause: () => started().pause(),
    resume: () => started().resume(),
    command: (...args) => started().command(...args),
  };
}

/** withRedisServer() for a three-master cluster. */
export function withRedisCluster(): RedisClusterHandle {
  let cluster: RedisClusterHandle | undefined;
  before(async () => {
    cluster = await startRedisCluster();
  });
  after(async () => {
    await cluster?.stop();
  });
  const started = (): RedisClusterHandle => {
    if (!cluster) throw new Error('withRedisCluster: the cluster is used before its before() hook ran');
    return cluster;
  };
  return {
    get urls() {
      return started().urls;
    },
    get ports() {
      return started().ports;
    },
    stop: () => started().stop(),
    killNode: (index) => started().killNode(index),
    restartNode: (index) => started().restartNode(index),
  };
}

/** Waits (at most 20 s) until every node reports cluster_state:ok. */
async function clusterOk(ports: readonly number[]): Promise<void> {
  const deadline = Date.now() + 20_000;
  for (const port of ports) {
    for (;;) {
      const info = await rawCommand(port, ['CLUSTER', 'INFO']).catch(() => '');
      if (typeof info === 'string' && info.includes('cluster_state:ok')) break;
      if (Date.now() > deadline) throw new Error(`redis cluster: node ${port} never reached cluster_state:ok`);
      await sleep(100);
    }
  }
}

export type RespValue = string | number | null | RespValue[];

/**
 * One command on a fresh connection, RESP2. Bulk strings come back as latin1
 * text (binary-safe for length and comparison), errors reject. For test
 * assertions (MEMORY USAGE, TTL, INFO …), not for speed.
 */
export function rawCommand(port: number, args: readonly string[], timeoutMs = 5000): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host: '127.0.0.1', port });
    let data = Buffer.alloc(0);
    const timer = setTimeout(() => {
      socket.destroy();
      reject(new Error(`redis ${args[0]}: timeout`));
    }, timeoutMs);
    socket.on('connect', () => {
      let out = `*${args.length}\r\n`;
      for (const a of args) out += `$${Buffer.byteLength(a, 'latin1')}\r\n${a}\r\n`;
      socket.write(Buffer.from(out, 'latin1'));
    });
    socket.on('data', (chunk: Buffer) => {
      data = Buffer.concat([data, chunk]);
      const parsed = parseResp(data, 0);
      if (!parsed) return;
      clearTimeout(timer);
      socket.destroy();
      if (parsed.error) reject(new Error(parsed.error));
      else resolve(parsed.value);
    });
    socket.on('error', (err) => {
      clearTimeout(timer);
      reject(err);
    });
  });
}

interface Parsed {
  value: RespValue;
  end: number;
  error?: string;
}

function parseResp(buf: Buffer, at: number): Parsed | undefined {
  const eol = buf.indexOf('\r\n', at, 'latin1');
  if (eol < 0) return undefined;
  const type = String.fromCharCode(buf[at] as number);
  const line = buf.toString('latin1', at + 1, eol);
  switch (type) {
    case '+':
      return { value: line, end: eol + 2 };
    case '-':
      return { value: null, end: eol + 2, error: line };
    case ':':
      return { value: Number(line), end: eol + 2 };
    case '$': {
      const len = Number(line);
      if (len < 0) return { value: null, end: eol + 2 };
      if (buf.length < eol + 2 + len + 2) return undefined;
      return { value: buf.toString('latin1', eol + 2, eol + 2 + len), end: eol + 2 + len + 2 };
    }
    case '*': {
      const n = Number(line);
      if (n < 0) return { value: null, end: eol + 2 };
      const items: RespValue[] = [];
      let pos = eol + 2;
      for (let i = 0; i < n; i++) {
        const item = parseResp(buf, pos);
        if (!item) return undefined;
        items.push(item.value);
        pos = item.end;
      }
      return { value: items, end: pos };
    }
    default:
      return { value: null, end: buf.length, error: `unexpected reply type ${type}` };
  }
}

async function spawnServer(port: number, dir: string, extraArgs: string[]): Promise<ChildProcess> {
  const child = spawn(
    'redis-server',
    [
      '--port',
      String(port),
      '--bind',
      '127.0.0.1',
      '--save',
      '',
      '--appendonly',
      'no',
      '--dir',
      dir,
      '--daemonize',
      'no',
      '--loglevel',
      'warning',
      ...extraArgs,
    ],
    { stdio: ['ignore', 'pipe', 'pipe'] },
  );
  live.add(child);
  child.once('exit', () => live.delete(child));
  let output = '';
  child.stdout?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
  child.stderr?.on('data', (c: Buffer) => (output = (output + c.toString()).slice(-4000)));
  const deadline = Date.now() + START_TIMEOUT_MS;
  for (;;) {
    if (child.exitCode !== null) throw new Error(`redis-server on ${port} exited at start:\n${output}`);
    // The process id check: on a port race, the server answering may be another test's.
    const info = await rawCommand(port, ['INFO', 'server'], 1000).catch(() => undefined);
    if (typeof info === 'string' && info.includes(`process_id:${child.pid}\r\n`)) return child;
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`redis-server on ${port} did not answer PING within ${START_TIMEOUT_MS} ms:\n${output}`);
    }
    await sleep(50);
  }
}

function killChild(child: ChildProcess, signal: NodeJS.Signals): Promise<void> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve();
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 5000);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve();
    });
    child.kill('SIGCONT'); // a paused server cannot act on SIGTERM
    child.kill(signal);
  });
}

async function withFreshPort<T>(
  withBus: boolean,
  start: (port: number) => Promise<T>,
): Promise<{ port: number; value: T }> {
  for (let attempt = 1; ; attempt++) {
    const port = await freePort({ withBus });
    try {
      return { port, value: await start(port) };
    } catch (err) {
      if (attempt >= 3) throw err;
    }
  }
}

function run(cmd: string, args: string[], timeoutMs: number): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(cmd, args, { timeout: timeoutMs }, (err, stdout, stderr) => {
      if (err) reject(new Error(`${cmd} ${args.join(' ')} failed: ${err.message}\n${stdout}\n${stderr}`));
      else resolve(stdout);
    });
  });
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms));
}

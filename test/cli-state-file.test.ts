import assert from 'node:assert/strict';
import { type ChildProcess, spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import type { DecodedDict } from '../src/protocol/bencode.js';
import { announce, makeId, scrape } from './helpers/http-tracker-client.js';

/** `bitstorm --state-file`: SIGTERM saves the swarms, the next start serves them. */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'bitstorm.js');
const dir = mkdtempSync(join(tmpdir(), 'bitstorm-cli-state-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** Starts the CLI and resolves once it prints its HTTP announce URL. */
function start(args: string[]): Promise<{ child: ChildProcess; base: string; out: () => string }> {
  const child = spawn(process.execPath, [bin, ...args], { stdio: ['ignore', 'pipe', 'pipe'] });
  let out = '';
  return new Promise((resolve, reject) => {
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`no announce URL printed:\n${out}`));
    }, 10_000);
    const onData = (d: Buffer): void => {
      out += d.toString();
      const m = /announce URL (http:\/\/127\.0\.0\.1:\d+)\/announce/.exec(out);
      if (m) {
        clearTimeout(timer);
        resolve({ child, base: m[1] as string, out: () => out });
      }
    };
    child.stdout.on('data', onData);
    child.stderr.on('data', onData);
    child.on('exit', (code) => {
      clearTimeout(timer);
      reject(new Error(`exited ${code}:\n${out}`));
    });
  });
}

function exitOf(child: ChildProcess): Promise<number | null> {
  return new Promise((resolve) => {
    const timer = setTimeout(() => child.kill('SIGKILL'), 10_000);
    child.on('exit', (code) => {
      clearTimeout(timer);
      resolve(code);
    });
  });
}

describe('bitstorm --state-file', () => {
  it('saves on SIGTERM (exit 0) and serves the same peers after a restart', async () => {
    const file = join(dir, 'swarms.state');
    const args = ['--host', '127.0.0.1', '--port', '0', '--udp-port', 'off', '--state-file', file];
    const h = Buffer.alloc(20, 0x5a);
    const first = await start(args);
    await announce(first.base, { infoHash: h, peerId: makeId('-CS0001-', 1), port: 6881, left: 0, event: 'completed' });
    await announce(first.base, { infoHash: h, peerId: makeId('-CS0001-', 2), port: 6882 });
    first.child.kill('SIGTERM');
    assert.equal(await exitOf(first.child), 0);

    const second = await start(args);
    assert.match(second.out(), /state file .*: 1 torrents, 2 peers back/);
    const files = (await scrape(second.base, [h])).files as DecodedDict;
    assert.deepEqual(files[h.toString('latin1')], { complete: 1, downloaded: 1, incomplete: 1 });
    const r = await announce(second.base, { infoHash: h, peerId: makeId('-CS0001-', 3), port: 6883 });
    assert.equal((r.peers as Buffer).length, 12, 'both peers of the first run');
    second.child.kill('SIGINT');
    assert.equal(await exitOf(second.child), 0);
  });

  it('starts empty with one line on stderr when the file is corrupt', async () => {
    const file = join(dir, 'corrupt.state');
    writeFileSync(file, 'not a state file at all, but long enough to be read as one........');
    const run = await start(['--host', '127.0.0.1', '--port', '0', '--udp-port', 'off', '--state-file', file]);
    const lines = run
      .out()
      .split('\n')
      .filter((l) => /state file/.test(l));
    assert.equal(lines.length, 1);
    assert.match(lines[0] as string, /ignored, starting empty: not a BitStorm state file/);
    run.child.kill('SIGTERM');
    assert.equal(await exitOf(run.child), 0);
  });

  it('refuses --state-file with --redis-url (exit 2)', () => {
    const r = spawnSync(process.execPath, [bin, '--state-file', 'x', '--redis-url', 'redis://127.0.0.1:1'], {
      encoding: 'utf8',
      timeout: 10_000,
    });
    assert.equal(r.status, 2);
    assert.match(r.stderr, /--state-file is for the memory store/);
  });
});

/**
 * The CLI's log lines as an operator gets them: real processes, their real
 * standard output and error. JSON lines by default when not on a terminal,
 * a readable line each with --log-format pretty; --log-level and --quiet
 * decide what is written.
 */
import assert from 'node:assert/strict';
import { type ChildProcess, spawn } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { freePort } from './helpers/free-port.js';
import { httpGet } from './helpers/http-tracker-client.js';

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const bin = join(root, 'bin', 'bitstorm.js');
const dir = mkdtempSync(join(tmpdir(), 'bitstorm-logs-'));
const children = new Set<ChildProcess>();
after(() => {
  for (const child of children) child.kill('SIGKILL');
});

interface Run {
  stdout: string;
  stderr: string;
  code: number | null;
}

/**
 * Runs the CLI on a free port until it answers /healthz (bounded: 10 s), then
 * SIGTERM, and returns everything it wrote. Readiness is polled over HTTP, not
 * read from the log: some runs here are to log nothing at all.
 */
async function runUntilServing(
  args: string[],
  whileServing?: (child: ChildProcess, output: () => string) => Promise<void>,
): Promise<Run> {
  const port = await freePort({ udp: true });
  const child = spawn(process.execPath, [bin, '--host', '127.0.0.1', '--port', String(port), ...args], {
    stdio: ['ignore', 'pipe', 'pipe'],
  });
  children.add(child);
  let stdout = '';
  let stderr = '';
  child.stdout?.on('data', (d: Buffer) => (stdout += d.toString()));
  child.stderr?.on('data', (d: Buffer) => (stderr += d.toString()));
  const exited = new Promise<number | null>((resolve) => child.once('exit', (code) => resolve(code)));
  const deadline = Date.now() + 10_000;
  for (;;) {
    const ok = await httpGet(`http://127.0.0.1:${port}`, '/healthz').then(
      (r) => r.status === 200,
      () => false,
    );
    if (ok) break;
    if (child.exitCode !== null || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`not serving within 10 s (exit ${child.exitCode}):\n${stdout}${stderr}`);
    }
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  try {
    await whileServing?.(child, () => stdout + stderr);
  } finally {
    child.kill('SIGTERM');
  }
  const killer = setTimeout(() => child.kill('SIGKILL'), 10_000);
  const code = await exited;
  clearTimeout(killer);
  children.delete(child);
  return { stdout, stderr, code };
}

function jsonLines(text: string): Record<string, unknown>[] {
  return text
    .split('\n')
    .filter((line) => line !== '')
    .map((line) => {
      try {
        return JSON.parse(line) as Record<string, unknown>;
      } catch {
        throw new Error(`not a JSON line: ${line}`);
      }
    });
}

/** An allow list with one bad line: reading it logs a warning (and, at info, how many entries it holds). */
let lists = 0;
function listWithABadLine(): string {
  // A file per run: the tests run two at a time, and one rewrites and removes its list.
  const file = join(dir, `${++lists}-allow.txt`);
  writeFileSync(file, `${'ab'.repeat(20)}\nnot a hash\n`);
  return file;
}

describe('CLI logs', { concurrency: 2 }, () => {
  it('--log-format json: every line is a JSON object with level, time, pid and msg; start-up facts are fields', async () => {
    const run = await runUntilServing(['--log-format', 'json']);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.stderr, '', 'nothing at warn or above');
    const lines = jsonLines(run.stdout);
    for (const line of lines) {
      assert.equal(line.level, 'info', JSON.stringify(line));
      assert.equal(typeof line.msg, 'string');
      assert.equal(typeof line.time, 'string');
      assert.ok(!Number.isNaN(Date.parse(line.time as string)), 'time is an ISO date');
      assert.equal(typeof line.pid, 'number');
      assert.equal(line.worker, undefined, 'a single process names no worker');
    }
    const listening = lines.find((l) => /^HTTP tracker listening on /.test(l.msg as string));
    assert.equal(listening?.transport, 'http');
    assert.equal(typeof listening?.port, 'number');
    const urls = lines.filter((l) => /^announce URL /.test(l.msg as string)).map((l) => l.url);
    assert.ok(urls.includes(`http://127.0.0.1:${listening?.port}/announce`), JSON.stringify(urls));
    assert.ok(lines.some((l) => l.msg === 'SIGTERM, shutting down' && l.signal === 'SIGTERM'));
  });

  it('--log-format pretty: "HH:MM:SS LEVEL message", the announce URLs as before', async () => {
    const run = await runUntilServing(['--log-format', 'pretty', '--allow-list', listWithABadLine()]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const out = run.stdout.split('\n').filter(Boolean);
    for (const line of out) assert.match(line, /^\d\d:\d\d:\d\d (INFO |DEBUG) \S/);
    assert.ok(
      out.some((l) => /INFO {2}announce URL http:\/\/127\.0\.0\.1:\d+\/announce$/.test(l)),
      run.stdout,
    );
    assert.ok(
      out.some((l) => /INFO {2}allow list loaded from \S+: 1 entries .*skipped=1/.test(l)),
      run.stdout,
    );
    // Warnings and errors on standard error, as before structured logs.
    assert.match(run.stderr, /^\d\d:\d\d:\d\d WARN {2}\S+allow\.txt line 2: .* list="allow list"\n$/);
  });

  it('--log-level error writes no info line and no warning', async () => {
    const run = await runUntilServing([
      '--log-format',
      'json',
      '--log-level',
      'error',
      '--allow-list',
      listWithABadLine(),
    ]);
    assert.equal(run.code, 0, run.stdout + run.stderr);
    assert.equal(run.stdout + run.stderr, '');
  });

  it('--quiet is --log-level warn: the warning, no info line', async () => {
    const list = listWithABadLine();
    const quiet = await runUntilServing(['--log-format', 'json', '--quiet', '--allow-list', list]);
    const warn = await runUntilServing(['--log-format', 'json', '--log-level', 'warn', '--allow-list', list]);
    for (const run of [quiet, warn]) {
      assert.equal(run.code, 0, run.stdout + run.stderr);
      assert.equal(run.stdout, '', 'no info line');
      const lines = jsonLines(run.stderr);
      assert.deepEqual(
        lines.map((l) => [l.level, l.list]),
        [['warn', 'allow list']],
      );
      assert.match(lines[0]?.msg as string, /allow\.txt line 2: /);
    }
  });

  it('SIGHUP: says what it reloaded, with the counts, and why not when it could not', async () => {
    const list = listWithABadLine();
    const waitFor = async (output: () => string, re: RegExp): Promise<void> => {
      for (const deadline = Date.now() + 5000; !re.test(output()); ) {
        if (Date.now() > deadline) throw new Error(`no ${re} within 5 s:\n${output()}`);
        await new Promise((resolve) => setTimeout(resolve, 50));
      }
    };
    const run = await runUntilServing(['--log-format', 'json', '--allow-list', list], async (child, output) => {
      writeFileSync(list, `${'ab'.repeat(20)}\n${'cd'.repeat(20)}\n${'ef'.repeat(20)}\n`);
      child.kill('SIGHUP');
      await waitFor(output, /reloaded \(SIGHUP\)/);
      // A file that cannot be read keeps the list in force, and says so.
      rmSync(list);
      child.kill('SIGHUP');
      await waitFor(output, /not reloaded/);
    });
    assert.equal(run.code, 0, run.stdout + run.stderr);
    const reloaded = jsonLines(run.stdout).find((l) => l.why === 'SIGHUP');
    assert.equal(reloaded?.msg, `allow list reloaded (SIGHUP) from ${list}: 3 entries (was 1)`);
    assert.deepEqual([reloaded?.entries, reloaded?.was, reloaded?.level], [3, 1, 'info']);
    const failed = jsonLines(run.stderr).filter((l) => l.level === 'error');
    assert.equal(failed.length, 1, run.stderr);
    assert.match(failed[0]?.msg as string, /not reloaded \(SIGHUP\): .*ENOENT.*the previous list stays/);
  });

  it('refuses an unknown level or format (exit 2), naming the values it takes', async () => {
    const { spawnSync } = await import('node:child_process');
    const level = spawnSync(process.execPath, [bin, '--log-level', 'verbose'], { encoding: 'utf8', timeout: 10_000 });
    assert.equal(level.status, 2);
    assert.match(level.stderr, /--log-level.*expected error, warn, info, debug, got "verbose"/);
    const format = spawnSync(process.execPath, [bin], {
      encoding: 'utf8',
      timeout: 10_000,
      env: { ...process.env, BITSTORM_LOG_FORMAT: 'xml' },
    });
    assert.equal(format.status, 2);
    assert.match(format.stderr, /BITSTORM_LOG_FORMAT.*expected auto, json, pretty, got "xml"/);
  });
});

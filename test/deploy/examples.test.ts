import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';

/**
 * The deploy examples stay true: the systemd unit passes `systemd-analyze
 * verify` with no warning, and the Dockerfile's stages copy files that exist,
 * run as a non-root user and check /healthz. (Building the image needs a
 * container registry, which this machine does not reach: docs/operations.md.)
 */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const examples = join(root, 'examples');

describe('deploy examples', () => {
  it('the systemd unit verifies without a warning, with sandboxing and reload by SIGHUP', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitstorm-unit-'));
    try {
      const unit = join(dir, 'bitstorm.service');
      copyFileSync(join(examples, 'bitstorm.service'), unit);
      const run = spawnSync('systemd-analyze', ['verify', unit], { encoding: 'utf8', timeout: 30_000 });
      assert.equal(run.error, undefined, `systemd-analyze could not run (apt-get install systemd): ${run.error}`);
      assert.equal(`${run.stdout}${run.stderr}`.trim(), '', 'systemd-analyze verify printed warnings');
      assert.equal(run.status, 0);
      const text = readFileSync(unit, 'utf8');
      for (const line of [
        'Restart=on-failure',
        'ExecReload=/bin/kill -HUP $MAINPID',
        'NoNewPrivileges=yes',
        'ProtectSystem=strict',
      ]) {
        assert.ok(text.includes(line), line);
      }
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the Dockerfile is multi-stage, runs as a non-root user, checks /healthz and copies what exists', () => {
    const text = readFileSync(join(examples, 'Dockerfile'), 'utf8');
    assert.equal((text.match(/^FROM /gm) ?? []).length, 2, 'two stages');
    assert.match(text, /^USER node$/m);
    assert.match(text, /^HEALTHCHECK .*\n.*\/healthz/m);
    for (const m of text.matchAll(/^COPY (?!--from)(.+) \S+$/gm)) {
      for (const source of (m[1] as string).split(/\s+/)) assert.ok(existsSync(join(root, source)), `COPY ${source}`);
    }
    // The runtime stage copies what the package needs at run time (package.json "files").
    const files = (JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { files: string[] }).files;
    for (const f of files.filter((f) => f !== 'README.md' && f !== 'docs')) {
      assert.ok(text.includes(`/src/${f} `) || text.includes(`/src/${f}\n`), `runtime stage copies ${f}`);
    }
    const compose = readFileSync(join(examples, 'docker-compose.yml'), 'utf8');
    assert.match(compose, /dockerfile: examples\/Dockerfile/);
    assert.match(compose, /--redis-url", "redis:\/\/redis:6379"/);
  });
});

import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, it } from 'node:test';
import { redisScripts } from '../../src/store/redis/scripts.js';

/**
 * The Redis store's Lua, linted as Redis runs it: each script with torrent.lua
 * in front (scripts.ts). luacheck comes from Debian's lua-check (the test
 * command installs it). Redis' Lua is 5.1 with `redis`, `cmsgpack`, `struct`,
 * KEYS and ARGV as globals; a new global, a shadowed local or an unused one fails.
 * torrent.lua is shared, so a name it declares may go unused by one script,
 * but not by all three. webrtc.lua and account.lua stand alone (nothing in front of them).
 */
describe('Redis store scripts', () => {
  const scripts = redisScripts();
  const all = [scripts.announce, scripts.count, scripts.peers];
  const standalone = [scripts.webrtc, scripts.account];
  const sharedLines = readFileSync(
    new URL('../../../src/store/redis/scripts/torrent.lua', import.meta.url),
    'utf8',
  ).split('\n').length;

  it('pass luacheck (Lua 5.1, Redis globals), with no shared name left unused by every script', () => {
    const dir = mkdtempSync(join(tmpdir(), 'bitstorm-lua-'));
    try {
      const unusedShared = new Map<string, number>();
      for (const script of [...all, ...standalone]) {
        const prefixLines = all.includes(script) ? sharedLines : 0;
        const file = join(dir, `${script.name}.lua`);
        writeFileSync(file, script.source);
        const run = spawnSync(
          'luacheck',
          [
            '--std',
            'lua51',
            '--read-globals',
            'redis',
            'cmsgpack',
            'struct',
            'KEYS',
            'ARGV',
            '--codes',
            '--formatter',
            'plain',
            file,
          ],
          { encoding: 'utf8', timeout: 30_000 },
        );
        assert.equal(run.error, undefined, `luacheck could not run (apt-get install lua-check): ${run.error}`);
        const problems: string[] = [];
        for (const line of run.stdout.split('\n').filter(Boolean)) {
          const m = /^[^:]+:(\d+):\d+: \((W21[12]|W231)\) .* (\S+)$/.exec(line);
          if (m && Number(m[1]) <= prefixLines) {
            const key = `${m[1]} ${m[3]}`;
            unusedShared.set(key, (unusedShared.get(key) ?? 0) + 1);
          } else {
            problems.push(line);
          }
        }
        assert.deepEqual(problems, [], `${script.name}.lua`);
        assert.ok(run.status === 0 || run.status === 1, `luacheck exit ${run.status}: ${run.stderr}`);
      }
      const unusedByAll = [...unusedShared].filter(([, n]) => n === all.length).map(([k]) => k);
      assert.deepEqual(unusedByAll, [], 'torrent.lua names no script uses (line, name)');
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('open with a header naming their KEYS, ARGV, reply and complexity', () => {
    for (const script of [...all, ...standalone]) {
      const own = script.source
        .split('\n')
        .slice(all.includes(script) ? sharedLines : 0)
        .join('\n');
      const header = /^--\[\[([\s\S]*?)\]\]/.exec(own.trimStart())?.[1] ?? '';
      for (const word of ['KEYS:', 'ARGV:', 'Returns:', 'Complexity:']) {
        assert.ok(header.includes(word), `${script.name}.lua's header has no "${word}"`);
      }
    }
  });
});

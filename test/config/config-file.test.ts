import assert from 'node:assert/strict';
import { spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { after, describe, it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { configToToml } from '../../src/config/config-file.js';
import { loadConfig } from '../../src/config/load-config.js';
import { ConfigError, DEFAULTS } from '../../src/config/options.js';
import { createTracker } from '../../src/tracker.js';

/** --config FILE (TOML), its precedence, its errors, print-config, and the schema's checks for library callers. */

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..', '..');
const dir = mkdtempSync(join(tmpdir(), 'bitstorm-config-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function file(name: string, text: string): string {
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

describe('the config file', () => {
  it('reads options by their flag names; defaults < file < environment < flags', () => {
    const path = file(
      'a.toml',
      [
        'port = 7000',
        'interval = 900',
        'min-interval = 60',
        'trust-proxy = ["10.0.0.1", "10.1.0.0/16"]',
        'stats = "off"',
        'udp-port = "off"',
        'full-scrape = true',
      ].join('\n'),
    );
    const { config } = loadConfig(['--config', path], {});
    assert.equal(config.port, 7000);
    assert.equal(config.interval, 900);
    assert.deepEqual(config.trustProxy, ['10.0.0.1', '10.1.0.0/16']);
    assert.equal(config.stats, false);
    assert.equal(config.udpPort, 'off');
    assert.equal(config.fullScrape, true);
    assert.equal(config.peerTtl, DEFAULTS.peerTtl);
    const env = loadConfig([`--config=${path}`], { BITSTORM_PORT: '7001' }).config;
    assert.equal(env.port, 7001);
    const flag = loadConfig(['--port', '7002', '--config', path], { BITSTORM_PORT: '7001' }).config;
    assert.equal(flag.port, 7002);
    assert.equal(loadConfig([], { BITSTORM_CONFIG: path }).config.interval, 900);
  });

  it('refuses an unknown key, a bad value, a table and bad TOML, with the file, line and key', () => {
    const unknown = file('b.toml', 'port = 7000\n\n  prot = 7001\n');
    assert.throws(
      () => loadConfig(['--config', unknown]),
      (err: Error) => {
        assert.ok(err instanceof ConfigError);
        assert.match(err.message, /b\.toml:3: prot: unknown option/);
        return true;
      },
    );
    const bad = file('c.toml', 'interval = 900\nport = "seventy"\n');
    assert.throws(() => loadConfig(['--config', bad]), /c\.toml:2: port: expected a whole number/);
    const range = file('d.toml', 'port = 70000\n');
    assert.throws(() => loadConfig(['--config', range]), /d\.toml:1: port: must be between 0 and 65535/);
    const table = file('e.toml', 'port = 7000\n[redis]\nurl = "redis://x"\n');
    assert.throws(() => loadConfig(['--config', table]), /e\.toml:2: redis: unknown option/);
    const optionTable = file('e2.toml', '[port]\nx = 1\n');
    assert.throws(
      () => loadConfig(['--config', optionTable]),
      /e2\.toml:1: port: expected a string, number or boolean/,
    );
    const broken = file('f.toml', 'port = = 1\n');
    assert.throws(() => loadConfig(['--config', broken]), /f\.toml:1:\d+: not valid TOML/);
    assert.throws(() => loadConfig(['--config', join(dir, 'missing.toml')]), /--config .*missing\.toml/);
    const cross = file('g.toml', 'interval = 100\nmin-interval = 200\n');
    assert.throws(() => loadConfig(['--config', cross]), /--min-interval must not exceed --interval/);
  });

  it('print-config writes a file that --config reads back to the same configuration', () => {
    const { config } = loadConfig(['--port', '7003', '--client-deny', '-XX,-YY', '--http-fast-path', 'force'], {});
    const text = configToToml(config);
    assert.match(text, /^# seconds clients should wait between announces$/m);
    const again = loadConfig(['--config', file('h.toml', text)], {}).config;
    assert.deepEqual(again, config);
    // Through the real CLI too.
    const run = spawnSync(process.execPath, [join(root, 'bin', 'bitstorm.js'), 'print-config', '--port', '7004'], {
      encoding: 'utf8',
      timeout: 30_000,
    });
    assert.equal(run.status, 0, run.stderr);
    assert.match(run.stdout, /^port = 7004$/m);
    const printed = loadConfig(['--config', file('i.toml', run.stdout)], {}).config;
    assert.equal(printed.port, 7004);
  });

  it("createTracker() checks a library caller's values against the same schema", () => {
    assert.throws(() => createTracker({ port: -1 }), /port \(port\): expected a number between 0 and 65535/);
    assert.throws(() => createTracker({ interval: 1.5 }), /interval \(interval\): expected a whole number/);
    assert.throws(
      () => createTracker({ stats: 'yes' as unknown as boolean }),
      /stats \(stats\): expected true or false/,
    );
    assert.throws(() => createTracker({ trustProxy: '10.0.0.1' as unknown as string[] }), /expected a list of strings/);
    assert.throws(() => createTracker({ udpPort: 'maybe' as unknown as 'off' }), /udp-port \(udpPort\)/);
  });
});

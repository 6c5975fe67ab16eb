import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { DEFAULTS, flagName, OPTIONS } from '../src/config/options.js';

it("README's options table lists exactly the options of the schema, with their numeric defaults", () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const readme = readFileSync(join(root, 'README.md'), 'utf8');
  const section = readme.slice(readme.indexOf('## Options'), readme.indexOf('\n## ', readme.indexOf('## Options') + 1));
  const rows = new Map([...section.matchAll(/^\| `--([a-z0-9-]+)` \| ([^|]*) \|/gm)].map((m) => [m[1], m[2]?.trim()]));
  assert.deepEqual([...rows.keys()].sort(), OPTIONS.map((o) => flagName(o.key)).sort());
  for (const spec of OPTIONS) {
    // Numbers are shown as they are; a default described in words (defaultText) is the help's business.
    if ((spec.kind !== 'int' && spec.kind !== 'int-or-off') || spec.defaultText !== undefined) continue;
    assert.equal(rows.get(flagName(spec.key)), `\`${DEFAULTS[spec.key]}\``, `--${flagName(spec.key)}'s default`);
  }
});

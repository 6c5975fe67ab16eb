import assert from 'node:assert/strict';
import { readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { it } from 'node:test';
import { fileURLToPath } from 'node:url';
import { ERROR_CODES } from '../src/errors.js';

it('docs/errors.md documents exactly the error codes in src/errors.ts', () => {
  const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
  const doc = readFileSync(join(root, 'docs', 'errors.md'), 'utf8');
  const documented = [...doc.matchAll(/^\| `([a-z_]+)` \|/gm)].map((m) => m[1]);
  assert.deepEqual([...documented].sort(), [...ERROR_CODES].sort());
});

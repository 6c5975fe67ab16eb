import { existsSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

/**
 * A directory of the package's sources that tsc does not copy into dist/ (the
 * stats page's client files, the Redis store's Lua scripts), found by walking
 * up from the calling module to the directory that holds `relative` (the package
 * root, from dist/src/… or from src/… alike). `probe` is a file that must be in
 * it, so a same-named directory elsewhere is not mistaken for it.
 */
export function packageDir(moduleUrl: string, relative: string, probe: string): string {
  let dir = dirname(fileURLToPath(moduleUrl));
  for (let i = 0; i < 8; i++) {
    const candidate = join(dir, relative);
    if (existsSync(join(candidate, probe))) return candidate;
    const parent = dirname(dir);
    if (parent === dir) break;
    dir = parent;
  }
  throw new Error(`bitstorm: ${relative}/ not found above ${fileURLToPath(moduleUrl)}`);
}

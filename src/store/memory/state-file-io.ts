import { readFileSync, rmSync } from 'node:fs';
import { open, rename, rm } from 'node:fs/promises';
import { basename, dirname, join } from 'node:path';

/**
 * Where a save writes before it renames over the target: the same directory
 * (a rename is atomic only within one file system), one fixed name, so a
 * save that crashed leaves at most one leftover, which the next save
 * truncates and the next start removes.
 */
export function tempPathFor(path: string): string {
  return join(dirname(path), `.${basename(path)}.tmp`);
}

/**
 * Writes the chunks `source` yields to `path` atomically: a temporary file,
 * fsync'd, renamed over the target, then the directory fsync'd so the rename
 * itself survives a power loss. The target is the old file or the new one,
 * never a mix. Each chunk is awaited before the next is asked for, so a
 * source that does a bounded slice of work per chunk leaves the event loop
 * free between slices. On failure the temporary file is removed.
 */
export async function writeFileAtomically(path: string, source: Iterable<Uint8Array>): Promise<number> {
  const temp = tempPathFor(path);
  let bytes = 0;
  const file = await open(temp, 'w', 0o600); // peer addresses: not for every local user
  try {
    try {
      for (const chunk of source) {
        await file.write(chunk);
        bytes += chunk.length;
      }
      await file.sync();
    } finally {
      await file.close();
    }
    await rename(temp, path);
  } catch (err) {
    await rm(temp, { force: true });
    throw err;
  }
  await syncDirectory(dirname(path));
  return bytes;
}

/**
 * The file's bytes, or undefined when there is none (a first start). Removes
 * the temporary file a crashed save may have left: it was never renamed, so
 * it is not the state, and it may be half written.
 */
export function readStateBytes(path: string): Buffer | undefined {
  rmSync(tempPathFor(path), { force: true });
  try {
    return readFileSync(path);
  } catch (err) {
    if ((err as NodeJS.ErrnoException).code === 'ENOENT') return undefined;
    throw err;
  }
}

async function syncDirectory(dir: string): Promise<void> {
  let handle: Awaited<ReturnType<typeof open>> | undefined;
  try {
    handle = await open(dir, 'r');
    await handle.sync();
  } catch (err) {
    // Some platforms (Windows) and file systems cannot open or fsync a directory; the rename is done either way.
    const code = (err as NodeJS.ErrnoException).code;
    if (code !== 'EISDIR' && code !== 'EPERM' && code !== 'EINVAL' && code !== 'EACCES') throw err;
  } finally {
    await handle?.close();
  }
}

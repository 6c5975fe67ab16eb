/**
 * How the memory store's column regions (torrent-table.ts, small-swarms.ts)
 * grow: each is one buffer, replaced by a larger one and copied when full.
 *
 * By 1.5x, 1.25x past a million entries (the slack of a big region is what
 * costs), but never into a buffer of between 1 MiB and 32 MiB. glibc serves
 * a block that size from its heap once its mmap threshold has risen, and the
 * threshold rises to the size of any mapped block freed, up to 32 MiB; a
 * region freed there leaves a hole glibc seldom gives back to the system
 * (measured at a million torrents of one to three peers: 23 bytes a torrent
 * of RSS, 187 against 164). A block past 32 MiB is always mapped on its own and unmapped when
 * freed. Jumping over the range costs address space, not memory: a new
 * buffer's pages are the kernel's zero pages until written.
 */

const FIRST_JUMP_BYTES = 1 << 20;
const MAPPED_BYTES = 32 << 20;
const SLOW_GROWTH_AT = 1 << 20;

/** The capacity after `old` (0: none yet) that holds at least `needed` entries, `bytes(capacity)` being its buffer's size. */
export function grownCapacity(old: number, first: number, needed: number, bytes: (capacity: number) => number): number {
  let capacity = old === 0 ? first : step(old);
  while (capacity < needed) capacity = step(capacity);
  const size = bytes(capacity);
  if (size > FIRST_JUMP_BYTES && size < MAPPED_BYTES) {
    capacity = Math.ceil((capacity * MAPPED_BYTES) / size);
    while (bytes(capacity) < MAPPED_BYTES) capacity++;
  }
  return capacity;
}

/** Copies a column into its grown region and returns the new column. */
export function grown<T extends Uint8Array | Uint32Array | Float64Array>(from: T, to: T): T {
  to.set(from as never);
  return to;
}

function step(capacity: number): number {
  return capacity + (capacity >= SLOW_GROWTH_AT ? capacity >> 2 : capacity >> 1);
}

/**
 * Preloaded into BitStorm's processes by the long-tail bench (`--import`,
 * with `--expose-gc`; bench/long-tail.ts): SIGUSR2 runs a full garbage
 * collection, so the bench can read the memory the store holds apart from
 * what only awaits a collection (garbage in V8's heap; before the store's
 * buffers grew in place, a region replaced when it grew, which a process that
 * allocates little kept for minutes). A bench instrument, not part of the
 * tracker.
 */
process.on('SIGUSR2', () => (globalThis as { gc?: () => void }).gc?.());

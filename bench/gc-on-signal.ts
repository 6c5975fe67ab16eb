/**
 * Preloaded into BitStorm's processes by the long-tail bench (`--import`,
 * with `--expose-gc`; bench/long-tail.ts): SIGUSR2 runs a full garbage
 * collection, so the bench can read the memory the store holds apart from
 * what only awaits a collection (a column region replaced when it grew, say,
 * which a process that allocates little may keep for minutes). A bench
 * instrument, not part of the tracker.
 */
process.on('SIGUSR2', () => (globalThis as { gc?: () => void }).gc?.());

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { DEFAULTS, type TrackerConfig } from '../../src/config/options.js';
import { TrackerCore } from '../../src/core/tracker.js';
import { ProtocolError } from '../../src/errors.js';
import { MemoryStore } from '../../src/store/memory/memory-store.js';

function core(over: Partial<TrackerConfig> = {}): TrackerCore {
  const config: Readonly<TrackerConfig> = Object.freeze({ ...DEFAULTS, ...over });
  return new TrackerCore(config, new MemoryStore({ peerTtlMs: 60_000, now: Date.now, backgroundSweep: false }));
}

function hashes(n: number): Buffer[] {
  return Array.from({ length: n }, (_, i) => Buffer.alloc(20, i + 1));
}

describe('core: scrape', () => {
  // The one check of --max-scrape-hashes, whatever the transport (the parsers check only what the wire bounds).
  it('refuses more hashes than --max-scrape-hashes, and counts the refusal', async () => {
    const c = core({ maxScrapeHashes: 4 });
    const failures: string[] = [];
    c.events.on('failure', (f) => failures.push(`${f.transport} ${f.code}`));
    await assert.rejects(
      c.scrape(hashes(5), 'udp'),
      (err: unknown) =>
        err instanceof ProtocolError &&
        err.code === 'too_many_info_hashes' &&
        err.message === 'at most 4 info_hash per scrape, got 5',
    );
    assert.deepEqual(failures, ['udp too_many_info_hashes']);
    assert.equal((await c.scrape(hashes(4), 'udp')).length, 4);
  });
});

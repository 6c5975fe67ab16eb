import assert from 'node:assert/strict';
import { it } from 'node:test';
import { grownCapacity } from '../../src/store/memory/region-growth.js';
import { torrentRowsLayout } from '../../src/store/shared-torrent-rows.js';

it('region growth: 1.5x, 1.25x past a million, never a buffer of between 1 MiB and 32 MiB', () => {
  for (const bytes of [(n: number) => n * 35, (n: number) => n * 6, (n: number) => torrentRowsLayout(n).bytes]) {
    const sizes: number[] = [];
    let capacity = 0;
    while (capacity < 3_000_000) {
      const next = grownCapacity(capacity, 64, capacity + 1, bytes);
      assert.ok(next > capacity);
      const size = bytes(next);
      assert.ok(size <= 1 << 20 || size >= 32 << 20, `${next} entries make a buffer of ${size} bytes`);
      if (capacity > 0 && size < 1 << 20) assert.equal(next, capacity + (capacity >> 1));
      if (capacity >= 1 << 20 && bytes(capacity) >= 32 << 20) assert.equal(next, capacity + (capacity >> 2));
      sizes.push(size);
      capacity = next;
    }
    assert.ok(sizes.filter((s) => s <= 1 << 20).length > 5, 'small regions still grow step by step');
    const jump = sizes.findIndex((s) => s > 1 << 20);
    assert.ok((sizes[jump - 1] as number) * 1.5 > 1 << 20, 'the jump comes where a step would have left 1 MiB');
  }
  assert.equal(
    grownCapacity(0, 64, 1, (n) => n),
    64,
    'the first capacity',
  );
  assert.equal(
    grownCapacity(100, 64, 1000, (n) => n),
    1135,
    'steps until the needed entries fit',
  );
});

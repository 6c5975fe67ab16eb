import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TorrentTable } from '../../src/store/memory/torrent-table.js';

const DAY = 86_400_000;

it('torrent table: the inline peer keeps its last-seen time to the ms across announces of its row', () => {
  const torrents = new TorrentTable();
  const t0 = 1_700_000_000_123;
  const row = torrents.add(Buffer.alloc(20, 1), t0);
  torrents.setPeer(row, Buffer.alloc(20, 2), false, t0 - 250);
  assert.equal(torrents.peerLastSeen(row), t0 - 250);
  // Another announce of the row (say, a stop of a peer it does not hold) leaves the peer's time as it was.
  torrents.touch(row, t0 + 7_777);
  assert.equal(torrents.lastAnnounce(row), t0 + 7_777);
  assert.equal(torrents.peerLastSeen(row), t0 - 250);
  // The peer's own announce: the row is touched first, then the peer.
  torrents.touch(row, t0 + 9_001);
  torrents.setPeerLastSeen(row, t0 + 9_001);
  assert.equal(torrents.peerLastSeen(row), t0 + 9_001);
  // A time after the row's last announce is kept as the announce's; one older than 49.7 days as that long before it.
  torrents.setPeerLastSeen(row, t0 + 20_000);
  assert.equal(torrents.peerLastSeen(row), t0 + 9_001);
  torrents.setPeerLastSeen(row, t0 - 60 * DAY);
  assert.equal(torrents.peerLastSeen(row), t0 + 9_001 - 0xffffffff);
  assert.ok(torrents.peerLastSeen(row) < t0 - 49 * DAY, 'still older than any peer TTL the config allows');
});

it('torrent table: a completed count saturates at 2^32 - 1 and rows keep theirs as the table grows', () => {
  const torrents = new TorrentTable();
  const rows: number[] = [];
  for (let i = 0; i < 1000; i++) {
    const hash = Buffer.alloc(20);
    hash.writeUInt32BE(i, 0);
    const row = torrents.add(hash, 1000 + i);
    torrents.setDownloaded(row, i === 7 ? 2 ** 40 : i);
    torrents.setPeer(row, hash, i % 2 === 0, 500 + i);
    rows.push(row);
  }
  for (let i = 0; i < 1000; i++) {
    const hash = Buffer.alloc(20);
    hash.writeUInt32BE(i, 0);
    const row = torrents.find(hash);
    assert.equal(row, rows[i]);
    assert.equal(torrents.downloaded(row), i === 7 ? 0xffffffff : i);
    assert.equal(torrents.lastAnnounce(row), 1000 + i);
    assert.equal(torrents.peerLastSeen(row), 500 + i);
    assert.equal(torrents.peerIsSeeder(row), i % 2 === 0);
  }
});

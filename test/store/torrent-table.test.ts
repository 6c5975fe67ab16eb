import assert from 'node:assert/strict';
import { it } from 'node:test';
import { TorrentTable } from '../../src/store/memory/torrent-table.js';
import { readSharedTorrents } from '../../src/store/shared-torrent-rows.js';

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

it('torrent table: a reader given the rows before the table grew reads them as they are now', () => {
  const torrents = new TorrentTable();
  const hashOf = (i: number): Buffer => {
    const hash = Buffer.alloc(20, 0xee);
    hash.writeUInt32BE(i, 0);
    return hash;
  };
  for (let i = 0; i < 10; i++) torrents.setPeer(torrents.add(hashOf(i), 5000), hashOf(i), i < 3, 5000);
  const before = torrents.shared(0);
  for (let i = 10; i < 5000; i++) torrents.setPeer(torrents.add(hashOf(i), 5000), hashOf(i), false, 5000);
  const row = torrents.find(hashOf(4));
  torrents.setDownloaded(row, 42);
  torrents.touch(row, 9000);
  torrents.setPeerLastSeen(row, 9000);
  const seen: [string, number, number, number, number][] = [];
  readSharedTorrents(before, (bytes, at, seeders, leechers, downloaded, last) =>
    seen.push([Buffer.from(bytes.subarray(at, at + 20)).toString('hex'), seeders, leechers, downloaded, last]),
  );
  assert.equal(seen.length, 10, 'the rows handed out when the descriptor was made');
  assert.deepEqual(seen[4], [hashOf(4).toString('hex'), 0, 1, 42, 9000], 'written after the growth');
  assert.equal(seen.filter(([, seeders]) => seeders === 1).length, 3);
  assert.equal(
    readSharedTorrents(torrents.shared(0), () => {}),
    5000,
  );
  assert.equal(
    readSharedTorrents(torrents.shared(5000), () => {}),
    1,
    'inline peers seen at or before the cutoff are left out',
  );
});

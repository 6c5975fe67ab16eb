import type { StoreAnnounce } from '../src/store/swarm-store.js';
import { storeAnnounce } from '../test/helpers/store-announce.js';

/**
 * The torrents the by-hand benches fill a store with (snapshot-build.ts,
 * redis-walk.ts): torrent i's info hash starts with i times a large odd
 * constant (spread over the hash space) and ends with i; every third torrent
 * has two peers (a seeder and a leecher), the others one seeder, all from
 * 10.0.0.1:6881. Yields each peer's first announce, with buffers of its own.
 */
export function* syntheticAnnounces(torrents: number): Generator<StoreAnnounce> {
  const ipv4 = Buffer.from([10, 0, 0, 1, 0x1a, 0xe1]);
  for (let i = 0; i < torrents; i++) {
    const infoHash = Buffer.alloc(20);
    infoHash.writeUInt32BE(Math.imul(i, 2654435761) >>> 0, 0);
    infoHash.writeUInt32BE(i, 16);
    for (let k = 0; k < (i % 3 === 0 ? 2 : 1); k++) {
      const peerId = Buffer.alloc(20);
      peerId.writeUInt32BE(i, 0);
      peerId[19] = k;
      yield storeAnnounce({ infoHash, peerId, ipv4, event: 'started', seeder: k === 0 });
    }
  }
}

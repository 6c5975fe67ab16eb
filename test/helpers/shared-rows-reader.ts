/**
 * A worker thread for test/store/shared-torrent-rows.test.ts: walks a memory
 * store's shared rows over and over while the main thread churns them, until
 * told to stop, and reports every info hash it was given that no torrent had
 * (hashes are made by torrentHash(), so a torn one does not check out).
 */
import { parentPort, workerData } from 'node:worker_threads';
import { readSharedTorrents, type SharedTorrentRows } from '../../src/store/shared-torrent-rows.js';

/** Torrent n's info hash: n in the first four bytes, the rest derived from it. */
export function torrentHash(n: number): Buffer {
  const hash = Buffer.alloc(20);
  hash.writeUInt32BE(n, 0);
  for (let b = 4; b < 20; b++) hash[b] = (Math.imul(n, 2654435761) >>> (b % 24)) & 0xff;
  return hash;
}

function checks(hash: Uint8Array): boolean {
  return torrentHash(Buffer.from(hash).readUInt32BE(0)).equals(hash);
}

const data = workerData as { rows: SharedTorrentRows; stop: SharedArrayBuffer } | undefined;
if (parentPort && data) {
  const stop = new Int32Array(data.stop);
  let passes = 0;
  let visited = 0;
  const bad: string[] = [];
  while (Atomics.load(stop, 0) === 0) {
    passes++;
    visited += readSharedTorrents(data.rows, (bytes, at, _s, _l, _d, _last, unchanged) => {
      // As a visitor that keeps the hash does: copy, then ask whether the row still holds it.
      const hash = bytes.slice(at, at + 20);
      if (!unchanged()) return;
      if (!checks(hash) && bad.length < 10) bad.push(Buffer.from(hash).toString('hex'));
    });
  }
  parentPort.postMessage({ passes, visited, bad });
}

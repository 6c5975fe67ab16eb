import { createTracker, type Tracker } from '../../src/tracker.js';
import { announce, makeId } from '../helpers/http-tracker-client.js';
import { type FuzzFailure, runHttpFuzz } from './http-fuzz.js';
import { runUdpFuzz } from './udp-fuzz.js';

export interface FuzzRun {
  httpCases: number;
  udpPackets: number;
  failures: FuzzFailure[];
  /** A valid announce still answered with peers after the fuzzing. */
  aliveAfter: boolean;
}

/**
 * A memory-store tracker on 127.0.0.1 (HTTP and UDP on one port), fuzzed over
 * real sockets, then asked a valid announce. `seed` makes a run repeatable.
 */
export async function fuzzTracker(options: {
  httpCases: number;
  udpPackets: number;
  seed: number;
  httpFastPath?: boolean;
}): Promise<FuzzRun> {
  const tracker: Tracker = createTracker({
    host: '127.0.0.1',
    port: 0,
    requestTimeout: 1000,
    stats: true,
    httpFastPath: options.httpFastPath ?? true,
    // One source sending 100,000 requests: with the per-source budgets on, all
    // but the first thousand would be refused unread, and the fuzz is about
    // what the parsers and the answers do with them.
    rateLimit: 'off',
    udpBadIdLimit: 'off',
  });
  try {
    const { http } = await tracker.listen();
    const failures = [
      ...(await runHttpFuzz(http.port, options.seed, options.httpCases)),
      ...(await runUdpFuzz(http.port, options.seed, options.udpPackets)),
    ];
    const base = `http://127.0.0.1:${http.port}`;
    const hash = Buffer.alloc(20, 0x42);
    await announce(base, { infoHash: hash, peerId: makeId('-FA-', 1), port: 6001 });
    const reply = await announce(base, { infoHash: hash, peerId: makeId('-FA-', 2), port: 6002 });
    const aliveAfter = Buffer.isBuffer(reply.peers) && reply.peers.length === 6;
    return { httpCases: options.httpCases, udpPackets: options.udpPackets, failures, aliveAfter };
  } finally {
    await tracker.close();
  }
}

import { createSocket } from 'node:dgram';
import { once } from 'node:events';
import { ProtocolError } from '../../src/errors.js';
import {
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  encodeUdpScrapeRequest,
  encodeUdpUrlDataOptions,
  parseUdpReply,
} from '../../src/protocol/udp-client-codec.js';
import type { FuzzFailure } from './http-fuzz.js';
import { Random } from './random.js';

/**
 * UDP fuzzing over a real socket: valid, mutated and random datagrams (with a
 * real connection id and without). Every reply must parse as a tracker reply,
 * and a reply to requests that carried no valid connection id may be no
 * larger than the request (no amplification for spoofed sources).
 */

function packet(r: Random, connectionId: Buffer, txid: number): Buffer {
  const cid = r.int(4) === 0 ? r.bytes(8) : connectionId;
  let p: Buffer;
  switch (r.int(5)) {
    case 0:
      p = encodeUdpConnectRequest(txid);
      break;
    case 1:
      p = encodeUdpScrapeRequest(
        cid,
        txid,
        Array.from({ length: 1 + r.int(80) }, () => r.bytes(20)),
      );
      break;
    case 2:
      p = r.bytes(r.int(200));
      break;
    default:
      p = encodeUdpAnnounceRequest({
        connectionId: cid,
        transactionId: txid,
        infoHash: Buffer.alloc(20, 0xcc),
        peerId: r.bytes(20),
        left: r.pick([0, 1000, -1, 2 ** 53]),
        event: r.int(5),
        numWant: r.pick([-1, 0, 50, 100_000]),
        port: r.int(65536),
        options: r.int(4) === 0 ? encodeUdpUrlDataOptions(`/announce/${'k'.repeat(r.int(300))}`) : undefined,
      });
  }
  return r.int(3) === 0 ? r.mutate(p) : p;
}

export async function runUdpFuzz(port: number, firstSeed: number, count: number, window = 32): Promise<FuzzFailure[]> {
  const failures: FuzzFailure[] = [];
  const socket = createSocket('udp4');
  socket.bind(0, '127.0.0.1');
  await once(socket, 'listening');
  try {
    const replies: Buffer[] = [];
    let lastReply = 0;
    socket.on('message', (m: Buffer) => {
      replies.push(m);
      lastReply = Date.now();
    });
    // A real connection id for this source.
    socket.send(encodeUdpConnectRequest(7), port, '127.0.0.1');
    const deadline = Date.now() + 2000;
    while (replies.length === 0 && Date.now() < deadline) await new Promise((res) => setTimeout(res, 5));
    const first = replies.shift();
    if (!first) return [{ seed: firstSeed, problem: 'no reply to a connect', sent: '' }];
    const connected = parseUdpReply(first);
    if (connected.action !== 'connect') return [{ seed: firstSeed, problem: 'connect not answered', sent: '' }];

    // Transaction ids sent in earlier windows: a late reply to one of them (a loaded machine can
    // answer after the quiet period below) must not be taken for a reply to this window's packet
    // that carries the same id (a mutation can turn one packet's id into another's).
    const earlier = new Set<number>();
    for (let start = 0; start < count; start += window) {
      // Sent in this window, by transaction id: the packet and whether its connection id was the real one.
      const sent = new Map<number, { seed: number; bytes: Buffer; verified: boolean }[]>();
      for (let i = start; i < Math.min(count, start + window); i++) {
        const seed = firstSeed + i;
        const r = new Random(seed);
        const bytes = packet(r, connected.connectionId, seed | 0);
        const txid = bytes.length >= 16 ? bytes.readInt32BE(12) : Number.NaN;
        const verified = bytes.length >= 8 && bytes.subarray(0, 8).equals(connected.connectionId);
        const list = sent.get(txid) ?? [];
        list.push({ seed, bytes, verified });
        sent.set(txid, list);
        socket.send(bytes, port, '127.0.0.1');
      }
      // Until 30 ms pass without a reply (at most 500 ms).
      const began = Date.now();
      lastReply = began;
      while (Date.now() - lastReply < 30 && Date.now() - began < 500) await new Promise((res) => setTimeout(res, 5));
      for (const reply of replies.splice(0)) {
        let txid: number;
        try {
          txid = parseUdpReply(reply).transactionId;
        } catch (err) {
          const problem = err instanceof ProtocolError ? err.message : String(err);
          failures.push({ seed: firstSeed + start, problem: `reply is not a tracker reply: ${problem}`, sent: '' });
          continue;
        }
        const requests = sent.get(txid);
        if (!requests) continue; // a reply to a mutated transaction id of this window: parsed, nothing to compare
        if (earlier.has(txid)) continue; // it may answer an earlier window's packet: nothing to compare
        if (requests.every((q) => !q.verified)) {
          const largest = Math.max(...requests.map((q) => q.bytes.length));
          if (reply.length > largest) {
            const q = requests[0] as { seed: number; bytes: Buffer };
            failures.push({
              seed: q.seed,
              problem: `amplification: ${reply.length}-byte reply to an unverified ${largest}-byte request`,
              sent: q.bytes.toString('hex').slice(0, 120),
            });
          }
        }
      }
      for (const txid of sent.keys()) earlier.add(txid);
    }
  } finally {
    socket.close();
  }
  return failures;
}

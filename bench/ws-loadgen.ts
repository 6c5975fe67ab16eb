import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';

/**
 * WebSocket tracker load generator in Node (a child process of bench/ws-bench.ts).
 * The load runs use bench/ws-loadgen.c, which costs the machine far less CPU per
 * announce; this one is the fallback without a C compiler (`--ws-gen node`), and
 * it opens the idle sockets.
 *
 *   node ws-loadgen.js load <url> <sockets> <torrents> <warmup s> <seconds> <offers> [window]
 *     Each socket is one leecher of torrent (i mod torrents) and keeps `window`
 *     (default 1) announces in flight: each reply sends the next announce, carrying
 *     `offers` WebRTC offers (~450-byte SDPs). Every offer received is answered
 *     (to_peer_id, offer_id), so the tracker relays both ways. Prints `START`
 *     after the warm-up, `END` after the measured seconds, then one JSON line.
 *   node ws-loadgen.js idle <url> <sockets> <torrents>
 *     Opens `sockets` sockets, each announcing once without offers, prints
 *     `idle-ready` with the count, and holds them until killed.
 *
 * Bounded: a load run ends after warm-up + seconds; an idle run opens a fixed
 * number of sockets, 200 at a time.
 */

const [mode, url, socketsArg, torrentsArg, warmupArg, secondsArg, offersArg, windowArg] = process.argv.slice(
  2,
) as string[];
const sockets = Number(socketsArg);
const torrents = Array.from({ length: Number(torrentsArg) }, () => randomBytes(20).toString('latin1'));
const SDP = `v=0\r\no=- ${'1'.repeat(19)} 2 IN IP4 127.0.0.1\r\ns=-\r\nt=0 0\r\na=group:BUNDLE 0\r\n${'a=candidate:1 1 udp 2113937151 127.0.0.1 50000 typ host\r\n'.repeat(6)}`;

interface Peer {
  ws: WebSocket;
  infoHash: string;
  peerId: string;
}

function announceMessage(peer: Peer, offers: number): string {
  return JSON.stringify({
    action: 'announce',
    info_hash: peer.infoHash,
    peer_id: peer.peerId,
    numwant: offers,
    uploaded: 0,
    downloaded: 0,
    left: 1000,
    offers: Array.from({ length: offers }, () => ({
      offer: { type: 'offer', sdp: SDP },
      offer_id: randomBytes(20).toString('latin1'),
    })),
  });
}

function open(i: number, onMessage: (peer: Peer, m: Record<string, unknown>) => void): Promise<Peer> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url as string, { perMessageDeflate: false });
    const peer: Peer = {
      ws,
      infoHash: torrents[i % torrents.length] as string,
      peerId: randomBytes(20).toString('latin1'),
    };
    ws.on('message', (data) => onMessage(peer, JSON.parse(String(data)) as Record<string, unknown>));
    ws.once('open', () => resolve(peer));
    ws.on('error', (err) => {
      counts.errors++;
      counts.firstError ||= err.message;
      reject(err);
    });
    ws.on('close', (code) => {
      if (!stopped) {
        counts.closed++;
        counts.firstError ||= `closed by the tracker (${code})`;
      }
    });
  });
}

const counts = {
  announces: 0,
  offersReceived: 0,
  answersReceived: 0,
  failures: 0,
  closed: 0,
  errors: 0,
  firstError: '',
};
let stopped = false;

if (mode === 'load') {
  const offers = Number(offersArg);
  const window = Number(windowArg ?? 1);
  let measuring = false;
  const onMessage = (peer: Peer, m: Record<string, unknown>): void => {
    if (m['failure reason'] !== undefined) {
      counts.failures++;
      counts.firstError ||= `failure: ${String(m['failure reason'])}`;
    } else if (m.offer !== undefined) {
      if (measuring) counts.offersReceived++;
      peer.ws.send(
        JSON.stringify({
          action: 'announce',
          info_hash: peer.infoHash,
          peer_id: peer.peerId,
          to_peer_id: m.peer_id,
          offer_id: m.offer_id,
          answer: { type: 'answer', sdp: SDP },
        }),
      );
      return;
    } else if (m.answer !== undefined) {
      if (measuring) counts.answersReceived++;
      return;
    } else if (m.interval !== undefined) {
      if (measuring) counts.announces++;
    }
    if (!stopped) peer.ws.send(announceMessage(peer, offers));
  };
  const peers: Peer[] = [];
  for (let i = 0; i < sockets; i++) peers.push(await open(i, onMessage));
  for (const p of peers) for (let w = 0; w < window; w++) p.ws.send(announceMessage(p, offers));
  await new Promise((resolve) => setTimeout(resolve, Number(warmupArg) * 1000));
  measuring = true;
  const started = process.hrtime.bigint();
  console.log('START');
  await new Promise((resolve) => setTimeout(resolve, Number(secondsArg) * 1000));
  measuring = false;
  stopped = true;
  const seconds = Number(process.hrtime.bigint() - started) / 1e9;
  console.log('END');
  const { errors, ...rest } = counts;
  console.log(JSON.stringify({ ...rest, connectErrors: errors, seconds, rate: counts.announces / seconds }));
  for (const p of peers) p.ws.terminate();
  process.exit(0);
} else if (mode === 'idle') {
  const peers: Peer[] = [];
  let replies = 0;
  const onMessage = (_peer: Peer, m: Record<string, unknown>): void => {
    if (m.interval !== undefined) replies++;
  };
  for (let i = 0; i < sockets; i += 200) {
    const batch = await Promise.all(
      Array.from({ length: Math.min(200, sockets - i) }, (_, j) => open(i + j, onMessage)),
    );
    for (const p of batch) p.ws.send(announceMessage(p, 0));
    peers.push(...batch);
  }
  const deadline = Date.now() + 30_000;
  while (replies < sockets && Date.now() < deadline) await new Promise((resolve) => setTimeout(resolve, 50));
  console.log(`idle-ready ${replies}`);
  setTimeout(() => process.exit(0), 120_000).unref();
  process.stdin.resume();
  process.stdin.on('end', () => process.exit(0));
} else {
  console.error('usage: ws-loadgen load|idle <url> …');
  process.exit(2);
}

import { connect } from 'node:net';
import { checkTrackerResponse, frameResponses } from './http-stream.js';
import { Random } from './random.js';

/**
 * HTTP fuzzing over real sockets: each case opens a connection, writes one or
 * more requests (valid, mutated, garbage, oversized, pipelined), split into
 * pieces with short pauses, half-closes, and reads until the server closes.
 * Whatever was sent, what comes back must frame as complete HTTP responses,
 * each bencoded 200 a valid bencoded dictionary; no bytes and a close is fine.
 */

export interface FuzzFailure {
  seed: number;
  problem: string;
  sent: string;
}

const HASH = '%aa'.repeat(20);

function announceLine(r: Random): string {
  const peer = `-FZ0001-${String(r.int(1e12)).padStart(12, '0')}`;
  let q = `info_hash=${HASH}&peer_id=${peer}&port=${1 + r.int(65535)}&uploaded=0&downloaded=0&left=${r.int(3) === 0 ? 0 : 1000}`;
  if (r.int(2) === 0) q += `&compact=${r.int(2)}`;
  if (r.int(3) === 0) q += `&event=${r.pick(['started', 'completed', 'stopped', 'paused', ''])}`;
  if (r.int(3) === 0) q += `&numwant=${r.pick(['0', '50', '-1', '99999999999', 'x'])}`;
  if (r.int(4) === 0) q += `&key=${r.int(1e9).toString(16)}`;
  return `GET ${r.pick(['/announce', '/announce.php'])}?${q}`;
}

function request(r: Random): string {
  const version = r.int(8) === 0 ? 'HTTP/1.0' : 'HTTP/1.1';
  let target: string;
  switch (r.int(8)) {
    case 0:
      target = `GET /scrape?info_hash=${HASH}${r.int(2) ? `&info_hash=${'%bb'.repeat(20)}` : ''}`;
      break;
    case 1:
      target = `${r.pick(['GET', 'HEAD', 'POST', 'PUT', 'get', 'GETT'])} ${r.pick(['/', '/stats', '/stats.json', '/nothing', '/announce', '*'])}`;
      break;
    default:
      target = announceLine(r);
  }
  const headers = ['Host: 127.0.0.1'];
  if (r.int(3) === 0) headers.push(`Connection: ${r.pick(['close', 'keep-alive', 'Upgrade', ''])}`);
  if (r.int(6) === 0) headers.push('User-Agent: qBittorrent/4.6.0');
  if (r.int(10) === 0) headers.push(`X-Forwarded-For: ${r.pick(['1.2.3.4', '::1', 'garbage'])}`);
  if (r.int(10) === 0) headers.push(`Content-Length: ${r.pick(['0', '5', '-1', 'abc'])}`);
  if (r.int(12) === 0) headers.push('Transfer-Encoding: chunked');
  if (r.int(20) === 0) headers.push(`X-Big: ${'x'.repeat(r.pick([1000, 20_000, 70_000]))}`);
  if (r.int(30) === 0) headers.push('Expect: 100-continue');
  const body = headers.some((h) => h.startsWith('Transfer-Encoding')) ? '5\r\nhello\r\n0\r\n\r\n' : '';
  return `${target} ${version}\r\n${headers.join('\r\n')}\r\n\r\n${body}`;
}

/** The bytes of one case. */
export function httpCase(seed: number): Buffer {
  const r = new Random(seed);
  const kind = r.int(10);
  if (kind === 0) return r.bytes(1 + r.int(600)); // garbage
  if (kind === 1) return Buffer.from(`GET /announce?${'a'.repeat(r.pick([5000, 9000, 70_000]))} HTTP/1.1\r\n\r\n`); // oversized
  const count = kind <= 3 ? 2 + r.int(4) : 1; // pipelined
  const parts: Buffer[] = [];
  for (let i = 0; i < count; i++) {
    const one = Buffer.from(request(r), 'latin1');
    parts.push(r.int(3) === 0 ? r.mutate(one) : one);
  }
  return Buffer.concat(parts);
}

/** Sends one case and checks what comes back. `undefined` when it holds. */
export function runHttpCase(port: number, seed: number, idleMs: number): Promise<string | undefined> {
  return exchange(port, httpCase(seed), new Random(seed ^ 0x5eed), idleMs);
}

/**
 * Writes `bytes` (cut into pieces at random points of `r`, or whole without
 * it), half-closes, reads to the close, and checks the answers.
 */
export function exchange(
  port: number,
  bytes: Buffer,
  r: Random | undefined,
  idleMs: number,
): Promise<string | undefined> {
  return new Promise((resolve) => {
    const received: Buffer[] = [];
    const socket = connect({ host: '127.0.0.1', port });
    let timer: NodeJS.Timeout | undefined;
    let done = false;
    const finish = (problem?: string): void => {
      if (done) return;
      done = true;
      clearTimeout(timer);
      socket.destroy();
      if (problem) return resolve(problem);
      const { responses, error } = frameResponses(Buffer.concat(received), bytes.includes('HEAD '));
      if (error) return resolve(error);
      for (const resp of responses) {
        const bad = checkTrackerResponse(resp);
        if (bad) return resolve(bad);
      }
      resolve(undefined);
    };
    // A server that neither answers nor closes within idleMs of the last byte hangs the client.
    const arm = (): void => {
      clearTimeout(timer);
      timer = setTimeout(() => finish(`no close within ${idleMs} ms of the last byte`), idleMs);
    };
    socket.on('data', (d: Buffer) => {
      received.push(d);
      arm();
    });
    socket.on('error', () => undefined); // a reset is a close
    socket.on('close', () => finish());
    socket.on('connect', async () => {
      // Split into up to four pieces, with pauses long enough to be read apart.
      const inner = r ? Array.from({ length: r.int(4) }, () => r.int(bytes.length)).sort((a, b) => a - b) : [];
      const cuts = [0, ...inner, bytes.length];
      for (let i = 0; i + 1 < cuts.length && !socket.destroyed; i++) {
        socket.write(bytes.subarray(cuts[i], cuts[i + 1]));
        if (r && i + 2 < cuts.length) await new Promise((res) => setTimeout(res, r.int(3) * 5));
      }
      if (!socket.destroyed) socket.end();
      arm();
    });
  });
}

/** Runs `count` cases from `firstSeed`, `concurrency` at a time. */
export async function runHttpFuzz(
  port: number,
  firstSeed: number,
  count: number,
  concurrency = 32,
  idleMs = 5000,
): Promise<FuzzFailure[]> {
  const failures: FuzzFailure[] = [];
  let next = 0;
  const worker = async (): Promise<void> => {
    while (next < count) {
      const seed = firstSeed + next++;
      const problem = await runHttpCase(port, seed, idleMs);
      if (problem) {
        failures.push({ seed, problem, sent: JSON.stringify(httpCase(seed).toString('latin1').slice(0, 300)) });
      }
    }
  };
  await Promise.all(Array.from({ length: concurrency }, worker));
  return failures;
}

import { createSocket } from 'node:dgram';
import { createServer } from 'node:net';

export interface FreePortOptions {
  /** Where the port must be free: 127.0.0.1 (the default), or '::' for every address of both families. */
  host?: '127.0.0.1' | '::';
  /** The TCP port must be free (default true). */
  tcp?: boolean;
  /** The UDP port of the same number must be free (default false): UDP trackers, clients that use one number for both. */
  udp?: boolean;
  /** port + 10000 must be free for TCP too (a Redis cluster node's bus). */
  withBus?: boolean;
}

/** Ports handed out already: the OS may offer a just-closed port again, and two users in one process must not share it. */
const handedOut = new Set<number>();

/**
 * A port the OS picked, checked free for what the caller will bind. Another
 * process may still take it before the caller binds; that window is short,
 * and the ports random, so a clash shows up as one failed case, not a hang.
 * The one free-port helper of the tests and the bench.
 */
export async function freePort(options: FreePortOptions = {}): Promise<number> {
  const { host = '127.0.0.1', tcp = true, udp = false, withBus = false } = options;
  for (let attempt = 0; attempt < 50; attempt++) {
    const port = tcp ? await probeTcp(host, 0) : await probeUdp(host, 0);
    if (port === undefined || handedOut.has(port)) continue;
    if (tcp && udp && (await probeUdp(host, port)) === undefined) continue;
    if (withBus && (port + 10000 > 65535 || (await probeTcp(host, port + 10000)) === undefined)) continue;
    handedOut.add(port);
    return port;
  }
  throw new Error('no free port found');
}

/** Listens on (host, port) and closes again: the port bound, or undefined if it was taken. */
function probeTcp(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const server = createServer();
    server.once('error', () => resolve(undefined));
    server.listen({ host, port, exclusive: true, ipv6Only: false }, () => {
      const bound = (server.address() as { port: number }).port;
      server.close(() => resolve(bound));
    });
  });
}

function probeUdp(host: string, port: number): Promise<number | undefined> {
  return new Promise((resolve) => {
    const socket = createSocket({ type: host === '::' ? 'udp6' : 'udp4', ipv6Only: false });
    socket.once('error', () => resolve(undefined));
    socket.bind(port, host, () => {
      const bound = socket.address().port;
      socket.close(() => resolve(bound));
    });
  });
}

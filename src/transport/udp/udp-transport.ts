import { createSocket, type Socket, type SocketType } from 'node:dgram';
import { lookup as dnsLookup } from 'node:dns';
import { type AddressInfo, isIP, isIPv4 } from 'node:net';
import type { TrackerConfig } from '../../config/options.js';
import type { TrackerCore } from '../../core/tracker.js';
import { ErrorOnce, type Logger, stderrLogger } from '../../logging/logger.js';
import { ConnectionIds } from '../../protocol/connection-id.js';
import { listenAnyAddress } from '../any-address.js';
import { ReplyQueue } from './reply-queue.js';
import { createUdpCounters, type UdpCounters, UdpHandler } from './udp-handler.js';

/** Name and size of the connection-id secret shared through the store (every process must agree). */
export const UDP_SECRET_NAME = 'udp-connection-id';
export const UDP_SECRET_BYTES = 32;
/** Receive buffer we ask the kernel for: absorbs bursts while the event loop is busy (capped by net.core.rmem_max). */
const RECV_BUFFER_BYTES = 8 * 1024 * 1024;
/** How often to ask the store again for the secret when it was unavailable at start. */
const SECRET_RETRY_MS = 1000;
/** How long listen() waits for the secret before serving HTTP alone and retrying UDP in the background. */
const SECRET_START_WAIT_MS = 5000;

export interface UdpTransportOptions {
  /**
   * The store's shared secret (`SwarmStore.sharedSecret`), used when
   * --udp-secret is not set. Handed in rather than reached through the core:
   * a transport talks to the core, never to the store.
   */
  sharedSecret: (name: string, bytes: number) => Promise<Buffer>;
  /** Clock in epoch ms for connection ids (tests inject one). */
  now?: () => number;
  /** The tracker's logger; standard error by default. */
  logger?: Logger;
}

/**
 * The UDP tracker (BEP 15, BEP 41) on one socket: dual-stack `udp6` on `::`
 * (IPv4 clients appear as IPv4-mapped addresses), falling back to `udp4` on
 * 0.0.0.0 where the host has no IPv6. Packets go to a UdpHandler, which talks
 * to the same core and store as HTTP, so the two protocols share swarms.
 *
 * With --workers, only worker 0 has one (cli/workers.ts servesUdp()); ids
 * are verified with the secret from the shared store, so a replacement worker
 * accepts the ids its predecessor issued.
 */
export class UdpTransport {
  /** UDP-level counters (connects, errors by kind, drops); see UdpCounters. */
  readonly counters: UdpCounters = createUdpCounters();
  private socket: Socket | undefined;
  private handler: UdpHandler | undefined;
  private retryTimer: NodeJS.Timeout | undefined;
  private readonly now: () => number;
  private readonly sharedSecret: UdpTransportOptions['sharedSecret'];
  private readonly logger: Logger;
  private readonly errors: ErrorOnce;

  constructor(
    private readonly core: TrackerCore,
    private readonly config: Readonly<TrackerConfig>,
    options: UdpTransportOptions,
  ) {
    this.now = options.now ?? Date.now;
    this.sharedSecret = options.sharedSecret;
    this.logger = options.logger ?? stderrLogger;
    this.errors = new ErrorOnce(this.logger);
  }

  /**
   * The connection-id secret: --udp-secret, or else a random one created once
   * in the store and shared by every process using it (Redis: SET NX).
   */
  private async secret(): Promise<Buffer> {
    if (this.config.udpSecret) return Buffer.from(this.config.udpSecret, 'utf8');
    return this.sharedSecret(UDP_SECRET_NAME, UDP_SECRET_BYTES);
  }

  async listen(host: string, port: number): Promise<AddressInfo> {
    if (this.socket) throw new Error('UDP transport already listening');
    const socket = await listenAnyAddress(host, (h) => bind(isIPv4(h) ? 'udp4' : 'udp6', h, port));
    try {
      socket.setRecvBufferSize(RECV_BUFFER_BYTES);
    } catch {
      // Not fatal: the kernel default still works, only bursts drop sooner.
    }
    const counters = this.counters;
    this.socket = socket;
    socket.on('message', (packet, rinfo) => {
      const handler = this.handler;
      if (handler) return handler.handle(packet, rinfo.address, rinfo.port);
      counters.packets++;
      counters.dropped.notReady++;
    });
    // After bind, errors are per datagram (ICMP unreachable reported late, etc.): count, never crash.
    socket.on('error', () => {
      counters.dropped.sendFailed++;
    });
    // The secret may live in Redis. If the store cannot give it yet, we still
    // listen (HTTP keeps working too) and drop UDP packets until it can.
    // A store that connects in the background (Redis) fails at first: retry
    // with a short backoff for up to SECRET_START_WAIT_MS before going on.
    const deadline = Date.now() + SECRET_START_WAIT_MS;
    for (let delay = 25; ; delay = Math.min(delay * 2, 500)) {
      try {
        await this.start(socket);
        break;
      } catch (err) {
        if (Date.now() + delay > deadline || this.socket !== socket) {
          this.logger.error(
            { err },
            `UDP connection-id secret unavailable (${(err as Error).message}); UDP packets dropped, retrying`,
          );
          this.retryStart(socket);
          break;
        }
        await new Promise((resolve) => setTimeout(resolve, delay));
      }
    }
    return socket.address();
  }

  private async start(socket: Socket): Promise<void> {
    const connectionIds = new ConnectionIds({ secret: await this.secret(), now: this.now });
    if (this.socket !== socket) return; // closed meanwhile
    const counters = this.counters;
    // Replies leave together at the end of the event-loop turn (reply-queue.ts says why).
    const replies = new ReplyQueue((packet, toPort, toAddress) => {
      // A reply finishing after close() has nowhere to go (send would throw).
      if (this.socket !== socket) return;
      try {
        // No completion callback: Node then skips a completion request and a
        // JS call per datagram (profiled); asynchronous failures still reach
        // the socket's 'error' listener, which counts them.
        socket.send(packet, toPort, toAddress);
      } catch {
        // Synchronous refusals (bad port, socket closing): never let one reply take the process down.
        counters.dropped.sendFailed++;
      }
    });
    this.handler = new UdpHandler({
      core: this.core,
      connectionIds,
      counters,
      errors: this.errors,
      send: (packet, toPort, toAddress) => replies.push(packet, toPort, toAddress),
    });
  }

  private retryStart(socket: Socket): void {
    this.retryTimer = setTimeout(() => {
      this.retryTimer = undefined;
      if (this.socket !== socket) return;
      this.start(socket).then(
        // At the level of the line that said it was missing, so a filter that shows one shows both.
        () => this.logger.error('UDP connection-id secret loaded; UDP tracker serving'),
        () => this.retryStart(socket),
      );
    }, SECRET_RETRY_MS);
    this.retryTimer.unref();
  }

  get address(): AddressInfo | undefined {
    return this.socket?.address();
  }

  /** Stops receiving. In-flight announces finish in the core; their replies are dropped. */
  close(): Promise<void> {
    const socket = this.socket;
    this.socket = undefined;
    this.handler = undefined;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    this.retryTimer = undefined;
    if (!socket) return Promise.resolve();
    return new Promise((resolve) => socket.close(() => resolve()));
  }
}

/**
 * Our replies always go to the literal address a datagram came from, so the
 * per-send DNS lookup dgram does by default (dns.lookup, deferred to the next
 * tick) is skipped for IP literals; names (a --host) still resolve normally.
 */
function literalLookup(
  address: string,
  family: unknown,
  callback: (err: NodeJS.ErrnoException | null, address: string, family: number) => void,
): void {
  const literal = isIP(address);
  if (literal !== 0) return callback(null, address, literal);
  dnsLookup(address, family as number, callback);
}

function bind(type: SocketType, host: string, port: number): Promise<Socket> {
  return new Promise((resolve, reject) => {
    const socket = createSocket({
      type,
      // One socket for both families on '::' (mirrors the HTTP listener).
      ipv6Only: false,
      lookup: literalLookup as unknown as typeof dnsLookup,
    });
    const onError = (err: Error): void => {
      try {
        socket.close();
      } catch {
        // already closed
      }
      reject(err);
    };
    socket.once('error', onError);
    socket.bind({ port, address: host }, () => {
      socket.off('error', onError);
      resolve(socket);
    });
  });
}

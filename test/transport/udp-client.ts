import { createSocket, type Socket } from 'node:dgram';
import { once } from 'node:events';
import {
  encodeUdpAnnounceRequest,
  encodeUdpConnectRequest,
  encodeUdpScrapeRequest,
  parseUdpReply,
  type UdpAnnounceRequest,
  type UdpReply,
} from '../../src/protocol/udp-client-codec.js';

/**
 * A minimal BEP 15 client for tests: one socket, requests matched to replies by
 * transaction id, every wait bounded. `raw()` sends arbitrary bytes, and
 * `expectSilence()` checks that nothing at all comes back.
 */
export class UdpTrackerClient {
  private nextTid = 0x10000;
  private readonly pending = new Map<number, (packet: Buffer) => void>();
  /** Every datagram received, in order (tests about drops look here). */
  readonly received: Buffer[] = [];
  connectionId: Buffer | undefined;

  private constructor(
    readonly socket: Socket,
    readonly host: string,
    readonly port: number,
  ) {
    socket.on('message', (packet) => {
      this.received.push(packet);
      if (packet.length < 8) return;
      const tid = packet.readInt32BE(4);
      const resolve = this.pending.get(tid);
      if (resolve) {
        this.pending.delete(tid);
        resolve(packet);
      }
    });
  }

  static async open(host: string, port: number): Promise<UdpTrackerClient> {
    const socket = createSocket(host.includes(':') ? 'udp6' : 'udp4');
    socket.bind(0, host);
    await once(socket, 'listening');
    return new UdpTrackerClient(socket, host, port);
  }

  get localPort(): number {
    return this.socket.address().port;
  }

  tid(): number {
    return this.nextTid++;
  }

  /** Sends `packet` and resolves with the reply carrying `tid` (bytes 4..8), or rejects after `timeoutMs`. */
  request(packet: Buffer, tid: number, timeoutMs = 2000): Promise<Buffer> {
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(tid);
        reject(new Error(`no UDP reply for transaction ${tid} within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(tid, (reply) => {
        clearTimeout(timer);
        resolve(reply);
      });
      this.socket.send(packet, this.port, this.host);
    });
  }

  /** Sends `packet` and resolves after `waitMs` if no datagram at all arrived meanwhile; rejects otherwise. */
  async expectSilence(packet: Buffer, waitMs = 300): Promise<void> {
    const before = this.received.length;
    this.socket.send(packet, this.port, this.host);
    await new Promise((r) => setTimeout(r, waitMs));
    if (this.received.length !== before) {
      throw new Error(`expected no reply, got ${this.received.length - before} datagram(s)`);
    }
  }

  async connect(): Promise<Buffer> {
    const tid = this.tid();
    const reply = parseUdpReply(await this.request(encodeUdpConnectRequest(tid), tid));
    if (reply.action !== 'connect') throw new Error(`connect: got ${reply.action} ${JSON.stringify(reply)}`);
    this.connectionId = reply.connectionId;
    return reply.connectionId;
  }

  /** Connects first if needed. */
  async announce(r: Omit<UdpAnnounceRequest, 'connectionId' | 'transactionId'>): Promise<UdpReply> {
    const connectionId = this.connectionId ?? (await this.connect());
    const tid = this.tid();
    return parseUdpReply(await this.request(encodeUdpAnnounceRequest({ ...r, connectionId, transactionId: tid }), tid));
  }

  async scrape(infoHashes: readonly Buffer[]): Promise<UdpReply> {
    const connectionId = this.connectionId ?? (await this.connect());
    const tid = this.tid();
    return parseUdpReply(await this.request(encodeUdpScrapeRequest(connectionId, tid, infoHashes), tid));
  }

  close(): Promise<void> {
    return new Promise((resolve) => this.socket.close(() => resolve()));
  }
}

import type { Socket } from 'node:net';
import { parseIp } from '../../protocol/compact.js';
import type { ClientAddressResolver } from '../client-address.js';
import { NOT_COUNTED, type Release, SourceCounts } from '../source-counts.js';

/**
 * --http-max-connections-per-ip: the HTTP connections a source may hold open,
 * counted from accept (the fast path's raw handles and node:net's sockets
 * alike) until close, by the TCP peer's address: the one thing known before a
 * request arrives. A connection from a trusted proxy (--trust-proxy) is not
 * counted (it carries many clients; limiting those is the proxy's business).
 * A connection that becomes a WebSocket leaves this count for the WebSocket
 * transport's own (--ws-max-sockets-per-ip).
 *
 * The total (--http-max-connections) is node:net's `server.maxConnections`,
 * which the fast path honours too (tcp-handles.ts).
 */
export class ConnectionCaps {
  /** False with --http-max-connections-per-ip off: nothing is counted, not even an address parsed. */
  readonly on: boolean;
  private readonly perSource: SourceCounts;
  /** How to release each counted node:net socket, so that an upgrade can. */
  private readonly releases = new WeakMap<Socket, Release>();

  constructor(
    maxPerSource: number | 'off',
    private readonly resolver: ClientAddressResolver,
  ) {
    this.on = maxPerSource !== 'off';
    this.perSource = new SourceCounts(maxPerSource);
  }

  /** Connections closed at accept because their source was at the cap. */
  get refused(): number {
    return this.perSource.refused;
  }

  /** Sources with connections counted (tests). */
  get sources(): number {
    return this.perSource.sources;
  }

  /** A new connection from the TCP peer `remoteAddress`: how to release it, or undefined to close it now. */
  admit(remoteAddress: string | undefined): Release | undefined {
    if (!this.on) return NOT_COUNTED;
    const peer = remoteAddress === undefined ? undefined : parseIp(remoteAddress);
    // No address: the peer reset the connection already; there is nothing to count it against.
    if (peer === undefined || this.resolver.isTrustedProxy(peer)) return NOT_COUNTED;
    return this.perSource.acquire(peer);
  }

  /** A node:net socket counted with `release`: released when it closes (or becomes a WebSocket). */
  track(socket: Socket, release: Release): void {
    if (release === NOT_COUNTED) return;
    this.releases.set(socket, release);
    socket.once('close', release);
  }

  /** The socket is handed to the WebSocket transport: no longer an HTTP connection of its source. */
  upgraded(socket: Socket): void {
    const release = this.releases.get(socket);
    if (release === undefined) return;
    this.releases.delete(socket);
    release();
  }
}

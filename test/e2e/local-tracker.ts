/**
 * A BitStorm tracker for one end-to-end case, in this process, with a log of
 * what it was asked (for failure messages: the clients' logs say what they
 * sent, this says what the tracker saw and what it holds).
 */
import type { IncomingMessage } from 'node:http';
import { unpackEndpoint } from '../../src/protocol/compact.js';
import { createTracker, type Tracker, type TrackerOptions } from '../../src/tracker.js';

export class LocalTracker {
  readonly log: string[] = [];
  /** Announces answered, by transport and family: `http4`, `http6`, `udp4`, `udp6`. */
  readonly announces = new Map<string, number>();
  private constructor(
    readonly tracker: Tracker,
    readonly port: number,
    /** The port the UDP transport bound, when there is one. */
    readonly udpPort: number | undefined,
  ) {}

  static async start(options: TrackerOptions): Promise<LocalTracker> {
    const tracker = createTracker({ port: 0, host: '::', quiet: true, stats: false, ...options });
    let info: Awaited<ReturnType<Tracker['listen']>>;
    try {
      info = await tracker.listen();
    } catch (err) {
      // An unclosed store connection would keep the test process alive after the failure.
      await tracker.close().catch(() => {});
      throw err;
    }
    // UDP takes the HTTP port number by default (udpPort: 'same') but may fall
    // back to another free port with --port 0: use the one listen() reports.
    const t = new LocalTracker(tracker, info.http.port, info.udp?.port);
    const stamp = (): string => new Date().toISOString().slice(11, 23);
    tracker.http.server.on('request', (req: IncomingMessage) => {
      t.push(stamp(), `http from ${req.socket.remoteAddress} ${req.method} ${req.url}`);
    });
    tracker.core.events.on('announce', (e) => {
      const key = `${e.transport}${e.family}`;
      t.announces.set(key, (t.announces.get(key) ?? 0) + 1);
      t.push(stamp(), `announce via ${e.transport} event=${e.event} from IPv${e.family}`);
    });
    tracker.core.events.on('failure', (e) => t.push(stamp(), `refused via ${e.transport}: ${e.code}`));
    return t;
  }

  private lastText = '';
  private repeats = 0;

  /** Appends a line; a run of identical requests (the test's own scrape polls) becomes one line with a count. */
  private push(stamp: string, text: string): void {
    if (text === this.lastText) {
      this.repeats++;
      this.log[this.log.length - 1] = `${stamp} ${text} (×${this.repeats + 1})`;
      return;
    }
    this.lastText = text;
    this.repeats = 0;
    this.log.push(`${stamp} ${text}`);
    if (this.log.length > 200) this.log.splice(0, this.log.length - 200);
  }

  /** Its recent requests and the peers it holds for the torrent. */
  async diagnostics(infoHash: Buffer | undefined): Promise<string> {
    const lines = [`store ${this.tracker.store.kind}, port ${this.port}; last requests:`, ...this.log.slice(-30)];
    if (infoHash) {
      const peers = await this.tracker.store.torrentPeers(infoHash, 20);
      lines.push(`peers held for ${infoHash.toString('hex')}: ${peers.length}`);
      for (const p of peers) {
        const eps = [p.ipv4, p.ipv6]
          .filter((e): e is Buffer => e !== null)
          .map((e) => {
            const { ip, port, family } = unpackEndpoint(e);
            return family === 6 ? `[${ip}]:${port}` : `${ip}:${port}`;
          });
        lines.push(`  ${p.peerId.toString('latin1').slice(0, 8)} ${p.seeder ? 'seeder' : 'leecher'} ${eps.join(' ')}`);
      }
    }
    return lines.join('\n');
  }

  close(): Promise<void> {
    return this.tracker.close();
  }
}

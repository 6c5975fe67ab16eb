import { createClient, createCluster } from 'redis';
import { packRelayed, type RelayedMessage, unpackRelayed } from '../webrtc-store.js';
import type { RedisConnection } from './connection.js';
import { nodeChannel } from './keys.js';

export interface NodeChannelsOptions {
  url?: string | undefined;
  clusterUrls?: readonly string[] | undefined;
  prefix: string;
  log: (line: string) => void;
  clientName: string;
}

/** Reconnect backoff of the subscriber: 50 ms doubling to 2 s, forever, as for commands. */
function reconnectDelay(retries: number): number {
  return Math.min(50 * 2 ** Math.min(retries, 10), 2000);
}

type Subscriber = ReturnType<typeof createClient> | ReturnType<typeof createCluster>;

/**
 * One pub/sub channel per tracker node (`<prefix>ws-node:<node>`): a node
 * publishes an offer or answer to the channel of the node holding the
 * recipient's socket, and reads its own. Publishing goes over the store's
 * command connection (PUBLISH; SPUBLISH on a cluster, so a message travels to
 * the one shard that owns the channel instead of every node of the cluster).
 * Reading needs a connection of its own (a subscribed connection takes no
 * other commands): node-redis' client, which resubscribes after a reconnect.
 *
 * Delivery is at most once, like the WebSocket send it stands for: a message
 * published while the subscriber reconnects is lost, and the WebTorrent client
 * simply makes new offers at its next announce.
 */
export class NodeChannels {
  private subscriber: Subscriber | undefined;
  private connecting: Promise<void> | undefined;
  private closed = false;
  private readonly cluster: boolean;

  constructor(
    private readonly connection: RedisConnection,
    private readonly options: NodeChannelsOptions,
  ) {
    this.cluster = (options.clusterUrls?.length ?? 0) > 0;
  }

  async publish(node: string, message: RelayedMessage): Promise<void> {
    const channel = nodeChannel(this.options.prefix, node);
    await this.connection.command(channel, [this.cluster ? 'SPUBLISH' : 'PUBLISH', channel, packRelayed(message)]);
  }

  /**
   * Subscribes in the background (connecting until Redis is there); resolves
   * once the subscription is in place or after the first failed attempt, so a
   * tracker starts while Redis is down and relays once it is back.
   */
  async subscribe(node: string, onMessage: (message: RelayedMessage) => void): Promise<() => Promise<void>> {
    const channel = nodeChannel(this.options.prefix, node);
    const listener = (payload: Buffer): void => {
      const message = unpackRelayed(payload);
      if (message) onMessage(message);
    };
    let firstAttempt: () => void = () => undefined;
    const attempted = new Promise<void>((resolve) => {
      firstAttempt = resolve;
    });
    this.connecting = this.connect(channel, listener, firstAttempt)
      .catch((err: unknown) => {
        this.options.log(`bitstorm: WebSocket relay could not subscribe (${err instanceof Error ? err.message : err})`);
      })
      .finally(firstAttempt);
    await attempted;
    return () => this.close();
  }

  private async connect(channel: string, listener: (payload: Buffer) => void, attempted: () => void): Promise<void> {
    const socket = { connectTimeout: 2000, reconnectStrategy: reconnectDelay };
    const subscriber: Subscriber = this.cluster
      ? createCluster({
          rootNodes: (this.options.clusterUrls ?? []).map((url) => ({ url })),
          defaults: { socket, name: `${this.options.clientName}-sub` },
        })
      : createClient({ url: this.options.url, socket, name: `${this.options.clientName}-sub` });
    this.subscriber = subscriber;
    // Outages are logged by the command connection; the subscriber only reconnects.
    subscriber.on('error', () => undefined);
    for (let attempt = 0; !this.closed; attempt++) {
      try {
        await subscriber.connect();
        break;
      } catch {
        if (attempt === 0) {
          this.options.log('bitstorm: WebSocket relay waits for Redis');
          attempted();
        }
        await new Promise((resolve) => setTimeout(resolve, reconnectDelay(attempt)).unref());
      }
    }
    if (this.closed) return;
    if (this.cluster) {
      await (subscriber as ReturnType<typeof createCluster>).sSubscribe(channel, listener, true);
    } else {
      await (subscriber as ReturnType<typeof createClient>).subscribe(channel, listener, true);
    }
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    await this.connecting?.catch(() => undefined);
    try {
      if (this.subscriber?.isOpen) this.subscriber.destroy();
    } catch {
      // Never connected: nothing to release.
    }
  }
}

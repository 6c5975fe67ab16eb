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

/** subscribe() waits at most this long for the subscription before the tracker serves without it. */
const SUBSCRIBE_WAIT_MS = 2000;

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
   * Subscribes in the background (node-redis connects until Redis is there, and
   * resubscribes after every reconnect); resolves once the subscription is in
   * place, or after SUBSCRIBE_WAIT_MS, so a tracker starts while Redis is down
   * and relays once it is back.
   */
  async subscribe(node: string, onMessage: (message: RelayedMessage) => void): Promise<() => Promise<void>> {
    const channel = nodeChannel(this.options.prefix, node);
    const listener = (payload: Buffer): void => {
      const message = unpackRelayed(payload);
      if (message) onMessage(message);
    };
    this.connecting = this.connect(channel, listener).catch((err: unknown) => {
      if (!this.closed) {
        this.options.log(`bitstorm: WebSocket relay could not subscribe (${err instanceof Error ? err.message : err})`);
      }
    });
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.connecting, new Promise((resolve) => (timer = setTimeout(resolve, SUBSCRIBE_WAIT_MS)))]);
    clearTimeout(timer);
    return () => this.close();
  }

  private async connect(channel: string, listener: (payload: Buffer) => void): Promise<void> {
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
    // Resolves once connected: node-redis retries (reconnectDelay) until Redis answers.
    await subscriber.connect();
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
    try {
      // Also ends a connect() still waiting for Redis.
      this.subscriber?.destroy();
    } catch {
      // Never connected: nothing to release.
    }
    let timer: NodeJS.Timeout | undefined;
    await Promise.race([this.connecting, new Promise((resolve) => (timer = setTimeout(resolve, SUBSCRIBE_WAIT_MS)))]);
    clearTimeout(timer);
  }
}

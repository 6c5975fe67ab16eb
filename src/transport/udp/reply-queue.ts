/** Sends one datagram now (the socket's send, with its own error handling). */
export type SendNow = (packet: Buffer, port: number, address: string) => void;

/**
 * The UDP replies of one event-loop turn, sent back to back at its end
 * (setImmediate) instead of one by one between the requests' processing.
 *
 * Why: a send that finds the receiving process asleep wakes it, and on a
 * virtual machine that wake-up can cost more than the reply (perf showed an
 * interrupt-enable exit in the kernel's socket wake-up path). Sent one by one,
 * with a little processing between them, nearly every reply finds its client
 * asleep again; sent back to back, one wake-up serves several (figures in
 * docs/benchmarks.md). A reply waits at most for the rest of its turn (libuv
 * reads up to 32 datagrams per wake-up, each well under a millisecond of work).
 */
export class ReplyQueue {
  private packets: Buffer[] = [];
  private ports: number[] = [];
  private addresses: string[] = [];
  private readonly flushNow = (): void => this.flush();

  constructor(private readonly sendNow: SendNow) {}

  get length(): number {
    return this.packets.length;
  }

  push(packet: Buffer, port: number, address: string): void {
    if (this.packets.length === 0) setImmediate(this.flushNow);
    this.packets.push(packet);
    this.ports.push(port);
    this.addresses.push(address);
  }

  /** Sends everything queued, in order. */
  flush(): void {
    const { packets, ports, addresses } = this;
    if (packets.length === 0) return;
    this.packets = [];
    this.ports = [];
    this.addresses = [];
    for (let i = 0; i < packets.length; i++) {
      this.sendNow(packets[i] as Buffer, ports[i] as number, addresses[i] as string);
    }
  }
}

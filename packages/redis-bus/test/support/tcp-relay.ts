import * as net from 'node:net';

/**
 * A loopback TCP relay to a target port: what a bus connects through when a
 * test cuts it off from Redis. cut() drops every relayed connection and turns
 * new ones away at once (a node that vanished, or a partition); mend() lets
 * them through again. freeze() holds what the node sends, connections open
 * (a node whose heartbeats stop arriving: a stalled process or a stalled
 * network path); thaw() delivers it.
 */
export class TcpRelay {
  private readonly server: net.Server;
  private readonly pairs = new Set<net.Socket>();
  /** Each node-side socket and its Redis-side peer. */
  private readonly toTarget = new Map<net.Socket, net.Socket>();
  private cutOff = false;

  private constructor(private readonly targetPort: number) {
    this.server = net.createServer((inbound) => this.relay(inbound));
  }

  static async open(targetPort: number): Promise<TcpRelay> {
    const relay = new TcpRelay(targetPort);
    await new Promise<void>((resolve) => relay.server.listen(0, '127.0.0.1', resolve));
    return relay;
  }

  get port(): number {
    return (this.server.address() as net.AddressInfo).port;
  }

  get url(): string {
    return `redis://127.0.0.1:${this.port}`;
  }

  cut(): void {
    this.cutOff = true;
    for (const socket of this.pairs) socket.destroy();
    this.pairs.clear();
  }

  mend(): void {
    this.cutOff = false;
  }

  freeze(): void {
    for (const [inbound, outbound] of this.toTarget) {
      inbound.unpipe(outbound);
      inbound.pause();
    }
  }

  thaw(): void {
    for (const [inbound, outbound] of this.toTarget) inbound.pipe(outbound);
  }

  close(): Promise<void> {
    this.cut();
    return new Promise((resolve) => this.server.close(() => resolve()));
  }

  private relay(inbound: net.Socket): void {
    if (this.cutOff) {
      inbound.destroy();
      return;
    }
    const outbound = net.connect(this.targetPort, '127.0.0.1');
    this.toTarget.set(inbound, outbound);
    inbound.on('close', () => this.toTarget.delete(inbound));
    for (const [from, to] of [[inbound, outbound], [outbound, inbound]] as const) {
      this.pairs.add(from);
      from.pipe(to);
      from.on('error', () => to.destroy());
      from.on('close', () => {
        this.pairs.delete(from);
        to.destroy();
      });
    }
  }
}

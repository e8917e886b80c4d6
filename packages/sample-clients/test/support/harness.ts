import { once } from 'node:events';
import { TWSocketClient, TWSocketServer, WSocketServerOptions } from '@ics-ts/wsocket-server';
import { LineClient } from './line-client';

/**
 * Servers and peers made by one test, all closed by `cleanup()` (afterEach):
 * peers destroyed first, then each server shut down and awaited.
 */
export class Harness {
  private readonly servers: TWSocketServer[] = [];
  private readonly peers: LineClient[] = [];

  /** A server on 127.0.0.1, port 0, listening. */
  async server<C extends TWSocketClient>(options: WSocketServerOptions<C>): Promise<TWSocketServer<C>> {
    const server = new TWSocketServer<C>({ addr: '127.0.0.1', port: 0, ...options });
    this.servers.push(server as unknown as TWSocketServer);
    await server.listen();
    return server;
  }

  /** A connected peer of `server`. */
  async connect(server: { readonly bindPort: number }): Promise<LineClient> {
    const peer = new LineClient(server.bindPort);
    this.peers.push(peer);
    await peer.connected;
    return peer;
  }

  async cleanup(): Promise<void> {
    for (const peer of this.peers.splice(0)) peer.destroy();
    await Promise.all(this.servers.splice(0).map((server) => server.shutdown()));
  }
}

/** Resolves when the server has no client left (the last clientDisconnect has run). */
export async function allGone<C extends TWSocketClient>(server: TWSocketServer<C>): Promise<void> {
  while (server.clientCount > 0) {
    // The client leaves the list right after its clientDisconnect, before this await resumes.
    await once(server, 'clientDisconnect');
  }
}

import { TWSocketClient, clientClass } from '@ics-ts/wsocket-server';

/**
 * `echo`: every byte received is sent back (RFC 862 over TCP). Raw mode, no
 * framing: bytes are echoed as they arrive, in whatever chunks the network
 * delivers them.
 *
 * Backpressure: when `send` returns false the peer is not reading as fast as it
 * writes, so we stop reading (`rawSocket.pause()`) until what we queued has
 * been handed to the system (`onDataSent`, the socket's drain). The TCP window
 * then slows the peer down, and a client that never reads costs the server at
 * most one socket buffer plus one chunk, never the whole stream.
 */
@clientClass('echo')
export class EchoClient extends TWSocketClient {
  constructor() {
    super(); // raw mode: onData gets every chunk
  }

  protected override onData(data: Buffer): void {
    if (!this.send(data)) this.rawSocket?.pause();
  }

  protected override onDataSent(): void {
    this.rawSocket?.resume();
    super.onDataSent();
  }
}

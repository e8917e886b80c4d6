import * as net from 'node:net';

/**
 * A client on a real socket that reads lines: waits for the next line, and
 * for the server's FIN. With `halfOpen`, it never ends its own side (a
 * client that does not go away when told).
 */
export class LinePeer {
  readonly socket: net.Socket;
  readonly lines: string[] = [];
  /** The server ended its side (FIN). */
  ended = false;
  readonly closed: Promise<void>;
  private partial = '';
  private read = 0;
  private wake: (() => void) | undefined;

  constructor(port: number, options: { localAddress?: string; halfOpen?: boolean } = {}) {
    this.socket = net.connect({ port, host: '127.0.0.1', localAddress: options.localAddress, allowHalfOpen: options.halfOpen ?? false });
    this.socket.setEncoding('utf8');
    this.socket.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\r\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake?.();
    });
    this.socket.on('end', () => {
      this.ended = true;
      this.wake?.();
    });
    this.socket.on('error', () => {}); // a reset (a killed worker): 'close' follows
    this.closed = new Promise((resolve) => this.socket.once('close', () => {
      this.wake?.();
      resolve();
    }));
  }

  /** The next line not read yet; rejects if the connection closes first. */
  async nextLine(): Promise<string> {
    while (this.read >= this.lines.length) {
      if (this.socket.destroyed) throw new Error(`closed before a line (read: ${JSON.stringify(this.lines)})`);
      await new Promise<void>((resolve) => (this.wake = resolve));
    }
    return this.lines[this.read++];
  }

  /** Sends `line` and returns the answer. */
  async ask(line: string): Promise<string> {
    this.socket.write(`${line}\n`);
    return this.nextLine();
  }

  close(): void {
    this.socket.destroy();
  }
}

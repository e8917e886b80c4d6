import { XojoServerSocket } from '../xojo/server-socket';
import { XojoTCPSocket } from '../xojo/tcp-socket';
import type { ExampleOptions, RunningExample } from './types';

/** The Xojo docs' ClientSocket: its constructor takes the list box (here: the log) and a number. */
class ClientSocket extends XojoTCPSocket {
  constructor(
    private readonly listBox1: (row: string) => void,
    private readonly mNum: number,
  ) {
    super();
  }

  protected override onConnected(): void {
    this.listBox1(`Socket ${this.mNum} connected.`);
    this.write('From the server socket, I connected to you.');
  }

  protected override onDataAvailable(): void {
    this.listBox1(`Socket ${this.mNum} got: ${this.readAll()}`);
  }

  protected override onSendComplete(): void {
    this.listBox1(`Socket ${this.mNum} send complete.`);
  }
}

/** The Xojo ServerSocket docs' example: AddSocket fills the pool with ClientSockets, each greets its client. */
export async function startXojoExample({ addr, port = 2002, log }: ExampleOptions): Promise<RunningExample> {
  let curSocket = 0;
  const mServerSocket = new XojoServerSocket({
    port,
    networkInterface: addr,
    addSocket: () => {
      log('Added Socket');
      const ret = new ClientSocket(log, curSocket);
      curSocket = curSocket + 1;
      return ret;
    },
  });
  await mServerSocket.listen(); // rejects: no error listener yet
  mServerSocket.on('error', (errorCode, error) => log(`Error = ${errorCode}: ${error.message}`));
  mServerSocket.on('bgException', (error) => log(`Exception: ${error instanceof Error ? error.message : String(error)}`));
  return {
    port: mServerSocket.port,
    async shutdown() {
      mServerSocket.stopListening();
      for (const socket of mServerSocket.activeConnections()) socket.close();
    },
  };
}

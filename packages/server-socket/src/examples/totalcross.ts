import { TotalCrossServerSocket } from '../totalcross/server-socket';
import type { TotalCrossSocket } from '../totalcross/socket';
import type { ExampleOptions, RunningExample } from './types';

/**
 * A TotalCross ServerSocketTest-like server: accept() in a loop, each socket
 * read until its end, every read answered with "echo: " and the text.
 */
export async function startTotalCrossExample({ addr, port = 0, log }: ExampleOptions): Promise<RunningExample> {
  const server = await TotalCrossServerSocket.open(port, TotalCrossServerSocket.WAIT_FOREVER, addr);
  const serving = (async () => {
    for await (const socket of server) {
      log(`accepted ${socket.getHost()}:${socket.getPort()}`);
      void serve(socket, log);
    }
  })();
  return {
    port: server.getLocalPort(),
    async shutdown() {
      await server.close();
      await serving;
    },
  };
}

async function serve(socket: TotalCrossSocket, log: (line: string) => void): Promise<void> {
  const buf = new Uint8Array(4096);
  try {
    for (;;) {
      const n = await socket.readBytes(buf);
      if (n < 0) break;
      const text = Buffer.from(buf.subarray(0, n)).toString('utf8');
      log(`got: ${text}`);
      socket.writeBytes(`echo: ${text}`);
    }
    log(`closed ${socket.getHost()}:${socket.getPort()}`);
    socket.close();
  } catch (error) {
    log(`${(error as Error).name}: ${(error as Error).message}`);
  }
}

import { ByteArray } from '../air/byte-array';
import { AirServerSocket } from '../air/server-socket';
import type { AirSocket } from '../air/socket';
import type { ExampleOptions, RunningExample } from './types';

/**
 * The AIR docs' ServerSocketExample without its window: bind, listen, log each
 * connection and what it sends (UTF-8), and answer each message with the
 * example's default text, as its Send button would.
 */
export async function startAirExample({ addr, port = 0, log }: ExampleOptions): Promise<RunningExample> {
  const message = "Lucy can't drink milk.";
  const serverSocket = new AirServerSocket();
  let clientSocket: AirSocket | undefined;
  const sockets = new Set<AirSocket>();
  serverSocket.bind(port, addr);
  serverSocket.addEventListener('connect', (event) => {
    const socket = event.socket;
    clientSocket = socket;
    sockets.add(socket);
    socket.addEventListener('close', () => sockets.delete(socket));
    socket.addEventListener('socketData', () => {
      const buffer = new ByteArray();
      socket.readBytes(buffer, 0, socket.bytesAvailable);
      log('Received: ' + buffer.toString());
      send();
    });
    log('Connection from ' + socket.remoteAddress + ':' + socket.remotePort);
  });
  const send = () => {
    if (clientSocket != null && clientSocket.connected) {
      clientSocket.writeUTFBytes(message);
      clientSocket.flush();
      log('Sent message to ' + clientSocket.remoteAddress + ':' + clientSocket.remotePort);
    } else log('No socket connection.');
  };
  await serverSocket.listen();
  log('Bound to: ' + serverSocket.localAddress + ':' + serverSocket.localPort);
  return {
    port: serverSocket.localPort,
    async shutdown() {
      serverSocket.close();
      for (const socket of sockets) socket.close();
    },
  };
}

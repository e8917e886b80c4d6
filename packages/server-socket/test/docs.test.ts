import { AirServerSocket, TotalCrossServerSocket, XojoServerSocket } from '../src';
import { guideExample, runExample } from './support/doc-example';
import { Peer, next } from './support/peer';

/** Each guide's example, read from the guide, compiled and run against a real socket. */

test('docs/server-socket-xojo.md: the example listens, greets, shouts back', async () => {
  const logged: string[] = [];
  const server = runExample<XojoServerSocket>(guideExample('server-socket-xojo.md'), (line) => logged.push(line));
  try {
    await next(server.handle!, 'changeState');
    const peer = new Peer(server.port);
    await peer.waitFor('From the server socket, I connected to you.\r\n');
    peer.write('quiet please');
    await peer.waitFor('QUIET PLEASE');
    expect(logged).toEqual([`listening on 127.0.0.1:${server.port}`]);
    expect(server.socketsAvailable).toBe(2);
  } finally {
    server.stopListening();
    for (const socket of server.activeConnections()) socket.abort();
  }
});

test('docs/server-socket-totalcross.md: the example accepts, answers, closes', async () => {
  const logged: string[] = [];
  const server = await runExample<Promise<TotalCrossServerSocket>>(guideExample('server-socket-totalcross.md'), (line) => logged.push(line));
  try {
    expect(logged).toEqual([`listening on 127.0.0.1:${server.getLocalPort()}`]);
    for (const text of ['one', 'two']) {
      const peer = new Peer(server.getLocalPort());
      peer.write(text);
      await peer.closed;
      expect(peer.received).toBe(`you said: ${text}`);
    }
  } finally {
    await server.close();
  }
});

test('docs/server-socket-air.md: the example logs the connection and what it got, and answers', async () => {
  const logged: string[] = [];
  const server = runExample<AirServerSocket>(guideExample('server-socket-air.md'), (line) => logged.push(line));
  try {
    await next(server.engine!, 'changeState');
    const peer = new Peer(server.localPort);
    await peer.connected;
    peer.write('Hello');
    await peer.waitFor("Lucy can't drink milk.");
    expect(logged).toEqual([
      `Bound to: 127.0.0.1:${server.localPort}`,
      `Connection from 127.0.0.1:${peer.socket.localPort}`,
      'Received: Hello',
    ]);
  } finally {
    const engine = server.engine;
    server.close();
    await engine?.shutdown(500);
  }
});

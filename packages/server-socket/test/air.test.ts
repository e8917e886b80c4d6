import { existsSync, readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { createDevCertificate } from '@ics-ts/ssl-context';
import {
  AirEventType,
  ArgumentError,
  ByteArray,
  EOFError,
  IOError,
  ProgressEvent,
  ServerSocket,
  ServerSocketConnectEvent,
  Socket,
  effectiveBacklog,
  systemMaxBacklog,
} from '../src/air';
import { Peer, next } from './support/peer';

// The subpath entry (`@ics-ts/server-socket/air`) is tested as its file: jest maps package roots only.

const servers: ServerSocket[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) {
    const engine = server.engine;
    if (server.bound) server.close();
    await engine?.shutdown(500);
  }
});

function make(...args: ConstructorParameters<typeof ServerSocket>): ServerSocket {
  const server = new ServerSocket(...args);
  servers.push(server);
  return server;
}

/** The seed's ServerSocketExample without its text fields: the log is an array, the fields are arguments. */
class ServerSocketExample {
  serverSocket = make();
  clientSocket: Socket | undefined;
  readonly logField: string[] = [];
  private readonly logged: (() => void)[] = [];

  private onConnect = (event: ServerSocketConnectEvent<Socket>): void => {
    this.clientSocket = event.socket;
    this.clientSocket.addEventListener(AirEventType.SOCKET_DATA, this.onClientSocketData);
    this.log('Connection from ' + this.clientSocket.remoteAddress + ':' + this.clientSocket.remotePort);
  };

  private onClientSocketData = (_event: ProgressEvent): void => {
    const buffer = new ByteArray();
    this.clientSocket!.readBytes(buffer, 0, this.clientSocket!.bytesAvailable);
    this.log('Received: ' + buffer.toString());
  };

  async bind(localPort: string, localIP: string): Promise<void> {
    if (this.serverSocket.bound) {
      this.serverSocket.close();
      this.serverSocket = make();
    }
    this.serverSocket.bind(parseInt(localPort), localIP);
    this.serverSocket.addEventListener(AirEventType.CONNECT, this.onConnect);
    await this.serverSocket.listen();
    this.log('Bound to: ' + this.serverSocket.localAddress + ':' + this.serverSocket.localPort);
  }

  send(message: string): void {
    try {
      if (this.clientSocket != null && this.clientSocket.connected) {
        this.clientSocket.writeUTFBytes(message);
        this.clientSocket.flush();
        this.log('Sent message to ' + this.clientSocket.remoteAddress + ':' + this.clientSocket.remotePort);
      } else this.log('No socket connection.');
    } catch (error) {
      this.log((error as Error).message);
    }
  }

  log(text: string): void {
    this.logField.push(text);
    for (const wake of this.logged.splice(0)) wake();
  }

  /** Resolves once a line starting with `prefix` is in the log. */
  async logUntil(prefix: string): Promise<string> {
    for (;;) {
      const line = this.logField.find((l) => l.startsWith(prefix));
      if (line !== undefined) return line;
      await new Promise<void>((resolve) => this.logged.push(resolve));
    }
  }
}

test("the seed's example: bind, listen, 'Connection from ADDR:PORT', UTF-8 text both ways", async () => {
  const app = new ServerSocketExample();
  await app.bind('0', '127.0.0.1');
  const port = app.serverSocket.localPort;
  expect(port).toBeGreaterThan(0);
  expect(app.logField).toEqual([`Bound to: 127.0.0.1:${port}`]);
  app.send("Lucy can't drink milk.");
  expect(app.logField[1]).toBe('No socket connection.');

  const peer = new Peer(port);
  await peer.connected;
  expect(await app.logUntil('Connection from ')).toBe(`Connection from 127.0.0.1:${peer.socket.localPort}`);
  peer.write('Grüße from the client');
  expect(await app.logUntil('Received: ')).toBe('Received: Grüße from the client');
  app.send("Lucy can't drink milk.");
  await peer.waitFor("Lucy can't drink milk.");
  expect(app.logField.at(-1)).toBe(`Sent message to 127.0.0.1:${peer.socket.localPort}`);

  // Bind again: the example closes the bound socket and makes a new one; the client it had stays connected.
  const first = app.serverSocket;
  await app.bind('0', '127.0.0.1');
  expect(first.bound).toBe(false);
  expect(first.listening).toBe(false);
  const refused = net.connect(port, '127.0.0.1');
  expect((await next<[NodeJS.ErrnoException]>(refused, 'error'))[0].code).toBe('ECONNREFUSED');
  app.send('still connected');
  await peer.waitFor('still connected');
});

test('isSupported; bound, listening, localAddress, localPort through bind, listen and close', async () => {
  expect(ServerSocket.isSupported).toBe(true);
  const server = make();
  expect([server.bound, server.listening, server.localAddress, server.localPort]).toEqual([false, false, '', 0]);
  server.bind(0, '127.0.0.1');
  expect([server.bound, server.listening, server.localAddress, server.localPort]).toEqual([true, false, '127.0.0.1', 0]);
  await server.listen();
  expect([server.bound, server.listening]).toEqual([true, true]);
  expect(server.localPort).toBe(server.engine!.bindPort);
  server.close();
  expect([server.bound, server.listening]).toEqual([false, false]);
});

test('bind: RangeError for the port, ArgumentError for a malformed address, Error when bound or closed', () => {
  const server = make();
  expect(() => server.bind(-1)).toThrow(new RangeError('AirServerSocket: bind: localPort must be an integer in 0..65535, got -1'));
  expect(() => server.bind(65536)).toThrow(RangeError);
  expect(() => server.bind(0, 'localhost')).toThrow(ArgumentError);
  expect(() => server.bind(0, '300.1.2.3')).toThrow(new ArgumentError('AirServerSocket: bind: localAddress must be an IPv4 or IPv6 address, got "300.1.2.3"'));
  expect(new ArgumentError('x')).toBeInstanceOf(TypeError);
  expect(server.bound).toBe(false);
  server.bind(0, '::1');
  expect(() => server.bind(0, '::1')).toThrow(/already bound to ::1:0 \(call close\(\) before binding to a different socket\)/);
  server.close();
  expect(() => server.bind(0)).toThrow(/closed sockets cannot be reopened/);
  expect(() => server.close()).toThrow('AirServerSocket: close: the socket is not open');
  expect(() => make().close()).toThrow('AirServerSocket: close: the socket is not open');
});

test('bind errors the system reports come from listen(): in use; an address not on this machine; the socket is unbound again', async () => {
  const taken = make();
  taken.bind(0, '127.0.0.1');
  await taken.listen();
  const server = make();
  server.bind(taken.localPort, '127.0.0.1');
  await expect(server.listen()).rejects.toMatchObject({
    code: 'EADDRINUSE',
    message: `AirServerSocket: cannot bind 127.0.0.1:${taken.localPort}: the address and port are already bound by another object or process (EADDRINUSE)`,
  });
  expect([server.bound, server.listening]).toEqual([false, false]);
  server.bind(0, '192.0.2.1'); // TEST-NET-1: on no machine
  await expect(server.listen()).rejects.toMatchObject({ code: 'EADDRNOTAVAIL', message: expect.stringContaining('not a valid local address') });
  server.bind(0, '127.0.0.1');
  await server.listen();
  expect(server.listening).toBe(true);
});

test('listen: RangeError for a negative backlog, Error before bind or when listening; 0 is the system maximum, larger values are cut to it', async () => {
  const server = make();
  await expect(server.listen()).rejects.toThrow('AirServerSocket: listen: the socket is not bound (call bind() first)');
  server.bind(0, '127.0.0.1');
  await expect(server.listen(-1)).rejects.toThrow(RangeError);
  const somaxconn = existsSync('/proc/sys/net/core/somaxconn') ? Number(readFileSync('/proc/sys/net/core/somaxconn', 'utf8')) : 511;
  expect(systemMaxBacklog()).toBe(somaxconn);
  expect(systemMaxBacklog('/nonexistent/somaxconn')).toBe(511);
  expect([effectiveBacklog(0, 4096), effectiveBacklog(10, 4096), effectiveBacklog(5000, 4096)]).toEqual([4096, 10, 4096]);
  await server.listen();
  expect(server.engine!.listenBacklog).toBe(somaxconn);
  await expect(server.listen()).rejects.toThrow(/already listening/);
  const small = make();
  small.bind(0, '127.0.0.1');
  await small.listen(3);
  expect(small.engine!.listenBacklog).toBe(3);
  const big = make();
  big.bind(0, '127.0.0.1');
  await big.listen(somaxconn + 1);
  expect(big.engine!.listenBacklog).toBe(somaxconn);
});

test('close() dispatches no close event; a close by something else does, once', async () => {
  const server = make();
  const closes: unknown[] = [];
  server.addEventListener('close', (event) => closes.push(event));
  server.bind(0, '127.0.0.1');
  await server.listen();
  server.close();
  await new Promise((resolve) => setImmediate(resolve));
  expect(closes).toEqual([]);

  const other = make();
  other.addEventListener('close', (event) => closes.push(event));
  other.bind(0, '127.0.0.1');
  await other.listen();
  // The listening socket goes away without close(): the engine under it stopped.
  await other.engine!.close();
  expect(closes).toEqual([{ type: 'close', target: other }]);
  expect(other.listening).toBe(false);
  expect(() => other.bind(0)).toThrow(/cannot be reopened/);
});

test('addEventListener / removeEventListener are on / off; dispatchEvent, hasEventListener, willTrigger', async () => {
  const server = make();
  expect([server.hasEventListener('connect'), server.willTrigger('close')]).toEqual([false, false]);
  const manual: unknown[] = [];
  server.addEventListener('close', (event) => manual.push(event));
  expect(server.hasEventListener('close')).toBe(true);
  expect(server.willTrigger('close')).toBe(true);
  expect(server.dispatchEvent({ type: 'close', target: server })).toBe(true);
  expect(manual).toEqual([{ type: 'close', target: server }]);
  const seen: string[] = [];
  const first = (event: ServerSocketConnectEvent<Socket>) => seen.push(`first ${event.type}`);
  const second = (event: ServerSocketConnectEvent<Socket>) => seen.push(`second ${event.socket.remotePort > 0}`);
  server.addEventListener('connect', first);
  server.addEventListener('connect', second);
  server.removeEventListener('connect', first);
  server.bind(0, '127.0.0.1');
  await server.listen();
  const connected = next(server, 'connect');
  new Peer(server.localPort);
  await connected;
  expect(seen).toEqual(['second true']);
});

test('the socket: readUTFBytes and readBytes take what is there, EOFError past it; writes wait for flush(); close event when the peer closes', async () => {
  const server = make();
  server.bind(0, '127.0.0.1');
  await server.listen();
  const connected = next<[ServerSocketConnectEvent<Socket>]>(server, 'connect');
  const peer = new Peer(server.localPort);
  const [{ socket }] = await connected;
  expect(socket).toBeInstanceOf(Socket);
  expect([socket.connected, socket.localAddress, socket.localPort]).toEqual([true, '127.0.0.1', server.localPort]);
  const data = new Promise<void>((resolve) => {
    const onData = () => {
      if (socket.bytesAvailable < 10) return;
      socket.removeEventListener('socketData', onData);
      resolve();
    };
    socket.addEventListener('socketData', onData);
  });
  peer.write('héllo4567');
  await data;
  expect(socket.bytesAvailable).toBe(10);
  expect(() => socket.readUTFBytes(11)).toThrow(EOFError);
  expect(socket.readUTFBytes(6)).toBe('héllo');
  const into = new Uint8Array(6);
  socket.readBytes(into, 2);
  expect(Buffer.from(into.subarray(2)).toString()).toBe('4567');
  expect(socket.bytesAvailable).toBe(0);
  expect(() => socket.readBytes(new ByteArray(), 0, 1)).toThrow(EOFError);

  const bytes = new ByteArray();
  bytes.writeUTFBytes('-bytes');
  socket.writeUTFBytes('text');
  socket.writeBytes(bytes, 1);
  socket.flush();
  await peer.waitFor('textbytes');

  const closed = next(socket, 'close');
  peer.end();
  const [event] = await closed;
  expect(event).toEqual({ type: 'close', target: socket });
  expect(socket.connected).toBe(false);
  expect(() => socket.flush()).toThrow(IOError);
});

test('our own socket close() dispatches no close event on it', async () => {
  const server = make();
  server.bind(0, '127.0.0.1');
  await server.listen();
  const connected = next<[ServerSocketConnectEvent<Socket>]>(server, 'connect');
  const peer = new Peer(server.localPort);
  const [{ socket }] = await connected;
  const events: unknown[] = [];
  socket.addEventListener('close', (event) => events.push(event));
  const gone = next(socket, 'sessionClosed');
  socket.close();
  await peer.closed;
  await gone;
  expect(events).toEqual([]);
});

test('bytesAvailable is bounded: at maxBuffered the socket stops reading until the application reads; nothing is lost', async () => {
  const limit = 4096;
  const server = make({ maxBuffered: limit });
  server.bind(0, '127.0.0.1');
  await server.listen();
  const connected = next<[ServerSocketConnectEvent<Socket>]>(server, 'connect');
  const peer = new Peer(server.localPort);
  const [{ socket }] = await connected;
  const total = 512 * 1024;
  peer.write(Buffer.alloc(total, 0x63));
  await new Promise<void>((resolve) => socket.rawSocket!.once('pause', resolve));
  expect(socket.bytesAvailable).toBeGreaterThanOrEqual(limit);
  expect(socket.bytesAvailable).toBeLessThan(limit + 65536);
  let got = 0;
  while (got < total) {
    if (socket.bytesAvailable === 0) await next(socket, 'socketData');
    const into = new ByteArray();
    socket.readBytes(into);
    got += into.length;
  }
  expect(got).toBe(total);
});

test('the engine guarantees: maxClients refuses without a connect event; an exception in a connect handler aborts only that socket', async () => {
  const server = make({ maxClients: 1 });
  const sockets: Socket[] = [];
  let fail = true;
  server.addEventListener('connect', (event) => {
    sockets.push(event.socket);
    if (fail) {
      fail = false;
      throw new Error('handler bug');
    }
  });
  server.bind(0, '127.0.0.1');
  await server.listen();
  const failures: unknown[] = [];
  server.engine!.on('bgException', (error) => failures.push(error));
  const bad = new Peer(server.localPort);
  await bad.closed;
  expect(failures).toEqual([new Error('handler bug')]);
  const good = new Peer(server.localPort);
  await next(server, 'connect');
  const over = new Peer(server.localPort);
  await over.closed;
  expect(server.engine!.tooBusyCount).toBe(1);
  expect(sockets).toHaveLength(2);
  sockets[1].writeUTFBytes('served');
  sockets[1].flush();
  await good.waitFor('served');
});

test('a reset connection dispatches ioError (with the system code), then close', async () => {
  const server = make();
  server.bind(0, '127.0.0.1');
  await server.listen();
  const connected = next<[ServerSocketConnectEvent<Socket>]>(server, 'connect');
  const peer = new Peer(server.localPort);
  const [{ socket }] = await connected;
  const events: string[] = [];
  socket.addEventListener('ioError', (event) => events.push(`${event.type} ${event.code}`));
  const closed = next(socket, 'close');
  await peer.connected;
  peer.socket.resetAndDestroy();
  await closed;
  expect(events).toEqual(['ioError ECONNRESET']);
});

test('TLS through the options: the connect event hands the decrypted socket', async () => {
  const dev = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
  const server = make({ sslEnable: true, sslContext: { sslCert: dev.cert, sslKey: dev.key } });
  server.bind(0, '127.0.0.1');
  await server.listen();
  const connected = next<[ServerSocketConnectEvent<Socket>]>(server, 'connect');
  const client = tls.connect({ port: server.localPort, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false });
  client.on('error', () => undefined);
  const [{ socket }] = await connected;
  expect(socket.sslEnabled).toBe(true);
  client.write('Lucy');
  await next(socket, 'socketData');
  expect(socket.readUTFBytes(socket.bytesAvailable)).toBe('Lucy');
  socket.writeUTFBytes("can't drink milk.");
  socket.flush();
  const [reply] = await next<[Buffer]>(client, 'data');
  expect(reply.toString()).toBe("can't drink milk.");
  client.destroy();
});

import * as tls from 'node:tls';
import { createDevCertificate } from '@ics-ts/ssl-context';
import { IOException, ServerSocket, Socket, TotalCrossServerSocket, TotalCrossSocket } from '../src/totalcross';
import { Peer, next } from './support/peer';

// The subpath entry (`@ics-ts/server-socket/totalcross`) is tested as its file: jest maps package roots only.

const servers: TotalCrossServerSocket[] = [];
afterEach(async () => {
  for (const server of servers.splice(0)) await server.close().catch(() => undefined);
});

async function open(...args: ConstructorParameters<typeof TotalCrossServerSocket>): Promise<TotalCrossServerSocket> {
  const server = new ServerSocket(...args);
  servers.push(server);
  await server.ready;
  return server;
}

/** Reads until `length` bytes came (or the end), as text. */
async function readText(socket: TotalCrossSocket, length: number): Promise<string> {
  const buf = new Uint8Array(length);
  let got = 0;
  while (got < length) {
    const n = await socket.readBytes(buf, got, length - got);
    if (n < 0) break;
    got += n;
  }
  return Buffer.from(buf.subarray(0, got)).toString('utf8');
}

test('the four constructors, their defaults, getHost and getLocalPort', async () => {
  expect(ServerSocket.DEFAULT_BACKLOG).toBe(100);
  expect(ServerSocket.DEFAULT_SOTIMEOUT).toBe(10000);
  const a = await open(0);
  expect([a.timeout, a.backlog, a.getHost()]).toEqual([10000, 100, '0.0.0.0']);
  expect(a.getLocalPort()).toBe(a.engine.bindPort);
  expect(a.getLocalPort()).toBeGreaterThan(0);
  const b = await open(0, 250);
  expect([b.timeout, b.backlog, b.getHost()]).toEqual([250, 100, '0.0.0.0']);
  const c = await open(0, 0, '127.0.0.1');
  expect([c.timeout, c.backlog, c.getHost()]).toEqual([0, 100, '127.0.0.1']);
  const d = await open(0, 5, 7, '127.0.0.1');
  expect([d.timeout, d.backlog, d.getHost()]).toEqual([5, 7, '127.0.0.1']);
  expect(d.engine.listenBacklog).toBe(7);
  const e = await open(0, 5, 7, null); // a null addr is ignored: every address
  expect(e.getHost()).toBe('0.0.0.0');
  const f = await TotalCrossServerSocket.open(0, 0, '127.0.0.1');
  servers.push(f);
  expect(f.engine.state).toBe('listening');
});

test("the seed's validation: port 0..65535, timeout >= 0, backlog > 0, addr an address or null", () => {
  expect(() => new ServerSocket(-1)).toThrow(new RangeError("TotalCrossServerSocket: invalid value for argument 'port': -1 (0..65535)"));
  expect(() => new ServerSocket(65536)).toThrow(RangeError);
  expect(() => new ServerSocket(0, -1)).toThrow(
    new RangeError("TotalCrossServerSocket: invalid value for argument 'timeout': -1 (an integer >= 0 (0 = wait for ever))"),
  );
  expect(() => new ServerSocket(0, 0, 0, null)).toThrow(
    new RangeError("TotalCrossServerSocket: invalid value for argument 'backlog': 0 (a positive integer)"),
  );
  expect(() => new ServerSocket(0, 0, -5, null)).toThrow(RangeError);
  expect(() => new ServerSocket(0, 0, 'localhost')).toThrow(/argument 'addr' must be an IP address literal or null, got "localhost"/);
  expect(() => new ServerSocket('80' as never)).toThrow(TypeError);
  expect(() => new ServerSocket(0, 0, '127.0.0.1' as never, null)).toThrow(/the third is the backlog/);
});

test('accept() gives a connection: data both ways through readBytes/writeBytes; the socket knows its peer', async () => {
  const server = await open(0, 0, '127.0.0.1');
  const peer = new Peer(server.getLocalPort());
  const accepted = server.accept();
  peer.write('ping');
  const socket = (await accepted)!;
  expect(socket).toBeInstanceOf(Socket);
  await peer.connected;
  expect([socket.getHost(), socket.getPort()]).toEqual(['127.0.0.1', peer.socket.localPort]);
  expect(await readText(socket, 4)).toBe('ping');
  expect(socket.writeBytes('xpongx', 1, 4)).toBe(4);
  await peer.waitFor('pong');
  peer.end();
  expect(await socket.readBytes(new Uint8Array(8))).toBe(-1);
});

test('accept() returns null when the timeout passes without a connection, and waits with timeout 0', async () => {
  const server = await open(0, 30, '127.0.0.1');
  expect(await server.accept()).toBeNull();
  const forever = await open(0, 0, '127.0.0.1');
  const accepted = forever.accept();
  // accept() is waiting: the connection that comes later is the one it returns.
  const peer = new Peer(forever.getLocalPort());
  await peer.connected;
  expect((await accepted)?.getPort()).toBe(peer.socket.localPort);
});

test('connections nobody accepted wait in order, bytes they send wait with them; a peer that leaves is dropped from the queue', async () => {
  const server = await open(0, 0, '127.0.0.1');
  const peers: Peer[] = [];
  for (let i = 0; i < 3; i++) {
    const peer = new Peer(server.getLocalPort());
    peer.socket.once('connect', () => peer.write(`peer ${i}`));
    await next(server.engine, 'clientConnect');
    peers.push(peer);
  }
  expect(server.pending).toBe(3);
  for (const [i, peer] of peers.entries()) {
    const socket = (await server.accept())!;
    expect(socket.getPort()).toBe(peer.socket.localPort);
    expect(await readText(socket, 6)).toBe(`peer ${i}`);
  }
  expect(server.pending).toBe(0);
  const late = new Peer(server.getLocalPort());
  await next(server.engine, 'clientConnect');
  expect(server.pending).toBe(1);
  late.destroy();
  await next(server.engine, 'clientDisconnect');
  expect(server.pending).toBe(0);
});

test('the queue is bounded by the backlog: a flood of connections nobody accepts leaves at most backlog waiting, the rest closed and counted', async () => {
  const backlog = 4;
  const flood = 40;
  const server = await open(0, 0, backlog, '127.0.0.1');
  // One after the other: the system's own queue is `backlog` long too, and SYNs past it wait for a retransmit.
  const peers: Peer[] = [];
  for (let i = 0; i < flood; i++) {
    const arrived = next(server.engine, 'clientConnect');
    peers.push(new Peer(server.getLocalPort()));
    await arrived;
  }
  expect(server.pending).toBe(backlog);
  expect(server.refusedCount).toBe(flood - backlog);
  const waiting = new Set<number>();
  for (let i = 0; i < backlog; i++) waiting.add((await server.accept())!.getPort());
  const refused = peers.filter((p) => !waiting.has(p.socket.localPort!));
  expect(refused).toHaveLength(flood - backlog);
  await Promise.all(refused.map((p) => p.closed));
});

test('for await (const socket of server) yields every connection and ends when the server socket is closed', async () => {
  const server = await open(0, 20, '127.0.0.1');
  const seen: number[] = [];
  const loop = (async () => {
    for await (const socket of server) {
      seen.push(socket.getPort());
      socket.writeBytes(`hello ${seen.length}`);
      if (seen.length === 2) break;
    }
  })();
  const a = new Peer(server.getLocalPort());
  await a.waitFor('hello 1');
  const b = new Peer(server.getLocalPort());
  await b.waitFor('hello 2');
  await loop;
  expect(seen).toEqual([a.socket.localPort, b.socket.localPort]);
  // A loop still running when close() comes simply ends.
  const again = (async () => {
    let n = 0;
    for await (const _ of server) n++;
    return n;
  })();
  await server.close();
  expect(await again).toBe(0);
});

test('close(): waiting connections are closed, accepted ones too and then throw IOException; accept() and a second close() throw', async () => {
  const server = new ServerSocket(0, 0, '127.0.0.1');
  await server.ready;
  const takenPeer = new Peer(server.getLocalPort());
  const taken = (await server.accept())!;
  const queuedPeer = new Peer(server.getLocalPort());
  await next(server.engine, 'clientConnect');
  expect(server.pending).toBe(1);
  const readWaiting = taken.readBytes(new Uint8Array(4));
  await server.close();
  await expect(readWaiting).rejects.toThrow(new IOException('TotalCrossSocket: The server socket is closed'));
  await expect(taken.readBytes(new Uint8Array(4))).rejects.toBeInstanceOf(IOException);
  expect(() => taken.writeBytes('x')).toThrow(IOException);
  await takenPeer.closed;
  await queuedPeer.closed;
  expect(server.pending).toBe(0);
  await expect(server.accept()).rejects.toThrow('TotalCrossServerSocket: The server socket is closed');
  await expect(server.close()).rejects.toBeInstanceOf(IOException);

  // A waiting accept() is rejected by close().
  const other = await open(0, 0, '127.0.0.1');
  const waiting = other.accept();
  await other.close();
  await expect(waiting).rejects.toBeInstanceOf(IOException);
});

test('listening fails: ready, open() and accept() reject with an IOException that keeps the system code', async () => {
  const first = await open(0, 0, '127.0.0.1');
  const second = new ServerSocket(first.getLocalPort(), 0, '127.0.0.1');
  await expect(second.ready).rejects.toMatchObject({ name: 'IOException', code: 'EADDRINUSE' });
  await expect(second.accept()).rejects.toMatchObject({ code: 'EADDRINUSE' });
  await expect(TotalCrossServerSocket.open(first.getLocalPort(), 0, '127.0.0.1')).rejects.toBeInstanceOf(IOException);
});

test('a socket waiting for accept() buffers at most maxBuffered bytes (then stops reading); nothing is lost', async () => {
  const limit = 8 * 1024;
  const server = await open(0, 0, 10, '127.0.0.1', { maxBuffered: limit });
  const peer = new Peer(server.getLocalPort());
  const total = 256 * 1024;
  peer.write(Buffer.alloc(total, 0x62));
  peer.end();
  const [socket] = await next<[TotalCrossSocket]>(server.engine, 'clientConnect');
  await new Promise<void>((resolve) => socket.rawSocket!.once('pause', resolve));
  expect(socket.bytesAvailable).toBeGreaterThanOrEqual(limit);
  expect(socket.bytesAvailable).toBeLessThan(limit + 65536);
  expect(await server.accept()).toBe(socket);
  const text = await readText(socket, total);
  expect(text.length).toBe(total);
});

test('TLS through the fifth argument: the engine serves TLS, accept() hands the decrypted connection', async () => {
  const dev = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
  const server = await open(0, 0, 10, '127.0.0.1', { sslEnable: true, sslContext: { sslCert: dev.cert, sslKey: dev.key } });
  const client = tls.connect({ port: server.getLocalPort(), host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false });
  client.on('error', () => undefined);
  client.write('secret');
  const socket = (await server.accept())!;
  expect(socket.sslEnabled).toBe(true);
  expect(await readText(socket, 6)).toBe('secret');
  socket.writeBytes('sealed');
  const [reply] = await next<[Buffer]>(client, 'data');
  expect(reply.toString()).toBe('sealed');
  client.destroy();
});

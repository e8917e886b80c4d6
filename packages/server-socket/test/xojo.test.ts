import { spawn } from 'node:child_process';
import { EventEmitter } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { createDevCertificate } from '@ics-ts/ssl-context';
import { ServerSocket, TCPSocket, XojoErrorCode, XojoServerSocket, XojoTCPSocket } from '../src/xojo';
import { Peer, next } from './support/peer';

// The subpath entry (`@ics-ts/server-socket/xojo`) is tested as its file: jest maps package roots only.

const servers: XojoServerSocket[] = [];
afterEach(() => {
  for (const server of servers.splice(0)) {
    server.stopListening();
    for (const socket of server.activeConnections()) socket.abort();
  }
});

function track<S extends XojoServerSocket>(server: S): S {
  servers.push(server);
  return server;
}

/** The seed's ListBox: AddRow, and a way for the test to wait for a row (on the event that adds it). */
class ListBox extends EventEmitter {
  readonly rows: string[] = [];

  addRow(text: string): void {
    this.rows.push(text);
    this.emit('row');
  }

  /** Resolves once `done(rows)` holds, checked at every new row. */
  until(done: (rows: string[]) => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => {
        if (!done(this.rows)) return;
        this.off('row', check);
        resolve();
      };
      this.on('row', check);
      check();
    });
  }
}

/** The seed's ClientSocket: derived from TCPSocket, its constructor takes a list box and a number. */
class ClientSocket extends TCPSocket {
  constructor(
    private readonly listBox1: ListBox,
    private readonly mNum: number,
  ) {
    super();
  }

  protected override onConnected(): void {
    this.listBox1.addRow(`Socket ${this.mNum} connected.`);
    this.write('From the server socket, I connected to you.');
  }

  protected override onDataAvailable(): void {
    this.listBox1.addRow(`Socket ${this.mNum} got: ${this.readAll()}`);
  }

  protected override onSendComplete(): void {
    this.listBox1.addRow(`Socket ${this.mNum} send complete.`);
  }
}

/** What socket `n` got, over one or more DataAvailable events. */
function gotText(rows: string[], n: number): string {
  const prefix = `Socket ${n} got: `;
  return rows.filter((l) => l.startsWith(prefix)).map((l) => l.slice(prefix.length)).join('');
}

test("the seed's example: AddSocket fills the pool, ClientSocket greets, gets the client's text, reports its sends", async () => {
  const listBox1 = new ListBox();
  let curSocket = 0;
  const mServerSocket = track(
    new ServerSocket({
      networkInterface: '127.0.0.1',
      addSocket: () => {
        listBox1.addRow('Added Socket');
        const ret = new ClientSocket(listBox1, curSocket);
        curSocket = curSocket + 1;
        return ret;
      },
    }),
  );
  expect(await mServerSocket.listen()).toBe(true);
  // "This triggers the AddSocket event that creates the initial pool of sockets."
  expect(listBox1.rows).toEqual(['Added Socket', 'Added Socket']);
  expect(mServerSocket.socketsAvailable).toBe(2);

  // The seed's client application: Connected writes, DataAvailable reads and replies.
  const clients = [0, 1].map((index) => {
    const peer = new Peer(mServerSocket.port);
    peer.socket.once('connect', () => peer.write(`Socket ${index}connected!`));
    peer.socket.once('data', () => peer.write(' I got something from you.'));
    return peer;
  });
  for (const peer of clients) await peer.waitFor('From the server socket, I connected to you.');
  await listBox1.until(
    (rows) =>
      rows.includes('Socket 0 send complete.') &&
      rows.includes('Socket 1 send complete.') &&
      rows.filter((r) => r === 'Added Socket').length === 4 &&
      [0, 1].every((n) => gotText(rows, n).length === `Socket ${n}connected! I got something from you.`.length),
  );
  // Which pooled socket a connection takes follows the accept order, which the two peers race for.
  expect(new Set([0, 1].map((n) => gotText(listBox1.rows, n)))).toEqual(
    new Set(['Socket 0connected! I got something from you.', 'Socket 1connected! I got something from you.']),
  );
  expect(listBox1.rows).toContain('Socket 0 connected.');
  expect(listBox1.rows).toContain('Socket 1 connected.');
  // Each connection took a pooled socket; AddSocket refilled the pool to two.
  expect(mServerSocket.socketsAvailable).toBe(2);
  expect(mServerSocket.activeConnections().map((s) => s.constructor)).toEqual([ClientSocket, ClientSocket]);
});

test('port 0 reads back the bound port; isListening, localAddress, handle; port cannot change while listening', async () => {
  const server = track(new XojoServerSocket({ networkInterface: '127.0.0.1', minimumSocketsAvailable: 0 }));
  expect(server.port).toBe(0);
  expect(server.isListening).toBe(false);
  expect(server.handle).toBeUndefined();
  await server.listen();
  expect(server.isListening).toBe(true);
  expect(server.port).toBeGreaterThan(0);
  expect(server.localAddress).toBe('127.0.0.1');
  expect(server.handle?.bindPort).toBe(server.port);
  expect(() => (server.port = 1234)).toThrow('XojoServerSocket: port cannot change while listening (call stopListening() first)');
  server.stopListening();
  expect(server.isListening).toBe(false);
  server.port = 0;
});

test('networkInterface takes an interface name (resolved with os.networkInterfaces) or an address', async () => {
  const loopbackName = Object.entries(os.networkInterfaces()).find(([, addrs]) => addrs?.some((a) => a.address === '127.0.0.1'))?.[0];
  expect(loopbackName).toBeDefined();
  const server = track(new XojoServerSocket({ networkInterface: loopbackName, minimumSocketsAvailable: 0 }));
  expect(server.networkInterface).toBe(loopbackName);
  expect(server.localAddress).toBe('127.0.0.1');
  await server.listen();
  const peer = new Peer(server.port);
  await peer.connected;
  expect(() => new XojoServerSocket({ networkInterface: 'no-such-if0' })).toThrow(
    /^XojoServerSocket: option networkInterface: no network interface named "no-such-if0" on this machine \(known: .*lo/,
  );
  expect(() => (server.networkInterface = 'eth9')).toThrow(/cannot change while listening/);
  expect(() => new XojoServerSocket({ networkInterface: 42 as unknown as string })).toThrow(TypeError);
});

test('bad options name the option and the value', () => {
  expect(() => new XojoServerSocket({ port: 65536 })).toThrow(new RangeError('XojoServerSocket: option port must be an integer in 0..65535, got 65536'));
  expect(() => new XojoServerSocket({ minimumSocketsAvailable: -1 })).toThrow(RangeError);
  expect(() => new XojoServerSocket({ minimumSocketsAvailable: 10001 })).toThrow(/0\.\.10000, got 10001/);
  expect(() => new XojoServerSocket({ maximumSocketsConnected: 1.5 })).toThrow(/maximumSocketsConnected must be an integer >= 0/);
  expect(() => new XojoServerSocket({ maxBuffered: 0 })).toThrow(/maxBuffered must be an integer >= 1/);
  expect(() => new XojoServerSocket({ addSocket: 'x' as never })).toThrow(TypeError);
  expect(() => new XojoServerSocket({ sslEnable: true })).toThrow(/sslEnable needs option sslContext/);
});

test('maximumSocketsConnected: a connection over it is refused (closed, nothing sent); changing it drops nobody', async () => {
  const server = track(new XojoServerSocket({ networkInterface: '127.0.0.1', maximumSocketsConnected: 1 }));
  await server.listen();
  const first = new Peer(server.port);
  first.socket.once('connect', () => first.write('hello'));
  const firstSocket = await nextConnection(server);
  const second = new Peer(server.port);
  expect(await second.closed).toBe(false);
  expect(second.received).toBe('');
  expect(server.refusedCount).toBe(1);

  server.maximumSocketsConnected = 2;
  const third = new Peer(server.port);
  await nextConnection(server);
  server.maximumSocketsConnected = 1; // below the two connected now: both stay
  expect(server.activeConnections()).toHaveLength(2);
  expect(firstSocket.isConnected).toBe(true);
  firstSocket.write('still here');
  await first.waitFor('still here');
  third.destroy();
});

/** The next socket the server hands a connection to (the engine's clientConnect). */
async function nextConnection(server: XojoServerSocket): Promise<XojoTCPSocket> {
  const [socket] = await next<[XojoTCPSocket]>(server.handle!, 'clientConnect');
  return socket;
}

test('minimumSocketsAvailable: raising it while listening fires addSocket, lowering it drops spare sockets', async () => {
  let made = 0;
  const server = track(
    new XojoServerSocket({
      networkInterface: '127.0.0.1',
      minimumSocketsAvailable: 1,
      addSocket: () => {
        made++;
        return new XojoTCPSocket();
      },
    }),
  );
  server.minimumSocketsAvailable = 2; // not listening: no addSocket yet
  expect(made).toBe(0);
  await server.listen();
  expect(made).toBe(2);
  server.minimumSocketsAvailable = 4;
  await new Promise((resolve) => setImmediate(resolve));
  expect(made).toBe(4);
  expect(server.socketsAvailable).toBe(4);
  server.minimumSocketsAvailable = 1;
  expect(server.socketsAvailable).toBe(1);
  // A connection takes the pooled socket; the pool is filled again.
  new Peer(server.port);
  await nextConnection(server);
  await new Promise((resolve) => setImmediate(resolve));
  expect(server.socketsAvailable).toBe(1);
  expect(made).toBe(5);
});

test('activeConnections, stopListening (connected sockets stay), listen again', async () => {
  const server = track(new XojoServerSocket({ networkInterface: '127.0.0.1' }));
  await server.listen();
  const port = server.port;
  const peer = new Peer(port);
  const socket = await nextConnection(server);
  server.stopListening();
  expect(server.socketsAvailable).toBe(0);
  expect(server.activeConnections()).toEqual([socket]);
  const refused = net.connect(port, '127.0.0.1');
  const [error] = await next<[NodeJS.ErrnoException]>(refused, 'error');
  expect(error.code).toBe('ECONNREFUSED');
  socket.write('after stopListening');
  await peer.waitFor('after stopListening');
  server.port = port;
  expect(await server.listen()).toBe(true);
  peer.end();
  await next(socket, 'sessionClosed');
  expect(server.activeConnections()).toEqual([]);
});

test('error event with the Xojo error number: address in use (105), listen while listening (106); without a listener listen() rejects', async () => {
  const first = track(new XojoServerSocket({ networkInterface: '127.0.0.1' }));
  await first.listen();
  const second = track(new XojoServerSocket({ networkInterface: '127.0.0.1', port: first.port }));
  await expect(second.listen()).rejects.toMatchObject({ code: 'EADDRINUSE', errorNumber: XojoErrorCode.addressInUseError });
  const reported: [number, Error][] = [];
  second.on('error', (code, error) => reported.push([code, error]));
  expect(await second.listen()).toBe(false);
  expect(reported[0][0]).toBe(105);
  expect(reported[0][1].message).toMatch(/EADDRINUSE/);
  expect(second.isListening).toBe(false);
  first.on('error', (code, error) => reported.push([code, error]));
  expect(await first.listen()).toBe(false);
  expect(reported[1]).toEqual([106, new Error(`XojoServerSocket: already listening on port ${first.port}`)]);
});

const UNPRIVILEGED_START = (() => {
  try {
    return Number(readFileSync('/proc/sys/net/ipv4/ip_unprivileged_port_start', 'utf8'));
  } catch {
    return 1024;
  }
})();
const ROOT = path.resolve(__dirname, '../../..');

// Root may bind any port: as root, the child runs without CAP_NET_BIND_SERVICE (setpriv drops it from the
// bounding set; it still reads the repository, wherever the clone lies). Where the system lets everyone bind
// low ports there is nothing to test.
(UNPRIVILEGED_START > 80 ? test : test.skip)('a port below 1024 fails naming the privilege it needs: Xojo error 107, AIR an Error with EACCES', async () => {
  const asRoot = process.getuid?.() === 0;
  const args = ['-r', path.join(ROOT, 'packages/sample-clients/test/support/register-ts.js'), path.join(__dirname, 'support/privileged-listen.ts'), '80'];
  const child = asRoot
    ? spawn('setpriv', ['--bounding-set=-net_bind_service', process.execPath, ...args], { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } })
    : spawn(process.execPath, args, { cwd: ROOT, env: { ...process.env, NODE_OPTIONS: '' } });
  let out = '';
  let err = '';
  child.stdout.setEncoding('utf8').on('data', (text: string) => (out += text));
  child.stderr.setEncoding('utf8').on('data', (text: string) => (err += text));
  const [code] = await next<[number]>(child, 'close');
  expect({ code, err }).toEqual({ code: 0, err: '' });
  expect(JSON.parse(out)).toEqual({
    xojo: {
      errorCode: 107,
      code: 'EACCES',
      message:
        'XojoServerSocket: cannot listen: port 80 is below 1024: binding it needs privileges (root, or the CAP_NET_BIND_SERVICE capability on Linux) (EACCES)',
    },
    air: {
      code: 'EACCES',
      message:
        'AirServerSocket: cannot bind 127.0.0.1:80: not permitted: ports below 1024 need privileges (root, or the CAP_NET_BIND_SERVICE capability on Linux) (EACCES)',
    },
  });
});

test('the socket: readAll buffer is bounded (reading stops at maxBuffered, nothing is lost); error 102 when the peer closes', async () => {
  const limit = 16 * 1024;
  const server = track(new XojoServerSocket({ networkInterface: '127.0.0.1', maxBuffered: limit }));
  await server.listen();
  const peer = new Peer(server.port);
  const socket = await nextConnection(server);
  expect(socket.maxBuffered).toBe(limit);
  const total = 1024 * 1024;
  const payload = Buffer.alloc(total, 0x61);
  let largest = 0;
  let sawPaused = false;
  socket.on('dataAvailable', () => {
    largest = Math.max(largest, socket.bytesAvailable);
    if (socket.rawSocket?.isPaused()) sawPaused = true;
  });
  peer.write(payload);
  peer.end();
  let got = 0;
  const errors: [number, Error][] = [];
  socket.on('error', (code, error) => errors.push([code, error]));
  let ended = false;
  const closed = next(socket, 'sessionClosed').then(() => (ended = true));
  // The application reads only when the buffer is full (or the peer is done): the socket waits for it meanwhile.
  while (got < total) {
    if (!ended && !socket.rawSocket?.isPaused() && socket.bytesAvailable < limit) {
      await Promise.race([next(socket, 'dataAvailable'), closed]);
      continue;
    }
    got += socket.readAllBytes().length;
    if (ended && socket.bytesAvailable === 0) break;
  }
  await closed;
  expect(got).toBe(total);
  expect(sawPaused).toBe(true);
  expect(largest).toBeLessThan(limit + 65536);
  expect(socket.lastErrorCode).toBe(102);
  expect(errors.map(([code]) => code)).toEqual([102]);
});

test('an exception in a socket handler goes to bgException, that socket is aborted, the others carry on', async () => {
  const server = track(new XojoServerSocket({ networkInterface: '127.0.0.1' }));
  const failures: [unknown, XojoTCPSocket | undefined][] = [];
  server.on('bgException', (error, socket) => failures.push([error, socket]));
  await server.listen();
  const good = new Peer(server.port);
  const goodSocket = await nextConnection(server);
  const bad = new Peer(server.port);
  const badSocket = await nextConnection(server);
  badSocket.on('dataAvailable', () => {
    throw new Error('handler bug');
  });
  bad.write('boom');
  expect(await bad.closed).toBeDefined();
  expect(failures).toEqual([[new Error('handler bug'), badSocket]]);
  goodSocket.write('fine');
  await good.waitFor('fine');
});

test('addSocket returning something else, or a socket in use, is a bgException; the connection is closed', async () => {
  let give: unknown = {};
  const server = track(new XojoServerSocket({ networkInterface: '127.0.0.1', minimumSocketsAvailable: 0, addSocket: () => give as XojoTCPSocket }));
  const failures: unknown[] = [];
  server.on('bgException', (error) => failures.push(error));
  await server.listen();
  const peer = new Peer(server.port);
  await peer.closed;
  expect(String(failures[0])).toMatch(/addSocket must return an XojoTCPSocket/);
  const used = await (async () => {
    give = new XojoTCPSocket();
    const p = new Peer(server.port);
    const s = await nextConnection(server);
    return { p, s };
  })();
  const again = new Peer(server.port); // addSocket gives the same (connected) socket again
  await again.closed;
  expect(String(failures[1])).toMatch(/already in use/);
  used.s.write('ok');
  await used.p.waitFor('ok');
});

test('connect-and-leave churn: the pool stays at its minimum, one socket made per connection, none left behind', async () => {
  let made = 0;
  const server = track(
    new XojoServerSocket({
      networkInterface: '127.0.0.1',
      minimumSocketsAvailable: 3,
      addSocket: () => {
        made++;
        return new XojoTCPSocket();
      },
    }),
  );
  await server.listen();
  let largestPool = 0;
  for (let i = 0; i < 30; i++) {
    const peer = new Peer(server.port);
    const socket = await nextConnection(server);
    largestPool = Math.max(largestPool, server.socketsAvailable);
    peer.destroy();
    await next(socket, 'sessionClosed');
  }
  await new Promise((resolve) => setImmediate(resolve));
  expect(largestPool).toBeLessThanOrEqual(3);
  expect(server.socketsAvailable).toBe(3);
  expect(made).toBe(3 + 30);
  expect(server.activeConnections()).toEqual([]);
});

test('a reset connection is Xojo error 102 (lost connection), with the system code kept', async () => {
  const server = track(new XojoServerSocket({ networkInterface: '127.0.0.1' }));
  await server.listen();
  const peer = new Peer(server.port);
  const socket = await nextConnection(server);
  const reported = next<[number, NodeJS.ErrnoException]>(socket, 'error');
  await peer.connected;
  peer.socket.resetAndDestroy();
  const [code, error] = await reported;
  expect([code, error.code, socket.lastErrorCode]).toEqual([102, 'ECONNRESET', 102]);
});

test('TLS: sslEnable and sslContext serve the pool sockets over TLS', async () => {
  const dev = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
  const server = track(
    new XojoServerSocket({ networkInterface: '127.0.0.1', sslEnable: true, sslContext: { sslCert: dev.cert, sslKey: dev.key } }),
  );
  await server.listen();
  const client = tls.connect({ port: server.port, host: '127.0.0.1', servername: 'localhost', rejectUnauthorized: false });
  client.on('error', () => undefined);
  const socket = await nextConnection(server);
  expect(socket.tls?.protocol).toMatch(/^TLSv1\.[23]$/);
  client.write('sealed');
  await next(socket, 'dataAvailable');
  expect(socket.readAll()).toBe('sealed');
  socket.write('opened');
  const [reply] = await next<[Buffer]>(client, 'data');
  expect(reply.toString()).toBe('opened');
  client.destroy();
});

test('stopListening() while listen() is under way: that listen() fails, a listen() called after it is not disturbed', async () => {
  const server = track(new XojoServerSocket({ networkInterface: '127.0.0.1' }));
  const errors: number[] = [];
  server.on('error', (code) => errors.push(code));
  const first = server.listen();
  server.stopListening();
  const second = server.listen();
  expect(await first).toBe(false);
  expect(await second).toBe(true);
  expect(errors).toEqual([XojoErrorCode.openDriverError]);
  expect(server.isListening).toBe(true);
  expect(server.socketsAvailable).toBe(2);
  const peer = new Peer(server.port);
  await peer.connected;
});

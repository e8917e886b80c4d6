import { TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, connectClient, disconnects, once, startServer } from './helpers';

/** Waits for the next bgException on `server`. */
function nextBgException<C extends TWSocketClient>(server: TWSocketServer<C>): Promise<[unknown, C | undefined]> {
  return once(server, 'bgException') as Promise<[unknown, C | undefined]>;
}

/** A client that throws on the line 'boom', echoes the rest. */
class Fragile extends EchoClient {
  protected override onLine(line: string): void {
    if (line === 'boom') throw new Error(`boom from client ${this.cliId}`);
    super.onLine(line);
  }
}

/** The bystander still works: a full line round trip. */
async function stillWorks(peer: Peer, text = 'alive'): Promise<void> {
  expect(await peer.ask(text)).toBe(`echo ${text}`);
}

describe('exception isolation', () => {
  test('onLine throws: bgException(error, client), that client is aborted and leaves, others keep working', async () => {
    const server = await startServer({ clientClass: Fragile });
    const bystander = await connectClient(server);
    const victim = await connectClient(server);
    const events: string[] = [];
    server.on('clientDisconnect', (client) => events.push(`disconnect ${client.cliId}`));
    server.on('bgException', (error, client) => {
      events.push(`bgException ${client?.cliId}`);
      expect((error as Error).message).toBe('boom from client 2');
      expect(client).toBe(victim.client);
    });
    const gone = disconnects(server, 1);
    const bg = nextBgException(server);
    victim.peer.send('boom\r\n');
    await bg;
    await gone;
    await victim.peer.closed;
    expect(events).toEqual(['bgException 2', 'disconnect 2']);
    expect(server.isClient(victim.client)).toBe(false);
    expect(server.clients).toEqual([bystander.client]);
    await stillWorks(bystander.peer);
  });

  test('lines after the throwing one are not delivered', async () => {
    const lines: string[] = [];
    class Recording extends Fragile {
      protected override onLine(line: string): void {
        lines.push(line);
        super.onLine(line);
      }
    }
    const server = await startServer({ clientClass: Recording });
    server.on('bgException', () => undefined);
    const { peer } = await connectClient(server);
    const gone = disconnects(server, 1);
    peer.send('one\r\nboom\r\nthree\r\npartial');
    await gone;
    expect(lines).toEqual(['one', 'boom']);
  });

  test('a throwing clientConnect handler: bgException(error, client), client aborted, server keeps serving', async () => {
    const server = await startServer({ clientClass: EchoClient, banner: 'hi' });
    const bystander = await connectClient(server);
    expect(await bystander.peer.nextLine()).toBe('hi');
    const error = new Error('clientConnect failed');
    server.once('clientConnect', () => {
      throw error;
    });
    const bg = nextBgException(server);
    const gone = once(server, 'clientDisconnect');
    const peer = await Peer.connect(server.bindPort);
    const [reported, client] = await bg;
    expect(reported).toBe(error);
    expect(client).toBeInstanceOf(EchoClient);
    expect(client!.cliId).toBe(2);
    const [left] = await gone;
    expect(left).toBe(client);
    await peer.closed;
    expect(peer.received).toBe(''); // no banner for an aborted client
    expect(server.clients).toEqual([bystander.client]);
    await stillWorks(bystander.peer);
    const next = await Peer.connect(server.bindPort);
    expect(await next.nextLine()).toBe('hi');
  });

  test('a throwing clientCreate handler: bgException(error, client), client aborted, server keeps serving', async () => {
    const server = await startServer({ clientClass: EchoClient, banner: 'hi' });
    const bystander = await connectClient(server);
    expect(await bystander.peer.nextLine()).toBe('hi');
    const connects: number[] = [];
    server.on('clientConnect', (client) => connects.push(client.cliId));
    server.once('clientCreate', () => {
      throw new Error('clientCreate failed');
    });
    const bg = nextBgException(server);
    const gone = once(server, 'clientDisconnect');
    const peer = await Peer.connect(server.bindPort);
    const [reported, client] = await bg;
    expect((reported as Error).message).toBe('clientCreate failed');
    expect(client).toBeInstanceOf(EchoClient);
    const [left] = await gone;
    expect(left).toBe(client);
    await peer.closed;
    expect(peer.received).toBe('');
    expect(connects).toEqual([]); // clientConnect never fired for it
    expect(server.clients).toEqual([bystander.client]);
    await stillWorks(bystander.peer);
    const next = await Peer.connect(server.bindPort);
    expect(await next.nextLine()).toBe('hi');
  });

  test('a throwing constructor: bgException(error, undefined), socket closed, no client, server keeps serving', async () => {
    let fail = true;
    class Picky extends EchoClient {
      constructor() {
        super();
        if (fail) throw new Error('constructor failed');
      }
    }
    const server = await startServer({ clientClass: Picky, banner: 'hi' });
    const events: string[] = [];
    for (const name of ['clientCreate', 'clientConnect', 'clientDisconnect'] as const) {
      server.on(name, () => events.push(name));
    }
    const bg = nextBgException(server);
    const peer = await Peer.connect(server.bindPort);
    const [reported, client] = await bg;
    expect((reported as Error).message).toBe('constructor failed');
    expect(client).toBeUndefined();
    await peer.closed;
    expect(peer.received).toBe('');
    expect(server.clientCount).toBe(0);
    expect(events).toEqual([]);

    fail = false;
    const { peer: next, client: created } = await connectClient(server);
    expect(await next.nextLine()).toBe('hi');
    await stillWorks(next);
    expect(created.cliId).toBe(2); // the failed one used id 1
  });

  test('a throwing startConnection: bgException(error, client), client aborted, server keeps serving', async () => {
    class BadGreeter extends EchoClient {
      override startConnection(): void {
        if (this.cliId === 2) throw new Error('no greeting');
        super.startConnection();
      }
    }
    const server = await startServer({ clientClass: BadGreeter, banner: 'hi' });
    const bystander = await connectClient(server);
    const bg = nextBgException(server);
    const gone = once(server, 'clientDisconnect');
    const peer = await Peer.connect(server.bindPort);
    const [reported, client] = await bg;
    expect((reported as Error).message).toBe('no greeting');
    expect(client!.cliId).toBe(2);
    const [left] = await gone;
    expect(left).toBe(client);
    await peer.closed;
    expect(server.clients).toEqual([bystander.client]);
    expect(await bystander.peer.nextLine()).toBe('hi');
    await stillWorks(bystander.peer);
  });

  test('a throwing onSessionConnected: bgException(error, client), no clientConnect, client leaves', async () => {
    class BadStart extends EchoClient {
      protected override onSessionConnected(): void {
        throw new Error('session start failed');
      }
    }
    const server = await startServer({ clientClass: BadStart, banner: 'hi' });
    const events: string[] = [];
    server.on('clientCreate', () => events.push('create'));
    server.on('clientConnect', () => events.push('connect'));
    server.on('clientDisconnect', () => events.push('disconnect'));
    server.on('bgException', (error) => events.push(`bg ${(error as Error).message}`));
    const gone = disconnects(server, 1);
    const peer = await Peer.connect(server.bindPort);
    await gone;
    await peer.closed;
    expect(peer.received).toBe('');
    expect(events).toEqual(['create', 'bg session start failed', 'disconnect']);
    expect(server.clientCount).toBe(0);
  });

  test('a throwing onSessionClosed or clientDisconnect handler is reported, and the client still leaves', async () => {
    class BadClose extends EchoClient {
      protected override onSessionClosed(): void {
        throw new Error('onSessionClosed failed');
      }
    }
    const server = await startServer({ clientClass: BadClose });
    const errors: string[] = [];
    server.on('bgException', (error) => errors.push((error as Error).message));
    const gone = disconnects(server, 1); // registered first: runs before the throwing handler
    server.on('clientDisconnect', () => {
      throw new Error('clientDisconnect failed');
    });
    const { peer, client } = await connectClient(server);
    await peer.end();
    await gone;
    expect(errors).toEqual(['onSessionClosed failed', 'clientDisconnect failed']);
    expect(server.isClient(client)).toBe(false);
    expect(server.clientCount).toBe(0);
  });

  test('a client changeState listener that throws at close does not keep the client in the list', async () => {
    class Watcher extends EchoClient {
      constructor() {
        super();
        this.on('changeState', (state) => {
          if (state === 'closed') throw new Error('changeState listener failed');
        });
      }
    }
    const server = await startServer({ clientClass: Watcher });
    const errors: unknown[] = [];
    server.on('bgException', (error) => errors.push(error));
    const { peer, client } = await connectClient(server);
    const gone = once(server, 'clientDisconnect');
    await peer.end();
    await gone;
    expect(server.isClient(client)).toBe(false);
    expect(errors.map((e) => (e as Error).message)).toEqual(['changeState listener failed']);
  });

  test('a client changeState listener that throws at attach is reported; the server keeps serving', async () => {
    class Watcher extends EchoClient {
      constructor() {
        super();
        this.on('changeState', (state) => {
          if (state === 'connected' && this.cliId === 1) throw new Error('connected listener failed');
        });
      }
    }
    const server = await startServer({ clientClass: Watcher, banner: 'hi' });
    const bg = nextBgException(server);
    const gone = once(server, 'clientDisconnect');
    const peer = await Peer.connect(server.bindPort);
    const [error, client] = await bg;
    expect((error as Error).message).toBe('connected listener failed');
    expect(client!.cliId).toBe(1);
    await gone;
    await peer.closed;
    const next = await Peer.connect(server.bindPort);
    expect(await next.nextLine()).toBe('hi');
  });

  test('an exception thrown by the bgException handler itself becomes a process warning', async () => {
    const server = await startServer({ clientClass: Fragile });
    server.on('bgException', () => {
      throw new Error('handler failed too');
    });
    // (jest gives each test file its own `process` object, so spy rather than listen.)
    const warned = new Promise<unknown[]>((resolve) => {
      jest.spyOn(process, 'emitWarning').mockImplementationOnce((...args: unknown[]) => resolve(args));
    });
    const { peer } = await connectClient(server);
    peer.send('boom\r\n');
    const [message, type] = await warned;
    expect(type).toBe('TWSocketServerWarning');
    expect(message).toContain('handler failed too');
    expect(message).toContain('client 1');
    jest.restoreAllMocks();
    await peer.closed;
  });

  test('with no bgException listener, a client exception becomes a process warning and the client leaves', async () => {
    const server = await startServer({ clientClass: Fragile });
    const warned = new Promise<unknown[]>((resolve) => {
      jest.spyOn(process, 'emitWarning').mockImplementationOnce((...args: unknown[]) => resolve(args));
    });
    const bystander = await connectClient(server);
    const victim = await connectClient(server);
    const gone = disconnects(server, 1);
    victim.peer.send('boom\r\n');
    const [message, type] = await warned;
    jest.restoreAllMocks();
    expect(type).toBe('TWSocketServerWarning');
    expect(message).toContain('boom from client 2');
    await gone;
    expect(server.clients).toEqual([bystander.client]);
    await stillWorks(bystander.peer);
  });
});

import { Lifecycle, container, inject, injectable } from 'tsyringe';
import { ConnectionInfo, TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, connectClient, disconnects, startServer } from './helpers';

/** An application singleton all clients share. */
@injectable()
class ChatRoom {
  readonly members = new Set<ChatClient>();
  broadcast(from: ChatClient, text: string): void {
    for (const member of this.members) if (member !== from) member.sendLine(`${from.info.cliId}: ${text}`);
  }
}

@injectable()
class ChatClient extends TWSocketClient {
  constructor(
    readonly room: ChatRoom,
    readonly info: ConnectionInfo,
    readonly owner: TWSocketServer,
  ) {
    super({ lineMode: true });
  }
  protected override onSessionConnected(): void {
    this.room.members.add(this);
  }
  protected override onSessionClosed(): void {
    this.room.members.delete(this);
  }
  protected override onLine(line: string): void {
    this.room.broadcast(this, line);
  }
}

describe('dependency injection', () => {
  test('a singleton from the parent container is shared by every client', async () => {
    const parent = container.createChildContainer();
    parent.registerSingleton(ChatRoom);
    const server = await startServer({ clientClass: ChatClient, container: parent });
    const a = await connectClient(server);
    const b = await connectClient(server);
    expect(a.client.room).toBe(b.client.room);
    expect(a.client.room).toBe(parent.resolve(ChatRoom));
    expect(a.client.room.members.size).toBe(2);

    a.peer.send('hello all\r\n');
    expect(await b.peer.nextLine()).toBe('1: hello all');
    b.peer.send('hi one\r\n');
    expect(await a.peer.nextLine()).toBe('2: hi one');

    const gone = disconnects(server, 1);
    await b.peer.end();
    await gone;
    expect(a.client.room.members.size).toBe(1);
  });

  test('two servers with different parent containers do not share the singleton', async () => {
    const p1 = container.createChildContainer();
    p1.registerSingleton(ChatRoom);
    const p2 = container.createChildContainer();
    p2.registerSingleton(ChatRoom);
    const s1 = await startServer({ clientClass: ChatClient, container: p1 });
    const s2 = await startServer({ clientClass: ChatClient, container: p2 });
    const a = await connectClient(s1);
    const b = await connectClient(s2);
    expect(a.client.room).not.toBe(b.client.room);
    expect(a.client.owner).toBe(s1);
    expect(b.client.owner).toBe(s2);
  });

  test('ConnectionInfo is per connection and TWSocketServer is injectable', async () => {
    const parent = container.createChildContainer();
    parent.registerSingleton(ChatRoom);
    const server = await startServer({ clientClass: ChatClient, container: parent });
    const a = await connectClient(server);
    const b = await connectClient(server);
    for (const [i, { peer, client }] of [a, b].entries()) {
      const info = client.info;
      expect(info).toBeInstanceOf(ConnectionInfo);
      expect(info.cliId).toBe(i + 1);
      expect(info.cliId).toBe(client.cliId);
      expect(info.peerAddr).toBe('127.0.0.1');
      expect(info.peerAddrRaw).toBe('127.0.0.1');
      expect(info.peerPort).toBe(peer.localPort);
      expect(info.localAddr).toBe('127.0.0.1');
      expect(info.localPort).toBe(server.bindPort);
      expect(info.multiListenIndex).toBe(-1);
      expect(client.owner).toBe(server);
      expect(client.server).toBe(server);
    }
    expect(a.client.info).not.toBe(b.client.info);
  });

  test('the global container is never modified', async () => {
    const parent = container.createChildContainer();
    parent.registerSingleton(ChatRoom);
    const server = await startServer({ clientClass: ChatClient, container: parent });
    await connectClient(server);
    expect(container.isRegistered(ConnectionInfo, true)).toBe(false);
    expect(container.isRegistered(TWSocketServer, true)).toBe(false);
    expect(container.isRegistered(ChatClient, true)).toBe(false);
    expect(container.isRegistered(ChatRoom, true)).toBe(false);
    expect(parent.isRegistered(ConnectionInfo)).toBe(false);
    expect(parent.isRegistered(TWSocketServer)).toBe(false);
  });

  test('without a container option, a child of the global container is used (global untouched)', async () => {
    @injectable()
    class InfoClient extends EchoClient {
      constructor(
        readonly info: ConnectionInfo,
        @inject(TWSocketServer) readonly owner: TWSocketServer,
      ) {
        super();
      }
    }
    const server = await startServer({ clientClass: InfoClient });
    const { client } = await connectClient(server);
    expect(client.info.cliId).toBe(1);
    expect(client.owner).toBe(server);
    expect(container.isRegistered(ConnectionInfo, true)).toBe(false);
    expect(container.isRegistered(TWSocketServer, true)).toBe(false);
  });

  test('a class that cannot be resolved is reported as a bgException and the connection closed', async () => {
    class NotRegistered {
      constructor(readonly x: number) {}
    }
    @injectable()
    class NeedsMissing extends TWSocketClient {
      constructor(readonly missing: NotRegistered) {
        super();
      }
    }
    const server = await startServer({ clientClass: NeedsMissing });
    const errors: unknown[] = [];
    server.on('bgException', (error, client) => {
      errors.push(error);
      expect(client).toBeUndefined();
    });
    const peer = await Peer.connect(server.bindPort);
    await peer.closed;
    expect(errors).toHaveLength(1);
    expect(String(errors[0])).toMatch(/NeedsMissing|NotRegistered|TypeInfo/);
    expect(server.clientCount).toBe(0);
  });

  test('a bad container option is a TypeError', () => {
    expect(() => new TWSocketServer({ container: {} as never })).toThrow(TypeError);
    expect(() => new TWSocketServer({ container: {} as never })).toThrow(
      /option container must be a tsyringe DependencyContainer, got \{\}/,
    );
    expect(() => new TWSocketServer({ registry: 'x' as never })).toThrow(TypeError);
    expect(() => new TWSocketServer({ registry: 'x' as never })).toThrow(/option registry must be a ClientClassRegistry, got "x"/);
  });

  test("connectionContainer: 'yes' is a TypeError naming the option", () => {
    expect(() => new TWSocketServer({ connectionContainer: 'yes' as never })).toThrow(/option connectionContainer must be a boolean, got "yes"/);
  });
});

/** A per-connection unit of work: one per container (tsyringe Lifecycle.ContainerScoped). */
class Session {
  static made = 0;
  readonly serial = ++Session.made;
}

@injectable()
class SessionClient extends TWSocketClient {
  constructor(
    readonly session: Session,
    readonly info: ConnectionInfo,
    @inject('late-info') readonly lateInfo: () => ConnectionInfo,
  ) {
    super({ lineMode: true });
  }
}

describe('containers: the server\'s, or one per connection', () => {
  function appContainer() {
    const app = container.createChildContainer();
    app.register(Session, { useClass: Session }, { lifecycle: Lifecycle.ContainerScoped });
    // A factory that hands out a function resolving ConnectionInfo later, outside the client's creation.
    app.register('late-info', { useFactory: (c) => () => c.resolve(ConnectionInfo) });
    return app;
  }

  test('by default clients are resolved in the server\'s container: a ContainerScoped service is one per server', async () => {
    const server = await startServer({ clientClass: SessionClient, container: appContainer() });
    expect(server.connectionContainer).toBe(false);
    const a = await connectClient(server);
    const b = await connectClient(server);
    expect(a.client.session).toBe(b.client.session);
    // Each client still got its own ConnectionInfo.
    expect([a.client.info.cliId, b.client.info.cliId]).toEqual([1, 2]);
    expect(a.client.info.peerPort).toBe(a.peer.localPort);
    expect(b.client.info.peerPort).toBe(b.peer.localPort);
    // Asking for it after the client was made is an error that says why.
    expect(() => a.client.lateInfo()).toThrow(/ConnectionInfo can only be injected while the server creates a client/);
  });

  test('connectionContainer: a child container per connection, so a ContainerScoped service is one per connection', async () => {
    const server = await startServer({ clientClass: SessionClient, container: appContainer(), connectionContainer: true });
    const a = await connectClient(server);
    const b = await connectClient(server);
    expect(a.client.session).not.toBe(b.client.session);
    expect([a.client.info.cliId, b.client.info.cliId]).toEqual([1, 2]);
    // The connection's own container keeps its ConnectionInfo.
    expect(a.client.lateInfo()).toBe(a.client.info);
  });
});

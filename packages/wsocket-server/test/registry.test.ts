import { container } from 'tsyringe';
import {
  ClientClassRegistry,
  ConnectionInfo,
  TWSocketClient,
  TWSocketServer,
  clientClass,
  clientClassRegistry,
  registerClientClass,
} from '@ics-ts/wsocket-server';
import { EchoClient, connectClient, startServer } from './helpers';

describe('client class registry', () => {
  test('@clientClass(name) registers the class and makes it injectable', async () => {
    const registry = new ClientClassRegistry();
    @clientClass('info-echo', registry)
    class InfoEcho extends TWSocketClient {
      constructor(readonly info: ConnectionInfo) {
        super({ lineMode: true });
      }
      protected override onLine(line: string): void {
        this.sendLine(`${this.info.cliId} ${line}`);
      }
    }
    expect(registry.get('info-echo')).toBe(InfoEcho);
    expect(registry.has('info-echo')).toBe(true);
    expect(registry.names()).toEqual(['info-echo']);
    expect(clientClassRegistry.has('info-echo')).toBe(false);

    const server = await startServer({ clientClass: 'info-echo', registry });
    expect(server.clientClass).toBe(InfoEcho);
    const { peer, client } = await connectClient(server);
    expect(client).toBeInstanceOf(InfoEcho);
    expect((client as InfoEcho).info.cliId).toBe(1); // injected: the decorator made it injectable
    expect(await peer.ask('hi')).toBe('1 hi');
  });

  test('the decorator without a registry uses the shared default registry', async () => {
    @clientClass('default-registry-echo')
    class DefaultEcho extends EchoClient {}
    expect(clientClassRegistry.get('default-registry-echo')).toBe(DefaultEcho);
    try {
      const server = await startServer({ clientClass: 'default-registry-echo' });
      const { peer } = await connectClient(server);
      expect(await peer.ask('x')).toBe('echo x');
    } finally {
      clientClassRegistry.unregister('default-registry-echo');
    }
    expect(clientClassRegistry.has('default-registry-echo')).toBe(false);
  });

  test('an unknown name is a TypeError listing the known names', () => {
    const registry = new ClientClassRegistry();
    expect(() => new TWSocketServer({ clientClass: 'nope', registry })).toThrow(
      /no client class is registered as "nope" \(none is registered\)/,
    );
    registry.register('zeta', EchoClient);
    registry.register('alpha', TWSocketClient);
    let error: unknown;
    try {
      new TWSocketServer({ clientClass: 'nope', registry });
    } catch (e) {
      error = e;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect((error as Error).message).toContain('clientClass');
    expect((error as Error).message).toContain('"nope"');
    expect((error as Error).message).toContain('(registered: alpha, zeta)');
  });

  test('a class that does not extend TWSocketClient is a TypeError', () => {
    class NotAClient {
      sendLine(): void {}
    }
    expect(() => new TWSocketServer({ clientClass: NotAClient as never })).toThrow(TypeError);
    expect(() => new TWSocketServer({ clientClass: NotAClient as never })).toThrow(/NotAClient does not extend TWSocketClient/);
    const arrow = (() => undefined) as never;
    expect(() => new TWSocketServer({ clientClass: arrow })).toThrow(TypeError);
    expect(() => new TWSocketServer({ clientClass: 42 as never })).toThrow(TypeError);
    const server = new TWSocketServer();
    expect(() => {
      server.clientClass = NotAClient as never;
    }).toThrow(TypeError);
    expect(server.clientClass).toBe(TWSocketClient);
  });

  test('registering a non-client class by name fails at registration', () => {
    const registry = new ClientClassRegistry();
    class Plain {}
    expect(() => registry.register('plain', Plain as never)).toThrow(TypeError);
    expect(() => registry.register('plain', Plain as never)).toThrow(/plain.*does not extend TWSocketClient/);
    expect(() => clientClass('plain2', registry)(Plain as never)).toThrow(TypeError);
    expect(registry.names()).toEqual([]);
  });

  test('registering a different class under a taken name throws; the same class again is fine', () => {
    const registry = new ClientClassRegistry();
    class A extends TWSocketClient {}
    class B extends TWSocketClient {}
    registry.register('chat', A);
    registry.register('chat', A);
    expect(() => registry.register('chat', B)).toThrow(/"chat" is already registered to A/);
    expect(() => registerClientClass('chat', B, registry)).toThrow(/already registered/);
    expect(registry.get('chat')).toBe(A);
    expect(registry.unregister('chat')).toBe(true);
    registry.register('chat', B);
    expect(registry.get('chat')).toBe(B);
  });

  test('bad names are TypeErrors', () => {
    const registry = new ClientClassRegistry();
    expect(() => registry.register('', EchoClient)).toThrow(TypeError);
    expect(() => registry.register('   ', EchoClient)).toThrow(TypeError);
    expect(() => registry.register(7 as never, EchoClient)).toThrow(TypeError);
  });

  test('clientClass can be changed at run time, by name too: new connections use it', async () => {
    const registry = new ClientClassRegistry();
    class Shouter extends EchoClient {
      protected override onLine(line: string): void {
        this.sendLine(line.toUpperCase());
      }
    }
    registry.register('shout', Shouter);
    const server = await startServer({ clientClass: EchoClient, registry });
    const first = await connectClient(server);
    server.clientClass = 'shout';
    expect(server.clientClass).toBe(Shouter);
    const second = await connectClient(server);
    expect(await first.peer.ask('a')).toBe('echo a');
    expect(await second.peer.ask('a')).toBe('A');
    expect(() => {
      server.clientClass = 'missing';
    }).toThrow(/registered: shout/);
  });

  test('the registry never touches the tsyringe global container', () => {
    const registry = new ClientClassRegistry();
    @clientClass('isolated', registry)
    class Isolated extends TWSocketClient {}
    expect(container.isRegistered(Isolated, true)).toBe(false);
  });
});

/**
 * Client classes without decorator metadata: `static inject` lists what the
 * constructor takes (plain JavaScript, standard decorators); a class that
 * takes parameters and says nothing is refused up front, with what to add.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import { injectable } from 'tsyringe';
import * as serverPackage from '../src';
import { ConnectionInfo, TWSocketClient, TWSocketServer, registerClientClass, ClientClassRegistry } from '@ics-ts/wsocket-server';
import { Peer, startServer } from './helpers';

class Greeter {
  greet(name: string): string {
    return `hello ${name}`;
  }
}

describe('static inject', () => {
  test('the plain JavaScript example of docs/client-classes.md, read from the page, serves lines', async () => {
    const page = readFileSync(path.resolve(__dirname, '../../../docs/client-classes.md'), 'utf8');
    const source = /```js\n([\s\S]*?)```/.exec(page)![1];
    const PlainJsClient = new Function('require', `${source}\nreturn PlainJsClient;`)((name: string) => {
      if (name === '@ics-ts/wsocket-server') return serverPackage;
      throw new Error(`the example requires ${name}`);
    }) as typeof TWSocketClient;
    const server = await startServer({ clientClass: PlainJsClient });
    const peer = await Peer.connect(server.bindPort);
    expect(await peer.ask('from the docs')).toBe('1 127.0.0.1: from the docs');
  });

  test('a plain JavaScript class with static inject gets its ConnectionInfo', async () => {
    const { PlainJsClient } = require('./fixtures/plain-js-client.js') as { PlainJsClient: typeof TWSocketClient };
    const server = await startServer({ clientClass: PlainJsClient });
    const peer = await Peer.connect(server.bindPort);
    expect(await peer.ask('hi')).toBe('1 127.0.0.1: hi');
  });

  test('tokens are resolved in the server container, in order', async () => {
    class Undecorated extends TWSocketClient {
      static inject = [Greeter, ConnectionInfo, TWSocketServer];
      constructor(
        readonly greeter: Greeter,
        readonly info: ConnectionInfo,
        readonly owner: TWSocketServer,
      ) {
        super({ lineMode: true });
      }
      protected override onLine(line: string): void {
        this.sendLine(`${this.greeter.greet(line)} #${this.info.cliId} ${this.owner === this.server}`);
      }
    }
    const server = await startServer<Undecorated>({ clientClass: Undecorated });
    const peer = await Peer.connect(server.bindPort);
    expect(await peer.ask('bob')).toBe('hello bob #1 true');
  });
});

describe('a class that needs injection and cannot get it', () => {
  class NoMetadata extends TWSocketClient {
    constructor(readonly info: ConnectionInfo) {
      super();
    }
  }

  test('refused when the server is made, saying what to add', () => {
    let error: Error | undefined;
    try {
      new TWSocketServer({ clientClass: NoMetadata });
    } catch (e) {
      error = e as Error;
    }
    expect(error).toBeInstanceOf(TypeError);
    expect(error!.message).toContain("option clientClass: NoMetadata's constructor takes 1 parameter(s) but nothing says what to inject");
    expect(error!.message).toContain('static inject = [ConnectionInfo, ...]');
    expect(error!.message).toContain('emitDecoratorMetadata');
    expect(error!.message).toContain("import 'reflect-metadata'");
  });

  test('by name, per listener, and when changed at run time', async () => {
    const registry = new ClientClassRegistry();
    registerClientClass('bare', NoMetadata, registry);
    expect(() => new TWSocketServer({ registry, clientClass: 'bare' })).toThrow(/nothing says what to inject/);
    expect(() => new TWSocketServer({ multiListenSockets: [{ addr: '127.0.0.1', port: 0, clientClass: NoMetadata }] })).toThrow(
      /option multiListenSockets\[0\]\.clientClass: NoMetadata's constructor/,
    );
    const server = await startServer();
    expect(() => (server.clientClass = NoMetadata)).toThrow(/nothing says what to inject/);
  });

  test('static inject shorter than the constructor is refused too', () => {
    class Short extends TWSocketClient {
      static inject = [ConnectionInfo];
      constructor(
        readonly info: ConnectionInfo,
        readonly greeter: Greeter,
      ) {
        super();
      }
    }
    expect(() => new TWSocketServer({ clientClass: Short })).toThrow("Short's constructor takes 2 parameters but static inject lists 1");
  });

  test('decorated classes and classes without parameters need nothing', () => {
    @injectable()
    class Decorated extends TWSocketClient {
      constructor(readonly info: ConnectionInfo) {
        super();
      }
    }
    class NoParameters extends TWSocketClient {}
    expect(() => new TWSocketServer({ clientClass: Decorated })).not.toThrow();
    expect(() => new TWSocketServer({ clientClass: NoParameters })).not.toThrow();
  });
});

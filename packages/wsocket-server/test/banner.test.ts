import { TWSocketClient } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, connectClient, startServer } from './helpers';

describe('banner', () => {
  test('the banner is sent followed by CRLF, before anything else', async () => {
    const server = await startServer({ banner: 'Welcome to the test server', clientClass: EchoClient });
    const peer = await Peer.connect(server.bindPort);
    expect(await peer.nextLine()).toBe('Welcome to the test server');
    expect(await peer.ask('ping')).toBe('echo ping');
    expect(peer.received).toBe('Welcome to the test server\r\necho ping\r\n');
  });

  test('an empty banner (the default) sends nothing', async () => {
    const server = await startServer({ clientClass: EchoClient });
    expect(server.banner).toBe('');
    const peer = await Peer.connect(server.bindPort);
    // The first bytes the peer gets are the answer to its own line.
    expect(await peer.ask('first')).toBe('echo first');
    expect(peer.received).toBe('echo first\r\n');
  });

  test('a banner set in clientCreate is used for that client only', async () => {
    const server = await startServer({ banner: 'normal', clientClass: EchoClient });
    server.once('clientCreate', (client) => {
      expect(client.banner).toBe('normal');
      client.banner = `special for ${client.cliId}`;
    });
    const first = await Peer.connect(server.bindPort);
    expect(await first.nextLine()).toBe('special for 1');
    const second = await Peer.connect(server.bindPort);
    expect(await second.nextLine()).toBe('normal');
  });

  test('a banner set in clientConnect is used for that client; empty there sends nothing', async () => {
    const server = await startServer({ banner: 'normal', clientClass: EchoClient });
    server.once('clientConnect', (client) => {
      client.banner = 'from clientConnect';
    });
    const first = await Peer.connect(server.bindPort);
    expect(await first.nextLine()).toBe('from clientConnect');

    server.once('clientConnect', (client) => {
      client.banner = '';
    });
    const second = await Peer.connect(server.bindPort);
    expect(await second.ask('x')).toBe('echo x');
    expect(second.received).toBe('echo x\r\n');
  });

  test('the banner uses the client line end', async () => {
    class LfClient extends TWSocketClient {
      constructor() {
        super({ lineEnd: '\n' });
      }
    }
    const server = await startServer({ banner: 'lf only', clientClass: LfClient });
    const { peer } = await connectClient(server);
    const closed = peer.closed;
    server.client(0)!.close();
    await closed;
    expect(peer.received).toBe('lf only\n');
  });

  test('a client class overriding startConnection sends its own greeting', async () => {
    class Greeter extends EchoClient {
      override startConnection(): void {
        this.sendLine(`200 ${this.banner} (client ${this.cliId})`);
        this.sendLine('200 ready');
      }
    }
    const server = await startServer({ banner: 'greeter', clientClass: Greeter });
    const peer = await Peer.connect(server.bindPort);
    expect(await peer.nextLine()).toBe('200 greeter (client 1)');
    expect(await peer.nextLine()).toBe('200 ready');
    expect(await peer.ask('go')).toBe('echo go');
  });

  test('startConnection is not called when clientConnect closed the client', async () => {
    let started = 0;
    class Counting extends TWSocketClient {
      override startConnection(): void {
        started++;
        super.startConnection();
      }
    }
    const server = await startServer({ banner: 'never seen', clientClass: Counting });
    server.on('clientConnect', (client) => client.close());
    const peer = await Peer.connect(server.bindPort);
    await peer.closed;
    expect(peer.received).toBe('');
    expect(peer.sawEnd).toBe(true);
    expect(started).toBe(0);
  });

  test('changing banner at run time affects new connections only', async () => {
    class Late extends EchoClient {
      protected override onLine(line: string): void {
        // Shows the banner this client was given, after the server's changed.
        this.sendLine(`${line}: ${this.banner}`);
      }
    }
    const server = await startServer({ banner: 'first', clientClass: Late });
    const a = await Peer.connect(server.bindPort);
    expect(await a.nextLine()).toBe('first');
    server.banner = 'second';
    expect(server.banner).toBe('second');
    expect(await a.ask('a')).toBe('a: first');
    const b = await Peer.connect(server.bindPort);
    expect(await b.nextLine()).toBe('second');
    expect(() => {
      (server as { banner: unknown }).banner = 42;
    }).toThrow(TypeError);
    expect(server.banner).toBe('second');
  });
});

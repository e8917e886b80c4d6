import { TWSocketClient } from '@ics-ts/wsocket-server';
import { EchoClient, connectClient, disconnects, once, startServer } from './helpers';

/** Records every line it gets and when its session closed. */
class Recorder extends TWSocketClient {
  readonly log: string[] = [];
  constructor() {
    super({ lineMode: true });
  }
  protected override onLine(line: string): void {
    this.log.push(`line ${JSON.stringify(line)}`);
    super.onLine(line); // emits 'line'
  }
  protected override onSessionClosed(error: Error | undefined): void {
    this.log.push(`closed ${error ? 'with error' : 'cleanly'}`);
  }
}

describe('line mode through the server', () => {
  test('the final partial line reaches onLine when the peer ends without a line end', async () => {
    const server = await startServer({ clientClass: Recorder });
    const { peer, client } = await connectClient(server);
    const gone = disconnects(server, 1);
    peer.send('complete\r\nunfinished');
    await peer.end();
    await gone;
    expect(client.log).toEqual(['line "complete"', 'line "unfinished"', 'closed cleanly']);
  });

  test('the final partial line comes before clientDisconnect', async () => {
    const server = await startServer({ clientClass: Recorder });
    const { peer, client } = await connectClient(server);
    let atDisconnect: string[] = [];
    server.on('clientDisconnect', (c) => {
      atDisconnect = [...c.log];
    });
    const gone = disconnects(server, 1);
    peer.send('tail only');
    await peer.end();
    await gone;
    expect(atDisconnect).toEqual(['line "tail only"', 'closed cleanly']);
    expect(client.log).toEqual(atDisconnect);
  });

  test('no final line when nothing is pending', async () => {
    const server = await startServer({ clientClass: Recorder });
    const { peer, client } = await connectClient(server);
    const gone = disconnects(server, 1);
    peer.send('a\r\nb\r\n');
    await peer.end();
    await gone;
    expect(client.log).toEqual(['line "a"', 'line "b"', 'closed cleanly']);
  });

  test('a client aborted by the server does not get the partial line', async () => {
    const server = await startServer({ clientClass: Recorder });
    const { peer, client } = await connectClient(server);
    const handled = once(client, 'line');
    peer.send('x\r\npartial');
    await handled; // the complete line was handled; 'partial' is pending
    await server.disconnect(client);
    expect(client.log).toEqual(['line "x"', 'closed cleanly']);
    await peer.closed;
  });

  test('lines split across packets and many lines in one packet', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const { peer } = await connectClient(server);
    peer.send('he');
    peer.send('llo\r');
    peer.send('\nsecond\r\nthird\r\n');
    expect(await peer.nextLine()).toBe('echo hello');
    expect(await peer.nextLine()).toBe('echo second');
    expect(await peer.nextLine()).toBe('echo third');
  });

  test('utf-8 lines round-trip', async () => {
    const server = await startServer({ clientClass: EchoClient });
    const { peer } = await connectClient(server);
    expect(await peer.ask('grüße, 世界')).toBe('echo grüße, 世界');
  });
});

import { once } from 'node:events';
import * as net from 'node:net';
import { injectable } from 'tsyringe';
import { ConnectionInfo, TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';

@injectable()
class Echo extends TWSocketClient {
  constructor(readonly info: ConnectionInfo) {
    super({ lineMode: true, lineAcceptLf: true });
  }
  protected override onLine(line: string): void {
    this.sendLine(`echo ${line} ${this.info.cliId}`);
  }
}

test('smoke', async () => {
  const server = new TWSocketServer({ addr: '127.0.0.1', port: 0, clientClass: Echo, banner: 'hello' });
  await server.listen();
  const c = net.connect(server.bindPort, '127.0.0.1');
  c.setEncoding('utf8');
  let got = '';
  c.on('data', (d) => { got += d; if (got.includes('echo hi 1')) c.end(); });
  c.write('hi\n');
  await once(c, 'close');
  expect(got).toBe('hello\r\necho hi 1\r\n');
  await server.close();
});

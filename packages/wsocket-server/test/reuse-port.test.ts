import { REUSE_PORT_MIN_NODE, TWSocketServer } from '@ics-ts/wsocket-server';
import { reusePortSupported } from '../src/options/server-options';
import { EchoClient, Peer, newServer, startServer } from './helpers';

const supported = reusePortSupported();

test('reusePortSupported: Node 22.12 and later', () => {
  expect(REUSE_PORT_MIN_NODE).toBe('22.12.0');
  expect(['20.19.0', '22.11.9', '21.99.0'].map((v) => reusePortSupported(v))).toEqual([false, false, false]);
  expect(['22.12.0', '22.20.1', '23.1.0', '24.0.0'].map((v) => reusePortSupported(v))).toEqual([true, true, true, true]);
});

test('reusePort is a boolean', () => {
  expect(() => new TWSocketServer({ reusePort: 'yes' as never })).toThrow(/option reusePort must be a boolean, got "yes"/);
});

(supported ? test.skip : test)('on a Node without it, reusePort: true names the option, this Node and the minimum', () => {
  expect(() => new TWSocketServer({ reusePort: true })).toThrow(
    new RegExp(`option reusePort needs Node >= 22\\.12\\.0 \\(net listen reusePort\\); this is Node ${process.versions.node.replace(/\./g, '\\.')}`),
  );
});

if (!supported) console.log(`reusePort: Node ${process.versions.node} < ${REUSE_PORT_MIN_NODE}, the two-listener test is skipped`);

(supported ? test : test.skip)('two servers with reusePort on one port both listen, and the kernel spreads connections to both', async () => {
  const first = await startServer({ clientClass: EchoClient, banner: 'first', reusePort: true });
  const port = first.bindPort;
  // Without it the port is taken...
  await expect(newServer({ clientClass: EchoClient, port }).listen()).rejects.toThrow(/EADDRINUSE/);
  // ...with it, a second socket binds beside the first.
  const second = newServer({ clientClass: EchoClient, banner: 'second', reusePort: true, port });
  await second.listen();
  expect(second.bindPort).toBe(port);
  const seen = new Set<string>();
  for (let i = 0; i < 400 && seen.size < 2; i++) {
    const peer = await Peer.connect(port);
    seen.add(await peer.nextLine());
    await peer.destroy();
  }
  expect([...seen].sort()).toEqual(['first', 'second']);
});

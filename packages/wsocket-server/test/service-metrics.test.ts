/**
 * The service in /metrics and /stats: with a shared bus the admin listener
 * asks the bus for the service-wide count before it answers, so a scrape of
 * any node shows every node's clients, and the bus's status.
 */
import * as net from 'node:net';
import { once } from 'node:events';
import { HubBus, ServiceHub, TWSocketServer } from '../src';

test('a scrape of one node counts the clients of both nodes, labelled with the bus kind', async () => {
  const hub = new ServiceHub();
  const [a, b] = [0, 1].map(
    (i) =>
      new TWSocketServer({
        addr: '127.0.0.1',
        port: 0,
        banner: 'hi',
        bus: new HubBus(hub, { nodeId: `node-${i}` }),
        ...(i === 0 ? { admin: { addr: '127.0.0.1', port: 0 } } : {}),
      }),
  );
  const sockets: net.Socket[] = [];
  try {
    await Promise.all([a.listen(), b.listen()]);
    for (const server of [a, b, b]) {
      const socket = net.connect({ port: server.bindPort, host: '127.0.0.1' });
      sockets.push(socket);
      await once(socket, 'data'); // greeted: a client now
    }
    const metrics = await (await fetch(`${a.adminUrl}/metrics`)).text();
    expect(metrics).toContain('ics_ts_service_clients{bus="hub"} 3\n');
    expect(metrics).toContain('ics_ts_service_up{bus="hub"} 1\n');
    expect(metrics).toContain('ics_ts_clients 1\n'); // this node's own list
    const stats = (await (await fetch(`${a.adminUrl}/stats`)).json()) as { service: { serviceClients: number; kind: string } };
    expect(stats.service).toMatchObject({ serviceClients: 3, kind: 'hub' });
  } finally {
    for (const socket of sockets) socket.destroy();
    await Promise.all([a.shutdown(1000), b.shutdown(1000)]);
  }
});

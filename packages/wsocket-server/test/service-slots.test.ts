import { HubBus, LocalBus, ServiceHub, SlotVerdict, TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, disconnects, newServer, startServer } from './helpers';

/** Waits (bounded) until `condition` holds; fails with `what` otherwise. */
async function until(condition: () => boolean, what: string): Promise<void> {
  for (let i = 0; i < 500 && !condition(); i++) await new Promise((resolve) => setTimeout(resolve, 5));
  if (!condition()) throw new Error(`never happened: ${what}`);
}

/** A hub bus whose slot verdicts wait until the test lets them through (or fail, when told to). */
class GatedBus extends HubBus {
  private gates: (() => void)[] = [];
  failNext = false;
  override async reserveSlot(key: string, maxClients: number, maxClientsPerIp: number): Promise<SlotVerdict> {
    if (this.failNext) {
      this.failNext = false;
      throw new Error('the store is unreachable');
    }
    await new Promise<void>((resolve) => this.gates.push(resolve));
    return super.reserveSlot(key, maxClients, maxClientsPerIp);
  }
  get waiting(): number {
    return this.gates.length;
  }
  open(): void {
    for (const gate of this.gates.splice(0)) gate();
  }
}

function twoNodes(hub: ServiceHub, options: { maxClients?: number; maxClientsPerIp?: number } = {}): Promise<[TWSocketServer, TWSocketServer]> {
  const common = { clientClass: EchoClient, banner: 'welcome', bannerTooBusy: 'busy', bannerTooBusyPerIp: 'busy for you', ...options };
  return Promise.all([
    startServer({ ...common, bus: new HubBus(hub, { nodeId: 'a' }) }),
    startServer({ ...common, bus: new HubBus(hub, { nodeId: 'b' }) }),
  ]);
}

async function firstLines(port: number, count: number, host = '127.0.0.1'): Promise<{ peers: Peer[]; lines: string[] }> {
  const peers: Peer[] = [];
  const lines: string[] = [];
  // One after the other: each verdict is in before the next connection asks.
  for (let i = 0; i < count; i++) {
    const peer = await Peer.connect(port, '127.0.0.1', { localAddress: host });
    peers.push(peer);
    lines.push(await peer.nextLine());
  }
  return { peers, lines };
}

describe('service-wide client slots (two servers on one ServiceHub)', () => {
  test('maxClients 10 across both: 6 on A, then B gets 4 and turns the rest away as too busy; released on disconnect', async () => {
    const hub = new ServiceHub();
    const [a, b] = await twoNodes(hub, { maxClients: 10 });
    const onA = await firstLines(a.bindPort, 6);
    expect(onA.lines).toEqual(Array(6).fill('welcome'));
    const onB = await firstLines(b.bindPort, 7);
    expect(onB.lines).toEqual([...Array(4).fill('welcome'), ...Array(3).fill('busy')]);
    expect([a.clientCount, b.clientCount, hub.clientCount()]).toEqual([6, 4, 10]);
    expect(b.refusals.maxClients).toBe(3);
    expect(b.tooBusyCount).toBe(3);
    expect(await b.serviceClientCount()).toBe(10);
    const stats = b.stats().service!;
    expect(stats).toMatchObject({ kind: 'hub', nodeId: 'b', status: 'up', slots: 4, serviceClients: 10, slotsWaiting: 0, slotTimeouts: 0, slotErrors: 0 });
    expect(a.stats().service!.slots).toBe(6);

    // A client leaving A gives its slot back, once: B can take one more, and only one.
    const gone = disconnects(a, 2);
    await Promise.all(onA.peers.slice(0, 2).map((peer) => peer.end()));
    await gone;
    expect(hub.clientCount()).toBe(8);
    const again = await firstLines(b.bindPort, 3);
    expect(again.lines).toEqual(['welcome', 'welcome', 'busy']);
    expect([hub.nodeSlots('a'), hub.nodeSlots('b')]).toEqual([4, 6]);

    const allGone = Promise.all([disconnects(a, 4), disconnects(b, 6)]);
    await Promise.all([...onA.peers.slice(2), ...onB.peers.slice(0, 4), ...again.peers.slice(0, 2)].map((peer) => peer.end()));
    await allGone;
    expect(hub.clientCount()).toBe(0);
  });

  test('maxClientsPerIp across both: an address at its limit on A is refused on B; another address is served', async () => {
    const hub = new ServiceHub();
    const [a, b] = await twoNodes(hub, { maxClientsPerIp: 2 });
    expect((await firstLines(a.bindPort, 1, '127.0.0.2')).lines).toEqual(['welcome']);
    expect((await firstLines(b.bindPort, 2, '127.0.0.2')).lines).toEqual(['welcome', 'busy for you']);
    expect((await firstLines(b.bindPort, 1, '127.0.0.3')).lines).toEqual(['welcome']);
    expect(b.refusals.perIp).toBe(1);
    expect(a.refusals.perIp).toBe(0);
    expect(hub.clientCount()).toBe(3);
  });

  test('a peer gone while it waits for the verdict leaks no slot; a waiting socket counts for maxConnections', async () => {
    const hub = new ServiceHub();
    const bus = new GatedBus(hub, { nodeId: 'gated' });
    const server = await startServer({ clientClass: EchoClient, banner: 'welcome', maxConnections: 1, bus });
    const refused: string[] = [];
    server.on('refused', (refusal) => refused.push(refusal.reason));
    const peer = await Peer.connect(server.bindPort);
    await until(() => bus.waiting === 1, 'the connection asks the bus');
    expect(server.connectionCount).toBe(1);
    expect(server.stats().service!.slotsWaiting).toBe(1);

    const second = await Peer.connect(server.bindPort);
    await second.closed;
    expect(refused).toEqual(['maxConnections']);

    peer.socket.resetAndDestroy();
    await until(() => server.connectionCount === 0, 'the server sees the waiting socket close');
    bus.open(); // the verdict comes after the peer left: the slot goes back
    await until(() => hub.clientCount() === 0 && server.stats().service!.slotsWaiting === 0, 'the late slot is given back');
    await new Promise((resolve) => setImmediate(resolve));
    expect(hub.clientCount()).toBe(0);
    expect(server.clientCount).toBe(0);
  });

  test('a peer that ends its side (FIN) while it waits leaks no slot either', async () => {
    const hub = new ServiceHub();
    const bus = new GatedBus(hub, { nodeId: 'gated' });
    const server = await startServer({ clientClass: EchoClient, banner: 'welcome', bus });
    const peer = await Peer.connect(server.bindPort);
    await until(() => bus.waiting === 1, 'the connection asks the bus');
    peer.socket.end();
    bus.open();
    await peer.closed;
    await until(() => hub.clientCount() === 0 && server.clientCount === 0 && server.connectionCount === 0, 'nothing left of it');
  });

  test('shutdown ends the waits; a slot granted afterwards goes back; the bus stops (its node leaves the hub)', async () => {
    const hub = new ServiceHub();
    const bus = new GatedBus(hub, { nodeId: 'gated' });
    const server = newServer({ clientClass: EchoClient, bus });
    await server.listen();
    expect(hub.nodes).toEqual(['gated']);
    const peer = await Peer.connect(server.bindPort);
    await until(() => bus.waiting === 1, 'the connection asks the bus');
    await server.shutdown(1000);
    await peer.closed;
    expect(hub.nodes).toEqual([]);
    bus.open();
    await until(() => hub.clientCount() === 0, 'the slot goes back');
    expect(server.clientCount).toBe(0);
  });

  test('a bus that fails a reserve: admitted on local limits (counted); one that does not answer: admitted at serviceSlotTimeout, keeping a slot granted late', async () => {
    const hub = new ServiceHub();
    const bus = new GatedBus(hub, { nodeId: 'slow' });
    const server = await startServer({ clientClass: EchoClient, banner: 'welcome', bannerTooBusy: 'busy', bus, serviceSlotTimeout: 50, maxClients: 1 });
    bus.failNext = true;
    const first = await Peer.connect(server.bindPort);
    expect(await first.nextLine()).toBe('welcome');
    expect(server.stats().service!).toMatchObject({ slotErrors: 1, slots: 0 });
    // This server's own limit holds (checked before the bus is asked): maxClients 1 is taken.
    const second = await Peer.connect(server.bindPort);
    expect(await second.nextLine()).toBe('busy');
    expect(bus.waiting).toBe(0);
    await first.end();
    await until(() => server.clientCount === 0, 'the first leaves');

    const third = await Peer.connect(server.bindPort);
    expect(await third.nextLine()).toBe('welcome'); // the bus never answered: admitted at the timeout
    expect(server.stats().service!.slotTimeouts).toBe(1);
    expect(hub.clientCount()).toBe(0);
    bus.open(); // the slot comes late: the client keeps it...
    await until(() => hub.clientCount() === 1, 'the late slot is kept');
    const gone = disconnects(server, 1);
    await third.end();
    await gone;
    expect(hub.clientCount()).toBe(0); // ...and gives it back when it leaves
  });
});

describe('bytes a peer sends while it waits for the verdict reach its client, in order', () => {
  test('plain: a line sent at once is answered after the banner', async () => {
    const bus = new GatedBus(new ServiceHub(), { nodeId: 'gated' });
    const server = await startServer({ clientClass: EchoClient, banner: 'welcome', bus });
    const peer = await Peer.connect(server.bindPort);
    peer.socket.write('early\r\n');
    await until(() => bus.waiting === 1, 'the connection asks the bus');
    bus.open();
    expect(await peer.nextLine()).toBe('welcome');
    expect(await peer.nextLine()).toBe('echo early');
    expect(await peer.ask('later')).toBe('echo later');
  });

  test.each([
    ['right after the header, in the same packet', 'PROXY TCP4 198.51.100.7 203.0.113.1 4000 80\r\nearly\r\n'],
    ['after a header that came alone', 'PROXY TCP4 198.51.100.7 203.0.113.1 4000 80\r\n'],
  ])('PROXY header: a line %s', async (_what, first) => {
    const bus = new GatedBus(new ServiceHub(), { nodeId: 'gated' });
    const server = await startServer({ clientClass: EchoClient, banner: 'welcome', bus, proxyProtocol: 'v1', trustedProxies: ['127.0.0.1'] });
    const peer = await Peer.connect(server.bindPort);
    peer.socket.write(first);
    await until(() => bus.waiting === 1, 'the connection asks the bus');
    if (!first.endsWith('early\r\n')) peer.socket.write('early\r\n');
    // Every byte is in the server's hands before the verdict comes.
    const waiting = (server as unknown as { serviceSlots: { waiting: Map<import('node:net').Socket, unknown> } }).serviceSlots.waiting;
    const sent = Buffer.byteLength(first.endsWith('early\r\n') ? first : `${first}early\r\n`);
    await until(() => [...waiting.keys()][0]?.bytesRead === sent, 'the server read every byte');
    bus.open();
    expect(await peer.nextLine()).toBe('welcome');
    expect(await peer.nextLine()).toBe('echo early');
    expect(server.clients[0].peerAddr).toBe('198.51.100.7');
    expect(hub(bus).nodeSlots('gated')).toBe(1);
  });
});

function hub(bus: HubBus): ServiceHub {
  return bus.hub;
}

describe('the bus option', () => {
  test('default: a LocalBus, status local; its slots are the server clients', async () => {
    const server = await startServer({ clientClass: EchoClient, banner: 'welcome' });
    expect(server.bus).toBeInstanceOf(LocalBus);
    expect(server.bus.status).toBe('local');
    const peer = await Peer.connect(server.bindPort);
    expect(await peer.nextLine()).toBe('welcome');
    expect(await server.serviceClientCount()).toBe(1);
    expect(server.stats().service).toMatchObject({ kind: 'local', status: 'local', slots: 1, serviceClients: 1, outages: 0, lastError: '' });
  });

  test('validated: an object with the ServiceBus methods and a nodeId', () => {
    expect(() => new TWSocketServer({ bus: {} as never })).toThrow(/option bus must be a ServiceBus: it has no start, stop, reserveSlot.*got \{\}/);
    expect(() => new TWSocketServer({ bus: 'redis://localhost' as never })).toThrow(/option bus must be a ServiceBus, got "redis:\/\/localhost"/);
    const noId = Object.assign(Object.create(HubBus.prototype), { nodeId: '' });
    expect(() => new TWSocketServer({ bus: noId })).toThrow(/option bus must be a ServiceBus with a nodeId string, got nodeId ""/);
    expect(() => new TWSocketServer({ serviceSlotTimeout: -1 })).toThrow(/option serviceSlotTimeout must be an integer number of ms from 0 to 2147483647, got -1/);
    expect(() => new TWSocketServer({ serviceSlotTimeout: 2 ** 31 })).toThrow(/option serviceSlotTimeout must be an integer number of ms from 0 to 2147483647, got 2147483648/);
  });

  test('the first listen starts the bus; a listen that opens nothing stops it again; shutdown stops it', async () => {
    const hub = new ServiceHub();
    const taken = await startServer({ clientClass: EchoClient });
    const server = newServer({ clientClass: EchoClient, port: taken.bindPort, bus: new HubBus(hub, { nodeId: 'n' }) });
    await expect(server.listen()).rejects.toThrow(/EADDRINUSE/);
    expect(hub.nodes).toEqual([]);
    const free = newServer({ clientClass: EchoClient, bus: new HubBus(hub, { nodeId: 'm' }) });
    await free.listen();
    expect(hub.nodes).toEqual(['m']);
    await free.close(); // close() keeps the clients and the service
    expect(hub.nodes).toEqual(['m']);
    await free.shutdown(100);
    expect(hub.nodes).toEqual([]);
  });

  test('a bus that cannot start does not stop the server listening: serviceStatus down, stats say why; its status events are relayed', async () => {
    class BrokenBus extends HubBus {
      override start(): Promise<void> {
        return Promise.reject(new Error('connect ECONNREFUSED 127.0.0.1:6379'));
      }
    }
    const bus = new BrokenBus(new ServiceHub(), { nodeId: 'broken' });
    const server = newServer({ clientClass: EchoClient, banner: 'welcome', bus });
    const statuses: string[] = [];
    server.on('serviceStatus', (status, reason) => statuses.push(`${status}: ${reason}`));
    await server.listen();
    expect(server.state).toBe('listening');
    expect(statuses).toEqual(['down: the bus could not start: connect ECONNREFUSED 127.0.0.1:6379']);
    expect(server.stats().service).toMatchObject({ status: 'down', lastError: 'connect ECONNREFUSED 127.0.0.1:6379', outages: 1 });
    const peer = await Peer.connect(server.bindPort);
    expect(await peer.nextLine()).toBe('welcome');
    bus.emit('status', 'up', 'reconnected');
    expect(statuses[1]).toBe('up: reconnected');
    expect(server.stats().service!.status).toBe('up');
  });
});

import { TWSocketClient, TooBusyInfo } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, connectClient, disconnects, startServer } from './helpers';

describe('maxClients and bannerTooBusy', () => {
  test('a burst of 200 connections against maxClients 50: 50 served, 150 turned away cleanly', async () => {
    let constructed = 0;
    class Counted extends EchoClient {
      constructor() {
        super();
        constructed++;
      }
    }
    const server = await startServer({
      clientClass: Counted,
      maxClients: 50,
      banner: 'welcome',
      bannerTooBusy: 'busy, try later',
    });
    const tooBusy: TooBusyInfo[] = [];
    server.on('tooBusy', (info) => tooBusy.push(info));

    // All 200 open at once; none closes before every one has its first line.
    const peers = await Promise.all(Array.from({ length: 200 }, () => Peer.connect(server.bindPort)));
    const firstLines = await Promise.all(peers.map((peer) => peer.nextLine()));

    const served = peers.filter((_, i) => firstLines[i] === 'welcome');
    const rejected = peers.filter((_, i) => firstLines[i] === 'busy, try later');
    expect(served).toHaveLength(50);
    expect(rejected).toHaveLength(150);
    expect(server.tooBusyCount).toBe(150);
    expect(tooBusy).toHaveLength(150);
    expect(tooBusy.every((info) => info.peerAddr === '127.0.0.1' && info.multiListenIndex === -1)).toBe(true);
    expect(new Set(tooBusy.map((info) => info.peerPort))).toEqual(new Set(rejected.map((peer) => peer.localPort)));
    expect(constructed).toBe(50);
    expect(server.clientCount).toBe(50);

    // The rejected ones: exactly the busy line, then a clean end (FIN, no reset).
    const hadErrors = await Promise.all(rejected.map((peer) => peer.closed));
    for (const [i, peer] of rejected.entries()) {
      expect(peer.received).toBe('busy, try later\r\n');
      expect(peer.sawEnd).toBe(true);
      expect(peer.error).toBeUndefined();
      expect(hadErrors[i]).toBe(false);
    }

    // The served ones are still connected and working.
    const answers = await Promise.all(served.map((peer, i) => peer.ask(`n${i}`)));
    expect(answers).toEqual(served.map((_, i) => `echo n${i}`));
    expect(server.clientCount).toBe(50);

    const allGone = disconnects(server, 50);
    await Promise.all(served.map((peer) => peer.end()));
    await allGone;
    expect(server.clientCount).toBe(0);
    expect(server.clients).toEqual([]);
    expect(server['list']['waiters'].size).toBe(0);
    expect(server['list']['set'].size).toBe(0);
    expect(constructed).toBe(50);
  });

  test('with maxClients N, client N+1 is turned away; a freed place admits again', async () => {
    const server = await startServer({ clientClass: EchoClient, maxClients: 2, banner: 'hi' });
    const a = await connectClient(server);
    const b = await connectClient(server);
    const c = await Peer.connect(server.bindPort);
    expect(await c.nextLine()).toBe('Sorry, too many clients'); // the default bannerTooBusy
    await c.closed;
    const gone = disconnects(server, 1);
    await a.peer.end();
    await gone;
    const d = await Peer.connect(server.bindPort);
    expect(await d.nextLine()).toBe('hi');
    expect(await b.peer.nextLine()).toBe('hi');
    expect(await b.peer.ask('b')).toBe('echo b');
  });

  test('lowering maxClients below clientCount drops nobody; raising it admits again', async () => {
    const server = await startServer({ clientClass: EchoClient, banner: 'hi' });
    const peers = [];
    for (let i = 0; i < 3; i++) {
      const { peer } = await connectClient(server);
      expect(await peer.nextLine()).toBe('hi');
      peers.push(peer);
    }
    server.maxClients = 1;
    expect(server.maxClients).toBe(1);
    expect(server.clientCount).toBe(3);

    const late = await Peer.connect(server.bindPort);
    expect(await late.nextLine()).toBe('Sorry, too many clients');
    await late.closed;
    // Nobody connected was dropped.
    for (const [i, peer] of peers.entries()) expect(await peer.ask(`still ${i}`)).toBe(`echo still ${i}`);
    expect(server.clientCount).toBe(3);
    expect(server.tooBusyCount).toBe(1);

    server.maxClients = 4;
    const admitted = await Peer.connect(server.bindPort);
    expect(await admitted.nextLine()).toBe('hi');
    const full = await Peer.connect(server.bindPort);
    expect(await full.nextLine()).toBe('Sorry, too many clients');

    server.maxClients = 0; // no limit
    const free = await Peer.connect(server.bindPort);
    expect(await free.nextLine()).toBe('hi');
    expect(server.clientCount).toBe(5);
    expect(server.tooBusyCount).toBe(2);
  });

  test('changing bannerTooBusy at run time affects new rejections only; empty sends nothing', async () => {
    const server = await startServer({ clientClass: EchoClient, maxClients: 1, bannerTooBusy: 'full' });
    await connectClient(server);
    const first = await Peer.connect(server.bindPort);
    server.bannerTooBusy = 'still full';
    expect(await first.nextLine()).toBe('full');
    const second = await Peer.connect(server.bindPort);
    expect(await second.nextLine()).toBe('still full');

    server.bannerTooBusy = '';
    const third = await Peer.connect(server.bindPort);
    await third.closed;
    expect(third.received).toBe('');
    expect(third.sawEnd).toBe(true);
    expect(third.error).toBeUndefined();
    expect(server.tooBusyCount).toBe(3);
  });

  test('bannerTooBusy uses the server lineEnd', async () => {
    const server = await startServer({ maxClients: 1, bannerTooBusy: 'busy', lineEnd: '\n' });
    await connectClient(server);
    const peer = await Peer.connect(server.bindPort);
    await peer.closed;
    expect(peer.received).toBe('busy\n');
  });

  test('a rejected peer that sends data first still gets a clean close', async () => {
    const server = await startServer({ clientClass: EchoClient, maxClients: 1 });
    await connectClient(server);
    const peer = await Peer.connect(server.bindPort);
    peer.send('hello there\r\n'.repeat(100));
    expect(await peer.nextLine()).toBe('Sorry, too many clients');
    await peer.closed;
    expect(peer.error).toBeUndefined();
    expect(peer.sawEnd).toBe(true);
  });

  test('maxClients rejects bad values at run time and keeps the old one', async () => {
    const server = await startServer({ maxClients: 5 });
    expect(() => {
      server.maxClients = -1;
    }).toThrow(RangeError);
    expect(() => {
      server.maxClients = 1.5;
    }).toThrow(/maxClients/);
    expect(server.maxClients).toBe(5);
  });

  test('a too-busy connection does not create a client object or fire client events', async () => {
    const server = await startServer<TWSocketClient>({ maxClients: 1 });
    await connectClient(server);
    const events: string[] = [];
    server.on('clientCreate', () => events.push('create'));
    server.on('clientConnect', () => events.push('connect'));
    server.on('clientDisconnect', () => events.push('disconnect'));
    const peer = await Peer.connect(server.bindPort);
    await peer.closed;
    expect(events).toEqual([]);
    expect(server.clientCount).toBe(1);
  });
});

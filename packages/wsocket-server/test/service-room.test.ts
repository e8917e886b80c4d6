import { HubBus, LocalBus, ROOM_MESSAGE_MAX, RoomMember, ServiceHub, ServiceRoom, TWSocketClient, TWSocketServer } from '@ics-ts/wsocket-server';
import { Peer, disconnects, startServer } from './helpers';

/** A member that keeps what it is handed. */
class Inbox implements RoomMember {
  readonly got: string[] = [];
  deliver(message: string): void {
    this.got.push(message);
  }
}

async function twoNodes(hub: ServiceHub): Promise<[TWSocketServer, TWSocketServer]> {
  return Promise.all([startServer({ bus: new HubBus(hub, { nodeId: 'a' }) }), startServer({ bus: new HubBus(hub, { nodeId: 'b' }) })]);
}

describe('ServiceRoom across two servers on one ServiceHub', () => {
  test('keys unique across nodes, broadcast to local members now and to the other node, except the sender; members() and find() see all', async () => {
    const hub = new ServiceHub();
    const [a, b] = await twoNodes(hub);
    const roomA = a.room('lobby');
    const roomB = b.room('lobby');
    expect(a.room('lobby')).toBe(roomA); // one per name per server
    const [alice, carol, bob] = [new Inbox(), new Inbox(), new Inbox()];
    expect(await roomA.join(alice, 'alice', 'Alice@a')).toBe(true);
    expect(await roomA.join(carol, 'carol', 'Carol@a')).toBe(true);
    expect(await roomB.join(bob, 'alice', 'not Alice')).toBe(false); // held on A
    expect(await roomB.join(bob, 'bob', 'Bob@b')).toBe(true);
    expect(roomA.local).toEqual([alice, carol]);
    expect(roomB.local).toEqual([bob]);

    expect(roomA.broadcast('hello', alice)).toBe(1);
    expect(alice.got).toEqual([]);
    expect(carol.got).toEqual(['hello']);
    expect(bob.got).toEqual(['hello']);
    expect(roomB.broadcast('from b')).toBe(1);
    expect([alice.got, carol.got, bob.got]).toEqual([['from b'], ['hello', 'from b'], ['hello', 'from b']]);

    const everyone = await roomB.members();
    expect(everyone).toEqual([
      { key: 'alice', value: 'Alice@a', node: 'a' },
      { key: 'carol', value: 'Carol@a', node: 'a' },
      { key: 'bob', value: 'Bob@b', node: 'b' },
    ]);
    expect(await roomB.find('carol')).toEqual({ key: 'carol', value: 'Carol@a', node: 'a' });
    expect(await roomB.find('dave')).toBeUndefined();
    // Another room of the same servers is another presence set and topic.
    expect(await b.room('other').join(bob, 'alice', 'free here')).toBe(true);
    expect(a.room('other').local).toEqual([]);
  });

  test('a second join renames (the old key is released after the new claim); leave releases; a taken key leaves the member as it was', async () => {
    const hub = new ServiceHub();
    const [a, b] = await twoNodes(hub);
    const roomA = a.room('r');
    const roomB = b.room('r');
    const alice = new Inbox();
    const bob = new Inbox();
    await roomA.join(alice, 'alice', 'A');
    await roomB.join(bob, 'bob', 'B');
    expect(await roomA.join(alice, 'bob', 'A as bob')).toBe(false);
    expect(roomA.keyOf(alice)).toBe('alice');
    expect(await roomA.join(alice, 'alicia', 'A2')).toBe(true);
    expect(roomA.keyOf(alice)).toBe('alicia');
    expect((await roomB.members()).map((e) => e.key)).toEqual(['bob', 'alicia']);
    expect(await roomB.join(bob, 'alice', 'the old key is free')).toBe(true);
    roomA.leave(alice);
    expect(roomA.local).toEqual([]);
    expect((await roomA.members()).map((e) => e.key)).toEqual(['alice']);
    roomA.broadcast('after leave');
    expect(alice.got).toEqual([]);
  });

  test('two local members cannot both claim one key, even at once', async () => {
    const room = (await startServer()).room('r');
    const [x, y] = [new Inbox(), new Inbox()];
    const both = await Promise.all([room.join(x, 'k', 'x'), room.join(y, 'k', 'y')]);
    expect(both).toEqual([true, false]);
    expect(await room.members()).toEqual([{ key: 'k', value: 'x', node: room['bus'].nodeId }]);
  });

  test('a member that leaves while its join is under way is not added and its claim is undone', async () => {
    const hub = new ServiceHub();
    const server = await startServer({ bus: new HubBus(hub, { nodeId: 'a' }) });
    const room = server.room('r');
    const member = new Inbox();
    const joining = room.join(member, 'late', 'info');
    room.leave(member);
    expect(await joining).toBe(false);
    expect(room.local).toEqual([]);
    expect(hub.entries('room:r')).toEqual([]);
  });

  test('a client member leaves the room when it leaves the client list; a client already gone cannot join', async () => {
    const hub = new ServiceHub();
    const [a, b] = await twoNodes(hub);
    const connected = new Promise<TWSocketClient>((resolve) => a.once('clientConnect', resolve));
    const peer = await Peer.connect(a.bindPort);
    const client = await connected;
    const member = Object.assign(client, { deliver: (message: string) => client.sendLine(message) });
    expect(await a.room('r').join(member, 'peer', 'a client')).toBe(true);
    b.room('r').broadcast('to the client');
    expect(await peer.nextLine()).toBe('to the client');
    const gone = disconnects(a, 1);
    await peer.end();
    await gone;
    expect(a.room('r').local).toEqual([]);
    expect(await b.room('r').members()).toEqual([]);
    expect(await a.room('r').join(member, 'peer', 'again')).toBe(false);
    expect(hub.entries('room:r')).toEqual([]);
  });

  test('the other node removed from the hub: its members vanish from members(); messages reach it no more', async () => {
    const hub = new ServiceHub();
    const [a, b] = await twoNodes(hub);
    const [alice, bob] = [new Inbox(), new Inbox()];
    await a.room('r').join(alice, 'alice', 'A');
    await b.room('r').join(bob, 'bob', 'B');
    hub.removeNode('b');
    expect((await a.room('r').members()).map((e) => e.key)).toEqual(['alice']);
    a.room('r').broadcast('anyone?');
    expect(bob.got).toEqual([]);
  });

  test('hostile messages from another node are dropped and counted, never thrown; a member whose deliver throws is reported, the others still get it', async () => {
    const hub = new ServiceHub();
    const server = await startServer({ bus: new HubBus(hub, { nodeId: 'a' }) });
    const room = server.room('r');
    const [bad, good] = [new Inbox(), new Inbox()];
    bad.deliver = () => {
      throw new Error('member broke');
    };
    await room.join(bad, 'bad', '');
    await room.join(good, 'good', '');
    const reported: unknown[] = [];
    server.on('bgException', (error) => reported.push(error));
    for (const raw of ['not json', 'null', '42', '{"m":5}', '{"x":"good"}', '{"m":"hi","x":7}', `{"m":"${'x'.repeat(ROOM_MESSAGE_MAX + 1)}"}`, 'x'.repeat(ROOM_MESSAGE_MAX * 7)]) {
      hub.publish('evil', 'room:r', raw);
    }
    expect(room.dropped).toBe(8);
    expect(good.got).toEqual([]);
    hub.publish('evil', 'room:r', '{"m":"fine","x":"bad"}');
    expect(good.got).toEqual(['fine']);
    expect(room.received).toBe(1);
    expect(server.stats().service!.roomMessagesDropped).toBe(8);
    expect(room.broadcast('local')).toBe(1);
    expect(good.got).toEqual(['fine', 'local']);
    expect(reported).toEqual([new Error('member broke')]);
    expect(hub.deliveryErrors).toBe(0);
  });

  test('bad arguments are clear errors; a bus that fails claims resolves false and members() falls back to this node', async () => {
    const room = new ServiceRoom('r', new LocalBus({ nodeId: 'me' }));
    await expect(room.join({} as never, 'k', '')).rejects.toThrow(/a member must be an object with a deliver\(message\) method, got \{\}/);
    await expect(room.join(new Inbox(), '', '')).rejects.toThrow(/a member key must be a string of 1 to 256 characters, got ""/);
    expect(() => new ServiceRoom('', new LocalBus())).toThrow(/the name must be a string of 1 to 256 characters/);
    class FailingBus extends LocalBus {
      failing = false;
      override claim(set: string, key: string, value: string): Promise<boolean> {
        return this.failing ? Promise.reject(new Error('down')) : super.claim(set, key, value);
      }
      override entries(set: string) {
        return this.failing ? Promise.reject(new Error('down')) : super.entries(set);
      }
    }
    const bus = new FailingBus({ nodeId: 'me' });
    const shaky = new ServiceRoom('r', bus);
    const member = new Inbox();
    expect(await shaky.join(member, 'in', 'before')).toBe(true);
    bus.failing = true;
    expect(await shaky.join(new Inbox(), 'other', '')).toBe(false);
    expect(await shaky.members()).toEqual([{ key: 'in', value: 'before', node: 'me' }]);
    expect(shaky.busErrors).toBe(2);
  });
});

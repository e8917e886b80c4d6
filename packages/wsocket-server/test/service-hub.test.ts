import { ServiceHub } from '../src';

describe('ServiceHub', () => {
  test('slots: maxClients across nodes, checked before the per-key limit; release gives one back; 0 = no limit', () => {
    const hub = new ServiceHub();
    for (let i = 0; i < 6; i++) expect(hub.reserveSlot('a', `10.0.0.${i}`, 10, 0)).toBe('ok');
    for (let i = 0; i < 4; i++) expect(hub.reserveSlot('b', `10.0.1.${i}`, 10, 0)).toBe('ok');
    expect(hub.reserveSlot('b', '10.0.2.1', 10, 0)).toBe('maxClients');
    expect(hub.reserveSlot('a', '10.0.0.1', 10, 1)).toBe('maxClients');
    expect(hub.clientCount()).toBe(10);
    expect(hub.nodeSlots('a')).toBe(6);
    expect(hub.nodeSlots('b')).toBe(4);
    hub.releaseSlot('b', '10.0.1.0');
    expect(hub.reserveSlot('a', '10.0.2.1', 10, 0)).toBe('ok');
    expect(hub.nodeSlots('a')).toBe(7);
    expect(hub.reserveSlot('a', '10.0.2.2', 0, 0)).toBe('ok'); // no limit
    expect(hub.clientCount()).toBe(11);
  });

  test('per key across nodes; a release of a slot the node does not hold changes nothing', () => {
    const hub = new ServiceHub();
    expect(hub.reserveSlot('a', '10.0.0.1', 0, 2)).toBe('ok');
    expect(hub.reserveSlot('b', '10.0.0.1', 0, 2)).toBe('ok');
    expect(hub.reserveSlot('b', '10.0.0.1', 0, 2)).toBe('perIp');
    expect(hub.reserveSlot('b', '10.0.0.2', 0, 2)).toBe('ok');
    hub.releaseSlot('c', '10.0.0.1'); // unknown node
    hub.releaseSlot('a', '10.0.0.9'); // a key it holds none of
    expect(hub.clientCount()).toBe(3);
    hub.releaseSlot('a', '10.0.0.1');
    hub.releaseSlot('a', '10.0.0.1'); // the second release finds nothing
    expect(hub.nodeSlots('a')).toBe(0);
    expect(hub.clientCount()).toBe(2);
    expect(hub.reserveSlot('a', '10.0.0.1', 0, 2)).toBe('ok');
    expect(hub.reserveSlot('a', '10.0.0.1', 0, 2)).toBe('perIp');
  });

  test('presence: one holder per key; the holder replaces its value; release by the holder only; entries across nodes', () => {
    const hub = new ServiceHub();
    expect(hub.claim('a', 'room:x', 'alice', 'Alice 1')).toBe(true);
    expect(hub.claim('b', 'room:x', 'alice', 'Alice 2')).toBe(false);
    expect(hub.claim('a', 'room:x', 'alice', 'Alice 3')).toBe(true);
    expect(hub.claim('b', 'room:x', 'bob', 'Bob')).toBe(true);
    expect(hub.claim('b', 'room:y', 'alice', 'other set')).toBe(true);
    expect(hub.entries('room:x')).toEqual([
      { key: 'alice', value: 'Alice 3', node: 'a' },
      { key: 'bob', value: 'Bob', node: 'b' },
    ]);
    hub.release('b', 'room:x', 'alice'); // not b's
    expect(hub.entries('room:x')).toHaveLength(2);
    hub.release('a', 'room:x', 'alice');
    expect(hub.entries('room:x')).toEqual([{ key: 'bob', value: 'Bob', node: 'b' }]);
    expect(hub.claim('b', 'room:x', 'alice', 'now b')).toBe(true);
    expect(hub.entries('room:nothing')).toEqual([]);
  });

  test('publish reaches every other attached node, never the sender; a deliverer that throws does not stop the others', () => {
    const hub = new ServiceHub();
    const got: string[] = [];
    hub.attach('a', (topic, message, from) => got.push(`a ${topic} ${message} ${from}`));
    hub.attach('b', () => {
      throw new Error('b is broken');
    });
    hub.attach('c', (topic, message, from) => got.push(`c ${topic} ${message} ${from}`));
    hub.publish('a', 't', 'one');
    hub.publish('c', 't', 'two');
    expect(got).toEqual(['c t one a', 'a t two c']);
    expect(hub.deliveryErrors).toBe(2);
    expect((hub.lastDeliveryError as Error).message).toBe('b is broken');
    expect(hub.nodes).toEqual(['a', 'b', 'c']);
  });

  test('removeNode: its slots, entries and deliverer vanish; the others keep theirs; the hub holds nothing after the last', () => {
    const hub = new ServiceHub();
    const got: string[] = [];
    hub.attach('a', (_topic, message) => got.push(`a ${message}`));
    hub.attach('b', (_topic, message) => got.push(`b ${message}`));
    hub.reserveSlot('a', '10.0.0.1', 3, 2);
    hub.reserveSlot('a', '10.0.0.1', 3, 2);
    hub.reserveSlot('b', '10.0.0.2', 3, 2);
    hub.claim('a', 'room:x', 'alice', 'A');
    hub.claim('b', 'room:x', 'bob', 'B');
    expect(hub.reserveSlot('b', '10.0.0.1', 3, 2)).toBe('maxClients');
    hub.removeNode('a');
    expect(hub.nodes).toEqual(['b']);
    expect(hub.clientCount()).toBe(1);
    expect(hub.nodeSlots('a')).toBe(0);
    expect(hub.entries('room:x')).toEqual([{ key: 'bob', value: 'B', node: 'b' }]);
    expect(hub.reserveSlot('b', '10.0.0.1', 3, 2)).toBe('ok');
    expect(hub.reserveSlot('b', '10.0.0.1', 3, 2)).toBe('ok');
    hub.publish('b', 't', 'to nobody');
    expect(got).toEqual([]);
    hub.removeNode('a'); // twice: nothing
    hub.removeNode('b');
    expect(hub.nodes).toEqual([]);
    expect(hub.clientCount()).toBe(0);
    expect(hub.entries('room:x')).toEqual([]);
    // Nothing left behind: the internal maps are empty.
    const inside = hub as unknown as { byNode: Map<string, unknown>; slotsByKey: Map<string, number>; sets: Map<string, unknown> };
    expect([inside.byNode.size, inside.slotsByKey.size, inside.sets.size]).toEqual([0, 0, 0]);
  });
});

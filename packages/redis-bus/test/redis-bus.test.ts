import { Redis } from 'ioredis';
import type { ServiceBusStatus } from '@ics-ts/wsocket-server';
import { MAX_PENDING_PUBLISHES, RedisBus, type RedisBusOptions } from '@ics-ts/redis-bus';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { RedisServer, freePort, waitFor } from '../../../test-support/redis-server';
import { TcpRelay } from './support/tcp-relay';

/** Short, so that a dead node's state expires within a test; the heartbeat runs every 500 ms. */
const TTL = 1500;
/** A bounded wait for what presenceTtl promises (generous: the machine is shared). */
const EXPIRY_WAIT = TTL * 6;

let serviceCount = 0;
const buses: RedisBus[] = [];

function bus(url: string, options: Partial<RedisBusOptions> = {}): RedisBus {
  const made = new RedisBus({ url, service: `test-${process.pid}-${serviceCount}`, presenceTtl: TTL, connectTimeout: 3000, ...options });
  buses.push(made);
  return made;
}

/** Two nodes of a new service. */
async function twoNodes(url: string, options: Partial<RedisBusOptions> = {}): Promise<[RedisBus, RedisBus]> {
  serviceCount++;
  const a = bus(url, { nodeId: 'node-a', ...options });
  const b = bus(url, { nodeId: 'node-b', ...options });
  await Promise.all([a.start(), b.start()]);
  expect([a.status, b.status]).toEqual(['up', 'up']);
  return [a, b];
}

/** The statuses a bus reports from now on. */
function statusLog(target: RedisBus): Array<[ServiceBusStatus, string]> {
  const log: Array<[ServiceBusStatus, string]> = [];
  target.on('status', (status, reason) => log.push([status, reason]));
  return log;
}

function untilStatus(target: RedisBus, status: ServiceBusStatus, timeoutMs = 10_000): Promise<true> {
  return waitFor(`${target.nodeId} ${status}`, () => (target.status === status ? true : undefined), timeoutMs);
}

function sorted<T extends { key: string }>(entries: T[]): T[] {
  return [...entries].sort((x, y) => x.key.localeCompare(y.key));
}

/**
 * Waits until Redis counts `count` subscribers to `topic` of the current service.
 * subscribe() sends SUBSCRIBE on the subscriber connection and a publish() goes
 * on another node's command connection: nothing orders the two in Redis.
 */
async function untilSubscribed(url: string, topic: string, count: number): Promise<void> {
  const raw = new Redis(url);
  try {
    const channel = `{test-${process.pid}-${serviceCount}}:m:${topic}`;
    await waitFor(`${count} subscribers to ${topic}`, async () => {
      const [, subscribers] = (await raw.pubsub('NUMSUB', channel)) as [string, number];
      return Number(subscribers) === count ? true : undefined;
    });
  } finally {
    raw.disconnect();
  }
}

afterEach(async () => {
  await Promise.all(buses.splice(0).map((made) => made.stop()));
});

describeWithPrograms({ 'redis-server': 'redis-server' }, 'RedisBus: two nodes against a real redis-server', ({ 'redis-server': program }) => {
  let redis: RedisServer;

  beforeAll(async () => {
    redis = await RedisServer.start(program);
  });
  afterAll(async () => {
    await redis?.kill();
  });

  test('slots: maxClients counts both nodes, atomically; releaseSlot gives a slot back to the service', async () => {
    const [a, b] = await twoNodes(redis.url);
    for (let i = 0; i < 6; i++) expect(await a.reserveSlot(`10.0.0.${i}`, 10, 0)).toBe('ok');
    for (let i = 0; i < 4; i++) expect(await b.reserveSlot(`10.0.1.${i}`, 10, 0)).toBe('ok');
    expect(await b.reserveSlot('10.0.1.9', 10, 0)).toBe('maxClients');
    expect(await a.reserveSlot('10.0.0.9', 10, 0)).toBe('maxClients');
    expect([await a.clientCount(), await b.clientCount()]).toEqual([10, 10]);
    expect([a.stats().slots, b.stats().slots]).toEqual([6, 4]);

    a.releaseSlot('10.0.0.0');
    expect(await waitFor('the release counted', async () => ((await b.clientCount()) === 9 ? true : undefined))).toBe(true);
    expect(await b.reserveSlot('10.0.1.9', 10, 0)).toBe('ok');
    expect(await a.reserveSlot('10.0.0.9', 10, 0)).toBe('maxClients');
    // 0 = no limit
    expect(await a.reserveSlot('10.0.0.9', 0, 0)).toBe('ok');
    expect(await b.clientCount()).toBe(11);
  });

  test('slots: 40 reservations at once from two nodes for 10 slots grant exactly 10', async () => {
    const [a, b] = await twoNodes(redis.url);
    const verdicts = await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).reserveSlot(`198.51.100.${i}`, 10, 0)));
    expect(verdicts.filter((v) => v === 'ok')).toHaveLength(10);
    expect(verdicts.filter((v) => v === 'maxClients')).toHaveLength(30);
    expect(a.stats().slots + b.stats().slots).toBe(10);
    expect(await a.clientCount()).toBe(10);
  });

  test('slots: maxClientsPerIp counts one address key across both nodes', async () => {
    const [a, b] = await twoNodes(redis.url);
    expect(await a.reserveSlot('192.0.2.1', 100, 2)).toBe('ok');
    expect(await b.reserveSlot('192.0.2.1', 100, 2)).toBe('ok');
    expect(await a.reserveSlot('192.0.2.1', 100, 2)).toBe('perIp');
    expect(await b.reserveSlot('192.0.2.1', 100, 2)).toBe('perIp');
    expect(await b.reserveSlot('2001:db8:1:2::/64', 100, 2)).toBe('ok');
    a.releaseSlot('192.0.2.1');
    expect(await waitFor('the per-key release counted', async () => ((await b.reserveSlot('192.0.2.1', 100, 2)) === 'ok' ? true : undefined))).toBe(true);
    // a release without a reservation changes nothing
    a.releaseSlot('203.0.113.7');
    expect(await a.clientCount()).toBe(3);
  });

  test('messages go both ways, never back to the sender, and stop after unsubscribe', async () => {
    const [a, b] = await twoNodes(redis.url);
    const atA: Array<[string, string]> = [];
    const atB: Array<[string, string]> = [];
    const stopA = a.subscribe('chat', (message, from) => atA.push([message, from]));
    b.subscribe('chat', (message, from) => atB.push([message, from]));
    await untilSubscribed(redis.url, 'chat', 2);
    a.publish('chat', 'hello from a');
    await waitFor('b got it', () => (atB.length === 1 ? true : undefined));
    b.publish('chat', 'hello from b');
    await waitFor('a got it', () => (atA.length === 1 ? true : undefined));
    // a's own message reached a's subscriber connection before b's (one Redis, in order): it was skipped
    expect(atA).toEqual([['hello from b', 'node-b']]);
    expect(atB).toEqual([['hello from a', 'node-a']]);
    // published counts Redis's reply to PUBLISH, which travels on another connection than what a receives
    await waitFor("a's PUBLISH answered", () => (a.stats().published === 1 ? true : undefined));
    expect(a.stats()).toMatchObject({ published: 1, received: 1, subscribedTopics: 1 });

    stopA();
    b.publish('chat', 'after unsubscribe');
    b.publish('other', 'nobody listens');
    a.publish('chat', 'still delivered to b');
    await waitFor('b got the second', () => (atB.length === 2 ? true : undefined));
    expect(atA).toEqual([['hello from b', 'node-b']]);
    expect(a.stats().subscribedTopics).toBe(0);
  });

  test('messages: in order per sender; a throwing handler does not stop the others', async () => {
    const [a, b] = await twoNodes(redis.url);
    const got: string[] = [];
    b.subscribe('seq', () => {
      throw new Error('a broken handler');
    });
    b.subscribe('seq', (message) => got.push(message));
    await untilSubscribed(redis.url, 'seq', 1);
    for (let i = 0; i < 200; i++) a.publish('seq', String(i));
    await waitFor('200 messages', () => (got.length === 200 ? true : undefined));
    expect(got).toEqual(Array.from({ length: 200 }, (_, i) => String(i)));
    expect(b.stats().handlerErrors).toBe(200);
  });

  test('a burst beyond MAX_PENDING_PUBLISHES unanswered publishes is dropped and counted, not queued', async () => {
    const [a, b] = await twoNodes(redis.url);
    let got = 0;
    b.subscribe('burst', () => got++);
    await untilSubscribed(redis.url, 'burst', 1);
    for (let i = 0; i < MAX_PENDING_PUBLISHES + 500; i++) a.publish('burst', 'x');
    expect(a.stats().publishDropped).toBe(500);
    // Redis delivers to b's subscriber connection before it replies to a's PUBLISH: wait for both sides
    await waitFor('every sent one received and answered', () =>
      got === MAX_PENDING_PUBLISHES && a.stats().published === MAX_PENDING_PUBLISHES ? true : undefined,
    );
    expect(a.stats()).toMatchObject({ published: MAX_PENDING_PUBLISHES, publishDropped: 500 });
    expect(got).toBe(MAX_PENDING_PUBLISHES);
    a.publish('burst', 'room again');
    await waitFor('the next one received', () => (got === MAX_PENDING_PUBLISHES + 1 ? true : undefined));
  });

  test('messages from a bad node are dropped and counted by reason', async () => {
    const [, b] = await twoNodes(redis.url, { maxMessageBytes: 64 });
    const got: Array<[string, string]> = [];
    b.subscribe('chat', (message, from) => got.push([message, from]));
    const raw = new Redis(redis.url);
    try {
      const channel = `{test-${process.pid}-${serviceCount}}:m:chat`;
      await raw.publish(channel, 'no sender line');
      await raw.publish(channel, '\nan empty sender');
      await raw.publish(channel, `${'x'.repeat(600)}\ntoo long a sender`);
      await raw.publish(channel, `rogue\n${'y'.repeat(65)}`);
      await raw.publish(channel, Buffer.from([0x72, 0xff, 0x0a, 0x41]));
      await raw.publish(channel, 'rogue\nfits');
      await waitFor('the good one', () => (got.length === 1 ? true : undefined));
    } finally {
      raw.disconnect();
    }
    expect(got).toEqual([['fits', 'rogue']]);
    expect(b.stats().receivedDropped).toEqual({ malformed: 4, oversize: 1, notSubscribed: 0 });
    expect(b.status).toBe('up');
  });

  test('presence: one holder per key across nodes, re-claim replaces the value, release only by the holder', async () => {
    const [a, b] = await twoNodes(redis.url);
    expect(await a.claim('nicks', 'ann', 'client 1')).toBe(true);
    expect(await b.claim('nicks', 'ann', 'client 7')).toBe(false);
    expect(await b.claim('nicks', 'bob', 'client 2')).toBe(true);
    expect(await a.claim('nicks', 'ann', 'client 3')).toBe(true);
    expect(sorted(await b.entries('nicks'))).toEqual([
      { key: 'ann', value: 'client 3', node: 'node-a' },
      { key: 'bob', value: 'client 2', node: 'node-b' },
    ]);
    expect(await a.entries('rooms')).toEqual([]);
    await a.release('nicks', 'bob'); // not a's: nothing
    expect(sorted(await a.entries('nicks')).map((e) => e.key)).toEqual(['ann', 'bob']);
    await a.release('nicks', 'ann');
    expect(await b.claim('nicks', 'ann', 'client 9')).toBe(true);
    expect(sorted(await a.entries('nicks'))).toEqual([
      { key: 'ann', value: 'client 9', node: 'node-b' },
      { key: 'bob', value: 'client 2', node: 'node-b' },
    ]);
    // keys are compared as given
    expect(await a.claim('nicks', 'Ann', 'client 4')).toBe(true);
  });

  test('presence: entries() calls at once share one read, but never one sent before this node\'s own claim', async () => {
    const [a, b] = await twoNodes(redis.url);
    await b.claim('nicks', 'bob', 'b');
    const before = a.entries('nicks');
    const alongside = a.entries('nicks');
    const claimed = a.claim('nicks', 'ann', 'a');
    const after = a.entries('nicks');
    await claimed;
    const [first, second, third] = await Promise.all([before, alongside, after]);
    expect(first).toEqual([{ key: 'bob', value: 'b', node: 'node-b' }]);
    expect(second).toEqual(first);
    expect(second).not.toBe(first); // each caller its own array
    expect(sorted(third).map((e) => e.key)).toEqual(['ann', 'bob']);
  });

  test('presence: entries outlive presenceTtl while their node lives (the heartbeat renews them)', async () => {
    const [a, b] = await twoNodes(redis.url);
    expect(await a.claim('nicks', 'ann', '1')).toBe(true);
    expect(await a.reserveSlot('10.1.1.1', 0, 0)).toBe('ok');
    const until = Date.now() + TTL * 2;
    await waitFor('two presenceTtl', () => (Date.now() > until ? true : undefined));
    expect(await b.entries('nicks')).toEqual([{ key: 'ann', value: '1', node: 'node-a' }]);
    expect(await b.clientCount()).toBe(1);
  });

  test('stop() takes the node out at once: its slots and entries are gone, its messages end', async () => {
    const [a, b] = await twoNodes(redis.url);
    await a.reserveSlot('10.2.0.1', 0, 0);
    await a.claim('nicks', 'ann', '1');
    expect(await b.clientCount()).toBe(1);
    await a.stop();
    expect(a.status).toBe('down');
    expect(await b.clientCount()).toBe(0);
    expect(await b.entries('nicks')).toEqual([]);
    await a.stop(); // idempotent
  });

  test('a node whose heartbeats stop arriving for longer than presenceTtl drops out; when they arrive again it writes its state back', async () => {
    serviceCount++;
    const relay = await TcpRelay.open(redis.port);
    try {
      // a long commandTimeout: the held heartbeat is late, not lost (the node stays 'up' throughout)
      const a = bus(relay.url, { nodeId: 'node-a', commandTimeout: 60_000 });
      const b = bus(redis.url, { nodeId: 'node-b' });
      await Promise.all([a.start(), b.start()]);
      await a.reserveSlot('10.6.0.1', 0, 0);
      await a.claim('nicks', 'ann', 'a-1');
      expect(await b.clientCount()).toBe(1);
      const statuses = statusLog(a);

      relay.freeze();
      await waitFor("a's slot and entry no longer counted", async () =>
        (await b.clientCount()) === 0 && (await b.entries('nicks')).length === 0 ? true : undefined, EXPIRY_WAIT);
      relay.thaw();

      await waitFor("a's slot and entry written back", async () =>
        (await b.clientCount()) === 1 && (await b.entries('nicks')).length === 1 ? true : undefined, EXPIRY_WAIT);
      expect(await b.entries('nicks')).toEqual([{ key: 'ann', value: 'a-1', node: 'node-a' }]);
      expect(await a.reserveSlot('10.6.0.2', 0, 0)).toBe('ok');
      expect(await b.clientCount()).toBe(2);
      expect(statuses).toEqual([]); // Redis was reachable all along
      expect(a.stats()).toMatchObject({ outages: 0, rejoins: 2 }); // the start, then the write-back
    } finally {
      await relay.close();
    }
  });

  test('a stalled node finds its next call refused as stale, writes its state back, and answers after that', async () => {
    const [a, b] = await twoNodes(redis.url);
    await a.reserveSlot('10.6.0.1', 0, 0);
    await a.claim('nicks', 'ann', 'a-1');
    const statuses = statusLog(a);
    // the event loop blocked: no heartbeat goes out, Redis's clock runs on
    const until = Date.now() + TTL + 300;
    while (Date.now() < until);
    // called before any timer runs: this call reaches Redis before the late heartbeat
    const reserved = a.reserveSlot('10.6.0.2', 0, 0);
    expect(await reserved).toBe('ok');
    expect(await b.clientCount()).toBe(2);
    expect(await b.entries('nicks')).toEqual([{ key: 'ann', value: 'a-1', node: 'node-a' }]);
    expect(statuses).toEqual([]); // Redis was reachable all along
  });

  test('start() after stop() joins again: the subscriptions kept, the slots written back (a server shut down and listening again)', async () => {
    const [a, b] = await twoNodes(redis.url);
    const atA: string[] = [];
    a.subscribe('chat', (message) => atA.push(message));
    await a.reserveSlot('10.2.1.1', 0, 0);
    await a.stop();
    expect(await b.clientCount()).toBe(0);
    const statuses = statusLog(a);
    await a.start();
    expect(statuses).toEqual([['up', expect.stringMatching(/^rejoined redis:\/\/127.0.0.1:\d+: 1 slots and 0 presence entries written back$/)]]);
    expect(await b.clientCount()).toBe(1);
    b.publish('chat', 'again');
    await waitFor('a got it', () => (atA.length === 1 ? true : undefined));
    expect(await a.claim('room:lobby', 'ann', 'a')).toBe(true);
    expect(await b.entries('room:lobby')).toEqual([{ key: 'ann', value: 'a', node: 'node-a' }]);
  });

  test('set names may hold any character: a set and key pair is one key whatever the colons', async () => {
    const [a, b] = await twoNodes(redis.url);
    expect(await a.claim('room:a', 'b:c', '1')).toBe(true);
    expect(await b.claim('room:a:b', 'c', '2')).toBe(true);
    expect(await b.claim('room:{x}', '\n', '3')).toBe(true);
    expect(await a.entries('room:a')).toEqual([{ key: 'b:c', value: '1', node: 'node-a' }]);
    expect(await a.entries('room:a:b')).toEqual([{ key: 'c', value: '2', node: 'node-b' }]);
    expect(await a.entries('room:{x}')).toEqual([{ key: '\n', value: '3', node: 'node-b' }]);
  });

  test('a node cut off without stop(): its slots and entries expire within presenceTtl; back, it rewrites its slots and reports the key it lost', async () => {
    serviceCount++;
    const relay = await TcpRelay.open(redis.port);
    try {
      const a = bus(relay.url, { nodeId: 'node-a' });
      const b = bus(redis.url, { nodeId: 'node-b' });
      await Promise.all([a.start(), b.start()]);
      const statuses = statusLog(a);
      const lost: Array<[string, string, string]> = [];
      a.on('lost', (set, key, holder) => lost.push([set, key, holder]));
      for (const ip of ['10.3.0.1', '10.3.0.2', '10.3.0.2']) expect(await a.reserveSlot(ip, 10, 0)).toBe('ok');
      expect(await a.claim('nicks', 'ann', 'a-1')).toBe(true);
      expect(await a.claim('nicks', 'cid', 'a-2')).toBe(true);
      expect(await a.claim('nicks', 'dan', 'a-3')).toBe(true);
      expect(await b.clientCount()).toBe(3);

      relay.cut();
      const cutAt = Date.now();
      await waitFor("a's slots and entries expired", async () =>
        (await b.clientCount()) === 0 && (await b.entries('nicks')).length === 0 ? true : undefined, EXPIRY_WAIT);
      const expiredAfter = Date.now() - cutAt;
      await untilStatus(a, 'down');
      expect(statuses[0][0]).toBe('down');
      expect(statuses[0][1]).toMatch(/redis/);
      expect(await b.claim('nicks', 'ann', 'b-1')).toBe(true);
      expect(await b.reserveSlot('10.3.0.2', 10, 2)).toBe('ok');

      // alone, a serves from its own counts
      expect(await a.reserveSlot('10.3.0.2', 10, 2)).toBe('perIp');
      expect(await a.clientCount()).toBe(3);
      // released while cut off: not written back, so gone for good
      await a.release('nicks', 'dan');

      relay.mend();
      await untilStatus(a, 'up');
      expect(lost).toEqual([['nicks', 'ann', 'node-b']]);
      expect(await b.clientCount()).toBe(4);
      expect(sorted(await b.entries('nicks'))).toEqual([
        { key: 'ann', value: 'b-1', node: 'node-b' },
        { key: 'cid', value: 'a-2', node: 'node-a' },
      ]);
      expect(await b.reserveSlot('10.3.0.2', 10, 3)).toBe('perIp');
      expect(a.stats()).toMatchObject({ lostClaims: 1, outages: 1, presenceEntries: 1, slots: 3 });
      expect(statuses.map(([status]) => status)).toEqual(['down', 'up']);
      expect(statuses[1][1]).toMatch(/rejoined .*: 3 slots and 1 presence entries written back/);
      process.stdout.write(`[redis-bus] a cut-off node's state expired ${expiredAfter} ms after the cut (presenceTtl ${TTL})\n`);
    } finally {
      await relay.close();
    }
  });

  test('a short cut: what the node released meanwhile does not come back with it (a write-back is a new incarnation)', async () => {
    serviceCount++;
    const relay = await TcpRelay.open(redis.port);
    try {
      // a presenceTtl that a loaded machine cannot outrun between the cut and b's read below (with 1.5 s, a late
      // heartbeat before the cut left barely 1 s); what this test proves does not depend on it
      const a = bus(relay.url, { nodeId: 'node-a', presenceTtl: 10_000 });
      const b = bus(redis.url, { nodeId: 'node-b', presenceTtl: 10_000 });
      await Promise.all([a.start(), b.start()]);
      await a.claim('nicks', 'ann', '1');
      await a.claim('nicks', 'dan', '2');
      await a.reserveSlot('10.7.0.1', 0, 0);
      await a.reserveSlot('10.7.0.2', 0, 0);
      relay.cut();
      await untilStatus(a, 'down');
      await a.release('nicks', 'dan');
      a.releaseSlot('10.7.0.2');
      // a's previous incarnation is still live in Redis (well within presenceTtl): b still sees dan
      expect((await b.entries('nicks')).map((e) => e.key).sort()).toEqual(['ann', 'dan']);
      relay.mend();
      await untilStatus(a, 'up');
      expect(await b.entries('nicks')).toEqual([{ key: 'ann', value: '1', node: 'node-a' }]);
      expect(await b.clientCount()).toBe(1);
      expect(await b.claim('nicks', 'dan', 'b')).toBe(true);
    } finally {
      await relay.close();
    }
  });
});

describeWithPrograms({ 'redis-server': 'redis-server' }, 'RedisBus: Redis killed and started again', ({ 'redis-server': program }) => {
  test('down: every call answers from this node alone; back: up, and both nodes write their state back', async () => {
    const redis = await RedisServer.start(program);
    try {
      const [a, b] = await twoNodes(redis.url);
      const statusesA = statusLog(a);
      const statusesB = statusLog(b);
      const atA: string[] = [];
      a.subscribe('chat', (message) => atA.push(message));
      expect(await a.claim('nicks', 'ann', 'a-1')).toBe(true);
      expect(await b.claim('nicks', 'bob', 'b-1')).toBe(true);
      await a.reserveSlot('10.4.0.1', 0, 0);
      await a.reserveSlot('10.4.0.2', 0, 0);
      await b.reserveSlot('10.4.0.3', 0, 0);

      await redis.kill();
      await Promise.all([untilStatus(a, 'down'), untilStatus(b, 'down')]);
      expect(statusesA[0]).toEqual(['down', expect.stringMatching(/redis command connection lost|redis subscriber connection lost|redis: /)]);

      // local knowledge: a has 2 clients, so 3 is its limit now
      expect(await a.reserveSlot('10.4.0.4', 3, 0)).toBe('ok');
      expect(await a.reserveSlot('10.4.0.5', 3, 0)).toBe('maxClients');
      expect(await a.clientCount()).toBe(3);
      expect(await a.claim('nicks', 'cat', 'a-2')).toBe(true);
      expect(sorted(await a.entries('nicks')).map((e) => e.key)).toEqual(['ann', 'cat']);
      a.publish('chat', 'lost while down');
      expect(a.stats().publishDropped).toBe(1);

      await redis.restart();
      await Promise.all([untilStatus(a, 'up'), untilStatus(b, 'up')]);
      expect(sorted(await b.entries('nicks'))).toEqual([
        { key: 'ann', value: 'a-1', node: 'node-a' },
        { key: 'bob', value: 'b-1', node: 'node-b' },
        { key: 'cat', value: 'a-2', node: 'node-a' },
      ]);
      expect(await b.clientCount()).toBe(4);
      expect(await b.reserveSlot('10.4.0.6', 5, 0)).toBe('ok');
      expect(await a.reserveSlot('10.4.0.7', 5, 0)).toBe('maxClients');
      // subscriptions are back
      b.publish('chat', 'after the restart');
      await waitFor('a got it', () => (atA.length === 1 ? true : undefined));
      expect(atA).toEqual(['after the restart']);
      expect(statusesA.map(([status]) => status)).toEqual(['down', 'up']);
      expect(statusesB.map(([status]) => status)).toEqual(['down', 'up']);
      expect(a.stats()).toMatchObject({ outages: 1, status: 'up', lastError: statusesA[0][1] });
    } finally {
      await redis.kill();
    }
  });

  test('start() with no Redis: resolves "down" within connectTimeout, serves alone, goes "up" when Redis comes', async () => {
    serviceCount++;
    const port = await freePort();
    const alone = bus(`redis://127.0.0.1:${port}`, { connectTimeout: 300 });
    const statuses = statusLog(alone);
    await alone.start();
    expect(alone.status).toBe('down');
    expect(statuses).toEqual([['down', expect.stringMatching(new RegExp(`redis://127.0.0.1:${port} not reachable within 300 ms: .*ECONNREFUSED`))]]);
    expect(await alone.reserveSlot('10.5.0.1', 1, 0)).toBe('ok');
    expect(await alone.reserveSlot('10.5.0.2', 1, 0)).toBe('maxClients');
    expect(await alone.claim('nicks', 'ann', '1')).toBe(true);
    const redis = new RedisServer(program, port);
    await redis.start();
    try {
      await untilStatus(alone, 'up');
      const other = bus(redis.url, { nodeId: 'other' });
      await other.start();
      expect(await other.clientCount()).toBe(1);
      expect(await other.entries('nicks')).toEqual([{ key: 'ann', value: '1', node: alone.nodeId }]);
    } finally {
      await Promise.all(buses.splice(0).map((made) => made.stop()));
      await redis.kill();
    }
  });
});

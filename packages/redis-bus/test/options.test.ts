import { REDIS_BUS_DEFAULTS, RedisBus, type RedisBusOptions } from '@ics-ts/redis-bus';

/** Options are checked in the constructor, before any connection: no Redis needed. */

const url = 'redis://127.0.0.1:6379';

test('the defaults', () => {
  const bus = new RedisBus({ url });
  expect(bus.settings).toMatchObject({ ...REDIS_BUS_DEFAULTS, url });
  expect(bus.nodeId).toMatch(/^.+:\d+:[0-9a-f]{8}$/);
  expect(new RedisBus({ url }).nodeId).not.toBe(bus.nodeId);
  expect(bus.kind).toBe('redis');
  expect(bus.status).toBe('down');
  expect(bus.stats()).toMatchObject({ kind: 'redis', status: 'down', outages: 0, lastError: '', slots: 0 });
});

test.each<[string, unknown, RegExp, string]>([
  ['no options', undefined, /options must be an object, got undefined/, 'ICS_ERR_INVALID_OPTION'],
  ['no url', {}, /option url must be a redis:\/\/ URL or an ioredis options object, got nothing/, 'ICS_ERR_INVALID_OPTION'],
  ['a number url', { url: 6379 }, /option url .* got 6379/, 'ICS_ERR_INVALID_OPTION'],
  ['an http url, its password not shown', { url: 'http://me:secret@host:1' }, /option url must be a redis:\/\/ or rediss:\/\/ URL, got a "http:" URL$/, 'ICS_ERR_INVALID_OPTION'],
  ['not a url', { url: 'localhost:6379' }, /redis:\/\/ or rediss:\/\/ URL, got a "localhost:" URL|not a URL/, 'ICS_ERR_INVALID_OPTION'],
  ['a typo', { url, presenceTTL: 5 }, /unknown option "presenceTTL" \(known: url, service/, 'ICS_ERR_UNKNOWN_OPTION'],
  ['a service with a colon', { url, service: 'a:b' }, /option service must be .* got "a:b"/, 'ICS_ERR_INVALID_OPTION'],
  ['a service with a brace', { url, service: '{x}' }, /option service .* got "\{x\}"/, 'ICS_ERR_INVALID_OPTION'],
  ['an empty nodeId', { url, nodeId: '' }, /option nodeId must be .* got ""/, 'ICS_ERR_INVALID_OPTION'],
  ['a nodeId with a newline', { url, nodeId: 'a\nb' }, /option nodeId .* got "a\\nb"/, 'ICS_ERR_INVALID_OPTION'],
  ['a short presenceTtl', { url, presenceTtl: 100 }, /option presenceTtl must be an integer from 300 to 86400000 \(ms\), got 100/, 'ICS_ERR_OPTION_OUT_OF_RANGE'],
  ['a fractional connectTimeout', { url, connectTimeout: 1.5 }, /option connectTimeout .* got 1.5/, 'ICS_ERR_OPTION_OUT_OF_RANGE'],
  ['a string commandTimeout', { url, commandTimeout: '100' }, /option commandTimeout .* got "100"/, 'ICS_ERR_OPTION_OUT_OF_RANGE'],
  ['maxMessageBytes 0', { url, maxMessageBytes: 0 }, /option maxMessageBytes must be an integer from 1 to 67108864 \(bytes\), got 0/, 'ICS_ERR_OPTION_OUT_OF_RANGE'],
  ['entriesLimit NaN', { url, entriesLimit: NaN }, /option entriesLimit .* got NaN/, 'ICS_ERR_OPTION_OUT_OF_RANGE'],
])('%s: a clear error naming the option and the value', (_label, options, message, code) => {
  let thrown: unknown;
  try {
    new RedisBus(options as RedisBusOptions);
  } catch (err) {
    thrown = err;
  }
  expect(thrown).toBeInstanceOf(code === 'ICS_ERR_OPTION_OUT_OF_RANGE' ? RangeError : TypeError);
  expect((thrown as Error).message).toMatch(message);
  expect((thrown as Error).message).not.toMatch(/secret/);
  expect((thrown as { code: string }).code).toBe(code);
});

test('an ioredis options object is taken as is (TLS, auth)', () => {
  const bus = new RedisBus({ url: { host: '127.0.0.1', port: 6380, password: 'p', tls: {} }, service: 'svc', nodeId: 'n1', presenceTtl: 3000 });
  expect(bus.settings).toMatchObject({ service: 'svc', nodeId: 'n1', presenceTtl: 3000 });
});

test('the arguments of every call are checked before Redis is asked', async () => {
  const bus = new RedisBus({ url });
  await expect(bus.reserveSlot('', 1, 0)).rejects.toThrow(/address key must be a string of 1 to 100 characters \(not '\*'\), got ""/);
  await expect(bus.reserveSlot('*', 1, 0)).rejects.toThrow(/address key/);
  await expect(bus.reserveSlot('10.0.0.1', -1, 0)).rejects.toThrow(/maxClients must be an integer >= 0 \(0 = no limit\), got -1/);
  await expect(bus.reserveSlot('10.0.0.1', 1, 0.5)).rejects.toThrow(/maxClientsPerIp .* got 0.5/);
  expect(() => bus.publish('', 'x')).toThrow(/topic name must be a string of 1 to 1024 characters, got ""/);
  expect(() => bus.publish('chat', 'x'.repeat(REDIS_BUS_DEFAULTS.maxMessageBytes + 1))).toThrow(/over maxMessageBytes/);
  expect(() => bus.subscribe('chat', 'nope' as never)).toThrow(/handler must be a function, got "nope"/);
  await expect(bus.claim(7 as never, 'k', 'v')).rejects.toThrow(/set name must be .* got 7/);
  await expect(bus.claim('nicks', '', 'v')).rejects.toThrow(/presence key must be a string of 1 to 1024 characters, got ""/);
  await expect(bus.claim('nicks', 'k', 'v'.repeat(16 * 1024 + 1))).rejects.toThrow(/presence value must be a string of at most 16384 characters/);
  await expect(bus.entries('')).rejects.toThrow(/set name must be/);
});

test('before start(), the bus answers from this node alone (nothing is sent)', async () => {
  const bus = new RedisBus({ url });
  expect(await bus.reserveSlot('10.0.0.1', 1, 0)).toBe('ok');
  expect(await bus.reserveSlot('10.0.0.2', 1, 0)).toBe('maxClients');
  expect(await bus.claim('nicks', 'ann', 'v')).toBe(true);
  expect(await bus.entries('nicks')).toEqual([{ key: 'ann', value: 'v', node: bus.nodeId }]);
  bus.publish('chat', 'nobody');
  expect(bus.stats()).toMatchObject({ slots: 1, publishDropped: 1, presenceEntries: 1 });
  bus.releaseSlot('10.0.0.1');
  expect(await bus.clientCount()).toBe(0);
  await bus.stop();
});

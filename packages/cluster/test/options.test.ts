import { ClusterBus, ClusterBusHost, WorkerSupervisor, handleShutdown, runWorkers } from '../src';

// Options are checked before anything is forked or listened to: these run in the test process.

test.each([
  [{ workers: -1 }, RangeError, 'runWorkers: option workers must be an integer from 0 to 1024, got -1'],
  [{ workers: 'many' }, TypeError, `runWorkers: option workers must be a count or 'auto', got "many"`],
  [{ workers: 2.5 }, RangeError, 'runWorkers: option workers must be an integer from 0 to 1024, got 2.5'],
  [{ restartDelay: 0 }, RangeError, 'runWorkers: option restartDelay must be an integer from 1 to 2147483647, got 0'],
  [{ restartDelay: 500, maxRestartDelay: 100 }, RangeError, 'runWorkers: option maxRestartDelay must be an integer from 500 to 2147483647, got 100'],
  [{ maxRestartsPerMinute: Infinity }, RangeError, 'runWorkers: option maxRestartsPerMinute must be an integer >= 0, got Infinity'],
  [{ shutdownTimeout: '10s' }, RangeError, 'runWorkers: option shutdownTimeout must be an integer from 0 to 2147483647, got "10s"'],
  // a Node timer longer than 2^31-1 ms fires after 1 ms: refused, not shortened
  [{ shutdownTimeout: 2 ** 31 }, RangeError, 'runWorkers: option shutdownTimeout must be an integer from 0 to 2147483647, got 2147483648'],
  [{ killAfter: 1e10 }, RangeError, 'runWorkers: option killAfter must be an integer from 0 to 2147483647, got 10000000000'],
  [{ stableAfter: 2 ** 31 }, RangeError, 'runWorkers: option stableAfter must be an integer from 0 to 2147483647, got 2147483648'],
  [{ args: 'a b' }, TypeError, 'runWorkers: option args must be an array of strings, got "a b"'],
  [{ env: { PORT: 7000 } }, TypeError, 'runWorkers: option env must be an object of strings, got {"PORT":7000}'],
  [{ bus: 'yes' }, TypeError, 'runWorkers: option bus must be a boolean or a ClusterBusHost, got "yes"'],
  [{ log: 'stderr' }, TypeError, 'runWorkers: option log must be a function or false, got "stderr"'],
  [{ worker: 2 }, TypeError, 'runWorkers: unknown option "worker"'],
  [[2], TypeError, 'runWorkers: options must be an object, got [2]'],
])('runWorkers(%j) throws %p: %s', (options, type, message) => {
  expect(() => runWorkers(options as never)).toThrow(type as ErrorConstructor);
  expect(() => runWorkers(options as never)).toThrow(message);
});

test('the codes: INVALID_OPTION, OPTION_OUT_OF_RANGE, UNKNOWN_OPTION', () => {
  const codeOf = (options: unknown) => {
    try {
      new WorkerSupervisor(options as never);
    } catch (error) {
      return (error as { code?: string }).code;
    }
    return undefined;
  };
  expect([codeOf({ args: 1 }), codeOf({ workers: -1 }), codeOf({ restart: 1 })]).toEqual([
    'ICS_ERR_INVALID_OPTION',
    'ICS_ERR_OPTION_OUT_OF_RANGE',
    'ICS_ERR_UNKNOWN_OPTION',
  ]);
});

test("workers 0 and 'auto' mean one per core", () => {
  const os = jest.requireActual<typeof import('node:os')>('node:os');
  for (const workers of [0, 'auto'] as const) expect(new WorkerSupervisor({ workers, log: false }).workers).toBe(os.availableParallelism());
  expect(new WorkerSupervisor({ workers: 3, log: false }).workers).toBe(3);
});

test.each([
  [{ requestTimeout: 0 }, 'ClusterBus: option requestTimeout must be an integer from 1 to 2147483647, got 0'],
  [{ requestTimeout: 2 ** 31 }, 'ClusterBus: option requestTimeout must be an integer from 1 to 2147483647, got 2147483648'],
  [{ rejoinInterval: 2 ** 32 }, 'ClusterBus: option rejoinInterval must be an integer from 1 to 2147483647, got 4294967296'],
  [{ maxPending: -5 }, 'ClusterBus: option maxPending must be an integer >= 1, got -5'],
  [{ maxMessageLength: 2 ** 21 }, 'ClusterBus: option maxMessageLength must be an integer from 1 to 1048576, got 2097152'],
  [{ nodeId: '' }, 'ClusterBus: option nodeId must be a non-empty string, got ""'],
  [{ nodeId: 'n'.repeat(2000) }, 'ClusterBus: option nodeId is 2000 characters, more than 1024'],
  [{ timeout: 5 }, 'ClusterBus: unknown option "timeout"'],
])('new ClusterBus(%j) throws: %s', (options, message) => {
  expect(() => new ClusterBus(options as never)).toThrow(message);
});

test('ClusterBus calls check their arguments (a caller learns at once, not through a lost message)', () => {
  const bus = new ClusterBus({ nodeId: 'n1', maxMessageLength: 10 });
  expect(() => bus.publish('t', 'x'.repeat(11))).toThrow('ClusterBus: publish message is 11 characters, more than 10');
  expect(() => bus.publish('', 'x')).toThrow('ClusterBus: publish topic must be a non-empty string, got ""');
  expect(() => bus.subscribe('t', 'handler' as never)).toThrow('ClusterBus: subscribe handler must be a function, got "handler"');
  expect(() => bus.reserveSlot('k', -1, 0)).toThrow('ClusterBus: option reserveSlot maxClients must be an integer >= 0, got -1');
  expect(() => bus.claim('s', 'k', 'v'.repeat(70000))).toThrow('ClusterBus: claim value is 70000 characters, more than 65536');
});

test('ClusterBusHost and handleShutdown check theirs', () => {
  expect(() => new ClusterBusHost({ hub: {} as never })).toThrow('ClusterBusHost: option hub must be a ServiceHub');
  expect(() => new ClusterBusHost({ maxQueuedMessages: 0 })).toThrow('ClusterBusHost: option maxQueuedMessages must be an integer >= 1, got 0');
  expect(() => handleShutdown({} as never)).toThrow('handleShutdown: server must have a shutdown() method (a TWSocketServer)');
  const server = { shutdown: () => Promise.resolve({ clients: 0, closed: 0, aborted: 0 }) };
  expect(() => handleShutdown(server, { timeout: -1 })).toThrow('handleShutdown: option timeout must be an integer from 0 to 2147483647, got -1');
  expect(() => handleShutdown(server, { timeout: 2 ** 31 })).toThrow('handleShutdown: option timeout must be an integer from 0 to 2147483647, got 2147483648');
  expect(() => handleShutdown(server, { signal: true } as never)).toThrow('handleShutdown: unknown option "signal"');
});

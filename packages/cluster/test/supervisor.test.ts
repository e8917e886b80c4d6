import { WORKERS_EXIT } from '../src';
import { assertBuilt } from './support/built';
import { LinePeer } from './support/line-peer';
import { PrimaryProcess } from './support/primary-process';

// Real primaries (test/fixtures/primary.js) forking real workers; the exit code is the primary's.

beforeAll(assertBuilt);
afterEach(() => PrimaryProcess.killAll());

test('a worker that dies at every start: restarted with a doubling back-off, then the primary gives up with CRASH_LOOP', async () => {
  const primary = new PrimaryProcess({ worker: 'crash-worker.js', workers: 1, restartDelay: 20, maxRestartsPerMinute: 3 });
  expect(await primary.exited).toEqual({ code: WORKERS_EXIT.CRASH_LOOP, signal: null });
  expect(primary.lines.filter((line) => line.startsWith('crashing '))).toHaveLength(4); // the first start and 3 restarts
  const restarts = primary.lines.filter((line) => / died \(exit code 7\): restarting in \d+ ms$/.test(line));
  expect(restarts.map((line) => Number(/in (\d+) ms/.exec(line)![1]))).toEqual([20, 40, 80]);
  expect(primary.lines).toContainEqual(expect.stringMatching(/worker 0 \(pid \d+\) died \(exit code 7\): 3 restarts within 60 s already, giving up$/));
  expect(primary.lines).toContainEqual(expect.stringMatching(/^primary: done \(exit code 4\): gave up: workers kept dying/));
});

test('SIGTERM shuts the workers down gracefully; a client that does not close is aborted at the timeout: exit CLIENTS_ABORTED', async () => {
  const primary = new PrimaryProcess({ worker: 'server-worker.js', workers: 2, shutdownTimeout: 300, shutdownNotice: 'closing' });
  const { port } = await primary.listening(2);
  const stubborn = new LinePeer(port, { halfOpen: true });
  await stubborn.nextLine();
  primary.signal('SIGTERM');
  expect(await stubborn.nextLine()).toBe('closing');
  expect(await primary.exited).toEqual({ code: WORKERS_EXIT.CLIENTS_ABORTED, signal: null });
  stubborn.close(); // it had the server's FIN and kept its side open: nothing more reaches it
  expect(primary.lines).toContainEqual('primary: done (exit code 3): SIGTERM: 0 of 1 clients closed gracefully, 1 aborted');
});

test('a second SIGTERM kills the workers at once: exit 128 + 15', async () => {
  const primary = new PrimaryProcess({ worker: 'server-worker.js', workers: 2, shutdownTimeout: 60000 });
  const { port, pids } = await primary.listening(2);
  const stubborn = new LinePeer(port, { halfOpen: true });
  await stubborn.nextLine();
  primary.signal('SIGTERM');
  await primary.waitForLine(/^primary: SIGTERM: shutting down 2 workers gracefully/);
  primary.signal('SIGTERM');
  expect(await primary.exited).toEqual({ code: WORKERS_EXIT.SIGNAL_BASE + 15, signal: null });
  stubborn.close();
  for (const pid of pids) expect(() => process.kill(pid, 0)).toThrow(expect.objectContaining({ code: 'ESRCH' }));
});

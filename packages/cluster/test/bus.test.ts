import { execFile } from 'node:child_process';
import * as path from 'node:path';
import { assertBuilt } from './support/built';
import { PrimaryProcess } from './support/primary-process';

// ClusterBus between real processes, without a server: what the primary does with what a worker sends.

const FIXTURES = path.join(__dirname, 'fixtures');

beforeAll(assertBuilt);
afterEach(() => PrimaryProcess.killAll());

function runNode(script: string, env: Record<string, string>): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [path.join(FIXTURES, script)], { env: { ...process.env, NODE_OPTIONS: '', ...env }, timeout: 10000 }, (error, stdout, stderr) =>
      error ? reject(new Error(`${script}: ${error.message}\n${stdout}\n${stderr}`)) : resolve(stdout),
    );
  });
}

test('malformed and oversized messages from a worker are dropped and counted; the primary and the bus carry on', async () => {
  const primary = new PrimaryProcess({ worker: 'bus-worker.js', workers: 1, workerConfig: { mode: 'garbage' } });
  // The hub's limit of 2 holds: the garbage reserved nothing.
  await primary.waitForLine(/^result up ok,ok,maxClients count=2$/);
  primary.signal('SIGTERM');
  await primary.exited;
  const stats = JSON.parse((await primary.waitForLine(/^hoststats (.*)$/))[1]);
  expect(stats.dropped).toEqual({ shape: 8, size: 3, notJoined: 1, nodeInUse: 0, backlog: 0 });
  // every node gone with its worker
  expect(stats).toMatchObject({ nodes: 0, slots: 0 });
});

test('a stalled primary: the request times out, the bus goes down and serves alone, then rejoins with its own state', async () => {
  const primary = new PrimaryProcess({
    worker: 'bus-worker.js',
    workers: 1,
    blockOnSigusr2: 1500,
    workerConfig: { mode: 'stall', bus: { requestTimeout: 300, rejoinInterval: 200 } },
  });
  await primary.waitForLine(/^ready \d+$/);
  primary.signal('SIGUSR2');
  await primary.waitForLine(/^bus \d+ down the primary did not answer a count within 300 ms$/);
  // 3 slots + 2 taken alone - 1 given back
  await primary.waitForLine(/^alone count=4$/);
  await primary.waitForLine(/^primary: unblocked$/);
  await primary.waitForLine(/^bus \d+ up rejoined the primary: this node's slots and presence written back$/);
  // What the primary holds for the node is the worker's truth: nothing counted twice, nothing lost.
  await primary.waitForLine(/^rejoined count=4 outages=1$/);
});

test('a worker whose primary serves no bus: down, with the reason, serving alone on its own slots', async () => {
  const output = await runNode('plain-primary.js', {});
  expect(output).toMatch(/^bus \d+ down the primary did not answer a join within 200 ms \(is it running runWorkers\(\) or a ClusterBusHost\?\)$/m);
  expect(output).toMatch(/^alone down ok,maxClients count=1 reason=the primary did not answer a join within 200 ms/m);
});

test('a process that is no cluster worker: down at once, serving alone', async () => {
  const output = await runNode('bus-worker.js', { TEST_WORKER_CONFIG: JSON.stringify({ mode: 'alone' }) });
  expect(output).toMatch(/^bus \d+ down no IPC channel to a primary \(not a cluster worker\): serving alone$/m);
  expect(output).toMatch(/^alone down ok,maxClients count=1 /m);
});

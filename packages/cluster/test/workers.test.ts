import { WORKERS_EXIT } from '../src';
import { assertBuilt } from './support/built';
import { LinePeer } from './support/line-peer';
import { PrimaryProcess } from './support/primary-process';

// TWSocketServer workers (test/fixtures/server-worker.js) of a real primary, sharing one port
// (round-robin scheduling) and one ClusterBus: the limits hold across the workers.

beforeAll(assertBuilt);
afterEach(() => PrimaryProcess.killAll());

/** Opens `count` connections at once; resolves with each one's first line. */
async function openMany(port: number, count: number, localAddress?: string): Promise<LinePeer[]> {
  const peers = Array.from({ length: count }, () => new LinePeer(port, { localAddress }));
  await Promise.all(peers.map((peer) => peer.nextLine()));
  return peers;
}

const pidOf = (peer: LinePeer): number => Number(/^hello from (\d+)$/.exec(peer.lines[0])?.[1]);

test('maxClients 10 across 2 workers: of 15 connections 10 are served, by both workers, and 5 told busy; a worker counts 10', async () => {
  const primary = new PrimaryProcess({ worker: 'server-worker.js', workers: 2, workerConfig: { server: { maxClients: 10 } } });
  const { port, pids } = await primary.listening(2);
  const peers = await openMany(port, 15);
  const served = peers.filter((peer) => peer.lines[0].startsWith('hello from '));
  const busy = peers.filter((peer) => peer.lines[0] === 'busy');
  expect([served.length, busy.length]).toEqual([10, 5]);
  expect(new Set(served.map(pidOf))).toEqual(new Set(pids));
  await Promise.all(busy.map((peer) => peer.closed));
  for (const peer of served.slice(0, 2)) expect(await peer.ask('count')).toBe('count 10');
  // A slot given back is free for the next connection, whichever worker takes it.
  served[0].close();
  await served[0].closed;
  let next = new LinePeer(port);
  for (let attempt = 1; (await next.nextLine()) === 'busy'; attempt++) {
    // The worker may learn of the close (and give the slot back) after this connection asked: try again, a bounded number of times.
    if (attempt === 50) throw new Error('the slot of a closed client was not given back');
    await next.closed;
    next = new LinePeer(port);
  }
  expect(await next.ask('count')).toBe('count 10');
  for (const peer of [...served, next]) peer.close();
});

test('maxClientsPerIp 3 across 2 workers: a 4th and 5th connection from 127.0.0.1 are refused, 127.0.0.2 is served', async () => {
  const primary = new PrimaryProcess({ worker: 'server-worker.js', workers: 2, workerConfig: { server: { maxClientsPerIp: 3 } } });
  const { port } = await primary.listening(2);
  const first = await openMany(port, 5, '127.0.0.1');
  const second = await openMany(port, 2, '127.0.0.2');
  expect(first.map((peer) => peer.lines[0].replace(/\d+$/, 'PID')).sort()).toEqual(['busy per ip', 'busy per ip', 'hello from PID', 'hello from PID', 'hello from PID']);
  expect(second.map((peer) => peer.lines[0].replace(/\d+$/, 'PID'))).toEqual(['hello from PID', 'hello from PID']);
  expect(await second[0].ask('count')).toBe('count 5');
  for (const peer of [...first, ...second]) peer.close();
});

test('a worker killed with SIGKILL is replaced; its slots and presence entries are gone with it', async () => {
  const primary = new PrimaryProcess({ worker: 'server-worker.js', workers: 2 });
  const { port, pids } = await primary.listening(2);
  // Connections until both workers serve some (round robin alternates; bounded).
  const peers: LinePeer[] = [];
  while (peers.length < 20 && new Set(peers.map(pidOf)).size < 2) {
    const peer = new LinePeer(port);
    await peer.nextLine();
    expect(await peer.ask(`claim user${peers.length}`)).toBe(`claim user${peers.length} true`);
    peers.push(peer);
  }
  expect(new Set(peers.map(pidOf))).toEqual(new Set(pids));
  expect(await peers[0].ask('count')).toBe(`count ${peers.length}`);
  const victim = pidOf(peers[0]);
  const doomed = peers.filter((peer) => pidOf(peer) === victim);
  const survivors = peers.filter((peer) => pidOf(peer) !== victim);
  process.kill(victim, 'SIGKILL');
  await Promise.all(doomed.map((peer) => peer.closed));
  await primary.waitForLine(new RegExp(`^primary: worker \\d \\(pid ${victim}\\) died \\(signal SIGKILL\\): restarting in 100 ms$`));
  const [, newPid] = (await primary.waitForLines(/^listening (\d+) \d+$/, 3))[2];
  expect(pids).not.toContain(Number(newPid));
  expect(await survivors[0].ask('count')).toBe(`count ${survivors.length}`);
  const names = survivors.map((peer) => `user${peers.indexOf(peer)}`).sort();
  expect(await survivors[0].ask('who')).toBe(`who ${names.join(',')}`);
  // a name the dead worker's client held is free again
  expect(await survivors[0].ask('claim user0')).toBe('claim user0 true');
  for (const peer of survivors) peer.close();
});

test('SIGTERM to the primary: every worker shuts down gracefully (the notice, then FIN), the primary exits 0', async () => {
  const primary = new PrimaryProcess({ worker: 'server-worker.js', workers: 2, shutdownNotice: 'service going down' });
  const { port, pids } = await primary.listening(2);
  const peers = await openMany(port, 4);
  expect(new Set(peers.map(pidOf))).toEqual(new Set(pids));
  primary.signal('SIGTERM');
  for (const peer of peers) {
    expect(await peer.nextLine()).toBe('service going down');
    await peer.closed;
    expect(peer.ended).toBe(true); // the server's FIN, not a reset
  }
  expect(await primary.exited).toEqual({ code: WORKERS_EXIT.GRACEFUL, signal: null });
  expect(primary.lines).toContainEqual('primary: done (exit code 0): SIGTERM: every worker ended gracefully, 4 of 4 clients closed gracefully, 0 aborted');
});

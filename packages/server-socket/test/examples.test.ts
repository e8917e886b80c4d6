import { EXAMPLE_NAMES, RunningExample, startExample } from '../src';
import { Peer } from './support/peer';

/** The seeds' example servers that `ics-ts-server --example NAME` runs, in this process. */

const running: RunningExample[] = [];
afterEach(async () => {
  for (const example of running.splice(0)) await example.shutdown();
});

/** A log that the test waits on, line by line. */
function makeLog() {
  const lines: string[] = [];
  let wake: (() => void) | undefined;
  return {
    lines,
    log: (line: string) => {
      lines.push(line);
      wake?.();
    },
    async until(line: string): Promise<void> {
      while (!lines.includes(line)) await new Promise<void>((resolve) => (wake = resolve));
    },
  };
}

test('the names', () => {
  expect(EXAMPLE_NAMES).toEqual(['xojo', 'totalcross', 'air']);
  expect(() => startExample('nope' as never, { addr: '127.0.0.1', log: () => undefined })).toThrow(
    'no example server named "nope" (xojo, totalcross, air)',
  );
});

test('xojo: the pool is made, the ClientSocket greets and logs what it got', async () => {
  const { lines, log, until } = makeLog();
  const example = await startExample('xojo', { addr: '127.0.0.1', port: 0, log });
  running.push(example);
  expect(lines).toEqual(['Added Socket', 'Added Socket']);
  const peer = new Peer(example.port);
  await peer.waitFor('From the server socket, I connected to you.');
  peer.write('Socket 0connected!');
  await until('Socket 0 got: Socket 0connected!');
  await until('Socket 0 send complete.');
  expect(lines).toContain('Socket 0 connected.');
});

test('totalcross: accepts, echoes each read, logs the end', async () => {
  const { log, until } = makeLog();
  const example = await startExample('totalcross', { addr: '127.0.0.1', port: 0, log });
  running.push(example);
  const peer = new Peer(example.port);
  await peer.connected;
  peer.write('hello');
  await peer.waitFor('echo: hello');
  await until(`accepted 127.0.0.1:${peer.socket.localPort}`);
  peer.end();
  await until(`closed 127.0.0.1:${peer.socket.localPort}`);
});

test("air: logs the connection and what it got, answers with Lucy's line", async () => {
  const { lines, log, until } = makeLog();
  const example = await startExample('air', { addr: '127.0.0.1', port: 0, log });
  running.push(example);
  expect(lines).toEqual([`Bound to: 127.0.0.1:${example.port}`]);
  const peer = new Peer(example.port);
  await peer.connected;
  peer.write('Hi');
  await peer.waitFor("Lucy can't drink milk.");
  await until(`Sent message to 127.0.0.1:${peer.socket.localPort}`);
  expect(lines.slice(1)).toEqual([`Connection from 127.0.0.1:${peer.socket.localPort}`, 'Received: Hi', `Sent message to 127.0.0.1:${peer.socket.localPort}`]);
});

import { once } from 'node:events';
import * as net from 'node:net';
import { CHAT_READ_RATE, COMMAND_READ_RATE } from '../src';
import { CliProcess } from './support/cli-process';
import { LineClient } from './support/line-client';

/**
 * Flooders send requests to the server (the CLI, its own process) as fast as
 * TCP takes them, reading and dropping the replies; another peer's round trip
 * is measured meanwhile. Issue 11 asks that it stay under 100 ms: the samples'
 * per-client read rate (COMMAND_READ_RATE, CHAT_READ_RATE) holds each flooder
 * to its share. Without it (the rates set to 0), the same run measured a
 * median of 279 ms (command) and 393 ms (chat), 702 and 921 ms at worst.
 * Only the median is asserted (the issue's bound); p95 and max are printed.
 */

jest.setTimeout(120_000);
afterEach(() => CliProcess.killAll());

/** Fewer than either sample's burst: the measuring peer never meets its own read rate. */
const ROUND_TRIPS = 40;
const FLOODERS = 2;

/** Writes `chunk` in a loop, as fast as the socket drains, until `stop()`; reads and drops what comes back. */
interface Flood {
  /** Resolves once `count` reply lines have come back: the flood is on (and, past the burst, throttled). */
  replies(count: number): Promise<void>;
  stop(): Promise<{ sent: number; replies: number; ms: number }>;
}

function flood(port: number, first: string, chunk: Buffer): Flood {
  const socket = net.connect({ port, host: '127.0.0.1' });
  let replies = 0;
  let waiter: { count: number; resolve: () => void } | undefined;
  socket.on('data', (data: Buffer) => {
    for (let at = data.indexOf(10); at >= 0; at = data.indexOf(10, at + 1)) replies++;
    if (waiter && replies >= waiter.count) {
      waiter.resolve();
      waiter = undefined;
    }
  });
  socket.on('error', () => {});
  const start = process.hrtime.bigint();
  let running = true;
  let sent = 0;
  const loop = (async () => {
    await once(socket, 'connect');
    socket.write(first);
    while (running && !socket.destroyed) {
      sent += chunk.length;
      if (!socket.write(chunk)) await Promise.race([once(socket, 'drain'), once(socket, 'close')]);
    }
  })();
  return {
    replies(count) {
      if (replies >= count) return Promise.resolve();
      return new Promise((resolve) => (waiter = { count, resolve }));
    },
    async stop() {
      running = false;
      socket.destroy();
      await loop.catch(() => {});
      return { sent, replies, ms: Number(process.hrtime.bigint() - start) / 1e6 };
    },
  };
}

function describeFlood(flood: { sent: number; replies: number; ms: number }): string {
  return `${(flood.sent / 1e6).toFixed(2)} MB written, ${flood.replies} reply lines in ${(flood.ms / 1000).toFixed(1)} s`;
}

function summary(times: number[]): { median: number; p95: number; max: number } {
  const sorted = [...times].sort((a, b) => a - b);
  const at = (q: number) => sorted[Math.min(sorted.length - 1, Math.floor(q * sorted.length))];
  return { median: at(0.5), p95: at(0.95), max: sorted[sorted.length - 1] };
}

async function measure(peer: LineClient, request: string, isReply: (line: string) => boolean): Promise<number[]> {
  const times: number[] = [];
  for (let i = 0; i < ROUND_TRIPS; i++) {
    const start = process.hrtime.bigint();
    peer.sendLine(request);
    await peer.until(isReply);
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
  }
  return times;
}

test('command sample: a flooder does not take the server from another client', async () => {
  const cli = new CliProcess(['--client', 'command', '--port', '0', '--quiet']);
  const { port } = await cli.listening();
  const peer = new LineClient(port);
  try {
    await peer.connected;
    await peer.line();
    const flooders = Array.from({ length: FLOODERS }, () => flood(port, '', Buffer.from('TIME\n'.repeat(13_000))));
    // Measured once every flooder has had its burst's worth of replies: the flood is on.
    await Promise.all(flooders.map((f) => f.replies(COMMAND_READ_RATE.readLinesBurst)));
    const times = await measure(peer, 'TIME', (line) => line.startsWith('+OK 2'));
    const floods = await Promise.all(flooders.map((f) => f.stop()));
    const figures = summary(times);
    console.log(
      `command sample (${COMMAND_READ_RATE.readLinesPerSecond} lines/s, bursts of ${COMMAND_READ_RATE.readLinesBurst}), ${FLOODERS} flooders ` +
        `(${floods.map(describeFlood).join('; ')}): ` +
        `another client's round trip median ${figures.median.toFixed(1)} ms, p95 ${figures.p95.toFixed(1)} ms, max ${figures.max.toFixed(1)} ms`,
    );
    expect(figures.median).toBeLessThan(100);
  } finally {
    peer.destroy();
  }
});

test('chat sample: a flooder does not take the room from another member', async () => {
  const cli = new CliProcess(['--client', 'chat', '--port', '0', '--quiet']);
  const { port } = await cli.listening();
  const peer = new LineClient(port);
  try {
    await peer.connected;
    await peer.line();
    peer.sendLine('alice');
    await peer.line();
    // Each flood line alternates a message (broadcast to everyone, alice included) and /who (answered).
    const flooders = Array.from({ length: FLOODERS }, (_, i) => flood(port, `flooder${i}\n`, Buffer.from('spam spam spam\n/who\n'.repeat(6_000))));
    await Promise.all(flooders.map((f) => f.replies(CHAT_READ_RATE.readLinesBurst / 2)));
    const times = await measure(peer, '/who', (line) => line.startsWith('* Here'));
    const floods = await Promise.all(flooders.map((f) => f.stop()));
    const figures = summary(times);
    console.log(
      `chat sample (${CHAT_READ_RATE.readLinesPerSecond} lines/s, bursts of ${CHAT_READ_RATE.readLinesBurst}), ${FLOODERS} flooders ` +
        `(${floods.map(describeFlood).join('; ')}): ` +
        `another member's round trip median ${figures.median.toFixed(1)} ms, p95 ${figures.p95.toFixed(1)} ms, max ${figures.max.toFixed(1)} ms`,
    );
    expect(figures.median).toBeLessThan(100);
  } finally {
    peer.destroy();
  }
});

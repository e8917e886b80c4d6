import * as net from 'node:net';
import { readFileSync } from 'node:fs';
import { CliProcess } from './support/cli-process';
import { LineClient } from './support/line-client';

/**
 * Issue 11's first attack, on the CLI as shipped (its own process, the
 * command sample, default settings): a peer sends requests as fast as TCP
 * takes them for 30 s and never reads a reply. Before, the queued output grew
 * to 1.25 GB and the process died. Now the server's RSS must stay bounded
 * (RSS_BOUND above what it had before the attack) and another client must keep
 * being answered (median round trip under 100 ms, the issue's figure).
 */

jest.setTimeout(90_000);
afterEach(() => CliProcess.killAll());

const ATTACK_MS = 30_000;
/** What the server may grow by during the attack: the 64 KiB / 1 MiB output bounds plus V8's own slack. */
const RSS_BOUND = 64 * 1024 * 1024;

function rssOf(pid: number): number {
  const status = readFileSync(`/proc/${pid}/status`, 'utf8');
  return Number(/VmRSS:\s+(\d+) kB/.exec(status)![1]) * 1024;
}

test('a peer that sends requests and never reads: RSS bounded for 30 s, another client answered', async () => {
  const cli = new CliProcess(['--client', 'command', '--port', '0', '--quiet']);
  const { port } = await cli.listening();
  const pid = cli.child.pid!;
  const other = new LineClient(port);
  await other.connected;
  await other.line();
  const before = rssOf(pid);

  const attacker = net.connect({ port, host: '127.0.0.1' });
  attacker.on('error', () => {});
  attacker.pause(); // never reads
  const request = Buffer.from('HELP\r\nTIME\r\n'.repeat(5000));
  let written = 0;
  let attacking = true;
  const pump = () => {
    while (attacking && !attacker.destroyed) {
      written += request.length;
      if (!attacker.write(request)) return void attacker.once('drain', pump);
    }
  };
  attacker.once('connect', pump);

  let maxRss = before;
  const times: number[] = [];
  const end = Date.now() + ATTACK_MS;
  while (Date.now() < end) {
    const start = process.hrtime.bigint();
    other.sendLine('TIME');
    await other.until((line) => line.startsWith('+OK'));
    times.push(Number(process.hrtime.bigint() - start) / 1e6);
    maxRss = Math.max(maxRss, rssOf(pid));
    await new Promise((resolve) => setTimeout(resolve, 250));
  }
  attacking = false;
  attacker.destroy();
  other.destroy();
  const sorted = [...times].sort((a, b) => a - b);
  const median = sorted[Math.floor(sorted.length / 2)];
  console.log(
    `never-reading peer for ${ATTACK_MS / 1000} s (${(written / 1e6).toFixed(1)} MB of requests accepted by TCP): ` +
      `server RSS ${(before / 1e6).toFixed(1)} MB before, ${(maxRss / 1e6).toFixed(1)} MB at most; ` +
      `another client's ${times.length} round trips: median ${median.toFixed(1)} ms, max ${sorted[sorted.length - 1].toFixed(1)} ms`,
  );
  expect(maxRss - before).toBeLessThan(RSS_BOUND);
  expect(median).toBeLessThan(100);
  expect(times.length).toBeGreaterThan(20);
});

import { CliProcess } from './support/cli-process';
import { LineClient } from './support/line-client';

/**
 * Issue 11: every exception in client code went to stderr with its stack
 * (about 900 bytes per 6-byte request), so a peer could flood the log. The
 * CLI now writes the first few per interval in full and counts the rest.
 */

jest.setTimeout(120_000);
afterEach(() => CliProcess.killAll());

const FIXTURE = './packages/sample-clients/test/fixtures/throwing-client.ts';
const BURST = 5; // the CLI's RateLimitedLog default

test('a flood of exceptions from client code: a few stacks, then a count; every exception accounted for', async () => {
  const cli = new CliProcess(['--require', FIXTURE, '--client', 'throwing', '--port', '0', '--quiet']);
  const { port } = await cli.listening();
  const attacks = 60;
  for (let round = 0; round < attacks / 20; round++) {
    const peers = Array.from({ length: 20 }, () => new LineClient(port));
    for (const peer of peers) peer.socket.write('boom!\n');
    // Each exception aborts its client: the connection ends (reset or FIN).
    await Promise.all(peers.map((peer) => peer.closed));
  }
  cli.child.kill('SIGTERM');
  expect(await cli.finished()).toEqual({ code: 0, signal: null });

  const stacks = cli.stderr.match(/^ics-ts-server: client \d+ failed: Error: cannot handle "boom!"$/gm) ?? [];
  const counts = [...cli.stderr.matchAll(/^ics-ts-server: (\d+) more client exceptions suppressed in the last (\d+)s$/gm)];
  const suppressed = counts.reduce((sum, match) => sum + Number(match[1]), 0);
  // Every exception is either written or counted (the last count is written at shutdown).
  expect(stacks.length + suppressed).toBe(attacks);
  // At most BURST stacks per interval (one count line ends each interval that suppressed some).
  expect(stacks.length).toBeGreaterThanOrEqual(1);
  expect(stacks.length).toBeLessThanOrEqual(BURST * (counts.length + 1));
  expect(counts.length).toBeGreaterThanOrEqual(1);
  // The stacks point to the code that threw.
  expect(cli.stderr).toContain('throwing-client.ts');
  const perException = Math.round(cli.stderr.length / attacks);
  console.log(
    `CLI exception log: ${attacks} exceptions -> ${stacks.length} stacks + ${counts.length} count line(s) ` +
      `(${suppressed} suppressed), ${cli.stderr.length} bytes of stderr (${perException} per exception)`,
  );
});

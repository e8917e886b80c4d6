import { spawn } from 'node:child_process';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { CliProcess } from './support/cli-process';
import { LineClient } from './support/line-client';

/**
 * Issue 11: a `/quit` typed in `nc` was announced to the others 10 s later.
 * nc keeps its side of the connection open until its input ends, so the
 * server's graceful close waited closeTimeout (10 s) and the leave notice
 * waited for the close. The notice now goes out when /quit is typed.
 */

jest.setTimeout(60_000);
afterEach(() => CliProcess.killAll());

describeWithPrograms({ nc: 'netcat-openbsd' }, 'chat through the CLI, with nc', ({ nc }) => {
  test('/quit from nc is announced at once, before the connection ends, and only once', async () => {
    const cli = new CliProcess(['--client', 'chat', '--port', '0']);
    const { port } = await cli.listening();
    const alice = new LineClient(port);
    try {
      await alice.connected;
      await alice.line(); // the prompt
      alice.sendLine('alice');
      await alice.line(); // welcome

      const bob = spawn(nc, ['127.0.0.1', String(port)], { stdio: ['pipe', 'pipe', 'inherit'] });
      const bobExited = new Promise<void>((resolve) => bob.once('exit', () => resolve()));
      bob.stdin.write('bob\n');
      expect(await alice.line()).toBe('* bob joined');

      const typed = process.hrtime.bigint();
      bob.stdin.write('/quit lunch\n');
      expect(await alice.line()).toBe('* bob left (lunch)');
      const noticeMs = Number(process.hrtime.bigint() - typed) / 1e6;
      // bob's connection is still open: nc holds it until its input ends (or closeTimeout, 10 s).
      expect(bob.exitCode).toBeNull();
      expect(cli.lines.filter((line) => /^client \d+ disconnected/.test(line))).toEqual([]);

      bob.stdin.end();
      await bobExited;
      await cli.waitForLine(/^client 2 disconnected/);
      alice.sendLine('/who');
      expect(await alice.line()).toBe('* Here (1): alice (127.0.0.1)'); // no second "* bob left"
      console.log(`chat /quit from nc: the others heard it after ${noticeMs.toFixed(1)} ms (was closeTimeout, 10 s)`);
    } finally {
      alice.destroy();
    }
  });
});

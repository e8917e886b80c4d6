import { once } from 'node:events';
import { mkdtempSync, renameSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import * as tls from 'node:tls';
import { createDevCertificate } from '@ics-ts/ssl-context';
import { CliProcess } from './support/cli-process';

/**
 * Issue 11: an expired certificate was served with no word from the CLI,
 * although docs/tls.md says it loads "with a warning". The CLI now writes one
 * to stderr at start and at each certificate reload, for the host table, the
 * main sslContext and each multiListenSockets context.
 */

jest.setTimeout(60_000);

const DAY_MS = 86_400_000;
let dir: string;
beforeAll(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'ics-ts-certs-'))));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
afterEach(() => CliProcess.killAll());

/** A key + certificate bundle file, valid from `from` days ago (negative: in the future) for `days` days. */
async function bundle(file: string, name: string, from: number, days: number): Promise<string> {
  const identity = await createDevCertificate({ names: [name], days, notBefore: new Date(Date.now() - from * DAY_MS) });
  const full = path.join(dir, file);
  // Written beside and renamed: a recheck never reads half a file.
  writeFileSync(`${full}.tmp`, identity.key + identity.cert);
  renameSync(`${full}.tmp`, full);
  return full;
}

function config(name: string, value: unknown): string {
  const file = path.join(dir, name);
  writeFileSync(file, JSON.stringify(value));
  return file;
}

const WARNING = /^ics-ts-server: warning: .*$/gm;

test('host table: the expired and the soon-expiring host are named on stderr at start; the expired one is still served', async () => {
  const hosts = [
    { hostTag: 'old', hostNames: ['old.localhost'], bindIpAddr: '127.0.0.1', bindSslPort: 4433, sslCert: await bundle('old.pem', 'old.localhost', 10, 1) },
    { hostTag: 'soon', hostNames: ['soon.localhost'], bindIpAddr: '127.0.0.1', bindSslPort: 4433, sslCert: await bundle('soon.pem', 'soon.localhost', 0, 5) },
    { hostTag: 'fine', hostNames: ['fine.localhost'], bindIpAddr: '127.0.0.1', bindSslPort: 4433, sslCert: await bundle('fine.pem', 'fine.localhost', 0, 90) },
  ];
  const cli = new CliProcess(['--config', config('hosts.json', { clientClass: 'echo', icsHosts: hosts }), '--port', '0', '--quiet']);
  const [, port] = await cli.waitForLine(/^listening tls:\/\/127\.0\.0\.1:(\d+)$/);
  await cli.waitForStderr(/\(soon\).*\n/);
  expect(cli.stderr.match(WARNING)).toEqual([
    expect.stringMatching(
      /^ics-ts-server: warning: icsHosts\[0\] \(old\): certificate CN=old\.localhost \[old\.localhost\] expired on \d{4}-\d\d-\d\dT[\d:.]+Z \(8 days ago\): clients refuse it$/,
    ),
    expect.stringMatching(
      /^ics-ts-server: warning: icsHosts\[1\] \(soon\): certificate CN=soon\.localhost \[soon\.localhost\] expires on \S+ \(in 5 days\): renew it$/,
    ),
  ]);

  // Served anyway, as ICS does (refuseExpired: true refuses it at start instead).
  const socket = tls.connect({ port: Number(port), host: '127.0.0.1', servername: 'old.localhost', rejectUnauthorized: false });
  await once(socket, 'secureConnect');
  expect(new Date(socket.getPeerCertificate().valid_to).getTime()).toBeLessThan(Date.now());
  socket.destroy();
});

test('the main sslContext and multiListenSockets contexts: expired, not yet valid, within its own expireWarnDays', async () => {
  const cli = new CliProcess([
    '--config',
    config('listeners.json', {
      addr: '127.0.0.1',
      port: 0,
      clientClass: 'echo',
      sslEnable: true,
      sslContext: { sslCert: await bundle('main.pem', 'main.localhost', 30, 2) },
      multiListenSockets: [
        { addr: '127.0.0.1', port: 0, sslEnable: true, sslContext: { sslCert: await bundle('later.pem', 'later.localhost', -3, 90) } },
        { addr: '127.0.0.1', port: 0, sslEnable: true, sslContext: { sslCert: await bundle('ten.pem', 'ten.localhost', 0, 10), expireWarnDays: 7 } },
        { addr: '127.0.0.1', port: 0, sslEnable: true, sslContext: { sslCert: await bundle('six.pem', 'six.localhost', 0, 6), expireWarnDays: 7 } },
        { addr: '127.0.0.1', port: 0 }, // plain: nothing to say
      ],
    }),
    '--quiet',
  ]);
  await cli.listening();
  await cli.waitForStderr(/multiListenSockets\[2\].*\n/);
  expect(cli.stderr.match(WARNING)).toEqual([
    expect.stringMatching(/^ics-ts-server: warning: sslContext: certificate CN=main\.localhost \[main\.localhost\] expired on \S+ \(27 days ago\): clients refuse it$/),
    expect.stringMatching(
      /^ics-ts-server: warning: multiListenSockets\[0\]\.sslContext: certificate CN=later\.localhost \[later\.localhost\] is not valid before \S+: clients refuse it until then$/,
    ),
    // ten.localhost: 10 days left, expireWarnDays 7: no warning. six.localhost: 6 days left.
    expect.stringMatching(/^ics-ts-server: warning: multiListenSockets\[2\]\.sslContext: certificate CN=six\.localhost \[six\.localhost\] expires on \S+ \(in 6 days\): renew it$/),
  ]);
});

test('recheck: a renewal tool writes a broken file, then an expired certificate; each reload is reported', async () => {
  const file = await bundle('chat.pem', 'chat.localhost', 0, 90);
  const cli = new CliProcess([
    '--config',
    config('recheck.json', {
      clientClass: 'echo',
      sslCertRecheckInterval: 50,
      icsHosts: [{ hostTag: 'chat', hostNames: ['chat.localhost'], bindIpAddr: '127.0.0.1', bindSslPort: 4433, sslCert: file }],
    }),
    '--port',
    '0',
    '--quiet',
  ]);
  await cli.waitForLine(/^listening tls:/);

  writeFileSync(`${file}.tmp`, '-----BEGIN CERTIFICATE-----\nnot base64 at all\n-----END CERTIFICATE-----\n');
  renameSync(`${file}.tmp`, file);
  await cli.waitForStderr(/^ics-ts-server: warning: host chat: reloading its certificate failed, the last good one is kept: .*$/m);

  await bundle('chat.pem', 'chat.localhost', 5, 1);
  await cli.waitForStderr(/^ics-ts-server: warning: icsHosts\[0\] \(chat\): certificate CN=chat\.localhost \[chat\.localhost\] expired on \S+ \(3 days ago\): clients refuse it$/m);
  // Before the broken file, the 90-day certificate gave no warning; the broken file failed at every
  // recheck (50 ms) until replaced, and was reported once.
  const warnings = cli.stderr.match(WARNING)!;
  expect(warnings[0]).toMatch(/reloading its certificate failed/);
  expect(warnings.filter((line) => /reloading its certificate failed/.test(line))).toHaveLength(1);
  cli.child.kill('SIGTERM');
  expect((await cli.finished()).code).toBe(0);
});

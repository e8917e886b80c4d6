import * as fs from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { HubBus, ServiceHub, TWSocketServer } from '@ics-ts/wsocket-server';
import { CliIO, startCli } from '../src/cli';
import { parseCliArgs } from '../src/cli-args';
import { formatStatus, statsLine } from '../src/status-report';
import { LineClient } from './support/line-client';

/** The CLI's admin key, --status (a running server's snapshot as a table) and --stats-interval. */

interface Captured extends CliIO {
  out: jest.Mock<void, [string]>;
  err: jest.Mock<void, [string]>;
}

const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'cli-status-'));
const servers: TWSocketServer[] = [];
const peers: LineClient[] = [];
afterEach(async () => {
  for (const peer of peers.splice(0)) peer.destroy();
  await Promise.all(servers.splice(0).map((server) => server.shutdown()));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function io(): Captured {
  return { out: jest.fn(), err: jest.fn(), cwd: dir };
}

function writeConfig(name: string, config: object): string {
  fs.writeFileSync(path.join(dir, name), JSON.stringify(config));
  return name;
}

async function startEcho(extra: string[] = []): Promise<{ server: TWSocketServer; out: Captured; adminPort: number }> {
  const file = writeConfig('echo.json', { addr: '127.0.0.1', port: 0, clientClass: 'echo', admin: { port: 0 } });
  const out = io();
  const start = await startCli(['--config', file, '--quiet', ...extra], out);
  const server = start.server!;
  servers.push(server);
  const adminLine = out.out.mock.calls.map((c) => c[0]).find((line) => line.startsWith('admin '))!;
  expect(adminLine).toBe(`admin ${server.adminUrl}`);
  return { server, out, adminPort: Number(new URL(server.adminUrl).port) };
}

test('the admin key: the server prints its admin URL; --status prints the snapshot as a table', async () => {
  const { server, adminPort } = await startEcho();
  const connected = new Promise((resolve) => server.once('clientConnect', resolve));
  const peer = new LineClient(server.bindPort);
  peers.push(peer);
  await connected;
  peer.sendLine('hello');
  expect(await peer.line()).toBe('hello');

  const status = io();
  const file = writeConfig('status.json', { addr: '127.0.0.1', port: 0, clientClass: 'echo', admin: { port: adminPort } });
  expect(await startCli(['--config', file, '--status'], status)).toEqual({ exitCode: 0 });
  const text = status.out.mock.calls.map((c) => c[0]).join('\n');
  expect(text).toMatch(/^server listening, up \d+ s, at \d{4}-/);
  expect(text).toContain('clients 1 (peak 1), accepted 1, admitted 1, in 7 B, out 7 B, queued 0 B');
  expect(text).toContain(`  main  tcp://127.0.0.1:${server.bindPort}  listening`);
  expect(text).toMatch(new RegExp(`\\n +1 +127\\.0\\.0\\.1:${peer.socket.localPort} +main +- +7 B +7 B +0 B +\\d+ s +\\d+ s$`));
  expect(status.err).not.toHaveBeenCalled();
  // The table is the formatter's rendering of what /stats said.
  const stats = server.stats();
  expect(formatStatus(stats).split('\n').slice(1, 4)).toEqual(text.split('\n').slice(1, 4));
});

test('--status with nobody listening there: exit 1 naming the URL and the error', async () => {
  const probe = net.createServer().listen(0, '127.0.0.1');
  await new Promise((resolve) => probe.once('listening', resolve));
  const port = (probe.address() as net.AddressInfo).port;
  await new Promise((resolve) => probe.close(resolve));
  const out = io();
  const file = writeConfig('gone.json', { clientClass: 'echo', admin: { port } });
  expect(await startCli(['--config', file, '--status'], out)).toEqual({ exitCode: 1 });
  expect(out.err.mock.calls[0][0]).toBe(`ics-ts-server: --status: http://127.0.0.1:${port}/stats?clients=50: ECONNREFUSED`);
});

test('--status without an admin listener in the config: exit 2, saying what is missing', async () => {
  const out = io();
  const file = writeConfig('none.json', { clientClass: 'echo' });
  expect(await startCli(['--config', file, '--status'], out)).toEqual({ exitCode: 2 });
  expect(out.err.mock.calls[0][0]).toMatch(/--status needs the config's admin listener with a fixed port/);
});

test('--stats-interval prints a summary line on stderr while listening', async () => {
  const { server, out } = await startEcho(['--stats-interval', '1']);
  const line = await new Promise<string>((resolve) => out.err.mockImplementation((text) => resolve(text)));
  expect(line).toBe(statsLine(server.stats()));
  expect(line).toMatch(/^stats: clients 0 \(peak 0\), accepted 0, refused 0 \(none\), tls failed 0, in 0 B, out 0 B, queued 0 B, aborts 0, exceptions 0$/);
});

test('bad --stats-interval values are usage errors', () => {
  for (const value of ['0', '-1', '1.5', 'x', '86401']) {
    expect(() => parseCliArgs([`--stats-interval=${value}`])).toThrow(/--stats-interval must be a whole number of seconds from 1 to 86400/);
  }
  expect(parseCliArgs(['--stats-interval', '30']).statsInterval).toBe(30);
});

test('a bad admin key is a config error naming it', async () => {
  const out = io();
  expect(await startCli(['--config', writeConfig('bad.json', { clientClass: 'echo', admin: 9323 }), '--port', '0'], out)).toEqual({ exitCode: 2 });
  expect(out.err.mock.calls[0][0]).toBe('ics-ts-server: bad.json: option admin must be an object like { "port": 9323 }, got 9323');
  const out2 = io();
  expect(await startCli(['--config', writeConfig('bad2.json', { clientClass: 'echo', admin: { port: 70000 } })], out2)).toEqual({ exitCode: 2 });
  expect(out2.err.mock.calls[0][0]).toBe('ics-ts-server: bad2.json: TWSocketServer: option admin.port must be an integer from 0 to 65535, got 70000');
});

test('--status and --stats-interval show the service when the server shares one', async () => {
  const server = new TWSocketServer({ addr: '127.0.0.1', port: 0, bus: new HubBus(new ServiceHub(), { nodeId: 'node-a' }) });
  try {
    await server.listen();
    expect(formatStatus(server.stats())).toContain('service: hub bus up, node node-a, 0 clients in the service, outages 0, slot timeouts 0');
    expect(statsLine(server.stats())).toMatch(/, service up \(0 clients\)$/);
    const alone = new TWSocketServer({ addr: '127.0.0.1', port: 0 });
    expect(formatStatus(alone.stats())).not.toContain('service:');
  } finally {
    await server.shutdown(1000);
  }
});

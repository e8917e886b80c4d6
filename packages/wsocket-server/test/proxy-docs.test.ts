import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as serverPackage from '../src';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { encodeV2 } from './fixtures/proxy-encoder';
import { freePort, runHaproxy, RunningHaproxy } from '../../../test-support/haproxy';
import { track } from './helpers';

/**
 * docs/load-balancer.md, run: its TypeScript example (read from the page at
 * test time, compiled, started on port 0) behind its HAProxy configuration
 * (the page's, with loopback addresses and ports put in), so neither can drift
 * from what works.
 */

const PAGE = readFileSync(path.resolve(__dirname, '../../../docs/load-balancer.md'), 'utf8');

function block(heading: string, language: string): string {
  const match = new RegExp(`## ${heading}\\n[\\s\\S]*?\`\`\`${language}\\n([\\s\\S]*?)\`\`\``).exec(PAGE);
  if (!match) throw new Error(`docs/load-balancer.md: no ${language} block under "## ${heading}"`);
  return match[1];
}

/** Runs the page's example with port 0; returns its server and what it logged. */
async function runExample(): Promise<{ server: serverPackage.TWSocketServer; log: string[] }> {
  const source = block('In code', 'ts');
  const js = ts.transpileModule(source.replace(/port: \d+/, 'port: 0').replace(/\bconst server\b/, 'server'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const requireFor = (name: string): unknown => {
    if (name === '@ics-ts/wsocket-server') return serverPackage;
    throw new Error(`the example imports ${name}`);
  };
  const log: string[] = [];
  const scope = { server: undefined as serverPackage.TWSocketServer | undefined };
  const console = { log: (text: string) => log.push(text) };
  new Function('require', 'exports', 'console', 'scope', `with (scope) { ${js} }`)(requireFor, {}, console, scope);
  if (!scope.server) throw new Error('the example made no server');
  const server = track(scope.server);
  while (server.state !== 'listening') await once(server, 'changeState');
  return { server, log };
}

async function firstLine(socket: net.Socket): Promise<string> {
  let text = '';
  socket.setEncoding('utf8');
  for await (const chunk of socket) {
    text += chunk;
    if (text.includes('\r\n')) break;
  }
  socket.destroy();
  return text.slice(0, text.indexOf('\r\n'));
}

test('the example greets the client by the address in the header, with the server name from the TLVs', async () => {
  const { server } = await runExample();
  const socket = net.connect(server.bindPort, '127.0.0.1');
  socket.write(
    encodeV2({
      endpoints: { family: 'ipv4', sourceAddress: '203.0.113.7', sourcePort: 50000, destinationAddress: '192.0.2.1', destinationPort: 2323 },
      tlvs: [[0x02, 'app.example']],
    }),
  );
  expect(await firstLine(socket)).toBe('you are 203.0.113.7:50000 via 127.0.0.1 for app.example');
});

describeWithPrograms({ haproxy: 'haproxy' }, 'the HAProxy configuration of docs/load-balancer.md', ({ haproxy }) => {
  let running: RunningHaproxy | undefined;
  afterEach(async () => {
    await running?.stop();
    running = undefined;
  });

  test('in front of the example: the client at 127.0.0.9 is greeted as such; health checks are logged or counted, never clients', async () => {
    const { server, log } = await runExample();
    const port = await freePort();
    const config = block('HAProxy', 'haproxy')
      .replace(/bind :2323/, `bind 127.0.0.1:${port}`)
      .replace(/server app1 10\.0\.0\.11:2323/, `server app1 127.0.0.1:${server.bindPort}`)
      .replace(/inter 2s/g, 'inter 100ms')
      .replace(/^\s*server app2 .*$/m, ''); // the second backend machine does not exist here
    expect(config).toContain(`server app1 127.0.0.1:${server.bindPort} send-proxy-v2 check check-send-proxy`);
    running = await runHaproxy(haproxy, config, port);
    const socket = net.connect({ host: '127.0.0.1', port, localAddress: '127.0.0.9' });
    await once(socket, 'connect');
    const greeting = `you are 127.0.0.9:${socket.localPort} via 127.0.0.1`;
    expect(await firstLine(socket)).toBe(greeting);
    // Checks every 100 ms: wait (bounded) until some were either read as health checks (logged) or,
    // reset by HAProxy before their header was read, counted as truncated; on a loaded machine either may come first.
    const seen = () => log.filter((line) => line === 'health check from 127.0.0.1').length + server.proxyHeaders.failures.truncated;
    for (let waited = 0; seen() < 3 && waited < 15_000; waited += 50) await new Promise((resolve) => setTimeout(resolve, 50));
    expect(seen()).toBeGreaterThanOrEqual(3);
    expect(log.filter((line) => line.startsWith('health check')).every((line) => line === 'health check from 127.0.0.1')).toBe(true);
    expect(server.refusals.proxyUntrusted).toBe(0);
    // HAProxy's connect-only checks mostly reset before their header is read: counted as truncated, nothing else.
    const { truncated, ...others } = server.proxyHeaders.failures;
    expect(Object.values(others).every((n) => n === 0)).toBe(true);
    expect(server.refusals.proxyHeader).toBe(truncated);
    expect(server.clientCount).toBe(0);
  }, 40_000);
});

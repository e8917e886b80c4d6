import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as serverPackage from '../src';

/**
 * The README's 20-line example, read from the README itself at test time,
 * compiled and run: the example can never drift from what works.
 */

const README = path.resolve(__dirname, '../../../README.md');

function exampleSource(): string {
  const text = readFileSync(README, 'utf8');
  const match = /## A client class in 20 lines\n\n```ts\n([\s\S]*?)```/.exec(text);
  if (!match) throw new Error('README: the "A client class in 20 lines" example is missing');
  return match[1];
}

/** Runs the example with port 0 instead of its fixed port; returns its server. */
function runExample(source: string, log: (...args: unknown[]) => void): serverPackage.TWSocketServer {
  const js = ts.transpileModule(source.replace(/port: \d+/, 'port: 0').replace(/\bconst server\b/, 'server'), {
    compilerOptions: {
      module: ts.ModuleKind.CommonJS,
      target: ts.ScriptTarget.ES2022,
      experimentalDecorators: true,
      emitDecoratorMetadata: true,
    },
  }).outputText;
  const requireFor = (name: string): unknown => {
    if (name === '@ics-ts/wsocket-server') return serverPackage;
    if (name === 'reflect-metadata') return {};
    throw new Error(`the README example imports ${name}`);
  };
  const scope = { server: undefined as serverPackage.TWSocketServer | undefined };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  new Function('require', 'exports', 'console', 'scope', `with (scope) { ${js} }`)(requireFor, {}, { log, error: log }, scope);
  if (!scope.server) throw new Error('the README example made no server');
  return scope.server;
}

test('the README example is at most 20 lines, listens, greets and shouts back', async () => {
  const source = exampleSource();
  expect(source.trim().split('\n').length).toBeLessThanOrEqual(20);
  const logged: string[] = [];
  const server = runExample(source, (...args) => logged.push(args.map(String).join(' ')));
  try {
    if (server.state !== 'listening') await new Promise((resolve) => server.once('changeState', resolve));
    const socket = net.connect(server.bindPort, '127.0.0.1');
    socket.setEncoding('utf8');
    let received = '';
    socket.on('data', (text: string) => {
      received += text;
      if (received.includes('HI')) socket.write('quit\n');
    });
    socket.write('hi\n');
    await new Promise((resolve) => socket.on('close', resolve));
    expect(received).toBe('Hello, I shout back.\r\n1: HI\r\n');
    expect(logged).toContain(`listening tcp://127.0.0.1:${server.bindPort}`);
    expect(logged).toContain('+ 127.0.0.1 (1 now)');
  } finally {
    await server.close();
  }
});

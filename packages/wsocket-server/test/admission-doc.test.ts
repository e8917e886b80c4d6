/**
 * The accept-filter example of docs/admission.md, read from the page at test
 * time, compiled and run on port 0: the example cannot drift from what works.
 */
import { once } from 'node:events';
import { readFileSync } from 'node:fs';
import * as net from 'node:net';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as serverPackage from '../src';

function example(): string {
  const text = readFileSync(path.resolve(__dirname, '../../../docs/admission.md'), 'utf8');
  const match = /## The accept filter\n\n```ts\n([\s\S]*?)```/.exec(text);
  if (!match) throw new Error('docs/admission.md: the accept filter example is missing');
  return match[1];
}

test('docs/admission.md: the accept filter example refuses 127.0.0.2 with its reason and greets 127.0.0.1', async () => {
  const js = ts.transpileModule(example().replace(/port: \d+/, 'port: 0').replace(/\bconst server\b/, 'server'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const logged: string[] = [];
  const scope = { server: undefined as serverPackage.TWSocketServer | undefined };
  const requireFor = (name: string): unknown => {
    if (name === '@ics-ts/wsocket-server') return serverPackage;
    throw new Error(`the example imports ${name}`);
  };
  new Function('require', 'exports', 'console', 'scope', `with (scope) { ${js} }`)(
    requireFor,
    {},
    { log: (line: string) => logged.push(line) },
    scope,
  );
  const server = scope.server!;
  try {
    if (server.state !== 'listening') await once(server, 'changeState');
    const refused = net.connect({ port: server.bindPort, host: '127.0.0.1', localAddress: '127.0.0.2' });
    let bytes = 0;
    refused.on('data', (chunk) => (bytes += chunk.length));
    await once(refused, 'close');
    expect(bytes).toBe(0);
    expect(logged).toEqual([`refused 127.0.0.2: filter (blocked by the abuse list)`]);
    const ok = net.connect({ port: server.bindPort, host: '127.0.0.1' });
    ok.setEncoding('utf8');
    const [line] = await once(ok, 'data');
    expect(line).toBe('welcome\r\n');
    ok.destroy();
  } finally {
    await server.shutdown(1000);
  }
});

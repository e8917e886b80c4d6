/**
 * A guide's example, read from the guide at test time, compiled and run with
 * its imports answered by this package's sources: the example can never drift
 * from what works. Its fixed port becomes 0; its `const server` is handed back.
 */
import { readFileSync } from 'node:fs';
import * as path from 'node:path';
import * as ts from 'typescript';
import * as root from '../../src';
import * as air from '../../src/air';
import * as totalcross from '../../src/totalcross';
import * as xojo from '../../src/xojo';

const MODULES: Record<string, unknown> = {
  '@ics-ts/server-socket': root,
  '@ics-ts/server-socket/xojo': xojo,
  '@ics-ts/server-socket/totalcross': totalcross,
  '@ics-ts/server-socket/air': air,
};

/** The first ```ts block under the `## Example` heading of docs/<guide>. */
export function guideExample(guide: string): string {
  const text = readFileSync(path.resolve(__dirname, '../../../../docs', guide), 'utf8');
  const match = /## Example\n[\s\S]*?```ts\n([\s\S]*?)```/.exec(text);
  if (!match) throw new Error(`docs/${guide}: no \`\`\`ts block under "## Example"`);
  return match[1];
}

/** Runs `source` (port numbers replaced by 0) and returns what it assigned to `server`. */
export function runExample<T>(source: string, log: (line: string) => void): T {
  const js = ts.transpileModule(source.replace(/\bport: \d+/g, 'port: 0').replace(/\b(bind|open)\(\d+,/g, '$1(0,').replace(/\bconst server\b/, 'server'), {
    compilerOptions: { module: ts.ModuleKind.CommonJS, target: ts.ScriptTarget.ES2022 },
  }).outputText;
  const requireFor = (name: string): unknown => {
    if (name in MODULES) return MODULES[name];
    throw new Error(`the example imports ${name}`);
  };
  const scope = { server: undefined as T | undefined };
  const console = { log: (...args: unknown[]) => log(args.map(String).join(' ')) };
  // eslint-disable-next-line @typescript-eslint/no-implied-eval
  new Function('require', 'exports', 'console', 'scope', `with (scope) { ${js} }`)(requireFor, {}, console, scope);
  if (scope.server === undefined) throw new Error('the example made no server');
  return scope.server;
}

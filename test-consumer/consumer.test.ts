import { ChildProcess, execFile, spawn } from 'node:child_process';
import { existsSync, mkdtempSync, readFileSync, readdirSync, rmSync, writeFileSync } from 'node:fs';
import * as net from 'node:net';
import * as os from 'node:os';
import * as path from 'node:path';
import { createInterface } from 'node:readline';
import * as tls from 'node:tls';

/**
 * The packages as a user gets them: packed with the README's command, installed
 * with npm into a new project outside the repository, and driven only through
 * what the README and docs/getting-started.md say, read from those files at test
 * time: the files they tell the reader to save, the commands they show. The one
 * change made to the examples: fixed ports become port 0 (`port: 0` in code,
 * `--port 0` for the CLI), so the test never collides with anything listening.
 */

const REPO = path.resolve(__dirname, '..');
const README = readFileSync(path.join(REPO, 'README.md'), 'utf8');
const GETTING_STARTED = readFileSync(path.join(REPO, 'docs/getting-started.md'), 'utf8');
// TypeScript 6.0 beside the 7.x that `npm i -D typescript` gives today: the docs promise both.
const TSC6 = 'npm exec --package=typescript@~6.0.3 -- tsc';

let project: string;
const children = new Set<ChildProcess>();

/** The block a doc tells the reader to save as `name` ("... `name`:" then a fenced block). */
function savedFile(doc: string, name: string): string {
  const escaped = name.replace(/[.*+?^${}()|[\]\\]/g, '\\$&');
  const match = new RegExp('`' + escaped + '`:\\n\\n```\\w*\\n([\\s\\S]*?)```').exec(doc);
  if (!match) throw new Error(`the doc has no block to save as ${name}`);
  return match[1];
}

/** A command the doc shows, verbatim: the test runs only what a reader is told to run. */
function shownCommand(doc: string, command: string): string {
  if (!doc.split('\n').some((line) => line === command || line.startsWith(`${command} `)))
    throw new Error(`the doc does not show the command: ${command}`);
  return command;
}

function withPortZero(source: string): string {
  const changed = source.replace(/port: \d+/g, 'port: 0');
  if (changed === source) throw new Error('the example has no "port: N" to replace');
  return changed;
}

function save(name: string, text: string): void {
  writeFileSync(path.join(project, name), text);
}

/** Runs a shell command in `cwd`; resolves with its output, rejects with it on a non-zero exit. */
function run(command: string, cwd = project): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile('sh', ['-c', command], { cwd, maxBuffer: 64 * 1024 * 1024, env: { ...process.env, npm_config_yes: 'true' } },
      (error, stdout, stderr) => {
        if (error) reject(new Error(`${command} failed (${error.code}):\n${stdout}\n${stderr}`));
        else resolve(stdout + stderr);
      });
  });
}

/** A long-running program (a server), run by sh in its own process group; SIGTERM goes to the group. */
class Program {
  readonly lines: string[] = [];
  stderr = '';
  private exitCode: number | null | undefined;
  private readonly waiters: Array<() => void> = [];
  readonly exited: Promise<number | null>;
  private readonly child: ChildProcess;

  constructor(readonly command: string) {
    this.child = spawn('sh', ['-c', `exec ${command}`], { cwd: project, detached: true, env: { ...process.env, npm_config_yes: 'true' } });
    children.add(this.child);
    createInterface({ input: this.child.stdout! }).on('line', (line) => {
      this.lines.push(line);
      this.wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (text: string) => (this.stderr += text));
    this.exited = new Promise((resolve) =>
      this.child.on('exit', (code) => {
        children.delete(this.child);
        this.exitCode = code;
        this.wake();
        resolve(code);
      }),
    );
  }

  private wake(): void {
    for (const waiter of this.waiters.splice(0)) waiter();
  }

  /** Resolves once `count` stdout lines match `pattern`; rejects if the program exits first. */
  async waitForLines(pattern: RegExp, count = 1): Promise<string[]> {
    for (;;) {
      const found = this.lines.filter((line) => pattern.test(line));
      if (found.length >= count) return found;
      if (this.exitCode !== undefined)
        throw new Error(`${this.command} exited (${this.exitCode}) before printing ${pattern}:\n${this.lines.join('\n')}\n${this.stderr}`);
      await new Promise<void>((resolve) => this.waiters.push(resolve));
    }
  }

  /** The ports of its `listening tcp://...` / `tls://...` lines, in order. */
  async listeningPorts(count: number): Promise<number[]> {
    const lines = await this.waitForLines(/^listening (tcp|tls):\/\//, count);
    return lines.map((line) => Number(/:(\d+)$/.exec(line)![1]));
  }

  async stop(): Promise<number | null> {
    if (this.exitCode === undefined) process.kill(-this.child.pid!, 'SIGTERM');
    return this.exited;
  }
}

interface Step {
  /** Waits until the whole transcript so far matches. */
  expect: RegExp;
  /** Then sends this. */
  send?: string;
}

/** Talks to a server: each step waits for its reply, then sends; after the last, ends and waits for close. */
function talk(socket: net.Socket, steps: Step[]): Promise<string> {
  return new Promise((resolve, reject) => {
    let transcript = '';
    let next = 0;
    const advance = (): void => {
      while (next < steps.length && steps[next].expect.test(transcript)) {
        const { send } = steps[next++];
        if (send !== undefined) socket.write(send);
        if (next === steps.length) socket.end();
      }
    };
    socket.setEncoding('utf8');
    socket.on(socket instanceof tls.TLSSocket ? 'secureConnect' : 'connect', advance);
    socket.on('data', (text: string) => {
      transcript += text;
      advance();
    });
    socket.on('error', reject);
    socket.on('close', () =>
      next === steps.length ? resolve(transcript) : reject(new Error(`closed before ${steps[next].expect}; got ${JSON.stringify(transcript)}`)),
    );
  });
}

beforeAll(async () => {
  // In the repository, the README's command that builds and packs the packages.
  await run(shownCommand(README, 'npx pnpm@12.21.0 install && npx pnpm@12.21.0 pack-all').replace(/^.*&& /, ''), REPO);
  const tarballs = readdirSync(path.join(REPO, 'packs')).filter((name) => name.endsWith('.tgz'));
  const packageDirs = readdirSync(path.join(REPO, 'packages')).filter((dir) => existsSync(path.join(REPO, 'packages', dir, 'package.json')));
  expect(tarballs).toHaveLength(packageDirs.length);

  project = mkdtempSync(path.join(os.tmpdir(), 'ics-ts-consumer-'));
  await run(shownCommand(README, 'npm init -y'));
  const install = shownCommand(README, 'npm i ../ics-ts/packs/*.tgz tsyringe reflect-metadata');
  await run(install.replace('../ics-ts/packs/*.tgz', tarballs.map((name) => path.join(REPO, 'packs', name)).join(' ')));
  shownCommand(GETTING_STARTED, 'npm i -D typescript @types/node');
  await run(shownCommand(README, 'npm i -D typescript @types/node'));
}, 300000);

afterEach(() => {
  // A test that failed half-way leaves its server running: end its process group.
  for (const child of children) {
    try {
      process.kill(-child.pid!, 'SIGKILL');
    } catch {
      // already gone: its exit event is on its way
    }
  }
});

afterAll(() => {
  if (project) rmSync(project, { recursive: true, force: true });
});

test('the project got TypeScript 7 from `npm i -D typescript`, and TypeScript 6.0 beside it', async () => {
  expect(await run('npx tsc --version')).toMatch(/Version 7\./);
  expect(await run(`${TSC6} --version`)).toMatch(/Version 6\.0\./);
});

test('every installed package resolves from require and import to the same objects', async () => {
  const names = readdirSync(path.join(project, 'node_modules/@ics-ts')).map((dir) => `@ics-ts/${dir}`);
  expect(names).toEqual(expect.arrayContaining(['@ics-ts/wsocket', '@ics-ts/ssl-context', '@ics-ts/wsocket-server', '@ics-ts/sample-clients']));
  save('same-objects.mjs', `
import { createRequire } from 'node:module';
const require = createRequire(import.meta.url);
const report = {};
for (const name of ${JSON.stringify(names)}) {
  const esm = await import(name);
  const cjs = require(name);
  const keys = Object.keys(esm).sort();
  report[name] = { keys: keys.length, sameKeys: JSON.stringify(keys) === JSON.stringify(Object.keys(cjs).filter((k) => k !== '__esModule').sort()),
    sameObjects: keys.every((key) => esm[key] === cjs[key]) };
}
// importing the samples registered them in the one registry that require() sees
report.registered = require('@ics-ts/wsocket-server').clientClassRegistry.names();
console.log(JSON.stringify(report));
`);
  const report = JSON.parse(await run('node same-objects.mjs'));
  for (const name of names) expect(report[name]).toEqual({ keys: expect.any(Number), sameKeys: true, sameObjects: true });
  expect(report['@ics-ts/wsocket-server'].keys).toBeGreaterThan(10);
  expect(report.registered).toEqual(expect.arrayContaining(['echo', 'chat', 'daytime', 'command']));
});

test("every installed source map and declaration map points at files that were shipped", async () => {
  let maps = 0;
  for (const dir of readdirSync(path.join(project, 'node_modules/@ics-ts'))) {
    const dist = path.join(project, 'node_modules/@ics-ts', dir, 'dist');
    for (const file of readdirSync(dist).filter((name) => name.endsWith('.map'))) {
      const map = JSON.parse(readFileSync(path.join(dist, file), 'utf8')) as { sources: string[]; sourceRoot?: string };
      const missing = map.sources.filter((source) => !existsSync(path.join(dist, map.sourceRoot ?? '', source)));
      expect({ file: `${dir}/dist/${file}`, missing }).toEqual({ file: `${dir}/dist/${file}`, missing: [] });
      maps++;
    }
  }
  expect(maps).toBeGreaterThan(40);
});

test("the README's hello.js runs with node and answers (the same file as in the wsocket-server package README)", async () => {
  const packageReadme = readFileSync(path.join(project, 'node_modules/@ics-ts/wsocket-server/README.md'), 'utf8');
  expect(savedFile(packageReadme, 'hello.js')).toBe(savedFile(README, 'hello.js'));
  save('hello.js', withPortZero(savedFile(README, 'hello.js')));
  const program = new Program(shownCommand(README, 'node hello.js'));
  const [port] = await program.listeningPorts(1);
  const transcript = await talk(net.connect(port, '127.0.0.1'), [
    { expect: /^Your name\?\r\n$/, send: 'Ann\n' },
    { expect: /Hello, Ann!\r\n$/, send: 'quit\n' },
  ]);
  expect(transcript).toBe('Your name?\r\nHello, Ann!\r\n');
  await program.stop();
});

test("the README's hello.mjs (hello.js as an ES module) runs with node and answers", async () => {
  const importLine = /its first line replaced by\n`(import \{[^`]+\} from '@ics-ts\/wsocket-server';)`/.exec(README);
  if (!importLine) throw new Error('README: the ES module form of hello.js is missing');
  const [firstLine, ...rest] = withPortZero(savedFile(README, 'hello.js')).split('\n');
  expect(firstLine).toMatch(/require\('@ics-ts\/wsocket-server'\)/);
  save('hello.mjs', [importLine[1], ...rest].join('\n'));
  const program = new Program('node hello.mjs');
  const [port] = await program.listeningPorts(1);
  const transcript = await talk(net.connect(port, '127.0.0.1'), [
    { expect: /^Your name\?\r\n$/, send: 'Bob\n' },
    { expect: /Hello, Bob!\r\n$/, send: 'quit\n' },
  ]);
  expect(transcript).toBe('Your name?\r\nHello, Bob!\r\n');
  await program.stop();
});

describe("the README's TypeScript client class, with the README's tsconfig.json", () => {
  beforeAll(async () => {
    const example = /## A client class in 20 lines\n\n```ts\n([\s\S]*?)```/.exec(README);
    if (!example) throw new Error('README: the "A client class in 20 lines" example is missing');
    save('tsconfig.json', savedFile(README, 'tsconfig.json'));
    save('upper.ts', withPortZero(example[1]));
    save('upper.mts', withPortZero(example[1])); // "Saved as upper.mts instead ... an ES module"
    save('time-server.mts', withPortZero(savedFile(GETTING_STARTED, 'time-server.mts')));
    expect(savedFile(GETTING_STARTED, 'tsconfig.json')).toBe(savedFile(README, 'tsconfig.json'));
    await run('npx tsc');
    await run(`${TSC6} --outDir dist-ts6`);
  });

  test('without "types": ["node"], tsc 6.0 and 7 fail in the packages\' declarations, as getting started warns', async () => {
    const tsconfig = savedFile(README, 'tsconfig.json');
    const withoutNodeTypes = tsconfig.replace(/\n\s*"types": \["node"\],/, '');
    expect(withoutNodeTypes).not.toBe(tsconfig);
    save('tsconfig.no-node-types.json', withoutNodeTypes);
    expect(GETTING_STARTED).toContain("`Cannot find\nname 'Buffer'` and `Cannot find name 'node:net'` inside the packages' `.d.ts` files");
    for (const tsc of ['npx tsc', TSC6]) {
      const failure = await run(`${tsc} -p tsconfig.no-node-types.json --noEmit`).then(
        () => new Error(`${tsc} compiled without Node's types`),
        (error: Error) => error,
      );
      expect(failure.message).toMatch(/node_modules\/@ics-ts\/wsocket\/dist\/\S+\.d\.ts.*Cannot find name 'Buffer'/);
      expect(failure.message).toMatch(/node_modules\/@ics-ts\/\S+\.d\.ts.*Cannot find name 'node:net'/);
    }
  });

  const builds = [
    ['TypeScript 7, CommonJS', 'node dist/upper.js'],
    ['TypeScript 7, ESM', 'node dist/upper.mjs'],
    ['TypeScript 6.0, CommonJS', 'node dist-ts6/upper.js'],
    ['TypeScript 6.0, ESM', 'node dist-ts6/upper.mjs'],
  ];
  test.each(builds)('%s: listens, greets, injects ConnectionInfo, shouts back', async (_label, command) => {
    if (command === 'node dist/upper.js') shownCommand(README, 'npx tsc && node dist/upper.js');
    const program = new Program(command);
    const [port] = await program.listeningPorts(1);
    const transcript = await talk(net.connect(port, '127.0.0.1'), [
      { expect: /^Hello, I shout back\.\r\n$/, send: 'hi there\n' },
      { expect: /1: HI THERE\r\n$/, send: 'quit\n' },
    ]);
    expect(transcript).toBe('Hello, I shout back.\r\n1: HI THERE\r\n');
    await program.waitForLines(/^\+ 127\.0\.0\.1 \(1 now\)$/);
    await program.stop();
  });

  test.each([
    ['TypeScript 7', shownCommand(GETTING_STARTED, 'npx tsc && node dist/time-server.mjs').replace(/^.*&& /, '')],
    ['TypeScript 6.0', 'node dist-ts6/time-server.mjs'],
  ])("getting started's time-server.mts compiled by %s: time, who, quit", async (_label, command) => {
    const program = new Program(command);
    const [port] = await program.listeningPorts(1);
    const transcript = await talk(net.connect(port, '127.0.0.1'), [
      { expect: /^\+OK time server\r\n$/, send: 'time\n' },
      { expect: /\r\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\r\n$/, send: 'who\n' },
      { expect: /client 1 from 127\.0\.0\.1\r\n$/, send: 'nope\n' },
      { expect: /-ERR unknown command nope\r\n$/, send: 'quit\n' },
    ]);
    expect(transcript.split('\r\n')).toHaveLength(5);
    await program.stop();
  });
});

test("getting started's time-server.mjs runs with node (top-level await) and answers", async () => {
  save('time-server.mjs', withPortZero(savedFile(GETTING_STARTED, 'time-server.mjs')));
  const program = new Program(shownCommand(GETTING_STARTED, 'node time-server.mjs'));
  const [port] = await program.listeningPorts(1);
  const transcript = await talk(net.connect(port, '127.0.0.1'), [
    { expect: /^\+OK time server\r\n$/, send: 'time\n' },
    { expect: /\r\n\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z\r\n$/, send: 'quit\n' },
  ]);
  expect(transcript).toMatch(/^\+OK time server\r\n\S+Z\r\n$/);
  await program.stop();
});

describe('the installed ics-ts-server CLI, configured as getting started shows', () => {
  test('my-server.json: echo on IPv4 and IPv6, the command protocol, echo over TLS with the openssl certificate', async () => {
    const openssl = GETTING_STARTED.split('\n').find((line) => line.startsWith('mkdir -p certs && openssl req '));
    if (!openssl) throw new Error('getting started: the openssl command is missing');
    await run(openssl);
    save('my-server.json', savedFile(GETTING_STARTED, 'my-server.json'));
    const program = new Program(`${shownCommand(GETTING_STARTED, 'npx ics-ts-server --config my-server.json')} --port 0`);
    const [echoPort, echo6Port, commandPort, tlsPort] = await program.listeningPorts(4);
    expect(program.lines.filter((line) => line.startsWith('listening '))).toEqual([
      `listening tcp://127.0.0.1:${echoPort}`,
      `listening tcp://[::1]:${echo6Port}`,
      `listening tcp://127.0.0.1:${commandPort}`,
      `listening tls://127.0.0.1:${tlsPort}`,
    ]);
    expect(await talk(net.connect(echoPort, '127.0.0.1'), [{ expect: /^$/, send: 'ping\n' }, { expect: /^ping\n$/ }])).toBe('ping\n');
    expect(await talk(net.connect(echo6Port, '::1'), [{ expect: /^$/, send: 'six\n' }, { expect: /^six\n$/ }])).toBe('six\n');
    const command = await talk(net.connect(commandPort, '127.0.0.1'), [
      { expect: /^\+OK .*\r\n$/, send: 'TIME\r\n' },
      { expect: /\+OK \d{4}-\d\d-\d\dT\S+Z\r\n$/, send: 'QUIT\r\n' },
      { expect: /\+OK bye\r\n$/ },
    ]);
    expect(command.split('\r\n')).toHaveLength(4);
    const ca = readFileSync(path.join(project, 'certs/server.pem'));
    const secure = tls.connect({ host: '127.0.0.1', port: tlsPort, servername: 'localhost', ca });
    expect(await talk(secure, [{ expect: /^$/, send: 'over tls\n' }, { expect: /^over tls\n$/ }])).toBe('over tls\n');
    expect(secure.authorized).toBe(true);
    await program.stop(); // npm, between the test and the CLI, exits by the signal: the exit code is npm's
    expect(program.lines).toContainEqual(expect.stringMatching(/^client 1 connected from 127\.0\.0\.1:\d+ \(1 now\)$/));
    expect(program.stderr).not.toMatch(/ics-ts-server:/);
  });

  test('my-protocol.js registered with --require, served from my-protocol.json', async () => {
    save('my-protocol.js', savedFile(GETTING_STARTED, 'my-protocol.js'));
    save('my-protocol.json', savedFile(GETTING_STARTED, 'my-protocol.json'));
    const program = new Program(`${shownCommand(GETTING_STARTED, 'npx ics-ts-server --require ./my-protocol.js --config my-protocol.json')} --port 0`);
    const [port] = await program.listeningPorts(1);
    const transcript = await talk(net.connect(port, '127.0.0.1'), [
      { expect: /^Type a line, I reverse it\.\r\n$/, send: 'stressed\n' },
      { expect: /desserts\r\n$/, send: 'quit\n' },
    ]);
    expect(transcript).toBe('Type a line, I reverse it.\r\ndesserts\r\n');
    await program.stop();
    expect(program.stderr).not.toMatch(/ics-ts-server:/);
  });
});

/**
 * File descriptors running out, for real: the server runs in a child process
 * whose descriptor limit is lowered to 64 (`ulimit -n 64` in the shell that
 * execs node; lowering is allowed, raising is not), and this process opens more
 * connections than that. The server must say so through its 'error' event
 * naming the listener (or a process warning when nobody listens), stay alive,
 * and serve again once the connections close.
 */
import { ChildProcess, spawn } from 'node:child_process';
import type * as fs from 'node:fs';
import type * as net from 'node:net';
import * as path from 'node:path';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import { EchoClient, Peer, startServer } from './helpers';
import { connectTo } from './fixtures/multi-listen-support';

const ROOT = path.resolve(__dirname, '../../..');
const REGISTER = path.join(ROOT, 'packages/sample-clients/test/support/register-ts.js');
const FIXTURE = path.join(__dirname, 'fixtures/emfile-server.ts');
const LIMIT = 64;
const CONNECTIONS = 100;

/** The child's output as lines, read in order: each wait consumes up to the line it matched. */
class ChildServer {
  readonly child: ChildProcess;
  readonly lines: string[] = [];
  stderr = '';
  exited = false;
  private cursor = 0;
  private partial = '';
  private readonly waiters = new Set<() => void>();
  private readonly closed: Promise<void>;

  constructor(args: string[] = []) {
    const command = `ulimit -n ${LIMIT} && exec "$0" -r "$1" "$2" "\${@:3}"`;
    this.child = spawn('bash', ['-c', command, process.execPath, REGISTER, FIXTURE, ...args], {
      cwd: ROOT,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
      this.wake();
    });
    this.closed = new Promise((resolve) =>
      this.child.once('close', () => {
        this.exited = true;
        this.wake();
        resolve();
      }),
    );
  }

  /** The next stdout line (from the cursor on) matching `pattern`; rejects if the child ends first. */
  nextLine(pattern: RegExp): Promise<RegExpExecArray> {
    return this.until(() => {
      for (let i = this.cursor; i < this.lines.length; i++) {
        const match = pattern.exec(this.lines[i]);
        if (match) {
          this.cursor = i + 1;
          return match;
        }
      }
      return undefined;
    }, `a line matching ${pattern}`);
  }

  /** Waits until stderr matches `pattern`. */
  stderrMatch(pattern: RegExp): Promise<RegExpExecArray> {
    return this.until(() => pattern.exec(this.stderr) ?? undefined, `stderr matching ${pattern}`);
  }

  async kill(): Promise<void> {
    if (!this.exited) this.child.kill('SIGKILL');
    await this.closed;
  }

  private until<T>(check: () => T | undefined, what: string): Promise<T> {
    return new Promise((resolve, reject) => {
      const test = () => {
        const found = check();
        if (found !== undefined) {
          this.waiters.delete(test);
          resolve(found);
        } else if (this.exited) {
          this.waiters.delete(test);
          reject(new Error(`the server process ended without ${what}\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`));
        }
      };
      this.waiters.add(test);
      test();
    });
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

/** How one flood connection ended up: greeted with the banner, or closed without it. */
async function outcome(peer: Peer): Promise<'served' | 'dropped'> {
  try {
    return (await peer.nextLine()) === 'hello' ? 'served' : 'dropped';
  } catch {
    return 'dropped'; // closed (or reset) before any line came
  }
}

/** Opens `count` connections at once to host:port; each resolves to its peer, or undefined when refused/reset. */
function flood(host: string, port: number, count: number): Promise<(Peer | undefined)[]> {
  return Promise.all(Array.from({ length: count }, () => Peer.connect(port, host).catch(() => undefined)));
}

let server: ChildServer | undefined;
afterEach(async () => {
  await server?.kill();
  server = undefined;
});

/** Starts the fixture; warms it up with one connection (lazy loading must not meet the limit). */
async function start(args: string[] = []): Promise<{ mainPort: number; itemPort: number }> {
  server = new ChildServer(args);
  const [, main, item] = await server.nextLine(/^listening (\d+) (\d+)$/);
  const warm = await Peer.connect(Number(item), '127.0.0.2');
  expect(await warm.nextLine()).toBe('hello');
  await warm.end();
  await server.nextLine(/^clients 0$/);
  return { mainPort: Number(main), itemPort: Number(item) };
}

// `ulimit` and a POSIX descriptor table: not on Windows.
const describePosix = process.platform === 'win32' ? describe.skip : describe;

describePosix(`EMFILE: descriptors run out in a server limited to ${LIMIT}`, () => {
  test("reported through 'error' naming the listener; the process lives; serving resumes once connections close", async () => {
    const { mainPort, itemPort } = await start();
    const peers = await flood('127.0.0.2', itemPort, CONNECTIONS);
    const connected = peers.filter((p): p is Peer => p !== undefined);
    const outcomes = await Promise.all(connected.map(outcome));
    const served = outcomes.filter((o) => o === 'served').length;
    // Some were served, and the limit left the rest without a greeting.
    expect(served).toBeGreaterThan(0);
    expect(served).toBeLessThan(LIMIT);
    expect(CONNECTIONS - served).toBeGreaterThan(0);

    const [, code, message] = await server!.nextLine(/^error (\S+) (.*)$/);
    expect(code).toBe('EMFILE');
    expect(message).toContain(`listener tcp://127.0.0.2:${itemPort}`);
    expect(message).toMatch(/EMFILE/);
    expect(server!.exited).toBe(false);

    // Free the descriptors: every served client goes away.
    await Promise.all(connected.map((p) => p.destroy()));
    await server!.nextLine(/^clients 0$/);

    // Serving again, on both listeners.
    for (const [host, port] of [['127.0.0.2', itemPort], ['127.0.0.1', mainPort]] as const) {
      const fresh = await Peer.connect(port, host);
      expect(await fresh.nextLine()).toBe('hello');
      await fresh.end();
      await server!.nextLine(/^clients 0$/);
    }
    expect(server!.exited).toBe(false);
    // One report per exhaustion, not one per dropped connection; nothing but EMFILE was reported.
    const errors = server!.lines.filter((line) => line.startsWith('error '));
    expect(errors.length).toBeGreaterThanOrEqual(1);
    expect(errors.length).toBeLessThan(CONNECTIONS - served);
    for (const line of errors) expect(line).toMatch(/^error EMFILE listener tcp:\/\/127\.0\.0\.2:\d+: /);
    expect(server!.stderr).toBe('');
  });

  test('a second exhaustion is reported again', async () => {
    const { itemPort } = await start();
    for (let round = 1; round <= 2; round++) {
      const peers = (await flood('127.0.0.2', itemPort, CONNECTIONS)).filter((p): p is Peer => p !== undefined);
      await Promise.all(peers.map(outcome));
      await server!.nextLine(/^error EMFILE /);
      await Promise.all(peers.map((p) => p.destroy()));
      await server!.nextLine(/^clients 0$/);
      const fresh = await Peer.connect(itemPort, '127.0.0.2');
      expect(await fresh.nextLine()).toBe('hello');
      await fresh.end();
      await server!.nextLine(/^clients 0$/);
    }
    expect(server!.lines.filter((line) => line.startsWith('error ')).length).toBeGreaterThanOrEqual(2);
  });

  test("nobody listening to 'error': a process warning, never a crash", async () => {
    const { itemPort } = await start(['--no-error-listener']);
    const peers = (await flood('127.0.0.2', itemPort, CONNECTIONS)).filter((p): p is Peer => p !== undefined);
    await Promise.all(peers.map(outcome));
    const [warning] = await server!.stderrMatch(/TWSocketServerWarning: listener tcp:\/\/127\.0\.0\.2:\d+: .*EMFILE.*/);
    expect(warning).toContain(String(itemPort));
    await Promise.all(peers.map((p) => p.destroy()));
    await server!.nextLine(/^clients 0$/);
    const fresh = await Peer.connect(itemPort, '127.0.0.2');
    expect(await fresh.nextLine()).toBe('hello');
    expect(server!.exited).toBe(false);
  });
});

/**
 * The same reporting in this process, with the system's answers made up:
 * the descriptor probe is told EMFILE (node:fs is shared with the code under
 * test), or the listening net.Server emits an error as Node does when libuv
 * cannot shed the load itself.
 */
describePosix('listener errors after start, in process', () => {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const fsModule = require('node:fs') as typeof fs;
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const netModule = require('node:net') as typeof net;
  afterEach(() => jest.restoreAllMocks());

  /** Makes the probe (opening /dev/null) fail with `code` while `on()` says so. */
  function fakeShortage(code: string, on: () => boolean): void {
    const openSync = fsModule.openSync;
    jest.spyOn(fsModule, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
      if (file === '/dev/null' && on()) {
        throw Object.assign(new Error(`${code}: too many open files, open '/dev/null'`), { code, errno: -24, syscall: 'open' });
      }
      return (openSync as (...a: unknown[]) => number)(file, ...rest);
    }) as typeof fs.openSync);
  }

  function twoListeners(): Promise<TWSocketServer<EchoClient>> {
    return startServer<EchoClient>({ clientClass: EchoClient, multiListenSockets: [{ addr: '127.0.0.2', port: 0 }] });
  }

  test('out of descriptors after an accept: one error per shortage, naming the listener; nobody is turned away by it', async () => {
    const server = await twoListeners();
    const port = server.listenStates[1].bindPort;
    const errors: NodeJS.ErrnoException[] = [];
    server.on('error', (error) => errors.push(error));
    let short = true;
    fakeShortage('EMFILE', () => short);

    const a = await connectTo(server, '127.0.0.2', port);
    expect(errors).toHaveLength(1);
    expect(errors[0].message).toBe(
      `listener tcp://127.0.0.2:${port}: accept EMFILE: too many open files in this process; new connections are dropped until descriptors are free again`,
    );
    expect(errors[0].code).toBe('EMFILE');
    expect((errors[0].cause as NodeJS.ErrnoException).syscall).toBe('accept');
    expect(server.listenStates[1]).toMatchObject({ state: 'listening', lastError: errors[0].message.replace(/^listener \S+ /, '') });
    // Still short: no second report.
    const b = await connectTo(server, '127.0.0.2', port);
    expect(errors).toHaveLength(1);
    // Descriptors again, then a new shortage: reported again.
    short = false;
    const c = await connectTo(server, '127.0.0.2', port);
    short = true;
    const d = await connectTo(server, '127.0.0.2', port);
    // Probes run at most every 20 ms while descriptors are there: the one skipped at d's accept runs from a timer.
    if (errors.length < 2) await new Promise((resolve) => server.once('error', resolve));
    expect(errors).toHaveLength(2);
    // The connection that took the last descriptor is served like any other.
    for (const { peer } of [a, b, c, d]) expect(await peer.ask('x')).toBe('echo x');
    expect(server.listenStates.map((s) => s.state)).toEqual(['listening', 'listening']);
  });

  test('ENFILE (the system table full) is reported the same way', async () => {
    const server = await twoListeners();
    const errors: NodeJS.ErrnoException[] = [];
    server.on('error', (error) => errors.push(error));
    fakeShortage('ENFILE', () => true);
    await connectTo(server, '127.0.0.1', server.bindPort);
    expect(errors.map((e) => e.code)).toEqual(['ENFILE']);
    expect(errors[0].message).toMatch(/^listener tcp:\/\/127\.0\.0\.1:\d+: accept ENFILE: too many open files in the system/);
  });

  test("an error from the listening socket itself goes to 'error' with the listener named and its code kept", async () => {
    const created: net.Server[] = [];
    const createServer = netModule.createServer;
    jest.spyOn(netModule, 'createServer').mockImplementation(((...args: Parameters<typeof net.createServer>) => {
      const made = createServer(...args);
      created.push(made);
      return made;
    }) as typeof net.createServer);
    const server = await twoListeners();
    const port = server.listenStates[1].bindPort;
    const errors: NodeJS.ErrnoException[] = [];
    server.on('error', (error) => errors.push(error));
    const accept = (code: string) => Object.assign(new Error(`accept ${code}`), { code, syscall: 'accept' });
    created[1].emit('error', accept('EMFILE'));
    created[1].emit('error', accept('EMFILE')); // Node repeats it for every failed accept
    created[1].emit('error', accept('ECONNABORTED'));
    expect(errors.map((e) => [e.code, e.message])).toEqual([
      ['EMFILE', `listener tcp://127.0.0.2:${port}: accept EMFILE`],
      ['ECONNABORTED', `listener tcp://127.0.0.2:${port}: accept ECONNABORTED`],
    ]);
    expect(server.listenStates[1].lastError).toBe('accept ECONNABORTED');
    expect(server.state).toBe('listening');
    const { peer } = await connectTo(server, '127.0.0.2', port);
    expect(await peer.ask('alive')).toBe('echo alive');
  });

  test("nobody listening to 'error': a process warning instead of a crash", async () => {
    const server = await twoListeners();
    // (jest gives each test file its own `process` object, so spy rather than listen.)
    const warnings: unknown[][] = [];
    jest.spyOn(process, 'emitWarning').mockImplementation((...args: unknown[]) => void warnings.push(args));
    fakeShortage('EMFILE', () => true);
    const { peer } = await connectTo(server, '127.0.0.1', server.bindPort);
    expect(warnings).toHaveLength(1);
    const [message, type] = warnings[0];
    expect(type).toBe('TWSocketServerWarning');
    expect(message).toMatch(/^listener tcp:\/\/127\.0\.0\.1:\d+: accept EMFILE/);
    expect(await peer.ask('alive')).toBe('echo alive');
  });

  // Last: it turns probing off for the rest of this file's module registry.
  test('where the probe cannot open /dev/null at all, it stops probing and reports nothing', async () => {
    const server = await twoListeners();
    const errors: Error[] = [];
    server.on('error', (error) => errors.push(error));
    const openSync = fsModule.openSync;
    const probe = jest.spyOn(fsModule, 'openSync').mockImplementation(((file: fs.PathLike, ...rest: unknown[]) => {
      if (file === '/dev/null') throw Object.assign(new Error('ENOENT'), { code: 'ENOENT' });
      return (openSync as (...a: unknown[]) => number)(file, ...rest);
    }) as typeof fs.openSync);
    await connectTo(server, '127.0.0.1', server.bindPort);
    await connectTo(server, '127.0.0.1', server.bindPort);
    expect(errors).toEqual([]);
    expect(probe.mock.calls.filter(([file]) => file === '/dev/null')).toHaveLength(1);
  });
});

import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

/** The repository root: the CLI runs with it as its working directory, as `pnpm start` does. */
export const ROOT = path.resolve(__dirname, '../../../..');
const REGISTER = path.join(__dirname, 'register-ts.js');
const CLI = path.join(ROOT, 'packages/sample-clients/src/cli.ts');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * `ics-ts-server` run from its TypeScript source in a child process:
 * `node -r test/support/register-ts.js src/cli.ts ARGS` (see register-ts.js).
 * Stdout is read as lines; stderr is collected. Every instance is killed by
 * `killAll()` (afterEach) if a test left it running.
 */
export class CliProcess {
  private static readonly running = new Set<CliProcess>();
  readonly child: ChildProcess;
  readonly exited: Promise<Exit>;
  readonly lines: string[] = [];
  stdout = '';
  stderr = '';
  private partial = '';
  private readonly waiters = new Set<() => void>();

  constructor(args: readonly string[], cwd = ROOT) {
    this.child = spawn(process.execPath, ['-r', REGISTER, CLI, ...args], {
      cwd,
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
    });
    CliProcess.running.add(this);
    this.child.stdout!.setEncoding('utf8');
    this.child.stderr!.setEncoding('utf8');
    this.child.stdout!.on('data', (chunk: string) => {
      this.stdout += chunk;
      this.partial += chunk;
      const parts = this.partial.split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    this.child.stderr!.on('data', (chunk: string) => {
      this.stderr += chunk;
      this.wake();
    });
    this.exited = new Promise((resolve) => {
      this.child.once('exit', (code, signal) => resolve({ code, signal }));
    });
    // 'close': the exit and every byte of stdout and stderr are in.
    this.child.once('close', () => {
      CliProcess.running.delete(this);
      this.wake();
    });
  }

  /** The first stdout line matching `pattern` (waits for it); rejects, with stderr, if the process ends first. */
  waitForLine(pattern: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        for (const line of this.lines) {
          const match = pattern.exec(line);
          if (match) {
            this.waiters.delete(check);
            return resolve(match);
          }
        }
        if (!CliProcess.running.has(this)) {
          this.waiters.delete(check);
          reject(new Error(`ics-ts-server ended without printing ${pattern}\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Resolves once stderr matches `pattern` (with the match); rejects if the process ends first. */
  waitForStderr(pattern: RegExp): Promise<RegExpExecArray> {
    return new Promise((resolve, reject) => {
      const check = () => {
        const match = pattern.exec(this.stderr);
        if (match) {
          this.waiters.delete(check);
          return resolve(match);
        }
        if (!CliProcess.running.has(this)) {
          this.waiters.delete(check);
          reject(new Error(`ics-ts-server ended without writing ${pattern} to stderr\nstdout: ${this.stdout}\nstderr: ${this.stderr}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  /** Waits for `listening tcp://HOST:PORT`. */
  async listening(): Promise<{ url: string; host: string; port: number }> {
    const match = await this.waitForLine(/^listening (tcp:\/\/(?:\[([^\]]+)\]|([^:]+)):(\d+))$/);
    return { url: match[1], host: match[2] ?? match[3], port: Number(match[4]) };
  }

  /** Resolves once the process has exited and its output is all read. */
  async finished(): Promise<Exit> {
    const exit = await this.exited;
    if (CliProcess.running.has(this)) await new Promise<void>((resolve) => this.child.once('close', () => resolve()));
    return exit;
  }

  static async killAll(): Promise<void> {
    const left = [...CliProcess.running];
    for (const cli of left) cli.child.kill('SIGKILL');
    await Promise.all(left.map((cli) => cli.finished()));
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

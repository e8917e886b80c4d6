import { ChildProcess, spawn } from 'node:child_process';
import * as path from 'node:path';

const PRIMARY = path.resolve(__dirname, '../fixtures/primary.js');

export interface Exit {
  code: number | null;
  signal: NodeJS.Signals | null;
}

/**
 * test/fixtures/primary.js in a child process: runWorkers() with `options`.
 * Its stdout and its workers' (they inherit it) are read as lines. Every
 * instance still running at killAll() (afterEach) is killed with its workers.
 */
export class PrimaryProcess {
  private static readonly running = new Set<PrimaryProcess>();
  readonly child: ChildProcess;
  /** The exit, once its stdout and stderr are read to the end. */
  readonly exited: Promise<Exit>;
  readonly lines: string[] = [];
  stderr = '';
  private partial = '';
  private ended = false;
  private readonly waiters = new Set<() => void>();

  constructor(options: Record<string, unknown>) {
    this.child = spawn(process.execPath, [PRIMARY, JSON.stringify(options)], {
      env: { ...process.env, NODE_OPTIONS: '' },
      stdio: ['ignore', 'pipe', 'pipe'],
      detached: true, // its own process group: killAll() reaches the workers too
    });
    PrimaryProcess.running.add(this);
    this.child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
      const parts = (this.partial + chunk).split('\n');
      this.partial = parts.pop()!;
      this.lines.push(...parts);
      this.wake();
    });
    this.child.stderr!.setEncoding('utf8').on('data', (chunk: string) => (this.stderr += chunk));
    // 'close', not 'exit': 'exit' may come before the last of stdout is read (the primary's "done" line); the tests read lines after it
    this.exited = new Promise((resolve) => this.child.once('close', (code: number | null, signal: NodeJS.Signals | null) => resolve({ code, signal })));
    this.child.once('close', () => {
      this.ended = true;
      PrimaryProcess.running.delete(this);
      this.wake();
    });
  }

  /** Resolves with the first `count` lines matching `pattern` (from the start); rejects if the process ends first. */
  waitForLines(pattern: RegExp, count = 1): Promise<RegExpExecArray[]> {
    return new Promise((resolve, reject) => {
      const check = (): void => {
        const found = this.lines.map((line) => pattern.exec(line)).filter((match): match is RegExpExecArray => match !== null);
        if (found.length >= count) {
          this.waiters.delete(check);
          resolve(found.slice(0, count));
        } else if (this.ended) {
          this.waiters.delete(check);
          reject(new Error(`the primary ended without printing ${count} x ${pattern}\nstdout:\n${this.lines.join('\n')}\nstderr:\n${this.stderr}`));
        }
      };
      this.waiters.add(check);
      check();
    });
  }

  async waitForLine(pattern: RegExp): Promise<RegExpExecArray> {
    return (await this.waitForLines(pattern, 1))[0];
  }

  /** The workers' "listening PID PORT" lines: their pids and the port they share. */
  async listening(count: number): Promise<{ pids: number[]; port: number }> {
    const lines = await this.waitForLines(/^listening (\d+) (\d+)$/, count);
    const ports = new Set(lines.map((match) => Number(match[2])));
    if (ports.size !== 1) throw new Error(`the workers listen on different ports: ${[...ports].join(', ')}`);
    return { pids: lines.map((match) => Number(match[1])), port: [...ports][0] };
  }

  signal(signal: NodeJS.Signals): void {
    this.child.kill(signal);
  }

  static killAll(): void {
    for (const primary of PrimaryProcess.running) {
      try {
        process.kill(-primary.child.pid!, 'SIGKILL');
      } catch {
        // gone already
      }
    }
  }

  private wake(): void {
    for (const waiter of [...this.waiters]) waiter();
  }
}

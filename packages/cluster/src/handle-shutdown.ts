import type { ShutdownOptions, ShutdownResult } from '@ics-ts/wsocket-server';
import { MAX_TIMER_MS } from '@ics-ts/wsocket';
import { checkBoolean, checkInteger, checkOptionsObject, checkString, failType } from './checks';
import { WORKERS_EXIT } from './exit-codes';
import { WORKER_TAG, isCount, isTagged } from './protocol';
import type { WorkerMessage } from './protocol';

/** What handleShutdown() shuts down: a TWSocketServer, or anything with its shutdown(). */
export interface ShutdownTarget {
  shutdown(options?: ShutdownOptions): Promise<ShutdownResult>;
}

/** handleShutdown() options. */
export interface HandleShutdownOptions {
  /** ms of a shutdown this process starts on a signal (the supervisor's request carries its own shutdownTimeout). Default: the supervisor's shutdownTimeout under runWorkers(), else 10000. */
  timeout?: number;
  /** The line sent to every client on a signal's shutdown (the supervisor's request carries its own shutdownNotice). Default: the supervisor's shutdownNotice under runWorkers(), else none. */
  notice?: string;
  /** SIGINT and SIGTERM to this process shut it down too; a second one cuts the graceful part short. Default true. */
  signals?: boolean;
  /** Exit when the shutdown is done: 0, or 3 (WORKERS_EXIT.CLIENTS_ABORTED) when clients were aborted at the timeout, 1 if it failed. Default true. */
  exitProcess?: boolean;
  /** Called with the result when the shutdown is done (before the exit). */
  onDone?: (result: ShutdownResult) => void;
}

const WHERE = 'handleShutdown';
/** The environment runWorkers() gives its workers: its shutdownTimeout and shutdownNotice. */
export const SHUTDOWN_TIMEOUT_ENV = 'ICS_SHUTDOWN_TIMEOUT';
export const SHUTDOWN_NOTICE_ENV = 'ICS_SHUTDOWN_NOTICE';
const KNOWN = new Set(['timeout', 'notice', 'signals', 'exitProcess', 'onDone']);

/**
 * In a worker: shuts `server` down gracefully when the supervisor asks
 * (runWorkers() sends the request at SIGINT/SIGTERM), or when this process
 * gets SIGINT/SIGTERM itself (the same script run alone, or a Ctrl-C that
 * reached the whole process group); tells the supervisor what the shutdown
 * did, then exits 0, or 3 when clients had to be aborted. It also tells the
 * supervisor that this worker takes shutdown requests (before that, the
 * supervisor would end it with SIGTERM). Call it once the server is made.
 *
 * @returns a function that removes the handlers (nothing more is shut down by them).
 */
export function handleShutdown(server: ShutdownTarget, options: HandleShutdownOptions = {}): () => void {
  if (server === null || typeof server !== 'object' || typeof (server as ShutdownTarget).shutdown !== 'function') {
    failType(WHERE, 'server must have a shutdown() method (a TWSocketServer)');
  }
  const given = checkOptionsObject(options, WHERE, KNOWN) as HandleShutdownOptions;
  // Under runWorkers(), a shutdown this worker starts itself (a Ctrl-C reaches the whole process group) takes the supervisor's settings.
  const supervised = Number(process.env[SHUTDOWN_TIMEOUT_ENV]);
  const timeout = checkInteger(given.timeout ?? (Number.isSafeInteger(supervised) && supervised >= 0 ? supervised : 10000), WHERE, 'timeout', 0, MAX_TIMER_MS);
  const notice = given.notice === undefined ? process.env[SHUTDOWN_NOTICE_ENV] : checkString(given.notice, WHERE, 'notice');
  const signals = checkBoolean(given.signals ?? true, WHERE, 'signals');
  const exitProcess = checkBoolean(given.exitProcess ?? true, WHERE, 'exitProcess');
  if (given.onDone !== undefined && typeof given.onDone !== 'function') failType(WHERE, 'option onDone must be a function');
  let cutShort: AbortController | undefined;

  const begin = (shutdown: ShutdownOptions): void => {
    if (cutShort !== undefined) return;
    cutShort = new AbortController();
    server.shutdown({ ...shutdown, signal: cutShort.signal }).then(
      (result) => {
        given.onDone?.(result);
        const code = result.aborted > 0 ? WORKERS_EXIT.CLIENTS_ABORTED : WORKERS_EXIT.GRACEFUL;
        const report: WorkerMessage = { ics: WORKER_TAG, op: 'shutdownDone', clients: result.clients, closed: result.closed, aborted: result.aborted };
        if (process.send !== undefined && process.connected) process.send(report, () => finish(code));
        else finish(code);
      },
      (error: unknown) => {
        process.stderr.write(`${WHERE}: the shutdown failed: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
        finish(WORKERS_EXIT.SHUTDOWN_FAILED);
      },
    );
  };
  const finish = (code: number): void => {
    remove();
    if (exitProcess) process.exit(code);
  };
  const onMessage = (message: unknown): void => {
    if (!isTagged(message, WORKER_TAG)) return;
    const request = message as WorkerMessage & Record<string, unknown>;
    if (request.op !== 'shutdown') return;
    const shutdown: ShutdownOptions = { timeout: isCount(request.timeout) ? request.timeout : timeout };
    if (typeof request.notice === 'string') shutdown.notice = request.notice;
    else if (notice !== undefined) shutdown.notice = notice;
    begin(shutdown);
  };
  const onSignal = (): void => {
    if (cutShort === undefined) begin(notice === undefined ? { timeout } : { timeout, notice });
    else cutShort.abort();
  };
  const remove = (): void => {
    process.off('message', onMessage);
    process.off('SIGINT', onSignal);
    process.off('SIGTERM', onSignal);
  };

  if (signals) {
    process.on('SIGINT', onSignal);
    process.on('SIGTERM', onSignal);
  }
  if (process.send !== undefined) {
    process.on('message', onMessage);
    const ready: WorkerMessage = { ics: WORKER_TAG, op: 'ready' };
    if (process.connected) process.send(ready, noop);
  }
  return remove;
}

function noop(): void {}

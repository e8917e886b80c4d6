import * as os from 'node:os';
import { MAX_TIMER_MS, describe } from '@ics-ts/wsocket';
import { ClusterBusHost } from './cluster-bus-host';
import { checkBoolean, checkInteger, checkOptionsObject, checkString, checkStringArray, failType } from './checks';

/** runWorkers() options: every one optional; the defaults are WORKERS_DEFAULTS. */
export interface WorkersOptions {
  /** How many workers: a count, or 0 / 'auto' for one per core (`os.availableParallelism()`). Default 'auto'. */
  workers?: number | 'auto';
  /** The workers' script. Default the primary's own (`process.argv[1]`): the usual `if (cluster.isPrimary) ... else ...` file. */
  exec?: string;
  /** The workers' arguments. Default the primary's (`process.argv.slice(2)`). */
  args?: string[];
  /** The workers' Node options. Default the primary's (`process.execArgv`). */
  execArgv?: string[];
  /** Added to the workers' environment. Each also gets ICS_WORKER_INDEX (its slot: 0 to workers - 1), ICS_SHUTDOWN_TIMEOUT and ICS_SHUTDOWN_NOTICE (for handleShutdown()). */
  env?: Record<string, string>;
  /** ms before the first restart of a worker that died; doubled at each consecutive death of that slot. Default 100. */
  restartDelay?: number;
  /** The back-off's ceiling in ms. Default 10000. */
  maxRestartDelay?: number;
  /** ms a worker must live for its slot's back-off to start again from restartDelay. Default 10000. */
  stableAfter?: number;
  /** Restarts allowed within a minute across all workers; one more and the supervisor gives up (WORKERS_EXIT.CRASH_LOOP). Default twice the worker count, at least 10. */
  maxRestartsPerMinute?: number;
  /** ms each worker's graceful shutdown may take (its `server.shutdown({ timeout })`). Default 10000. */
  shutdownTimeout?: number;
  /** The line every client is sent at shutdown (`server.shutdown({ notice })`). Default none. */
  shutdownNotice?: string;
  /** ms after shutdownTimeout before a worker still running is killed (SIGKILL). Default 5000. */
  killAfter?: number;
  /** SIGINT and SIGTERM shut the workers down gracefully; a second one kills them. Default true. */
  handleSignals?: boolean;
  /** When every worker has ended, the primary exits with the outcome's code (WORKERS_EXIT). Default true. */
  exitProcess?: boolean;
  /** Serve ClusterBus to the workers: true for a new ClusterBusHost, or the host to start, or false. Default true. */
  bus?: boolean | ClusterBusHost;
  /** Where the supervisor's lines go (a worker started, died, restarts; the shutdown; the outcome); false for nowhere. Default stderr. */
  log?: ((line: string) => void) | false;
}

/** The defaults of the runWorkers() options. */
export const WORKERS_DEFAULTS = {
  workers: 'auto',
  restartDelay: 100,
  maxRestartDelay: 10000,
  stableAfter: 10000,
  shutdownTimeout: 10000,
  killAfter: 5000,
  handleSignals: true,
  exitProcess: true,
  bus: true,
} as const;

/** The options with every default applied. */
export interface WorkersSettings {
  workers: number;
  exec: string;
  args: string[];
  execArgv: string[];
  env: Record<string, string>;
  restartDelay: number;
  maxRestartDelay: number;
  stableAfter: number;
  maxRestartsPerMinute: number;
  shutdownTimeout: number;
  shutdownNotice: string | undefined;
  killAfter: number;
  handleSignals: boolean;
  exitProcess: boolean;
  bus: ClusterBusHost | undefined;
  log: (line: string) => void;
}

const WHERE = 'runWorkers';
const KNOWN = new Set([
  'workers', 'exec', 'args', 'execArgv', 'env', 'restartDelay', 'maxRestartDelay', 'stableAfter', 'maxRestartsPerMinute',
  'shutdownTimeout', 'shutdownNotice', 'killAfter', 'handleSignals', 'exitProcess', 'bus', 'log',
]);
/** The most workers one primary forks: beyond, a typo (an extra zero) more likely than a plan. */
const MAX_WORKERS = 1024;

export function resolveWorkersOptions(options: unknown): WorkersSettings {
  const given = checkOptionsObject(options, WHERE, KNOWN) as WorkersOptions;
  const value = <K extends keyof WorkersOptions>(key: K) => (given[key] === undefined ? (WORKERS_DEFAULTS as WorkersOptions)[key] : given[key]);
  const workersGiven = value('workers');
  if (typeof workersGiven !== 'number' && workersGiven !== 'auto') failType(WHERE, `option workers must be a count or 'auto', got ${describe(workersGiven)}`);
  const workers = workersGiven === 'auto' || workersGiven === 0 ? os.availableParallelism() : checkInteger(workersGiven, WHERE, 'workers', 0, MAX_WORKERS);
  const exec = given.exec === undefined ? process.argv[1] : checkString(given.exec, WHERE, 'exec');
  if (!exec) failType(WHERE, 'option exec is needed: this process has no script (process.argv[1]) for the workers to run');
  const restartDelay = checkInteger(value('restartDelay'), WHERE, 'restartDelay', 1, MAX_TIMER_MS);
  const maxRestartDelay = checkInteger(value('maxRestartDelay'), WHERE, 'maxRestartDelay', restartDelay, MAX_TIMER_MS);
  const env = given.env === undefined ? {} : given.env;
  if (env === null || typeof env !== 'object' || Array.isArray(env) || Object.values(env).some((item) => typeof item !== 'string')) {
    failType(WHERE, `option env must be an object of strings, got ${describe(env)}`);
  }
  const log = given.log === undefined ? writeToStderr : given.log === false ? noLog : given.log;
  if (typeof log !== 'function') failType(WHERE, `option log must be a function or false, got ${describe(given.log)}`);
  const busGiven = value('bus');
  if (typeof busGiven !== 'boolean' && !(busGiven instanceof ClusterBusHost)) failType(WHERE, `option bus must be a boolean or a ClusterBusHost, got ${describe(busGiven)}`);
  return {
    workers,
    exec,
    args: given.args === undefined ? process.argv.slice(2) : checkStringArray(given.args, WHERE, 'args'),
    execArgv: given.execArgv === undefined ? [...process.execArgv] : checkStringArray(given.execArgv, WHERE, 'execArgv'),
    env: { ...env },
    restartDelay,
    maxRestartDelay,
    stableAfter: checkInteger(value('stableAfter'), WHERE, 'stableAfter', 0, MAX_TIMER_MS),
    maxRestartsPerMinute: checkInteger(given.maxRestartsPerMinute ?? Math.max(10, 2 * workers), WHERE, 'maxRestartsPerMinute', 0),
    shutdownTimeout: checkInteger(value('shutdownTimeout'), WHERE, 'shutdownTimeout', 0, MAX_TIMER_MS),
    shutdownNotice: given.shutdownNotice === undefined ? undefined : checkString(given.shutdownNotice, WHERE, 'shutdownNotice'),
    killAfter: checkInteger(value('killAfter'), WHERE, 'killAfter', 0, MAX_TIMER_MS),
    handleSignals: checkBoolean(value('handleSignals'), WHERE, 'handleSignals'),
    exitProcess: checkBoolean(value('exitProcess'), WHERE, 'exitProcess'),
    bus: busGiven === true ? new ClusterBusHost() : busGiven === false ? undefined : (busGiven as ClusterBusHost),
    log,
  };
}

function writeToStderr(line: string): void {
  process.stderr.write(`[workers] ${line}\n`);
}

function noLog(): void {}

import cluster from 'node:cluster';
import type { Worker } from 'node:cluster';
import { EventEmitter } from 'node:events';
import * as os from 'node:os';
import { performance } from 'node:perf_hooks';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';
import { WORKERS_EXIT } from './exit-codes';
import type { WorkersOutcome } from './exit-codes';
import { WORKER_TAG, isCount, isTagged } from './protocol';
import type { WorkerMessage } from './protocol';
import { RESTART_WINDOW_MS, RestartPolicy } from './restart-policy';
import { resolveWorkersOptions } from './workers-options';
import type { WorkersOptions, WorkersSettings } from './workers-options';

/** One worker slot as events report it. */
export interface WorkerSlotInfo {
  /** The slot, 0 to workers - 1 (the worker's ICS_WORKER_INDEX); a restart keeps it. */
  index: number;
  /** The process id of its current (or last) worker. */
  pid: number | undefined;
}

/** The supervisor's events. */
export interface WorkerSupervisorEvents {
  /** A worker was forked (at start, or as a restart). */
  fork: [slot: WorkerSlotInfo];
  /** A worker exited; `expected` when the supervisor asked it to (shutdown, kill). */
  exit: [slot: WorkerSlotInfo, code: number | null, signal: NodeJS.Signals | null, expected: boolean];
  /** A worker that died will be forked again in `delay` ms. */
  restart: [slot: WorkerSlotInfo, delay: number];
  /** The graceful shutdown began (a signal, shutdown(), or giving up on a crash loop). */
  shutdown: [reason: string];
  /** Every worker has ended; the primary exits with `outcome.code` next (unless exitProcess is false). */
  done: [outcome: WorkersOutcome];
}

/** How a worker that exited while the supervisor was shutting down ended. */
type ShutdownEnd = 'graceful' | 'aborted' | 'failed' | 'killed';

interface Slot {
  readonly index: number;
  worker: Worker | undefined;
  pid: number | undefined;
  /** performance.now() at its fork. */
  forkedAt: number;
  /** The worker runs handleShutdown(): it takes the shutdown request over IPC. */
  ready: boolean;
  /** The shutdown was asked of this worker (a request, or SIGTERM for one not ready). */
  asked: 'request' | 'signal' | undefined;
  killed: boolean;
  restartTimer: NodeJS.Timeout | undefined;
}

type State = 'running' | 'stopping' | 'done';

let running: WorkerSupervisor | undefined;

/**
 * Runs `workers` copies of a server script as cluster workers of this (the
 * primary) process and keeps them running: a worker that dies unexpectedly is
 * forked again after a back-off (RestartPolicy), the workers' ClusterBus is
 * served (ClusterBusHost), SIGINT/SIGTERM shut every worker down gracefully
 * (each runs `server.shutdown()`, see handleShutdown()), a second signal kills
 * them, and the primary exits with a code saying how it ended (WORKERS_EXIT).
 *
 * Listening needs nothing special: with Node's default scheduling (round
 * robin, except on Windows) the workers' listen() share one socket the
 * primary holds; with `reusePort` (Node >= 22.12, Linux) each worker binds
 * its own and the kernel spreads the connections.
 *
 * @throws TypeError / RangeError for bad options (naming the option and the value), Error when not in a cluster primary or when a supervisor already runs in this process.
 */
export function runWorkers(options?: WorkersOptions): WorkerSupervisor {
  return new WorkerSupervisor(options).start();
}

/** A run of workers: runWorkers() makes one and starts it (make it yourself to listen to its events before start()). */
export class WorkerSupervisor extends EventEmitter<WorkerSupervisorEvents> {
  /** Resolves with the outcome when every worker has ended. */
  readonly done: Promise<WorkersOutcome>;
  private readonly settings: WorkersSettings;
  private readonly slots: Slot[];
  private readonly policy: RestartPolicy;
  private state: State = 'running';
  private started = false;
  private resolveDone!: (outcome: WorkersOutcome) => void;
  private deadline: NodeJS.Timeout | undefined;
  private stopReason = '';
  private gaveUp = false;
  private forcedBy: NodeJS.Signals | undefined;
  private restarts = 0;
  private readonly ends: Record<ShutdownEnd, number> = { graceful: 0, aborted: 0, failed: 0, killed: 0 };
  private readonly reported = { clients: 0, closed: 0, aborted: 0 };

  /** @throws TypeError / RangeError for bad options, naming the option and the value. */
  constructor(options?: WorkersOptions) {
    super();
    const settings = resolveWorkersOptions(options);
    this.settings = settings;
    this.slots = Array.from({ length: settings.workers }, (_, index) => ({
      index, worker: undefined, pid: undefined, forkedAt: 0, ready: false, asked: undefined, killed: false, restartTimer: undefined,
    }));
    this.policy = new RestartPolicy(settings.workers, settings.restartDelay, settings.maxRestartDelay, settings.stableAfter, settings.maxRestartsPerMinute);
    this.done = new Promise((resolve) => (this.resolveDone = resolve));
  }

  /** The number of worker slots. */
  get workers(): number {
    return this.slots.length;
  }

  /** The live workers' process ids, by slot (undefined while a slot waits for its restart). */
  get pids(): Array<number | undefined> {
    return this.slots.map((slot) => (slot.worker ? slot.pid : undefined));
  }

  /**
   * Shuts every worker down gracefully: each gets the shutdown request (a
   * worker that has not called handleShutdown() yet gets SIGTERM) and has
   * `shutdownTimeout` + `killAfter` ms before it is killed. Idempotent.
   */
  shutdown(reason = 'shutdown() called'): void {
    if (this.state !== 'running') return;
    this.state = 'stopping';
    this.stopReason = reason;
    const live = this.slots.filter((slot) => slot.worker !== undefined).length;
    this.settings.log(`${reason}: shutting down ${live} worker${live === 1 ? '' : 's'} gracefully (at most ${this.settings.shutdownTimeout} ms${this.settings.handleSignals ? '; a second signal kills them' : ''})`);
    this.emit('shutdown', reason);
    for (const slot of this.slots) {
      clearTimeout(slot.restartTimer);
      slot.restartTimer = undefined;
      this.askToStop(slot);
    }
    this.deadline = setTimeout(this.killStragglers, this.settings.shutdownTimeout + this.settings.killAfter);
    this.finishIfAllGone();
  }

  /** Kills every worker at once (SIGKILL); the outcome's code is 128 + the signal's number when a signal asked for it. */
  kill(signal: NodeJS.Signals = 'SIGKILL'): void {
    if (this.state === 'done') return;
    this.forcedBy ??= signal;
    if (this.state === 'running') this.shutdown(`${signal}`);
    this.settings.log(`${signal === 'SIGKILL' ? 'kill()' : `${signal} again`}: killing every worker at once`);
    for (const slot of this.slots) {
      if (slot.worker === undefined) continue;
      slot.killed = true;
      slot.worker.process.kill('SIGKILL');
    }
    this.finishIfAllGone();
  }

  /** Forks the workers, starts the bus host, installs the signal handlers. */
  start(): this {
    if (!cluster.isPrimary) throw icsError(Error, ICS_ERR.INVALID_STATE, 'runWorkers: runs in the cluster primary, not in a worker');
    if (this.started) return this;
    if (running !== undefined) throw icsError(Error, ICS_ERR.INVALID_STATE, 'runWorkers: a supervisor already runs in this process');
    running = this;
    this.started = true;
    const { exec, args, execArgv, bus, handleSignals } = this.settings;
    cluster.setupPrimary({ exec, args, execArgv });
    bus?.start();
    if (handleSignals) {
      process.on('SIGINT', this.onSignal);
      process.on('SIGTERM', this.onSignal);
    }
    this.settings.log(`starting ${this.slots.length} worker${this.slots.length === 1 ? '' : 's'} of ${exec} (primary pid ${process.pid}, ${os.availableParallelism()} cores)`);
    for (const slot of this.slots) this.fork(slot);
    if (this.slots.length === 0) this.shutdown('no workers to run');
    return this;
  }

  private fork(slot: Slot): void {
    slot.restartTimer = undefined;
    if (this.state !== 'running') return;
    const worker = cluster.fork({ ...this.settings.env, ICS_WORKER_INDEX: String(slot.index) });
    slot.worker = worker;
    slot.pid = worker.process.pid;
    slot.forkedAt = performance.now();
    slot.ready = false;
    slot.asked = undefined;
    slot.killed = false;
    worker.on('message', (message: unknown) => this.onWorkerMessage(slot, worker, message));
    worker.once('exit', (code: number | null, signal: NodeJS.Signals | null) => this.onExit(slot, worker, code, signal));
    // An error on the worker's channel (a send to a worker that just died): its exit follows, which is what counts.
    worker.on('error', noop);
    this.emit('fork', this.info(slot));
  }

  private onWorkerMessage(slot: Slot, worker: Worker, message: unknown): void {
    if (!isTagged(message, WORKER_TAG) || slot.worker !== worker) return;
    const lifecycle = message as WorkerMessage & Record<string, unknown>;
    if (lifecycle.op === 'ready') {
      slot.ready = true;
      if (this.state === 'stopping' && slot.asked !== 'request') this.askToStop(slot);
    } else if (lifecycle.op === 'shutdownDone' && isCount(lifecycle.clients) && isCount(lifecycle.closed) && isCount(lifecycle.aborted)) {
      this.reported.clients += lifecycle.clients;
      this.reported.closed += lifecycle.closed;
      this.reported.aborted += lifecycle.aborted;
    }
  }

  private askToStop(slot: Slot): void {
    const worker = slot.worker;
    if (worker === undefined || slot.killed) return;
    if (slot.ready) {
      slot.asked = 'request';
      const request: WorkerMessage = { ics: WORKER_TAG, op: 'shutdown', timeout: this.settings.shutdownTimeout };
      if (this.settings.shutdownNotice !== undefined) request.notice = this.settings.shutdownNotice;
      if (worker.isConnected()) worker.send(request, noop);
    } else if (slot.asked === undefined) {
      // Not (yet) running handleShutdown(): the conventional request to end.
      slot.asked = 'signal';
      worker.process.kill('SIGTERM');
    }
  }

  private onExit(slot: Slot, worker: Worker, code: number | null, signal: NodeJS.Signals | null): void {
    if (slot.worker !== worker) return;
    slot.worker = undefined;
    const expected = this.state !== 'running';
    this.emit('exit', this.info(slot), code, signal, expected);
    const how = signal ? `signal ${signal}` : `exit code ${code}`;
    if (expected) {
      const end = this.shutdownEnd(slot, code, signal);
      this.ends[end]++;
      if (end !== 'graceful') this.settings.log(`worker ${slot.index} (pid ${slot.pid}) ended by ${how}: ${end}`);
      return this.finishIfAllGone();
    }
    const decision = this.policy.decide(slot.index, performance.now() - slot.forkedAt, performance.now());
    if (!decision.restart) {
      this.gaveUp = true;
      this.settings.log(`worker ${slot.index} (pid ${slot.pid}) died (${how}): ${decision.restartsInWindow} restarts within ${RESTART_WINDOW_MS / 1000} s already, giving up`);
      return this.shutdown(`crash loop (more than ${this.settings.maxRestartsPerMinute} restarts in a minute)`);
    }
    this.restarts++;
    this.settings.log(`worker ${slot.index} (pid ${slot.pid}) died (${how}): restarting in ${decision.delay} ms`);
    this.emit('restart', this.info(slot), decision.delay);
    slot.restartTimer = setTimeout(() => this.fork(slot), decision.delay);
  }

  private shutdownEnd(slot: Slot, code: number | null, signal: NodeJS.Signals | null): ShutdownEnd {
    if (slot.killed) return 'killed';
    if (code === 0) return 'graceful';
    if (code === WORKERS_EXIT.CLIENTS_ABORTED) return 'aborted';
    // SIGTERM sent to a worker that never took requests: it served nobody.
    if (slot.asked === 'signal' && signal === 'SIGTERM') return 'graceful';
    return 'failed';
  }

  private readonly onSignal = (signal: NodeJS.Signals): void => {
    if (this.state === 'running') this.shutdown(signal);
    else this.kill(signal);
  };

  private readonly killStragglers = (): void => {
    this.deadline = undefined;
    for (const slot of this.slots) {
      if (slot.worker === undefined) continue;
      this.settings.log(`worker ${slot.index} (pid ${slot.pid}) still running ${this.settings.shutdownTimeout + this.settings.killAfter} ms after the shutdown began: killing it`);
      slot.killed = true;
      slot.worker.process.kill('SIGKILL');
    }
  };

  private finishIfAllGone(): void {
    if (this.state !== 'stopping' || this.slots.some((slot) => slot.worker !== undefined)) return;
    this.state = 'done';
    clearTimeout(this.deadline);
    process.off('SIGINT', this.onSignal);
    process.off('SIGTERM', this.onSignal);
    this.settings.bus?.stop();
    running = undefined;
    const outcome = this.outcome();
    this.settings.log(`done (exit code ${outcome.code}): ${outcome.reason}`);
    this.emit('done', outcome);
    this.resolveDone(outcome);
    if (this.settings.exitProcess) process.exit(outcome.code);
  }

  private outcome(): WorkersOutcome {
    const { clients, closed, aborted } = this.reported;
    const base = { clients, closed, aborted, restarts: this.restarts };
    const tally = `${closed} of ${clients} clients closed gracefully, ${aborted} aborted`;
    if (this.forcedBy !== undefined) {
      const number = os.constants.signals[this.forcedBy] ?? 9;
      return { ...base, code: WORKERS_EXIT.SIGNAL_BASE + number, reason: `${this.forcedBy === 'SIGKILL' ? 'kill()' : `a second ${this.forcedBy}`} killed the workers` };
    }
    if (this.gaveUp) return { ...base, code: WORKERS_EXIT.CRASH_LOOP, reason: `gave up: workers kept dying (${this.stopReason}); ${tally}` };
    if (this.ends.killed > 0) return { ...base, code: WORKERS_EXIT.SHUTDOWN_KILLED, reason: `${this.ends.killed} worker(s) killed at the shutdown deadline; ${tally}` };
    if (this.ends.failed > 0) return { ...base, code: WORKERS_EXIT.SHUTDOWN_FAILED, reason: `${this.ends.failed} worker(s) failed their shutdown; ${tally}` };
    if (this.ends.aborted > 0 || aborted > 0) return { ...base, code: WORKERS_EXIT.CLIENTS_ABORTED, reason: `${this.stopReason}: ${tally}` };
    return { ...base, code: WORKERS_EXIT.GRACEFUL, reason: `${this.stopReason}: every worker ended gracefully, ${tally}` };
  }

  private info(slot: Slot): WorkerSlotInfo {
    return { index: slot.index, pid: slot.pid };
  }
}

function noop(): void {}

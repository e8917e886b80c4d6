/**
 * The exit codes of a primary run by runWorkers(), saying how the workers
 * ended (the same 0 and 3 as the ics-ts-server CLI). A process supervisor
 * (systemd, a container runtime) can act on them: restart on 4, alert on 5.
 */
export const WORKERS_EXIT = {
  /** Every worker shut down gracefully: every client closed within the shutdown timeout. */
  GRACEFUL: 0,
  /** A worker failed its shutdown: it exited with another code than 0 or 3, or by a signal it was not sent. */
  SHUTDOWN_FAILED: 1,
  /** The shutdown completed, but some worker aborted clients still open at its timeout. */
  CLIENTS_ABORTED: 3,
  /** Workers kept dying: more than `maxRestartsPerMinute` restarts within a minute; the supervisor gave up (the other workers were shut down gracefully). */
  CRASH_LOOP: 4,
  /** A worker did not finish its graceful shutdown within `shutdownTimeout` + `killAfter` ms and was killed (SIGKILL). */
  SHUTDOWN_KILLED: 5,
  /** A second SIGINT or SIGTERM killed every worker at once: 128 + the signal's number (130 for SIGINT, 143 for SIGTERM), as shells report a death by signal. */
  SIGNAL_BASE: 128,
} as const;

/** How a run of workers ended. */
export interface WorkersOutcome {
  /** The process exit code (WORKERS_EXIT). */
  code: number;
  /** In words: what happened. */
  reason: string;
  /** Clients the workers had when the shutdown began, closed gracefully, and aborted at the timeout (as the workers reported them). */
  clients: number;
  closed: number;
  aborted: number;
  /** Workers restarted after dying unexpectedly, over the whole run. */
  restarts: number;
}

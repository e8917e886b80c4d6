import { readFileSync } from 'node:fs';

/** Node's own listen backlog, used where the system does not say its maximum. */
const NODE_DEFAULT_BACKLOG = 511;

/**
 * The system's largest listen queue (SOMAXCONN): `/proc/sys/net/core/somaxconn`
 * on Linux, read at each call (it can be tuned at run time); Node's 511 where
 * the file does not exist.
 */
export function systemMaxBacklog(path = '/proc/sys/net/core/somaxconn'): number {
  try {
    const value = Number(readFileSync(path, 'utf8').trim());
    return Number.isInteger(value) && value > 0 ? value : NODE_DEFAULT_BACKLOG;
  } catch {
    return NODE_DEFAULT_BACKLOG;
  }
}

/** AIR's rule: 0 means the system maximum, and a larger value is cut down to it. */
export function effectiveBacklog(backlog: number, systemMax = systemMaxBacklog()): number {
  return backlog === 0 || backlog > systemMax ? systemMax : backlog;
}

import { EventEmitter } from 'node:events';
import type * as net from 'node:net';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

/**
 * What the two challenge responders (http-01, tls-alpn-01) share: their
 * bounds checked the same way, listening, closing. Each keeps its own
 * connection handling.
 */
export function checkPositive(value: unknown, where: string, option: string, max = Number.MAX_SAFE_INTEGER): number {
  if (typeof value !== 'number') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option ${option} must be a number, got ${JSON.stringify(value)}`);
  }
  if (!Number.isInteger(value) || value < 1 || value > max) {
    const range = max === Number.MAX_SAFE_INTEGER ? '>= 1' : `from 1 to ${max}`;
    throw icsError(RangeError, ICS_ERR.OPTION_OUT_OF_RANGE, `${where}: option ${option} must be an integer ${range}, got ${value}`);
  }
  return value;
}

/** Listens on a port (0 picks one) and an address; resolves with the port. */
export async function listenOn(server: net.Server, port: number, host: string): Promise<number> {
  server.listen(port, host);
  await EventEmitter.once(server, 'listening');
  return (server.address() as net.AddressInfo).port;
}

export function closeServer(server: net.Server): Promise<void> {
  return new Promise((resolve) => server.close(() => resolve()));
}

/** `@ics-ts/server-socket/air`: AIR's names (flash.net.ServerSocket, flash.net.Socket, flash.utils.ByteArray). */
import 'reflect-metadata';

export { AirServerSocket as ServerSocket, AirServerSocket } from './air/server-socket';
export type { AirServerSocketEvents, AirServerSocketOptions } from './air/server-socket';
export { AirSocket as Socket, AirSocket } from './air/socket';
export type { AirSocketEvents } from './air/socket';
export { ByteArray } from './air/byte-array';
export { ArgumentError, EOFError, IOError } from './air/errors';
export { AirEventType } from './air/events';
export type { AirEvent, IOErrorEvent, ProgressEvent, ServerSocketConnectEvent } from './air/events';
export { effectiveBacklog, systemMaxBacklog } from './air/backlog';

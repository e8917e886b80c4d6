/** `@ics-ts/server-socket/xojo`: Xojo's names. */
import 'reflect-metadata';

export { XojoServerSocket as ServerSocket, XojoServerSocket, XOJO_DEFAULTS, MAX_POOL } from './xojo/server-socket';
export type { XojoServerSocketEvents, XojoServerSocketOptions } from './xojo/server-socket';
export { XojoTCPSocket as TCPSocket, XojoTCPSocket } from './xojo/tcp-socket';
export type { XojoTCPSocketEvents } from './xojo/tcp-socket';
export { XojoErrorCode, xojoErrorCode } from './xojo/error-codes';
export { resolveNetworkInterface } from './xojo/network-interface';

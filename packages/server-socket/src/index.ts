import 'reflect-metadata';

export { XojoServerSocket, XojoTCPSocket, XojoErrorCode, XOJO_DEFAULTS } from './xojo';
export type { XojoServerSocketEvents, XojoServerSocketOptions, XojoTCPSocketEvents } from './xojo';
export { DEFAULT_MAX_BUFFERED } from './input-buffer';

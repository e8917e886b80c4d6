import 'reflect-metadata';

export { XojoServerSocket, XojoTCPSocket, XojoErrorCode, XOJO_DEFAULTS } from './xojo';
export type { XojoServerSocketEvents, XojoServerSocketOptions, XojoTCPSocketEvents } from './xojo';
export { TotalCrossServerSocket, TotalCrossSocket, IOException } from './totalcross';
export type { TotalCrossServerSocketOptions } from './totalcross';
export { AirServerSocket, AirSocket, ByteArray, ArgumentError, EOFError, IOError, AirEventType } from './air';
export type { AirEvent, AirServerSocketEvents, AirServerSocketOptions, AirSocketEvents, IOErrorEvent, ServerSocketConnectEvent, ProgressEvent } from './air';
export { DEFAULT_MAX_BUFFERED } from './input-buffer';
export { EXAMPLE_NAMES, startExample } from './examples';
export type { ExampleName, ExampleOptions, RunningExample } from './examples';

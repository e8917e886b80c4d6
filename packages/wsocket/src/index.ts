export { TWSocket, unmapIPv4 } from './wsocket';
export type { WSocketEvents, SocketAddresses } from './wsocket';
export { SocketState } from './socket-state';
export { WSOCKET_DEFAULTS, validateWSocketOptions, describe } from './options';
export type { WSocketOptions } from './options';
export { LineSplitter } from './line-splitter';
export type { LineLimitAction, LineSink } from './line-splitter';
export { LineEditor } from './line-editor';

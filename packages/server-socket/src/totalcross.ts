/** `@ics-ts/server-socket/totalcross`: TotalCross's names. */
import 'reflect-metadata';

export { TotalCrossServerSocket as ServerSocket, TotalCrossServerSocket } from './totalcross/server-socket';
export type { TotalCrossServerSocketOptions } from './totalcross/server-socket';
export { TotalCrossSocket as Socket, TotalCrossSocket, TOTALCROSS_MAX_BUFFERED } from './totalcross/socket';
export { IOException } from './totalcross/io-exception';

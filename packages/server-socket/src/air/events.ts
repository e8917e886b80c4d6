/** AS3's event objects, reduced to what the AIR ServerSocket and Socket dispatch. */
export interface AirEvent<T = unknown> {
  readonly type: string;
  /** The object that dispatched the event. */
  readonly target: T;
}

/** flash.events.ServerSocketConnectEvent: `socket` is the new connection. */
export interface ServerSocketConnectEvent<S = unknown, T = unknown> extends AirEvent<T> {
  readonly type: 'connect';
  readonly socket: S;
}

/** flash.events.ProgressEvent (SOCKET_DATA): `bytesLoaded` bytes came with this event. */
export interface ProgressEvent<T = unknown> extends AirEvent<T> {
  readonly type: 'socketData';
  readonly bytesLoaded: number;
  /** Always 0 for socket data, as in AIR. */
  readonly bytesTotal: number;
}

/** flash.events.IOErrorEvent: the connection failed. */
export interface IOErrorEvent<T = unknown> extends AirEvent<T> {
  readonly type: 'ioError';
  readonly text: string;
  /** The system code (ECONNRESET...). */
  readonly code: string | undefined;
}

/** The event names, as AS3's constants. */
export const AirEventType = {
  CONNECT: 'connect',
  CLOSE: 'close',
  SOCKET_DATA: 'socketData',
  IO_ERROR: 'ioError',
} as const;

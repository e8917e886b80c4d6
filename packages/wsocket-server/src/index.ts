import 'reflect-metadata';

export { TWSocketServer } from './wsocket-server';
export type { ListenFailure, ServerState, TooBusyInfo, WSocketServerEvents } from './wsocket-server';
export { TWSocketClient } from './wsocket-client';
export type { ClientOwner } from './wsocket-client';
export { ConnectionInfo } from './connection-info';
export { ClientClassRegistry, clientClass, clientClassRegistry, registerClientClass } from './client-registry';
export type { ClientClassRef, ClientConstructor } from './client-registry';
export { Listener } from './listener';
export type { ListenerSpec, ListenerState, ListenerStatus } from './listener';
export type { MultiListenItem } from './multi-listen-options';
export type { HandshakeFailure } from './tls-handshake';
export type { TlsFacts } from './tls-facts';
export { SERVER_DEFAULTS, resolvePort, resolveSslContext } from './server-options';
export type { SocketFamily, WSocketServerOptions } from './server-options';
export { servicePort, parseServices } from './service-port';

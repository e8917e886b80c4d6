import type * as net from 'node:net';
import { unmapIPv4 } from '@ics-ts/wsocket';
import type { TWSocketClient } from '../clients/wsocket-client';
import type { ServerEvents } from '../events';
import type { Listener } from '../listen/listener';
import type { ServerSettings } from '../options/server-settings';
import type { Refuser } from './refuser';

/**
 * Turns a connection away politely when no client slot is free: the busy
 * text and a clean close, no client object, no container, no handler (ICS
 * sends BannerTooBusy the same way). What the peer sends meanwhile is read
 * and dropped so that the close is a FIN, not an RST; a peer that never
 * closes its side is destroyed after tooBusyCloseTimeout.
 */
export class TooBusy {
  /** Connections turned away and not closed yet (shutdown waits for them). */
  readonly sockets = new Set<net.Socket>();
  /** Connections turned away since the server was made. */
  count = 0;

  constructor(
    private readonly settings: ServerSettings,
    private readonly refuser: Refuser,
    private readonly events: ServerEvents<TWSocketClient>,
  ) {}

  reject(socket: net.Socket, listener: Listener, peerAddr: string, peerPort: number, reason: 'maxClients' | 'perIp', text: string): void {
    this.count++;
    this.sockets.add(socket);
    (socket as TooBusySocket)[TOO_BUSY] = this;
    socket.once('close', onTooBusyClose); // a shared function, not a closure per rejected socket
    socket.on('error', ignore);
    socket.on('timeout', destroySocket);
    socket.setTimeout(this.settings.tooBusyCloseTimeout);
    socket.resume();
    if (text.length > 0) socket.end(text + this.settings.lineEnd);
    else socket.end();
    this.refuser.count(reason, listener, peerAddr, peerPort, reason === 'maxClients' ? `maxClients ${this.settings.maxClients}` : `maxClientsPerIp ${listener.policy.maxClientsPerIp}`);
    if (this.events.wanted('tooBusy')) {
      this.events.emit('tooBusy', { peerAddr: unmapIPv4(peerAddr), peerPort, multiListenIndex: listener.index });
    }
  }

  /** Destroys every turned-away connection still closing. */
  destroyAll(): void {
    for (const socket of this.sockets) socket.destroy();
  }
}

/** A turned-away socket leads back to its TooBusy through this key. */
const TOO_BUSY = Symbol('ics-ts.tooBusy');
type TooBusySocket = net.Socket & { [TOO_BUSY]?: TooBusy };

function onTooBusyClose(this: TooBusySocket): void {
  this[TOO_BUSY]?.sockets.delete(this);
}

function ignore(): void {}

function destroySocket(this: net.Socket): void {
  this.destroy();
}

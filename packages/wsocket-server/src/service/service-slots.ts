import type * as net from 'node:net';
import { ipKey } from '../admission/ip-key';
import type { ClientSlots, SlotHolderSink } from '../admission/client-slots';
import type { TooBusy } from '../admission/too-busy';
import type { ClientList } from '../clients/client-list';
import type { TWSocketClient } from '../clients/wsocket-client';
import type { ServerEvents } from '../events';
import type { HostMatch } from '../hosts/host-table';
import type { Listener } from '../listen/listener';
import type { ServerSettings } from '../options/server-settings';
import type { ServiceBus, SlotVerdict } from './service-bus';
import type { ClientWatcher } from './watched-client-list';

/** A connection waiting for the bus's verdict. */
interface SlotWait {
  readonly socket: net.Socket;
  readonly listener: Listener;
  readonly peerAddr: string;
  readonly peerPort: number;
  readonly host: HostMatch | undefined;
  readonly key: string;
  readonly since: number;
  /** waiting: the socket waits; admitted: timed out (or the bus failed) and started on local limits; gone: closed, refused or started. */
  state: 'waiting' | 'admitted' | 'gone';
  /** The client it became (set while it is being started). */
  client: TWSocketClient | undefined;
}

/**
 * Service-wide client slots, on a server with a shared ServiceBus: after this
 * server's own limits passed (ClientSlots), the connection asks the bus for a
 * slot of the service (`maxClients` in all, the listener's `maxClientsPerIp`
 * for its address key) and waits, paused, for the verdict:
 * - 'ok': it becomes a client, which holds the slot until it leaves the
 *   client list (then the slot is given back, once);
 * - 'maxClients' / 'perIp': bannerTooBusy, as for this server's own limits
 *   (the same reasons, the same counters);
 * - the bus throws or rejects (counted in `slotErrors`): it is taken as down,
 *   and the connection is admitted on this server's own limits (checked again);
 * - no answer within `timeout` ms (counted in `slotTimeouts`): the same,
 *   admitted on local limits, so that a stuck bus never holds a socket. If
 *   the bus grants the slot later, the client keeps it (or it is given back
 *   if the client is gone already).
 * Nothing is read from a waiting socket (what the peer sends stays buffered,
 * in order, for its client). A socket that closes (or whose peer ends its
 * side) while it waits is dropped; a slot granted to it afterwards is given
 * back. While waiting it counts as a held socket
 * (maxConnections), like a TLS handshake. One timer for all the waits: they
 * end in the order they began.
 */
export class ServiceSlots<C extends TWSocketClient> implements SlotHolderSink, ClientWatcher<C> {
  /** Connections waiting for the bus's verdict, oldest first. */
  readonly waiting = new Map<net.Socket, SlotWait>();
  /** Waits that ended at the timeout (admitted on local limits). */
  slotTimeouts = 0;
  /** reserveSlot() calls that threw or rejected (admitted on local limits). */
  slotErrors = 0;
  /** The last such error's message. */
  lastSlotError = '';
  /** Clients holding a slot of the service, and its key. */
  private readonly holders = new Map<TWSocketClient, string>();
  /** The wait whose client is being started (clientAdded() reads it, synchronously). */
  private starting: SlotWait | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;

  constructor(
    private readonly settings: ServerSettings<C>,
    private readonly bus: ServiceBus,
    private readonly localSlots: () => ClientSlots<C>,
    private readonly list: ClientList<C>,
    private readonly tooBusy: TooBusy,
    private readonly starter: SlotHolderSink,
    private readonly events: ServerEvents<C>,
    /** Milliseconds a connection may wait for the verdict; 0 = no limit. */
    private readonly timeout: number,
  ) {}

  /** Clients of this server holding a slot of the service. */
  get held(): number {
    return this.holders.size;
  }

  start(socket: net.Socket, listener: Listener, peerAddr: string, peerPort: number, host: HostMatch | undefined): void {
    const wait: SlotWait = { socket, listener, peerAddr, peerPort, host, key: ipKey(peerAddr), since: Date.now(), state: 'waiting', client: undefined };
    this.waiting.set(socket, wait);
    (socket as WaitingSocket)[SLOTS] = this as unknown as ServiceSlots<TWSocketClient>;
    socket.on('error', ignore); // a reset while waiting: 'close' follows
    socket.once('close', onWaitingClose);
    // Not a byte is taken while it waits: what the peer sends stays buffered for its client. A
    // stage before may leave the socket flowing (the PROXY stage resumes a plain socket right
    // after handing it on): a chunk that flows meanwhile is put back, and the socket paused.
    socket.on('data', onWaitingData);
    socket.once('end', onWaitingEnd);
    socket.pause();
    if (this.timeout > 0 && this.sweepTimer === undefined) this.armSweep(this.timeout);
    void this.reserve(wait);
  }

  clientAdded(client: C): void {
    const wait = this.starting;
    if (wait === undefined) return;
    wait.client = client;
    if (wait.state === 'waiting') this.holders.set(client, wait.key);
  }

  clientLeft(client: C): void {
    const key = this.holders.get(client);
    if (key === undefined) return;
    this.holders.delete(client);
    this.release(key);
  }

  /** Ends every wait (shutdown): the sockets are destroyed; slots granted later are given back. */
  destroyAll(): void {
    for (const socket of [...this.waiting.keys()]) socket.destroy();
  }

  /** @internal A waiting socket closed. */
  waitingClosed(socket: net.Socket): void {
    const wait = this.waiting.get(socket);
    if (wait === undefined) return;
    this.endWait(wait);
    wait.state = 'gone';
  }

  private async reserve(wait: SlotWait): Promise<void> {
    let verdict: SlotVerdict | undefined;
    try {
      verdict = await this.bus.reserveSlot(wait.key, this.settings.maxClients, wait.listener.policy.maxClientsPerIp);
      if (verdict !== 'ok' && verdict !== 'maxClients' && verdict !== 'perIp') throw new Error(`reserveSlot answered ${String(verdict)}`);
    } catch (error) {
      verdict = undefined;
      this.slotErrors++;
      this.lastSlotError = error instanceof Error ? error.message : String(error);
    }
    try {
      this.settle(wait, verdict);
    } catch (error) {
      this.events.bgException(error, undefined);
    }
  }

  /** The verdict (undefined: the bus failed). */
  private settle(wait: SlotWait, verdict: SlotVerdict | undefined): void {
    if (wait.state !== 'waiting') {
      // Too late: timed out (admitted on local limits) or gone. A slot granted now is kept by the client, if it is still here.
      if (verdict !== 'ok') return;
      const client = wait.client;
      if (client !== undefined && this.list.has(client) && !this.holders.has(client)) this.holders.set(client, wait.key);
      else this.release(wait.key);
      return;
    }
    this.endWait(wait);
    const { socket, listener, peerAddr, peerPort } = wait;
    if (verdict === 'maxClients') {
      wait.state = 'gone';
      return this.tooBusy.reject(socket, listener, peerAddr, peerPort, 'maxClients', this.settings.bannerTooBusy);
    }
    if (verdict === 'perIp') {
      wait.state = 'gone';
      return this.tooBusy.reject(socket, listener, peerAddr, peerPort, 'perIp', this.settings.bannerTooBusyPerIp ?? this.settings.bannerTooBusy);
    }
    if (verdict === undefined) return this.admitLocally(wait);
    this.startClient(wait);
    // Never became a client (its class failed to build): the slot goes back now.
    if (wait.client === undefined) this.release(wait.key);
    wait.state = 'gone';
  }

  /** The bus failed or did not answer: this server's own limits decide, checked again now. */
  private admitLocally(wait: SlotWait): void {
    wait.state = 'admitted';
    if (this.localSlots().rejectedLocally(wait.socket, wait.listener, wait.peerAddr, wait.peerPort)) return;
    this.startClient(wait);
  }

  private startClient(wait: SlotWait): void {
    const socket = wait.socket;
    if (socket.destroyed) return;
    this.starting = wait;
    try {
      this.starter.start(socket, wait.listener, wait.peerAddr, wait.peerPort, wait.host);
    } finally {
      this.starting = undefined;
    }
    // The socket was paused for the wait: it reads again unless the client paused its reading itself
    // (then its resumeReading() resumes the socket).
    const client = wait.client;
    if (client !== undefined && !socket.destroyed && client.state === 'connected' && !client.readingPaused) socket.resume();
  }

  /** The wait is over: the socket is no longer ours to watch. */
  private endWait(wait: SlotWait): void {
    this.waiting.delete(wait.socket);
    const socket = wait.socket as WaitingSocket;
    socket[SLOTS] = undefined;
    socket.removeListener('error', ignore);
    socket.removeListener('close', onWaitingClose);
    socket.removeListener('data', onWaitingData);
    socket.removeListener('end', onWaitingEnd);
    if (this.waiting.size === 0 && this.sweepTimer !== undefined) {
      clearTimeout(this.sweepTimer);
      this.sweepTimer = undefined;
    }
  }

  private release(key: string): void {
    try {
      this.bus.releaseSlot(key);
    } catch (error) {
      this.slotErrors++;
      this.lastSlotError = error instanceof Error ? error.message : String(error);
    }
  }

  private armSweep(delay: number): void {
    this.sweepTimer = setTimeout(sweepLater, Math.max(1, delay), this);
    this.sweepTimer.unref();
  }

  /** @internal The timer: waits past the timeout are admitted on local limits; the next one is armed. */
  sweep(): void {
    this.sweepTimer = undefined;
    const now = Date.now();
    for (const wait of this.waiting.values()) {
      const left = this.timeout - (now - wait.since);
      if (left > 0) return this.armSweep(left);
      this.slotTimeouts++;
      this.endWait(wait);
      try {
        this.admitLocally(wait);
      } catch (error) {
        this.events.bgException(error, undefined);
      }
    }
  }
}

/** A waiting socket leads back to its stage through this key (shared handlers, no closure per socket). */
const SLOTS = Symbol('ics-ts.serviceSlots');
type WaitingSocket = net.Socket & { [SLOTS]?: ServiceSlots<TWSocketClient> };

function onWaitingClose(this: WaitingSocket): void {
  this[SLOTS]?.waitingClosed(this);
}

function onWaitingData(this: net.Socket, chunk: Buffer): void {
  this.pause();
  this.unshift(chunk);
}

/** The peer ended its side before it was a client: it is treated as gone (its client would never see the end). */
function onWaitingEnd(this: WaitingSocket): void {
  this.destroy();
}

function sweepLater(slots: ServiceSlots<TWSocketClient>): void {
  slots.sweep();
}

function ignore(): void {}

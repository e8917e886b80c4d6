import type { ListenFailure } from '../events';
import type { Listener, ListenerStatus } from './listener';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';

/**
 * The server's listeners: the main one (index -1), then multiListenSockets
 * and host bindings in order. Opens them all or nothing (ICS MultiListen) or
 * each that can (MultiListenEx), one listen at a time; adds listeners at run
 * time one after the other, so each takes the next index.
 */
export class ListenerSet {
  /** The main listener, then the others in order (index -1, 0, 1...). */
  readonly all: Listener[];
  /** A listen() call is under way. */
  private opening = false;
  /** add() calls, one at a time. */
  private addQueue: Promise<unknown> = Promise.resolve();
  /** The listener add() is opening, not yet in the list. */
  private adding: Listener | undefined;
  /** closeAll() calls so far: an add asked for before a close is dropped. */
  private closes = 0;

  /** closeAll() calls so far (a caller that awaited something first can tell a close came meanwhile). */
  get closeCount(): number {
    return this.closes;
  }

  constructor(
    listeners: Listener[],
    private readonly where: string,
  ) {
    this.all = listeners;
  }

  get main(): Listener {
    return this.all[0];
  }

  /** Listener `index` (-1 the main one); RangeError naming the valid range. */
  at(index: number): Listener {
    const listener = this.all[index + 1];
    if (!Number.isInteger(index) || !listener) {
      throw icsError(RangeError, ICS_ERR.NO_SUCH_LISTENER, `${this.where}: no listener ${index} (-1 is the main one, 0..${this.all.length - 2} the others)`);
    }
    return listener;
  }

  /** All or nothing: on the first failure the ones opened are closed again and the error names the listener. */
  async openAll(): Promise<void> {
    const open = this.all.find((l) => l.state === 'listening');
    if (open) throw icsError(Error, ICS_ERR.ALREADY_LISTENING, `${this.where}: already listening on ${open.url}`);
    await this.guard(async () => {
      const opened: Listener[] = [];
      try {
        for (const listener of this.all) {
          if (listener.retired) continue;
          await listener.open();
          opened.push(listener);
        }
      } catch (error) {
        for (const listener of opened) listener.close();
        throw error;
      }
    });
  }

  /** Opens each listener that can be opened; the failures, one per listener. */
  async openEach(): Promise<ListenFailure[]> {
    const failures: ListenFailure[] = [];
    await this.guard(async () => {
      for (const listener of this.all) {
        if (listener.state === 'listening' || listener.retired) continue;
        try {
          await listener.open();
        } catch (error) {
          failures.push({ index: listener.index, url: listener.url, error: error as Error });
        }
      }
    });
    return failures;
  }

  closeAll(): void {
    for (const listener of this.all) listener.close();
    this.closes++;
    this.adding?.close();
  }

  /**
   * Opens a new listener and adds it once it listens (on failure nothing is
   * added); `make` builds it with the next index. A closeAll() since the call
   * aborts it.
   */
  add(make: (index: number) => Listener): Promise<Listener> {
    const closes = this.closes;
    const add = async (): Promise<Listener> => {
      const listener = make(this.all.length - 1);
      const aborted = () => icsError(Error, ICS_ERR.LISTEN_ABORTED, `${this.where}: adding ${listener.url} aborted: the server was closed meanwhile`);
      if (this.closes !== closes) throw aborted();
      this.adding = listener; // closeAll() meanwhile closes it
      try {
        await listener.open();
      } finally {
        this.adding = undefined;
      }
      if (this.closes !== closes) {
        listener.close();
        throw aborted();
      }
      this.all.push(listener);
      return listener;
    };
    const added = this.addQueue.then(add);
    this.addQueue = added.then(ignore, ignore);
    return added;
  }

  get allOk(): boolean {
    return this.all.every((l) => l.state === 'listening' || l.retired);
  }

  get any(): boolean {
    return this.all.some((l) => l.state === 'listening');
  }

  get states(): ListenerStatus[] {
    return this.all.map((l) => l.status);
  }

  statesText(): string {
    return this.all
      .map((l) => {
        const s = l.status;
        const name = s.index < 0 ? 'main' : `#${s.index}`;
        const port = s.bindPort && s.bindPort !== s.port ? `${s.port} (bound ${s.bindPort})` : String(s.bindPort || s.port);
        return `${name.padEnd(5)} ${(s.tls ? 'tls' : 'tcp').padEnd(4)}${s.addr} port ${port}: ${s.state}${s.lastError ? ` (${s.lastError})` : ''}`;
      })
      .join('\n');
  }

  /** One listen at a time: a second concurrent call would open sockets twice. */
  private async guard(work: () => Promise<void>): Promise<void> {
    if (this.opening) throw icsError(Error, ICS_ERR.LISTEN_IN_PROGRESS, `${this.where}: listen() is already under way`);
    this.opening = true;
    try {
      await work();
    } finally {
      this.opening = false;
    }
  }
}

function ignore(): void {}

import { createHook } from 'node:async_hooks';
import { once } from 'node:events';
import * as net from 'node:net';
import { performance } from 'node:perf_hooks';
import { TWSocket, TimeoutKind, WSocketError } from '../src';
import { Loopback, portOf, writeNow } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

/** Resolves when `count` of the sockets given to `add` have closed. */
class CloseCounter {
  closed = 0;
  private waiter: (() => void) | undefined;
  constructor(private readonly count: number) {}
  add(wsocket: TWSocket): void {
    wsocket.on('sessionClosed', () => {
      if (++this.closed === this.count) this.waiter?.();
    });
  }
  all(): Promise<void> {
    return this.closed >= this.count ? Promise.resolve() : new Promise((resolve) => (this.waiter = resolve));
  }
}

describe('idleTimeout', () => {
  test('1,000 silent connections with idleTimeout 2000 are all closed between 2 and 3 s, by one sweep timer', async () => {
    const count = 1000;
    const idleTimeout = 2000;
    let timers = 0;
    const hook = createHook({
      init(_id, type) {
        // Timers of the code under test (the test runner's own reporter has some too).
        if (type === 'Timeout' && !new Error().stack!.includes('node_modules')) timers++;
      },
    });
    const attachedAt = new Map<number, number>();
    const codes: (string | undefined)[] = [];
    const closes = new CloseCounter(count);
    const server = await loop.listen((socket) => {
      const wsocket = loop.own(new TWSocket({ lineMode: true, idleTimeout }));
      closes.add(wsocket);
      wsocket.on('sessionClosed', (error) => codes.push((error as WSocketError | undefined)?.code));
      wsocket.attach(socket);
      attachedAt.set(wsocket.peerPort, performance.now());
    });
    hook.enable();
    try {
      const lifetimes: Promise<number>[] = [];
      for (let i = 0; i < count; i++) {
        const peer = loop.track(net.connect({ host: '127.0.0.1', port: portOf(server), allowHalfOpen: true }));
        await once(peer, 'connect');
        const port = peer.localPort!;
        lifetimes.push(
          once(peer, 'end').then(() => {
            const lived = performance.now() - attachedAt.get(port)!;
            peer.end();
            return lived;
          }),
        );
      }
      const lived = await Promise.all(lifetimes);
      await closes.all();
      const outside = lived.filter((ms) => ms < idleTimeout || ms > idleTimeout * 1.5);
      expect(outside).toEqual([]);
      expect(codes.filter((code) => code === 'ICS_ERR_IDLE_TIMEOUT').length).toBe(count);
      // No timer per connection: the sweep's one, re-armed once when all were closing (a slower look).
      expect(timers).toBeGreaterThanOrEqual(1);
      expect(timers).toBeLessThanOrEqual(2);
    } finally {
      hook.disable();
    }
  });

  test('activity either way restarts the idle clock', async () => {
    const wsocket = new TWSocket({ lineMode: true, idleTimeout: 1000 });
    const kinds: TimeoutKind[] = [];
    wsocket.on('timeout', (kind) => kinds.push(kind));
    const { peer } = await loop.pair(wsocket);
    peer.resume();
    const started = performance.now();
    // 1.5 idle timeouts of traffic, a message every 100 ms, in turn from the peer and from us.
    for (let i = 0; performance.now() - started < 1500 && i < 100; i++) {
      await new Promise((resolve) => setTimeout(resolve, 100)); // the scenario's pace, not a wait for a result
      if (i % 2 === 0) await writeNow(peer, `ping${i}\r\n`);
      else wsocket.sendLine(`pong${i}`);
    }
    expect(kinds).toEqual([]);
    expect(wsocket.state).toBe('connected');
  });

  test('onTimeout can keep the connection: its clock restarts', async () => {
    class Patient extends TWSocket {
      readonly timeouts: TimeoutKind[] = [];
      protected override onTimeout(kind: TimeoutKind): void {
        this.timeouts.push(kind);
        this.emit('timeout', kind);
        if (this.timeouts.length === 2) super.onTimeout(kind);
      }
    }
    const { wsocket, peer } = await loop.pair(new Patient({ lineMode: true, idleTimeout: 200 }));
    peer.resume();
    peer.on('end', () => peer.end());
    const closed = once(wsocket, 'sessionClosed');
    await once(wsocket, 'timeout');
    expect(wsocket.state).toBe('connected'); // kept by the override
    const [error] = (await closed) as [WSocketError];
    expect(wsocket.timeouts).toEqual(['idle', 'idle']);
    expect(error.code).toBe('ICS_ERR_IDLE_TIMEOUT');
    expect(error.message).toMatch(/200 ms/);
  });

  test('0 turns it off; bad values are RangeErrors naming the option and the value', async () => {
    const w = new TWSocket({ idleTimeout: 0, lineTimeout: 0 });
    expect(w.idleTimeout).toBe(0);
    expect(() => new TWSocket({ idleTimeout: -1 })).toThrow(/idleTimeout.*-1/);
    expect(() => new TWSocket({ lineTimeout: 1.5 })).toThrow(RangeError);
    expect(() => new TWSocket({ lineTimeout: '5' as unknown as number })).toThrow(/lineTimeout.*"5"/);
    expect(() => (w.idleTimeout = 2 ** 31)).toThrow(/idleTimeout/);
  });
});

describe('lineTimeout', () => {
  test('a line dripped at 1 byte a second is cut after lineTimeout 2000 (between 2 and 3 s), though bytes keep coming', async () => {
    const lineTimeout = 2000;
    const wsocket = new TWSocket({ lineMode: true, lineTimeout, idleTimeout: 60_000 });
    const kinds: TimeoutKind[] = [];
    wsocket.on('timeout', (kind) => kinds.push(kind));
    const { peer } = await loop.pair(wsocket);
    peer.resume();
    peer.on('end', () => peer.end());
    const closed = once(wsocket, 'sessionClosed');
    const started = performance.now();
    // The attacker: one byte a second, never a line end.
    await writeNow(peer, 'G');
    const drip = setInterval(() => peer.writable && peer.write('E'), 1000);
    try {
      const [error] = (await closed) as [WSocketError];
      const lived = performance.now() - started;
      expect(error.code).toBe('ICS_ERR_LINE_TIMEOUT');
      expect(kinds).toEqual(['line']);
      expect(lived).toBeGreaterThanOrEqual(lineTimeout);
      expect(lived).toBeLessThanOrEqual(lineTimeout * 1.5);
    } finally {
      clearInterval(drip);
    }
  });

  test('lines that end in time do not time out; the clock starts at a line’s first byte', async () => {
    const wsocket = new TWSocket({ lineMode: true, lineTimeout: 1000, idleTimeout: 0 });
    const lines: string[] = [];
    wsocket.on('line', (line) => lines.push(line));
    const { peer } = await loop.pair(wsocket);
    peer.on('end', () => peer.end());
    peer.resume();
    // Many short lines, each in two packets: none is ever open for long.
    for (let i = 0; i < 30; i++) {
      await writeNow(peer, `line${i}`);
      await writeNow(peer, '\r\n');
      await once(wsocket, 'line');
    }
    expect(lines.length).toBe(30);
    expect(wsocket.state).toBe('connected');
    // Now an unfinished one is cut.
    const closed = once(wsocket, 'sessionClosed');
    await writeNow(peer, 'half');
    const [error] = (await closed) as [WSocketError];
    expect(error.code).toBe('ICS_ERR_LINE_TIMEOUT');
  });
});

import { once } from 'node:events';
import { TWSocket, WSOCKET_DEFAULT_KEYS, WSocketDefaults, validateWSocketDefaults } from '../src';
import { Loopback } from './helpers';

const loop = new Loopback();
afterEach(() => loop.dispose());

/** The shared settings object a connection points to (see settings.ts). */
function settingsOf(wsocket: TWSocket): object {
  return (wsocket as unknown as { settings: object }).settings;
}

/** A client class that sets its own idle timeout and line limit. */
class OwnTimeouts extends TWSocket {
  constructor() {
    super({ lineMode: true, idleTimeout: 120_000, lineLimit: 4096 });
  }
}

async function attachWith<T extends TWSocket>(wsocket: T, defaults: WSocketDefaults): Promise<T> {
  const server = await loop.listen((socket) => wsocket.attach(socket, undefined, defaults));
  loop.own(wsocket);
  const connected = once(wsocket, 'sessionConnected');
  await loop.connectRaw(server);
  await connected;
  return wsocket;
}

describe('server defaults: attach(socket, addresses, defaults)', () => {
  const defaults: WSocketDefaults = Object.freeze({ idleTimeout: 30_000, lineTimeout: 5_000, readLinesPerSecond: 100, sendLimit: 4 * 1024 * 1024 });

  test('fill only the options the client did not set itself', async () => {
    const wsocket = await attachWith(new OwnTimeouts(), defaults);
    expect(wsocket.idleTimeout).toBe(120_000); // the class's own
    expect(wsocket.lineLimit).toBe(4096); // the class's own, no default given
    expect(wsocket.lineTimeout).toBe(5_000); // the server's
    expect(wsocket.readLinesPerSecond).toBe(100);
    expect(wsocket.sendLimit).toBe(4 * 1024 * 1024);
    expect(wsocket.sendHighWater).toBe(65536); // neither: TWSocket's default
  });

  test('a setter used before attach counts as the client’s own', async () => {
    const wsocket = new TWSocket();
    wsocket.lineTimeout = 0;
    await attachWith(wsocket, defaults);
    expect(wsocket.lineTimeout).toBe(0);
    expect(wsocket.idleTimeout).toBe(30_000);
  });

  test('connections of one class under one defaults object share one settings object (memory stays flat)', () => {
    const a = new OwnTimeouts();
    const b = new OwnTimeouts();
    a.useDefaults(defaults);
    b.useDefaults(defaults);
    expect(settingsOf(a)).toBe(settingsOf(b));
    expect(Object.isFrozen(settingsOf(a))).toBe(true);
    // A copy of the same defaults finds the same shared object too.
    const c = new OwnTimeouts();
    c.useDefaults({ ...defaults });
    expect(settingsOf(c)).toBe(settingsOf(a));
  });

  test('per-listener defaults over per-server ones: the server merges them, one object per listener', async () => {
    const server = { idleTimeout: 60_000, lineTimeout: 10_000 };
    const listener = { ...server, lineTimeout: 2_000 };
    const wsocket = await attachWith(new TWSocket(), listener);
    expect([wsocket.idleTimeout, wsocket.lineTimeout]).toEqual([60_000, 2_000]);
  });

  test('bad defaults throw before the socket is taken, naming the option and the value', async () => {
    const wsocket = new TWSocket();
    expect(() => wsocket.useDefaults({ idleTimeout: -3 })).toThrow(RangeError);
    expect(() => wsocket.useDefaults({ idleTimeout: -3 })).toThrow(/TWSocket.attach: defaults: option idleTimeout.*-3/);
    expect(() => wsocket.useDefaults({ idleTimeot: 5 } as WSocketDefaults)).toThrow(/unknown option "idleTimeot"/);
    expect(() => wsocket.useDefaults({ lineMode: true } as WSocketDefaults)).toThrow(/unknown option "lineMode"/);
    expect(() => wsocket.useDefaults(null as unknown as WSocketDefaults)).toThrow(TypeError);
    // What a server calls at construction, naming its own option.
    expect(() => validateWSocketDefaults({ lineTimeout: -1 }, 'TWSocketServer: option clientDefaults')).toThrow(
      /TWSocketServer: option clientDefaults: option lineTimeout must be .* got -1/,
    );
    expect(WSOCKET_DEFAULT_KEYS).toContain('idleTimeout');
    expect(WSOCKET_DEFAULT_KEYS).not.toContain('lineMode');
    const server = await loop.listen((socket) => {
      expect(() => wsocket.attach(socket, undefined, { sendLimit: 'big' as unknown as number })).toThrow(/sendLimit.*"big"/);
      expect(wsocket.rawSocket).toBeUndefined();
      socket.destroy();
    });
    await loop.connectRaw(server);
  });
});

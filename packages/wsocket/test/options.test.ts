import { TWSocket, WSOCKET_DEFAULTS, WSocketOptions, validateWSocketOptions } from '../src';

describe('TWSocket options', () => {
  test('defaults, readable through the properties', () => {
    const wsocket = new TWSocket();
    expect({
      lineMode: wsocket.lineMode,
      lineEnd: wsocket.lineEnd,
      lineAcceptLf: wsocket.lineAcceptLf,
      lineLimit: wsocket.lineLimit,
      lineEcho: wsocket.lineEcho,
      lineEdit: wsocket.lineEdit,
      encoding: wsocket.encoding,
      noDelay: wsocket.noDelay,
      closeTimeout: wsocket.closeTimeout,
      sendHighWater: wsocket.sendHighWater,
      sendLimit: wsocket.sendLimit,
      idleTimeout: wsocket.idleTimeout,
      lineTimeout: wsocket.lineTimeout,
      readBytesPerSecond: wsocket.readBytesPerSecond,
      readBytesBurst: wsocket.readBytesBurst,
      readLinesPerSecond: wsocket.readLinesPerSecond,
      readLinesBurst: wsocket.readLinesBurst,
      readRateAction: wsocket.readRateAction,
      readRateCloseAfter: wsocket.readRateCloseAfter,
    }).toEqual({ ...WSOCKET_DEFAULTS });
    expect(WSOCKET_DEFAULTS).toEqual({
      lineMode: false,
      lineEnd: '\r\n',
      lineAcceptLf: false,
      lineLimit: 65536,
      lineEcho: false,
      lineEdit: false,
      encoding: 'utf8',
      noDelay: false,
      closeTimeout: 10000,
      sendHighWater: 65536,
      sendLimit: 1048576,
      idleTimeout: 300000,
      lineTimeout: 60000,
      readBytesPerSecond: 0,
      readBytesBurst: 0,
      readLinesPerSecond: 0,
      readLinesBurst: 0,
      readRateAction: 'throttle',
      readRateCloseAfter: 10000,
    });
  });

  test('every option given is taken', () => {
    const wsocket = new TWSocket({
      lineMode: true,
      lineEnd: Buffer.from([0]),
      lineAcceptLf: true,
      lineLimit: 0,
      lineEcho: true,
      lineEdit: true,
      encoding: 'latin1',
    });
    expect([wsocket.lineMode, wsocket.lineEnd, wsocket.lineAcceptLf, wsocket.lineLimit]).toEqual([true, '\0', true, 0]);
    expect([wsocket.lineEcho, wsocket.lineEdit, wsocket.encoding]).toEqual([true, true, 'latin1']);
  });

  test('lineLimit -1 is a RangeError naming lineLimit and the value', () => {
    expect(() => new TWSocket({ lineLimit: -1 })).toThrow(RangeError);
    expect(() => new TWSocket({ lineLimit: -1 })).toThrow(/lineLimit.*-1/);
  });

  test('a fractional or non-numeric lineLimit is a RangeError too', () => {
    expect(() => new TWSocket({ lineLimit: 1.5 })).toThrow(RangeError);
    expect(() => new TWSocket({ lineLimit: NaN })).toThrow(/lineLimit/);
    expect(() => new TWSocket({ lineLimit: '10' as unknown as number })).toThrow(/lineLimit.*"10"/);
  });

  test("lineEnd '' (or an empty Buffer) is a RangeError naming lineEnd", () => {
    expect(() => new TWSocket({ lineEnd: '' })).toThrow(RangeError);
    expect(() => new TWSocket({ lineEnd: '' })).toThrow(/lineEnd/);
    expect(() => new TWSocket({ lineEnd: Buffer.alloc(0) })).toThrow(RangeError);
  });

  test('a lineEnd that is neither text nor bytes is a TypeError', () => {
    expect(() => new TWSocket({ lineEnd: 10 as unknown as string })).toThrow(TypeError);
    expect(() => new TWSocket({ lineEnd: 10 as unknown as string })).toThrow(/lineEnd/);
  });

  test("lineMode 'yes' is a TypeError naming lineMode and the value", () => {
    const options = { lineMode: 'yes' } as unknown as WSocketOptions;
    expect(() => new TWSocket(options)).toThrow(TypeError);
    expect(() => new TWSocket(options)).toThrow(/lineMode.*"yes"/);
  });

  test.each(['lineAcceptLf', 'lineEcho', 'lineEdit'])('%s must be a boolean', (key) => {
    const options = { [key]: 1 } as unknown as WSocketOptions;
    expect(() => new TWSocket(options)).toThrow(TypeError);
    expect(() => new TWSocket(options)).toThrow(new RegExp(key));
  });

  test('an unknown encoding is a TypeError naming encoding', () => {
    const options = { encoding: 'klingon' } as unknown as WSocketOptions;
    expect(() => new TWSocket(options)).toThrow(TypeError);
    expect(() => new TWSocket(options)).toThrow(/encoding.*"klingon"/);
  });

  test('the setters validate like the constructor', () => {
    const wsocket = new TWSocket();
    expect(() => (wsocket.lineLimit = -5)).toThrow(RangeError);
    expect(() => (wsocket.lineEnd = '')).toThrow(RangeError);
    expect(() => (wsocket.lineMode = 'yes' as unknown as boolean)).toThrow(/lineMode/);
    expect(() => (wsocket.lineAcceptLf = 1 as unknown as boolean)).toThrow(TypeError);
    expect([wsocket.lineLimit, wsocket.lineEnd, wsocket.lineMode, wsocket.lineAcceptLf]).toEqual([65536, '\r\n', false, false]);
    expect(() => (wsocket.encoding = 'klingon' as BufferEncoding)).toThrow(/encoding/);
    expect(() => (wsocket.lineEcho = 'on' as unknown as boolean)).toThrow(/lineEcho/);
    expect(() => (wsocket.closeTimeout = -1)).toThrow(/closeTimeout/);
    expect([wsocket.encoding, wsocket.lineEcho, wsocket.closeTimeout]).toEqual(['utf8', false, 10000]);
  });

  test('sockets made with the same options share settings, yet a change stays with its socket', () => {
    const options: WSocketOptions = { lineMode: true, lineEnd: '\n', lineLimit: 80, encoding: 'latin1' };
    const sockets = Array.from({ length: 3 }, () => new TWSocket({ ...options }));
    sockets[0].lineEcho = true;
    sockets[0].lineEnd = Buffer.from('\r\n');
    sockets[1].encoding = 'utf8';
    sockets[1].noDelay = true;
    const view = (w: TWSocket) => [w.lineEnd, w.lineLimit, w.encoding, w.lineEcho, w.noDelay];
    expect(sockets.map(view)).toEqual([
      ['\r\n', 80, 'latin1', true, false],
      ['\n', 80, 'utf8', false, true],
      ['\n', 80, 'latin1', false, false],
    ]);
    // Many different settings in turn (more than are kept for sharing): each socket keeps its own.
    const many = Array.from({ length: 20 }, (_, i) => new TWSocket({ lineLimit: i + 1 }));
    expect(many.map((w) => w.lineLimit)).toEqual(Array.from({ length: 20 }, (_, i) => i + 1));
    // A Buffer given as lineEnd is copied: changing it later changes nothing.
    const bytes = Buffer.from('||');
    const piped = new TWSocket({ lineEnd: bytes });
    bytes[0] = 0x41;
    expect(piped.lineEnd).toBe('||');
  });

  test('validateWSocketOptions names the caller', () => {
    expect(() => validateWSocketOptions({ lineLimit: -1 }, 'MyServer')).toThrow(/^MyServer: /);
    expect(() => validateWSocketOptions({})).not.toThrow();
  });
});

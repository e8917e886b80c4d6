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
  });

  test('validateWSocketOptions names the caller', () => {
    expect(() => validateWSocketOptions({ lineLimit: -1 }, 'MyServer')).toThrow(/^MyServer: /);
    expect(() => validateWSocketOptions({})).not.toThrow();
  });
});

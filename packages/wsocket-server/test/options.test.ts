import { SERVER_DEFAULTS, TWSocketServer, WSocketServerOptions, resolvePort } from '@ics-ts/wsocket-server';

/** The error `new TWSocketServer(options)` throws. */
function constructionError(options: unknown): Error {
  try {
    new TWSocketServer(options as WSocketServerOptions);
  } catch (error) {
    return error as Error;
  }
  throw new Error(`no error for ${JSON.stringify(options)}`);
}

describe('options checked at construction', () => {
  test('defaults', () => {
    const server = new TWSocketServer();
    expect(server.addr).toBe('0.0.0.0');
    expect(server.port).toBe(0);
    expect(server.socketFamily).toBe('ipv4');
    expect(server.listenBacklog).toBe(SERVER_DEFAULTS.listenBacklog);
    expect(server.banner).toBe('');
    expect(server.bannerTooBusy).toBe('Sorry, too many clients');
    expect(server.lineEnd).toBe('\r\n');
    expect(server.maxClients).toBe(0);
    expect(server.tooBusyCount).toBe(0);
    expect(server.state).toBe('closed');
    expect(server.bindPort).toBe(0);
    expect(server.clientCount).toBe(0);
  });

  test.each([
    [{ port: 70000 }, RangeError, ['port', '70000']],
    [{ port: 65536 }, RangeError, ['port', '65536']],
    [{ port: -1 }, RangeError, ['port', '-1']],
    [{ port: 1.5 }, RangeError, ['port', '1.5']],
    [{ port: Number.NaN }, RangeError, ['port', 'NaN']],
    [{ port: '70000' }, RangeError, ['port', '70000']],
    [{ port: 'no-such-service-xyz' }, TypeError, ['port', 'no-such-service-xyz']],
    [{ port: '' }, TypeError, ['port']],
    [{ port: true }, TypeError, ['port', 'true']],
    [{ listenBacklog: -1 }, RangeError, ['listenBacklog', '-1']],
    [{ listenBacklog: 2.5 }, RangeError, ['listenBacklog', '2.5']],
    [{ addr: '1.2.3' }, TypeError, ['addr', '1.2.3']],
    [{ addr: 'localhost' }, TypeError, ['addr', 'localhost', 'literal']],
    [{ addr: '' }, TypeError, ['addr']],
    [{ addr: 127001 }, TypeError, ['addr']],
    [{ addr: '127.0.0.1', socketFamily: 'ipv6' }, TypeError, ['socketFamily', 'ipv6', '127.0.0.1']],
    [{ addr: '::1', socketFamily: 'ipv4' }, TypeError, ['socketFamily', 'ipv4', '::1']],
    [{ addr: '::1', socketFamily: 'ip6' }, TypeError, ['socketFamily', 'ip6']],
    [{ maxClients: -1 }, RangeError, ['maxClients', '-1']],
    [{ maxClients: 1.5 }, RangeError, ['maxClients', '1.5']],
    [{ maxClients: '5' }, RangeError, ['maxClients', '"5"']],
    [{ tooBusyCloseTimeout: -5 }, RangeError, ['tooBusyCloseTimeout', '-5']],
    [{ banner: 42 }, TypeError, ['banner', '42']],
    [{ bannerTooBusy: ['x'] }, TypeError, ['bannerTooBusy', '["x"]']],
    [{ lineEnd: 10 }, TypeError, ['lineEnd', '10']],
    [{ ipv6Only: 'yes' }, TypeError, ['ipv6Only', 'yes']],
    [{ maxClient: 5 }, TypeError, ['maxClient']],
    [{ Port: 23 }, TypeError, ['Port']],
  ])('%j -> %p naming the option and value', (options, kind, words) => {
    const error = constructionError(options);
    expect(error).toBeInstanceOf(kind);
    expect(error.message).toContain('TWSocketServer');
    for (const word of words) expect(error.message).toContain(word);
  });

  test('options that are not an object are a TypeError', () => {
    expect(constructionError(null)).toBeInstanceOf(TypeError);
    expect(constructionError('127.0.0.1')).toBeInstanceOf(TypeError);
  });

  test('unknown option key is named in the message', () => {
    expect(constructionError({ bannner: 'x' }).message).toMatch(/unknown option "bannner"/);
  });

  test('socketFamily matching the address, or any, is accepted', () => {
    expect(new TWSocketServer({ addr: '127.0.0.1', socketFamily: 'ipv4' }).socketFamily).toBe('ipv4');
    expect(new TWSocketServer({ addr: '::1', socketFamily: 'ipv6' }).socketFamily).toBe('ipv6');
    expect(new TWSocketServer({ addr: '::' }).socketFamily).toBe('ipv6');
    expect(new TWSocketServer({ addr: '127.0.0.1', socketFamily: 'any' }).socketFamily).toBe('ipv4');
  });

  test('run-time setters validate and keep the old value on error', () => {
    const server = new TWSocketServer({ maxClients: 3, banner: 'b', bannerTooBusy: 't' });
    expect(() => {
      server.maxClients = -1;
    }).toThrow(RangeError);
    expect(() => {
      server.maxClients = -1;
    }).toThrow(/maxClients.*-1/);
    expect(() => {
      (server as { bannerTooBusy: unknown }).bannerTooBusy = undefined;
    }).toThrow(TypeError);
    expect(() => {
      (server as { lineEnd: unknown }).lineEnd = 13;
    }).toThrow(TypeError);
    expect(server.maxClients).toBe(3);
    expect(server.bannerTooBusy).toBe('t');
    expect(server.lineEnd).toBe('\r\n');
    server.maxClients = 0;
    expect(server.maxClients).toBe(0);
  });
});

describe('ports', () => {
  test('service names resolve without listening', () => {
    expect(new TWSocketServer({ port: 'telnet' }).port).toBe(23);
    expect(new TWSocketServer({ port: 'TELNET' }).port).toBe(23);
    expect(new TWSocketServer({ port: 'http' }).port).toBe(80);
    expect(new TWSocketServer({ port: '8080' }).port).toBe(8080);
    expect(new TWSocketServer({ port: ' 8080 ' }).port).toBe(8080);
    expect(new TWSocketServer({ port: '0' }).port).toBe(0);
    expect(new TWSocketServer({ port: 65535 }).port).toBe(65535);
  });

  test('resolvePort names the option it was given', () => {
    expect(resolvePort('smtp', 'here')).toBe(25);
    expect(() => resolvePort(99999, 'here', 'multiListenSockets[0].port')).toThrow(
      /^here: option multiListenSockets\[0\]\.port must be an integer in 0\.\.65535, got 99999$/,
    );
  });
});

import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import {
  CLIENT_DEFAULT_CONFIG,
  CONFIG_KEYS,
  ConfigError,
  DEFAULT_CONFIG,
  applyOverrides,
  baseConfig,
  loadConfigFile,
  parseConfig,
  serverOptions,
  validateConfig,
} from '../src/config';
import '../src'; // the sample classes, so 'chat' is a registered name

test('the default config: the chat on 127.0.0.1:2323, and TLS on 2324 for localhost (chat) and echo.localhost (echo)', async () => {
  expect(DEFAULT_CONFIG).toMatchObject({ clientClass: 'chat', maxClients: 50 });
  expect(DEFAULT_CONFIG.banner).toMatch(/nick\?$/);
  const server = new TWSocketServer(await serverOptions(DEFAULT_CONFIG));
  expect(server.port).toBe(2323);
  expect(server.maxClients).toBe(50);
  expect(server.listenStates.map((s) => [s.addr, s.port, s.tls])).toEqual([
    ['127.0.0.1', 2323, false],
    ['127.0.0.1', 2324, true],
  ]);
  expect(server.icsHosts.map((h) => [h.hostTag, h.hostNames, h.sslContext?.facts.names, h.clientClass?.name ?? 'server'])).toEqual([
    ['chat', ['localhost'], ['localhost', '127.0.0.1'], 'server'],
    ['echo', ['echo.localhost'], ['echo.localhost'], 'EchoClient'],
  ]);
  expect(server.validateHosts().hosts.every((h) => h.problems.length === 0)).toBe(true);
  expect(validateConfig({ ...DEFAULT_CONFIG }, 'x')).toEqual(DEFAULT_CONFIG);
});

test('--port and --addr on a host table: consecutive ports from N, every host on the address', () => {
  const moved = applyOverrides(DEFAULT_CONFIG, { port: '7000', addr: '127.0.0.2' });
  expect(moved.icsHosts!.map((h) => [h.bindIpAddr, h.bindNonPort ?? 0, h.bindSslPort ?? 0])).toEqual([
    ['127.0.0.2', 7000, 7001],
    ['127.0.0.2', 0, 7001],
  ]);
  expect(() => applyOverrides(DEFAULT_CONFIG, { port: '65535' })).toThrow(/needs 2 ports/);
});

test('config keys are the JSON-friendly TWSocketServer options', () => {
  expect([...CONFIG_KEYS].sort()).toEqual(
    ['addr', 'admin', 'allow', 'banner', 'bannerTooBusy', 'bannerTooBusyPerIp', 'clientClass', 'clientDefaults', 'deny', 'icsHosts', 'ipv6Only', 'lineEnd',
      'listenBacklog', 'listenPolicy', 'maxClients', 'maxClientsPerIp', 'maxConnections', 'maxHandshakes', 'maxHandshakesPerIp',
      'multiListenSockets', 'port', 'proxyHeaderMaxBytes', 'proxyHeaderTimeout', 'proxyProtocol', 'redis', 'reusePort', 'serviceSlotTimeout', 'shutdownNotice', 'shutdownTimeout', 'sniMissing', 'sniUnknown',
      'socketFamily', 'sslCertRecheckInterval', 'sslContext', 'sslEnable', 'sslHandshakeTimeout', 'tooBusyCloseTimeout', 'trustedProxies', 'workers'],
  );
});

test('the scale-out keys: workers, reusePort, serviceSlotTimeout, redis', () => {
  const config = { workers: 'auto', reusePort: true, serviceSlotTimeout: 500, redis: 'redis://127.0.0.1:6379' };
  expect(validateConfig(config, 'f.json')).toEqual(config);
  expect(validateConfig({ workers: 4, redis: { url: 'rediss://cache:6380', service: 'chat' } }, 'f.json')).toEqual({ workers: 4, redis: { url: 'rediss://cache:6380', service: 'chat' } });
  expect(() => validateConfig({ workers: 1.5 }, 'f.json')).toThrow('f.json: option workers must be "auto" or an integer in 0..256 (0 = one per core), got 1.5');
  expect(() => validateConfig({ workers: 1000 }, 'f.json')).toThrow(/option workers must be .* got 1000/);
  expect(() => validateConfig({ reusePort: 'yes' }, 'f.json')).toThrow('f.json: option reusePort must be true or false, got "yes"');
  expect(() => validateConfig({ redis: ['redis://x'] }, 'f.json')).toThrow(/option redis must be a redis:\/\/ or rediss:\/\/ URL or an object of RedisBus options/);
});

test('the PROXY protocol keys: behind a load balancer', () => {
  const config = { proxyProtocol: 'v2', trustedProxies: ['10.0.0.0/8'], proxyHeaderTimeout: 3000, proxyHeaderMaxBytes: 1024 };
  expect(validateConfig(config, 'f.json')).toEqual(config);
  expect(() => validateConfig({ proxyProtocol: 'v3' }, 'f.json')).toThrow('f.json: option proxyProtocol must be "off", "v1", "v2" or "auto", got "v3"');
  expect(() => validateConfig({ trustedProxies: '10.0.0.0/8' }, 'f.json')).toThrow(/option trustedProxies must be an array/);
});

test('admission keys reach the server, top level, per listener and per host; a bad entry is named', async () => {
  const config = validateConfig(
    {
      addr: '127.0.0.1',
      port: 0,
      deny: ['10.0.0.0/8'],
      allow: ['127.0.0.0/8', '::1'],
      maxClientsPerIp: 2,
      bannerTooBusyPerIp: 'one too many',
      maxConnections: 100,
      maxHandshakes: 10,
      maxHandshakesPerIp: 2,
      multiListenSockets: [{ addr: '127.0.0.1', port: 0, deny: ['127.0.0.2'], maxClientsPerIp: 1 }],
    },
    'f.json',
  );
  const server = new TWSocketServer(await serverOptions(config));
  expect(server.maxConnections).toBe(100);
  expect(() => new TWSocketServer(validateConfig({ clientDefaults: { idleTimeout: -1 } }, 'f.json') as never)).toThrow(
    /option clientDefaults.*idleTimeout/,
  );
  expect(server.listenSockets[1].policy.maxClientsPerIp).toBe(1);
  expect(() => validateConfig({ deny: '10.0.0.1' }, 'f.json')).toThrow('f.json: option deny must be an array of addresses or CIDR blocks, got "10.0.0.1"');
  const bad = validateConfig({ deny: ['10.0.0.0/99'] }, 'f.json');
  expect(() => new TWSocketServer(bad as never)).toThrow('option deny[0] must be an IP address or a CIDR block');
});

test('a full valid config passes unchanged', () => {
  const config = {
    addr: '::',
    port: 'telnet',
    socketFamily: 'ipv6',
    ipv6Only: true,
    listenBacklog: 10,
    clientClass: 'echo',
    banner: 'hi',
    bannerTooBusy: 'busy',
    lineEnd: '\n',
    maxClients: 3,
    tooBusyCloseTimeout: 100,
  };
  expect(validateConfig(config, 'f.json')).toEqual(config);
});

test.each([
  [null, 'f.json: the config must be a JSON object, got null'],
  [[1], 'f.json: the config must be a JSON object, got an array'],
  [{ prot: 1 }, 'f.json: unknown option "prot" (known: addr, port,'],
  [{ port: 70000 }, 'f.json: option port must be an integer in 0..65535, got 70000'],
  [{ port: -1 }, 'f.json: option port must be an integer in 0..65535, got -1'],
  [{ port: 1.5 }, 'f.json: option port must be an integer in 0..65535, got 1.5'],
  [{ port: true }, 'f.json: option port must be a port number (0..65535) or a service name, got true'],
  [{ port: 'no-such-service' }, 'f.json: option port: unknown service name "no-such-service"'],
  [{ addr: 'localhost' }, 'f.json: option addr must be an IPv4 or IPv6 address literal'],
  [{ socketFamily: 'ipv5' }, 'f.json: option socketFamily must be "any", "ipv4" or "ipv6", got "ipv5"'],
  [{ addr: '::1', socketFamily: 'ipv4' }, 'f.json: option socketFamily is "ipv4" but addr "::1" is ipv6'],
  [{ ipv6Only: 'yes' }, 'f.json: option ipv6Only must be true or false, got "yes"'],
  [{ listenBacklog: -5 }, 'f.json: option listenBacklog must be an integer >= 0, got -5'],
  [{ clientClass: '' }, 'f.json: option clientClass must be the name of a registered client class, got ""'],
  [{ clientClass: 7 }, 'f.json: option clientClass must be the name of a registered client class, got 7'],
  [{ banner: 1 }, 'f.json: option banner must be a string, got 1'],
  [{ lineEnd: '' }, 'f.json: option lineEnd must not be empty'],
  [{ maxClients: '5' }, 'f.json: option maxClients must be an integer >= 0, got "5"'],
  [{ tooBusyCloseTimeout: null }, 'f.json: option tooBusyCloseTimeout must be an integer number of ms in 0..2147483647, got null'],
])('%j is refused: %s', (config, message) => {
  expect(() => validateConfig(config, 'f.json')).toThrow(ConfigError);
  expect(() => validateConfig(config, 'f.json')).toThrow(message);
});

test('parseConfig reports JSON syntax errors', () => {
  expect(() => parseConfig('{"port": 1,}', 'f.json')).toThrow(/^f\.json: not valid JSON: /);
  expect(parseConfig('{"port": 1}', 'f.json')).toEqual({ port: 1 });
});

describe('files', () => {
  let dir: string;
  beforeAll(() => (dir = mkdtempSync(path.join(os.tmpdir(), 'ics-ts-config-'))));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  test('loadConfigFile reads a file relative to cwd and names it in errors', () => {
    writeFileSync(path.join(dir, 'ok.json'), '{ "clientClass": "echo", "port": 0 }');
    writeFileSync(path.join(dir, 'bad.json'), '{ "clientClass": "echo", "port": 99999 }');
    expect(loadConfigFile('ok.json', dir)).toEqual({ clientClass: 'echo', port: 0 });
    expect(() => loadConfigFile('bad.json', dir)).toThrow('bad.json: option port must be an integer in 0..65535, got 99999');
    expect(() => loadConfigFile('nope.json', dir)).toThrow('nope.json: cannot read the config file: no such file');
  });

  test('baseConfig: the file when given; else the demo, or only addr/port when --client is given', () => {
    writeFileSync(path.join(dir, 'echo.json'), '{ "clientClass": "echo" }');
    expect(baseConfig('echo.json', 'chat', dir)).toEqual({ clientClass: 'echo' });
    expect(baseConfig(undefined, undefined, dir)).toBe(DEFAULT_CONFIG);
    expect(baseConfig(undefined, 'echo', dir)).toBe(CLIENT_DEFAULT_CONFIG);
    expect(CLIENT_DEFAULT_CONFIG).toEqual({ addr: '127.0.0.1', port: 2323 });
  });
});

test('overrides: --port, --addr and --client replace the config values and are checked', () => {
  const config = { addr: '127.0.0.1', socketFamily: 'ipv4' as const, port: 2323, clientClass: 'chat', banner: 'b' };
  expect(applyOverrides(config, { port: '0', addr: '::1', client: 'echo' })).toEqual({
    addr: '::1',
    port: '0',
    clientClass: 'echo',
    banner: 'b',
  });
  expect(applyOverrides(config, {})).toEqual(config);
  expect(config.addr).toBe('127.0.0.1'); // not mutated
  expect(() => applyOverrides(config, { port: '70000' })).toThrow(
    'command line: option --port must be an integer in 0..65535, got "70000"',
  );
  expect(() => applyOverrides(config, { addr: 'example.com' })).toThrow('command line: option --addr must be an IPv4 or IPv6 address literal');
});

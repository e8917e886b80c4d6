import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { TWSocket, describe as describeValue } from '@ics-ts/wsocket';
import { TWSocketServer } from '@ics-ts/wsocket-server';
import { ConfigError, parseConfig, validateConfig } from '../src/config';
import { CliProcess } from './support/cli-process';

/**
 * Issue 11: `"maxClients": 1e400` in a JSON config was reported as "got null"
 * (JSON.parse makes Infinity of it, JSON.stringify prints Infinity as null).
 * Every numeric option error must name the value given.
 */

jest.setTimeout(60_000);
afterEach(() => CliProcess.killAll());

test.each([
  [Infinity, 'Infinity'],
  [-Infinity, '-Infinity'],
  [NaN, 'NaN'],
  [-0, '-0'],
  [1e400, 'Infinity'],
  [1.5, '1.5'],
  [10n, '10n'],
  ['5', '"5"'],
  ['a\r\nb', '"a\\r\\nb"'],
  [null, 'null'],
  [undefined, 'undefined'],
  [{ maxClients: Infinity, list: [NaN, -0] }, '{"maxClients":Infinity,"list":[NaN,-0]}'],
  [new Date(0), '"1970-01-01T00:00:00.000Z"'],
  [function later() {}, '[function later]'],
])('describe(%p) is %s', (value, text) => {
  expect(describeValue(value)).toBe(text);
});

test('describe is bounded and never throws (circular, huge, hostile getters)', () => {
  const circular: Record<string, unknown> = { a: 1 };
  circular.self = circular;
  expect(describeValue(circular)).toBe('{"a":1,"self":[Circular]}');
  const huge = describeValue(new Array(1e6).fill(1));
  expect(huge.length).toBeLessThanOrEqual(203);
  expect(huge.endsWith('...')).toBe(true);
  expect(describeValue('x'.repeat(1e6)).length).toBeLessThanOrEqual(203);
  const hostile = {
    get boom(): never {
      throw new Error('getter');
    },
  };
  expect(describeValue(hostile)).toBe('[object Object]');
});

test.each([
  ['maxClients', Infinity, RangeError, 'got Infinity'],
  ['maxClients', NaN, RangeError, 'got NaN'],
  ['maxClients', -1, RangeError, 'got -1'],
  ['maxClients', 2.5, RangeError, 'got 2.5'],
  ['sslHandshakeTimeout', -Infinity, RangeError, 'got -Infinity'],
  ['listenBacklog', NaN, RangeError, 'got NaN'],
  ['port', Infinity, RangeError, 'got Infinity'],
])('TWSocketServer option %s = %p: %p naming the value (%s)', (key, value, type, text) => {
  const make = () => new TWSocketServer({ addr: '127.0.0.1', port: 0, clientClass: 'echo', [key]: value });
  expect(make).toThrow(type);
  expect(make).toThrow(`option ${key} must be`);
  expect(make).toThrow(text);
});

test.each([
  ['lineLimit', NaN, 'got NaN'],
  ['lineLimit', Infinity, 'got Infinity'],
  ['closeTimeout', -0.5, 'got -0.5'],
])('TWSocket option %s = %p names the value (%s)', (key, value, text) => {
  expect(() => new TWSocket({ [key]: value })).toThrow(RangeError);
  expect(() => new TWSocket({ [key]: value })).toThrow(text);
});

test.each([
  ['{"maxClients": 1e400}', 'option maxClients must be an integer >= 0, got Infinity'],
  ['{"maxClients": -1e400}', 'option maxClients must be an integer >= 0, got -Infinity'],
  ['{"listenBacklog": 0.5}', 'option listenBacklog must be an integer >= 0, got 0.5'],
  ['{"port": 1e400}', 'option port must be an integer in 0..65535, got Infinity'],
  ['{"sslHandshakeTimeout": 1e400}', 'option sslHandshakeTimeout must be an integer number of ms in 0..2147483647, got Infinity'],
  // Node would fire a longer timer after 1 ms: a recheck "every 115 days" would spin.
  ['{"sslCertRecheckInterval": 10000000000}', 'option sslCertRecheckInterval must be an integer number of ms in 0..2147483647, got 10000000000'],
  ['{"tooBusyCloseTimeout": -1}', 'option tooBusyCloseTimeout must be an integer number of ms in 0..2147483647, got -1'],
])('the CLI config %s: %s', (text, message) => {
  expect(() => parseConfig(text, 'f.json')).toThrow(ConfigError);
  expect(() => parseConfig(text, 'f.json')).toThrow(`f.json: ${message}`);
});

test('validateConfig names values a program passes (NaN)', () => {
  expect(() => validateConfig({ maxClients: NaN }, 'code')).toThrow('code: option maxClients must be an integer >= 0, got NaN');
});

test('the CLI with "maxClients": 1e400 exits 2 and names Infinity', async () => {
  const dir = mkdtempSync(path.join(os.tmpdir(), 'ics-ts-values-'));
  try {
    const file = path.join(dir, 'huge.json');
    writeFileSync(file, '{ "clientClass": "echo", "port": 0, "maxClients": 1e400 }');
    const cli = new CliProcess(['--config', file]);
    expect(await cli.finished()).toEqual({ code: 2, signal: null });
    expect(cli.stderr).toBe(`ics-ts-server: ${file}: option maxClients must be an integer >= 0, got Infinity\n`);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});

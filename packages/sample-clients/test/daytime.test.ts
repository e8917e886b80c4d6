import { once } from 'node:events';
import { formatDaytime } from '../src';
import { Harness } from './support/harness';

const harness = new Harness();
afterEach(() => harness.cleanup());

const DAYTIME = /^(Sunday|Monday|Tuesday|Wednesday|Thursday|Friday|Saturday), (January|February|March|April|May|June|July|August|September|October|November|December) \d{1,2}, \d{4} \d{2}:\d{2}:\d{2}-UTC$/;

test('formatDaytime writes the RFC 867 style line in UTC', () => {
  expect(formatDaytime(new Date(Date.UTC(1982, 1, 22, 17, 37, 43)))).toBe('Monday, February 22, 1982 17:37:43-UTC');
  expect(formatDaytime(new Date(Date.UTC(2024, 0, 5, 3, 4, 5)))).toBe('Friday, January 5, 2024 03:04:05-UTC');
  expect(formatDaytime(new Date(Date.UTC(2000, 11, 31, 23, 59, 59)))).toBe('Sunday, December 31, 2000 23:59:59-UTC');
});

test('daytime sends one date line, no banner, then the server closes the connection', async () => {
  const server = await harness.server({ clientClass: 'daytime', banner: 'not sent by daytime' });
  const disconnected = once(server, 'clientDisconnect');
  const peer = await harness.connect(server);
  const line = await peer.line();
  expect(line).toMatch(DAYTIME);
  // Nothing after the line: the server's FIN ends the stream (the peer closes its side in turn).
  expect(await peer.rest()).toEqual([]);
  expect(peer.partial).toBe('');
  await disconnected;
  expect(server.clientCount).toBe(0);
});

test('daytime ignores what the peer sends', async () => {
  const server = await harness.server({ clientClass: 'daytime' });
  const peer = await harness.connect(server);
  peer.sendLine('what time is it?');
  expect(await peer.line()).toMatch(DAYTIME);
  expect(await peer.rest()).toEqual([]);
});

/**
 * The admin listener against a real TWSocketServer (server.adminTarget(): its
 * stats() and public actions): the routes, the token rule, and what an attacker
 * would send (oversized headers, bodies, long paths, foreign Host names,
 * wrong tokens, too many connections).
 */
import { once } from 'node:events';
import * as net from 'node:net';
import { AdminServer } from '../src/stats/admin-server';
import { resolveAdminOptions } from '../src/stats/admin-options';
import type { AdminOptions } from '../src/stats/admin-options';
import type { ServerStats } from '../src/stats/stats-types';
import { EchoClient, Peer, connectClient, disconnects, startServer } from './helpers';
import { freePorts } from './fixtures/ics-hosts-support';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const parsePrometheus: (text: string) => { name: string; metrics: { value: string; labels?: Record<string, string> }[] }[] = require('parse-prometheus-text-format');

const TOKEN = 'test-token-0123456789abcdef';
const admins = new Set<AdminServer>();

afterEach(async () => {
  await Promise.all([...admins].map((a) => a.close()));
  admins.clear();
});

async function startAdmin(options: Partial<AdminOptions> = {}) {
  const server = await startServer({ banner: 'hi', clientClass: EchoClient, multiListenSockets: [{ addr: '127.0.0.1', port: 0 }] });
  const admin = new AdminServer(server.adminTarget(), { port: 0, ...options });
  admins.add(admin);
  await admin.listen();
  return { server, admin, url: admin.url };
}

function post(url: string, token?: string): Promise<Response> {
  return fetch(url, { method: 'POST', headers: token === undefined ? {} : { authorization: `Bearer ${token}` } });
}

/** What a raw socket gets back for the bytes it sends, until the server closes. */
async function raw(port: number, request: string | Buffer): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  socket.on('error', () => undefined); // a reset after a refusal is an answer too
  socket.write(request);
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

describe('admin options', () => {
  test('defaults: loopback, no token, reads open', () => {
    const o = resolveAdminOptions({ port: 0 });
    expect(o).toMatchObject({ addr: '127.0.0.1', port: 0, token: undefined, readsNeedToken: false, maxClientsListed: 500 });
  });

  test('bad values are named, the token never echoed', () => {
    expect(() => resolveAdminOptions(undefined)).toThrow(TypeError);
    expect(() => resolveAdminOptions({ port: 70000 })).toThrow(new RangeError('admin.port must be an integer from 0 to 65535, got 70000'));
    expect(() => resolveAdminOptions({ port: '9323' })).toThrow(new TypeError('admin.port must be a number, got "9323"'));
    expect(() => resolveAdminOptions({ port: 0, addr: 'localhost' })).toThrow(/admin.addr must be an IP literal, got "localhost"/);
    expect(() => resolveAdminOptions({ port: 0, prot: 1 })).toThrow(/unknown option "prot"/);
    expect(() => resolveAdminOptions({ port: 0, token: 'short-secret' })).toThrow(new RangeError('admin.token must be 16 to 512 characters, got 12'));
    expect(() => resolveAdminOptions({ port: 0, token: 'with a space in it ok' })).toThrow(/printable ASCII/);
    expect(() => resolveAdminOptions({ port: 0, token: 'with a space in it ok' })).not.toThrow(/with a space/);
    expect(() => resolveAdminOptions({ port: 0, allowedHosts: 'admin.example' })).toThrow(/allowedHosts must be an array/);
    expect(() => resolveAdminOptions({ port: 0, sampleInterval: 10 })).toThrow(RangeError);
  });

  test('a non-loopback address needs a token, and then reads need it too', () => {
    expect(() => resolveAdminOptions({ port: 0, addr: '0.0.0.0' })).toThrow(/"0.0.0.0" is not a loopback address: a token is required/);
    expect(resolveAdminOptions({ port: 0, addr: '0.0.0.0', token: TOKEN }).readsNeedToken).toBe(true);
    expect(resolveAdminOptions({ port: 0, addr: '::1' }).readsNeedToken).toBe(false);
    expect(resolveAdminOptions({ port: 0, addr: '127.0.0.2' }).readsNeedToken).toBe(false);
  });
});

describe('admin routes', () => {
  test('GET /stats is the snapshot; ?clients bounds the list', async () => {
    const { server, url } = await startAdmin();
    const a = await connectClient(server);
    const b = await connectClient(server, '127.0.0.1', {}, server.listenSockets[1].bindPort);
    expect(await a.peer.ask('x')).toBe('hi');
    const response = await fetch(`${url}/stats`);
    expect(response.status).toBe(200);
    expect(response.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(response.headers.get('cache-control')).toBe('no-store');
    const stats = (await response.json()) as ServerStats;
    expect(stats.state).toBe('listening');
    expect(stats.totals.clientsNow).toBe(2);
    expect(stats.clients.map((c) => c.cliId)).toEqual([a.client.cliId, b.client.cliId]);
    expect(stats.clients.map((c) => c.peerPort)).toEqual([a.peer.localPort, b.peer.localPort]);
    expect(stats.listeners.map((l) => [l.index, l.clientsNow])).toEqual([[-1, 1], [0, 1]]);
    const one = (await (await fetch(`${url}/stats?clients=1`)).json()) as ServerStats;
    expect(one.clients).toHaveLength(1);
    expect(one.clientsOmitted).toBe(1);
    expect((await fetch(`${url}/stats?clients=x`)).status).toBe(400);
    expect((await fetch(`${url}/stats?clients=501`)).status).toBe(400);
  });

  test('GET /metrics is Prometheus text with the live figures', async () => {
    const { server, url } = await startAdmin();
    await connectClient(server);
    const response = await fetch(`${url}/metrics`);
    expect(response.headers.get('content-type')).toBe('text/plain; version=0.0.4; charset=utf-8');
    const families = new Map(parsePrometheus(await response.text()).map((f) => [f.name, f]));
    expect(families.get('ics_ts_clients')!.metrics[0].value).toBe('1');
    expect(families.get('ics_ts_up')!.metrics[0].value).toBe('1');
  });

  test('GET / is the page, with a CSP that allows only its own script and style; HEAD has no body', async () => {
    const { url } = await startAdmin();
    const page = await fetch(`${url}/`);
    expect(page.headers.get('content-type')).toBe('text/html; charset=utf-8');
    const csp = page.headers.get('content-security-policy')!;
    expect(csp).toMatch(/default-src 'none'; script-src 'sha256-[A-Za-z0-9+/=]+'; style-src 'sha256-[A-Za-z0-9+/=]+'; connect-src 'self'/);
    expect(await page.text()).toContain('<title>ics-ts status</title>');
    const head = await fetch(`${url}/stats`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(await head.text()).toBe('');
  });

  test('GET /history has the sample taken at start', async () => {
    const { url } = await startAdmin({ sampleInterval: 60_000 });
    const history = (await (await fetch(`${url}/history`)).json()) as { intervalMs: number; samples: { clients: number }[] };
    expect(history.intervalMs).toBe(60_000);
    expect(history.samples).toHaveLength(1);
    expect(history.samples[0].clients).toBe(0);
  });

  test('only these routes: others 404, a wrong method 405 with Allow', async () => {
    const { url } = await startAdmin({ token: TOKEN });
    for (const path of ['/metrics/', '/stats.json', '/clients/1', '/clients/x/disconnect', '/listeners/1/reopen', '/favicon.ico']) {
      expect([path, (await fetch(`${url}${path}`)).status]).toEqual([path, 404]);
    }
    const wrong = await fetch(`${url}/stats`, { method: 'DELETE' });
    expect(wrong.status).toBe(405);
    expect(wrong.headers.get('allow')).toBe('GET, HEAD');
    // Raw, as a URL parser would have cleaned these up before sending.
    const port = Number(new URL(url).port);
    for (const path of ['/../stats', '//stats', '/%73tats', '/stats/..', '*']) {
      expect([path, (await raw(port, `GET ${path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`)).slice(0, 12)]).toEqual([path, 'HTTP/1.1 404']);
    }
    const get = await fetch(`${url}/recheck`);
    expect(get.status).toBe(405);
    expect(get.headers.get('allow')).toBe('POST');
  });
});

describe('admin actions and the token rule', () => {
  test('no token configured: every action answers 403 and changes nothing', async () => {
    const { server, url } = await startAdmin();
    const a = await connectClient(server);
    const response = await post(`${url}/clients/${a.client.cliId}/disconnect`, 'anything-at-all-here');
    expect(response.status).toBe(403);
    expect(await response.json()).toEqual({ error: 'admin actions are disabled: no admin.token is configured' });
    expect((await post(`${url}/listeners/0/close`)).status).toBe(403);
    expect((await post(`${url}/recheck`)).status).toBe(403);
    expect(server.clientCount).toBe(1);
    expect(server.listenSockets[1].state).toBe('listening');
  });

  test('a token configured: 401 without it or with a wrong one (of any length), the action with it', async () => {
    const { server, url } = await startAdmin({ token: TOKEN });
    const a = await connectClient(server);
    const target = `${url}/clients/${a.client.cliId}/disconnect`;
    const missing = await post(target);
    expect(missing.status).toBe(401);
    expect(missing.headers.get('www-authenticate')).toBe('Bearer realm="ics-ts admin"');
    for (const wrong of [TOKEN.slice(0, -1), `${TOKEN}x`, TOKEN.toUpperCase(), 'x', '']) expect((await post(target, wrong)).status).toBe(401);
    expect((await fetch(target, { method: 'POST', headers: { authorization: `Basic ${TOKEN}` } })).status).toBe(401);
    expect(server.clientCount).toBe(1);

    const gone = disconnects(server, 1);
    const ok = await post(target, TOKEN);
    expect(ok.status).toBe(200);
    expect(await ok.json()).toEqual({ disconnected: a.client.cliId });
    await gone;
    await a.peer.closed;
    expect(server.clientCount).toBe(0);
    expect((await post(target, TOKEN)).status).toBe(404); // no such client any more
  });

  test('close and open a listener; an index that does not exist is 404', async () => {
    const { server, url } = await startAdmin({ token: TOKEN });
    const port = server.listenSockets[1].bindPort;
    expect((await post(`${url}/listeners/0/close`, TOKEN)).status).toBe(200);
    expect(server.listenSockets[1].state).toBe('closed');
    await expect(Peer.connect(port)).rejects.toMatchObject({ code: 'ECONNREFUSED' });
    const stats = (await (await fetch(`${url}/stats`)).json()) as ServerStats;
    expect(stats.listeners[1].state).toBe('closed');
    expect((await post(`${url}/listeners/0/open`, TOKEN)).status).toBe(200);
    expect(server.listenSockets[1].state).toBe('listening');
    expect((await post(`${url}/listeners/7/close`, TOKEN)).status).toBe(404);
    expect((await post(`${url}/listeners/-1/close`, TOKEN)).status).toBe(200);
    expect(server.listenSockets[0].state).toBe('closed');
  });

  test('an open that cannot listen is 409 with the reason', async () => {
    const [port] = await freePorts('127.0.0.1', 1);
    const server = await startServer({ multiListenSockets: [{ addr: '127.0.0.1', port }] });
    const admin = new AdminServer(server.adminTarget(), { port: 0, token: TOKEN });
    admins.add(admin);
    await admin.listen();
    const url = admin.url;
    expect((await post(`${url}/listeners/0/close`, TOKEN)).status).toBe(200);
    const squatter = net.createServer();
    squatter.listen(port, '127.0.0.1');
    await once(squatter, 'listening');
    try {
      const response = await post(`${url}/listeners/0/open`, TOKEN);
      expect(response.status).toBe(409);
      expect(((await response.json()) as { error: string }).error).toMatch(/EADDRINUSE/);
    } finally {
      squatter.close();
    }
  });

  test('POST /recheck answers what was reloaded', async () => {
    const { url } = await startAdmin({ token: TOKEN });
    const response = await post(`${url}/recheck`, TOKEN);
    expect(response.status).toBe(200);
    expect(await response.json()).toEqual({ reloaded: [], failed: [] });
  });
});

describe('admin under hostile input', () => {
  test('a target of its own (not a TWSocketServer) whose stats() throws: 500 with the message, the listener carries on', async () => {
    let calls = 0;
    const admin = new AdminServer(
      {
        stats: () => {
          calls++;
          throw new Error('snapshot <b>failed</b>');
        },
        disconnectClient: async () => false,
        closeListener: () => {
          throw new RangeError('no such listener');
        },
        openListener: async () => undefined,
        recheckCerts: () => ({ reloaded: [], failed: [] }),
      },
      { port: 0, token: TOKEN },
    );
    admins.add(admin);
    await admin.listen(); // its first chart sample failed: a gap, not a crash
    const broken = await fetch(`${admin.url}/stats`);
    expect(broken.status).toBe(500);
    expect(broken.headers.get('content-type')).toBe('application/json; charset=utf-8');
    expect(await broken.json()).toEqual({ error: 'snapshot <b>failed</b>' });
    expect((await fetch(`${admin.url}/metrics`)).status).toBe(500);
    expect(((await (await fetch(`${admin.url}/history`)).json()) as { samples: unknown[] }).samples).toEqual([]);
    expect((await post(`${admin.url}/listeners/3/close`, TOKEN)).status).toBe(404);
    expect((await post(`${admin.url}/clients/9/disconnect`, TOKEN)).status).toBe(404);
    expect(calls).toBe(3);
  });

  test('headers over 8 KiB: 431 and the connection closed', async () => {
    const { admin } = await startAdmin();
    const answer = await raw(admin.port, `GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\nX-Fill: ${'a'.repeat(9000)}\r\n\r\n`);
    expect(answer).toMatch(/^HTTP\/1.1 431 /);
  });

  test('a request body (declared or chunked) is refused with 413 and the connection closed, the body unread', async () => {
    const { admin } = await startAdmin({ token: TOKEN });
    const declared = await raw(admin.port, `POST /recheck HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${TOKEN}\r\nContent-Length: 100000000\r\n\r\n${'x'.repeat(64 * 1024)}`);
    expect(declared).toMatch(/^HTTP\/1.1 413 /);
    expect(declared).toMatch(/\r\nconnection: close\r\n/i);
    const chunked = await raw(admin.port, `POST /recheck HTTP/1.1\r\nHost: 127.0.0.1\r\nTransfer-Encoding: chunked\r\n\r\n5\r\nhello\r\n`);
    expect(chunked).toMatch(/^HTTP\/1.1 413 /);
  });

  test('a path over 256 characters is 414, garbage is 400, neither echoed', async () => {
    const { admin } = await startAdmin();
    const long = await raw(admin.port, `GET /${'<script>'.repeat(40)} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n`);
    expect(long).toMatch(/^HTTP\/1.1 414 /);
    expect(long).not.toContain('<script>');
    const garbage = await raw(admin.port, '\x16\x03\x01\x02\x00\x01\x00\x01\xfc\x03\x03<script>\r\n\r\n');
    expect(garbage).toMatch(/^HTTP\/1.1 400 /);
    expect(garbage).not.toContain('<script>');
  });

  test('a foreign Host name (DNS rebinding) is 421; IP literals, localhost and allowedHosts pass', async () => {
    const { admin } = await startAdmin({ allowedHosts: ['admin.internal'] });
    const ask = (host: string) => raw(admin.port, `GET /stats HTTP/1.1\r\nHost: ${host}\r\nConnection: close\r\n\r\n`);
    expect(await ask(`evil.example:${admin.port}`)).toMatch(/^HTTP\/1.1 421 /);
    expect(await ask('127.0.0.1.evil.example')).toMatch(/^HTTP\/1.1 421 /);
    expect(await ask(`localhost:${admin.port}`)).toMatch(/^HTTP\/1.1 200 /);
    expect(await ask(`[::1]:${admin.port}`)).toMatch(/^HTTP\/1.1 200 /);
    expect(await ask('ADMIN.internal')).toMatch(/^HTTP\/1.1 200 /);
  });

  test('connections over the bound are dropped; the admin listener still answers after', async () => {
    const { admin, url } = await startAdmin();
    const idle: net.Socket[] = [];
    try {
      for (let i = 0; i < 32; i++) {
        const s = net.connect(admin.port, '127.0.0.1');
        s.on('error', () => undefined);
        await once(s, 'connect');
        idle.push(s);
      }
      // Node counts a connection once its accept ran: a request on each makes sure all 32 are counted.
      for (const s of idle) s.write('GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      await Promise.all(idle.map((s) => once(s, 'data')));
      const extra = net.connect(admin.port, '127.0.0.1');
      extra.on('error', () => undefined);
      extra.write('GET /stats HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n');
      let got = '';
      extra.on('data', (d: Buffer) => (got += d.toString()));
      await once(extra, 'close');
      expect(got).toBe('');
    } finally {
      for (const s of idle) s.destroy();
    }
    await Promise.all(idle.map((s) => (s.closed ? undefined : once(s, 'close'))));
    // The freed slots are counted down as Node sees the closes.
    let status = 0;
    for (let i = 0; i < 50 && status !== 200; i++) status = await fetch(`${url}/stats`).then((r) => r.status, () => 0);
    expect(status).toBe(200);
  });
});

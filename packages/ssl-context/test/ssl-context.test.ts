/**
 * TSslContext: ALPN, client certificates (sslVerifyPeer), session tickets
 * and timeout, reload(), and option validation.
 */
import { once } from 'node:events';
import * as fs from 'node:fs';
import * as tls from 'node:tls';
import {
  CertificateFacts,
  DevIdentity,
  IdentityError,
  SSL_SRV_SECURITY_LEVELS,
  SslContextOptions,
  TSslContext,
  createDevCA,
  createDevCertificate,
  validateSslContextOptions,
} from '@ics-ts/ssl-context';
import { TempDir, closeSocket, connect, echo, sClient, startServer, tempDir, tryConnect } from './helpers';

let tmp: TempDir;
let dev: DevIdentity;

beforeAll(async () => {
  tmp = tempDir();
  dev = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
});
afterAll(() => tmp.remove());

function devOptions(extra: Partial<SslContextOptions> = {}): SslContextOptions {
  return { sslCert: dev.cert, sslKey: dev.key, ...extra };
}

describe('ALPN', () => {
  test("alpnProtocols ['imap', 'h2'] with a client offering 'h2' negotiates h2", async () => {
    const ctx = new TSslContext(devOptions({ alpnProtocols: ['imap', 'h2'] }));
    expect(ctx.socketOptions().ALPNProtocols).toEqual(['imap', 'h2']);
    const server = await startServer(ctx);
    try {
      const h2 = await connect(server.port, { ALPNProtocols: ['h2'] });
      expect(h2.alpnProtocol).toBe('h2');
      const serverSide = await server.secured.take();
      expect(serverSide.alpnProtocol).toBe('h2');
      await closeSocket(h2);
      // both offered: the server's order wins (OpenSSL SSL_select_next_proto)
      const both = await connect(server.port, { ALPNProtocols: ['h2', 'imap'] });
      expect(both.alpnProtocol).toBe('imap');
      await closeSocket(both);
      // no ALPN from the client: none negotiated, the connection works
      const plain = await connect(server.port);
      expect(plain.alpnProtocol).toBe(false);
      expect(await echo(plain, 'x')).toBe('x');
      await closeSocket(plain);
      // no protocol in common: Node's server refuses (no_application_protocol alert)
      const none = await tryConnect(server.port, { ALPNProtocols: ['http/1.1'] });
      expect(none.ok).toBe(false);
      expect(!none.ok && none.error.message).toMatch(/no application protocol/i);
    } finally {
      await server.close();
    }
  });

  test('without alpnProtocols, a client offering ALPN still connects, with none negotiated', async () => {
    const server = await startServer(new TSslContext(devOptions()));
    try {
      const socket = await connect(server.port, { ALPNProtocols: ['h2'] });
      expect(socket.alpnProtocol).toBe(false);
      await closeSocket(socket);
    } finally {
      await server.close();
    }
  });
});

describe('sslVerifyPeer (client certificates)', () => {
  let clientCa: DevIdentity;
  let clientId: DevIdentity;
  let strangerId: DevIdentity;

  beforeAll(async () => {
    clientCa = await createDevCA('Client CA');
    clientId = await createDevCertificate({ names: ['client1.test'], ca: clientCa });
    const otherCa = await createDevCA('Stranger CA');
    strangerId = await createDevCertificate({ names: ['stranger.test'], ca: otherCa });
  });

  test('socketOptions per mode', () => {
    expect(new TSslContext(devOptions()).socketOptions()).toEqual({ requestCert: false, rejectUnauthorized: false, ALPNProtocols: undefined });
    const ca = { sslCA: clientCa.cert };
    expect(new TSslContext(devOptions({ ...ca, sslVerifyPeer: 'request' })).socketOptions()).toMatchObject({
      requestCert: true,
      rejectUnauthorized: false,
    });
    expect(new TSslContext(devOptions({ ...ca, sslVerifyPeer: 'require' })).socketOptions()).toMatchObject({
      requestCert: true,
      rejectUnauthorized: true,
    });
  });

  test.each(['TLSv1.2', 'TLSv1.3'] as const)("'require' refuses a client without a certificate (%s)", async (version) => {
    const server = await startServer(new TSslContext(devOptions({ sslCA: clientCa.cert, sslVerifyPeer: 'require' })));
    try {
      const result = await tryConnect(server.port, { minVersion: version, maxVersion: version });
      if (result.ok) {
        // TLS 1.3: the client finishes first, then gets the server's alert
        await expect(echo(result.socket, 'hello?')).rejects.toThrow();
        await closeSocket(result.socket);
      }
      const serverError = (await server.errors.take()) as NodeJS.ErrnoException;
      expect(serverError.code).toBe('ERR_SSL_PEER_DID_NOT_RETURN_A_CERTIFICATE');
      expect(server.secured.all).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  test("'require' accepts a client certificate signed by sslCA; the server sees its subject", async () => {
    const caFile = tmp.write('client-ca.pem', clientCa.cert);
    const server = await startServer(new TSslContext(devOptions({ sslCA: caFile, sslVerifyPeer: 'require' })));
    try {
      const client = await connect(server.port, { cert: clientId.cert, key: clientId.key });
      expect(await echo(client, 'hello')).toBe('hello');
      const serverSide = await server.secured.take();
      expect(serverSide.getPeerCertificate().subject.CN).toBe('client1.test');
      // the CA list is what the server asks for
      await closeSocket(client);
    } finally {
      await server.close();
    }
  });

  test("'require' and a certificate from another CA: OpenSSL completes, the verify result says no (the server must act on it)", async () => {
    const server = await startServer(new TSslContext(devOptions({ sslCA: clientCa.cert, sslVerifyPeer: 'require' })));
    try {
      const result = await tryConnect(server.port, { cert: strangerId.cert, key: strangerId.key });
      const serverError = (await server.errors.take()) as NodeJS.ErrnoException;
      expect(serverError.code).toBe('SELF_SIGNED_CERT_IN_CHAIN');
      if (result.ok) await closeSocket(result.socket);
      expect(server.secured.all).toHaveLength(0);
    } finally {
      await server.close();
    }
  });

  test("'request' accepts a client without a certificate, and sees one when sent", async () => {
    const server = await startServer(new TSslContext(devOptions({ sslCA: clientCa.cert, sslVerifyPeer: 'request' })));
    try {
      const anonymous = await connect(server.port);
      expect(await echo(anonymous, 'hi')).toBe('hi');
      const anonymousSide = await server.secured.take();
      expect(anonymousSide.getPeerCertificate()).toEqual({});
      await closeSocket(anonymous);

      const known = await connect(server.port, { cert: clientId.cert, key: clientId.key });
      expect(await echo(known, 'hi')).toBe('hi');
      expect((await server.secured.take()).getPeerCertificate().subject.CN).toBe('client1.test');
      await closeSocket(known);
    } finally {
      await server.close();
    }
  });

  test('sslVerifyPeer without sslCA is a TypeError at construction', () => {
    expect(() => new TSslContext(devOptions({ sslVerifyPeer: 'require' }))).toThrow(TypeError);
    expect(() => new TSslContext(devOptions({ sslVerifyPeer: 'request' }))).toThrow(/sslVerifyPeer "request" needs sslCA/);
    expect(() => new TSslContext(devOptions({ sslVerifyPeer: 'none' }))).not.toThrow();
  });
});

describe('sessions', () => {
  interface Visit {
    reused: boolean;
    ticket: boolean;
    session?: Buffer;
  }

  /** Connects, echoes, waits for the session (ticket) the server hands out, closes. */
  function visit(port: number, version: tls.SecureVersion, session?: Buffer): Promise<Visit> {
    return new Promise((resolve, reject) => {
      const socket = tls.connect({ host: '127.0.0.1', port, rejectUnauthorized: false, minVersion: version, maxVersion: version, session });
      let saved: Buffer | undefined;
      let echoed = false;
      const finish = (): void => {
        // a resumed session may bring no new one
        if (!echoed || (!saved && !socket.isSessionReused())) return;
        const result = { reused: socket.isSessionReused(), ticket: socket.getTLSTicket() !== undefined, session: saved };
        socket.once('close', () => resolve(result));
        socket.destroy();
      };
      // TLS 1.2 hands the session over before 'secureConnect', TLS 1.3 after: listen from the start
      socket.on('session', (s: Buffer) => {
        saved ??= s;
        finish();
      });
      socket.once('error', reject);
      socket.once('secureConnect', () => {
        echo(socket, 'ping').then(() => {
          echoed = true;
          finish();
        }, reject);
      });
    });
  }

  test.each(['TLSv1.2', 'TLSv1.3'] as const)('tickets on (default): a second connection resumes (%s)', async (version) => {
    const server = await startServer(new TSslContext(devOptions()));
    try {
      const first = await visit(server.port, version);
      expect(first.reused).toBe(false);
      expect(first.ticket).toBe(true);
      const second = await visit(server.port, version, first.session);
      expect(second.reused).toBe(true);
    } finally {
      await server.close();
    }
  });

  test.each(['TLSv1.2', 'TLSv1.3'] as const)('sessionTickets false: no resumption (%s)', async (version) => {
    const server = await startServer(new TSslContext(devOptions({ sessionTickets: false })));
    try {
      const first = await visit(server.port, version);
      // TLS 1.2 sends no ticket at all; TLS 1.3 only a stateful reference the server cannot look up
      if (version === 'TLSv1.2') expect(first.ticket).toBe(false);
      const second = await visit(server.port, version, first.session);
      expect(second.reused).toBe(false);
    } finally {
      await server.close();
    }
  });

  test('sessionTickets false: openssl s_client sees no TLS session ticket (TLS 1.2); on, it sees the sessionTimeout as lifetime hint', async () => {
    const off = await startServer(new TSslContext(devOptions({ sessionTickets: false })));
    const on = await startServer(new TSslContext(devOptions({ sessionTimeout: 1234 })));
    const byDefault = await startServer(new TSslContext(devOptions()));
    try {
      const [offOut, onOut, defaultOut] = await Promise.all([
        sClient(off.port, ['-tls1_2']),
        sClient(on.port, ['-tls1_2']),
        sClient(byDefault.port, ['-tls1_2']),
      ]);
      expect(offOut.ok).toBe(true);
      expect(offOut.stdout).not.toContain('TLS session ticket');
      expect(onOut.stdout).toContain('TLS session ticket lifetime hint: 1234 (seconds)');
      expect(defaultOut.stdout).toContain('TLS session ticket lifetime hint: 300 (seconds)'); // ICS SslSessionTimeout
    } finally {
      await Promise.all([off.close(), on.close(), byDefault.close()]);
    }
  });

  test('OpenSSL level 3 (high128) turns tickets off by itself', async () => {
    const server = await startServer(new TSslContext(devOptions({ sslSrvSecurity: 'high128' })));
    try {
      const out = await sClient(server.port, ['-tls1_2']);
      expect(out.ok).toBe(true);
      expect(out.stdout).not.toContain('TLS session ticket');
    } finally {
      await server.close();
    }
  });

  test('sessionTimeout validation', () => {
    expect(() => new TSslContext(devOptions({ sessionTimeout: -1 }))).toThrow(RangeError);
    expect(() => new TSslContext(devOptions({ sessionTimeout: 1.5 }))).toThrow(RangeError);
    expect(() => new TSslContext(devOptions({ sessionTimeout: 2 ** 31 }))).toThrow(RangeError);
    expect(() => new TSslContext(devOptions({ sessionTimeout: Number.NaN }))).toThrow(RangeError);
    expect(() => new TSslContext(devOptions({ sessionTimeout: '300' as unknown as number }))).toThrow(TypeError);
    expect(() => new TSslContext(devOptions({ sessionTimeout: 0 }))).not.toThrow();
    expect(() => new TSslContext(devOptions({ sessionTimeout: 2 ** 31 - 1 }))).not.toThrow();
  });
});

describe('reload()', () => {
  function writeIdentity(dir: TempDir, identity: DevIdentity): { sslCert: string; sslKey: string } {
    return { sslCert: dir.write('server.crt.pem', identity.cert), sslKey: dir.write('server.key.pem', identity.key) };
  }

  test('unchanged files: {changed: false}, no event, same context', () => {
    const files = writeIdentity(tmp, dev);
    const ctx = new TSslContext(files);
    const before = ctx.secureContext;
    let events = 0;
    ctx.on('reload', () => events++);
    ctx.on('reloadError', () => events++);
    expect(ctx.reload()).toEqual({ changed: false });
    // rewriting the same bytes is no change either (contents, not time stamps)
    fs.writeFileSync(files.sslCert, dev.cert);
    expect(ctx.reload()).toEqual({ changed: false });
    expect(ctx.secureContext).toBe(before);
    expect(events).toBe(0);
  });

  test('new files: changed, reload event, a new context; new connections get the new certificate, open ones keep working', async () => {
    const dir = tempDir('ssl-reload-');
    const server0 = { close: async () => undefined } as { close(): Promise<void> };
    let server = server0;
    try {
      const files = writeIdentity(dir, dev);
      const ctx = new TSslContext(files);
      const oldContext = ctx.secureContext;
      const oldPrint = ctx.facts.fingerprint256;
      const started = await startServer(ctx);
      server = started;

      const before = await tryConnect(started.port);
      expect(before.ok && before.fingerprint256).toBe(oldPrint);
      if (!before.ok) return;

      const next = await createDevCertificate({ names: ['localhost', '127.0.0.1'] });
      writeIdentity(dir, next);
      const reloaded = once(ctx, 'reload') as Promise<[CertificateFacts]>;
      expect(ctx.reload()).toEqual({ changed: true });
      const [facts] = await reloaded;
      expect(facts.fingerprint256).not.toBe(oldPrint);
      expect(ctx.facts).toBe(facts);
      expect(ctx.secureContext).not.toBe(oldContext);

      const after = await tryConnect(started.port);
      expect(after.ok && after.fingerprint256).toBe(facts.fingerprint256);
      if (after.ok) await closeSocket(after.socket);
      // the connection made before the reload still works
      expect(await echo(before.socket, 'still here')).toBe('still here');
      expect(before.socket.getPeerCertificate().fingerprint256).toBe(oldPrint);
      await closeSocket(before.socket);

      expect(ctx.reload()).toEqual({ changed: false });
    } finally {
      await server.close();
      dir.remove();
    }
  });

  test('a corrupt file: {changed: false, error} naming it, reloadError, the old context keeps serving; fixed, it loads', async () => {
    const dir = tempDir('ssl-reload-');
    const files = writeIdentity(dir, dev);
    const ctx = new TSslContext(files);
    const goodContext = ctx.secureContext;
    const goodPrint = ctx.facts.fingerprint256;
    const server = await startServer(ctx);
    try {
      fs.writeFileSync(files.sslCert, '-----BEGIN CERTIFICATE-----\nbm90IGEgY2VydGlmaWNhdGU=\n-----END CERTIFICATE-----\n');
      const failed = once(ctx, 'reloadError') as Promise<[Error]>;
      const result = ctx.reload();
      expect(result.changed).toBe(false);
      expect(result.error).toBeInstanceOf(IdentityError);
      expect(result.error!.message).toContain(`sslCert file ${files.sslCert}`);
      const [emitted] = await failed;
      expect(emitted).toBe(result.error);
      expect(ctx.secureContext).toBe(goodContext);
      expect(ctx.facts.fingerprint256).toBe(goodPrint);

      const still = await tryConnect(server.port);
      expect(still.ok && still.fingerprint256).toBe(goodPrint);
      if (still.ok) await closeSocket(still.socket);

      // half-way through a renewal (new certificate, old key): still refused, still serving the old one
      const next = await createDevCertificate({ names: ['localhost'] });
      fs.writeFileSync(files.sslCert, next.cert);
      const half = ctx.reload();
      expect(half.error?.message).toContain('does not match');
      expect(ctx.secureContext).toBe(goodContext);
      // the key arrives: the next reload takes both
      fs.writeFileSync(files.sslKey, next.key);
      expect(ctx.reload()).toEqual({ changed: true });
      const fresh = await tryConnect(server.port);
      expect(fresh.ok && fresh.fingerprint256).toBe(ctx.facts.fingerprint256);
      expect(ctx.facts.fingerprint256).not.toBe(goodPrint);
      if (fresh.ok) await closeSocket(fresh.socket);
    } finally {
      await server.close();
      dir.remove();
    }
  });

  test('a deleted file: the error says not found', () => {
    const dir = tempDir('ssl-reload-');
    try {
      const files = writeIdentity(dir, dev);
      const ctx = new TSslContext(files);
      const errors: Error[] = [];
      ctx.on('reloadError', (err) => errors.push(err));
      fs.rmSync(files.sslKey);
      const result = ctx.reload();
      expect(result).toEqual({ changed: false, error: errors[0] });
      expect(errors[0].message).toBe(`sslKey file ${files.sslKey}: not found`);
    } finally {
      dir.remove();
    }
  });

  test('reload(true) rebuilds even when nothing changed; inline PEM has nothing to watch', () => {
    const ctx = new TSslContext(devOptions());
    const first = ctx.secureContext;
    expect(ctx.reload()).toEqual({ changed: false });
    expect(ctx.reload(true)).toEqual({ changed: true });
    expect(ctx.secureContext).not.toBe(first);
  });
});

describe('option validation', () => {
  const base = (): SslContextOptions => ({ sslCert: tmp.file('does-not-exist.pem') });

  test('an unknown option is a TypeError naming it', () => {
    expect(() => new TSslContext({ ...base(), sslCertificate: 'x' } as SslContextOptions)).toThrow(
      new TypeError('TSslContext: unknown option "sslCertificate"'),
    );
  });

  test('sslCert missing, empty or not a string', () => {
    for (const sslCert of [undefined, '', 42, null, ['a.pem']]) {
      expect(() => new TSslContext({ sslCert } as unknown as SslContextOptions)).toThrow(TypeError);
    }
    expect(() => new TSslContext({} as SslContextOptions)).toThrow(/option sslCert must be a file name or PEM text/);
  });

  test('the other string options must be strings', () => {
    for (const key of ['sslKey', 'sslPassword', 'sslInter', 'sslCA', 'sslCipherList12', 'sslCipherList13']) {
      expect(() => new TSslContext({ ...base(), [key]: 5 })).toThrow(new TypeError(`TSslContext: option ${key} must be a string, got 5`));
    }
  });

  test("sslSrvSecurity 'ultra': the message lists the levels", () => {
    let message = '';
    try {
      new TSslContext({ ...base(), sslSrvSecurity: 'ultra' as never });
    } catch (err) {
      expect(err).toBeInstanceOf(TypeError);
      message = (err as Error).message;
    }
    expect(message).toContain('"ultra"');
    for (const level of SSL_SRV_SECURITY_LEVELS) expect(message).toContain(level);
  });

  test('sslVerifyPeer must be none, request or require', () => {
    expect(() => new TSslContext({ ...base(), sslVerifyPeer: 'always' as never })).toThrow(TypeError);
  });

  test('alpnProtocols must be an array of non-empty strings of at most 255 bytes', () => {
    for (const alpnProtocols of ['h2', [''], [42], ['x'.repeat(256)], { 0: 'h2' }]) {
      expect(() => new TSslContext({ ...base(), alpnProtocols: alpnProtocols as never })).toThrow(TypeError);
    }
    expect(() => new TSslContext({ ...base(), alpnProtocols: 'h2' as never })).toThrow(/alpnProtocols must be an array/);
  });

  test('sessionTimeout -1 and expireWarnDays -1 are RangeErrors', () => {
    expect(() => new TSslContext({ ...base(), sessionTimeout: -1 })).toThrow(RangeError);
    expect(() => new TSslContext({ ...base(), sessionTimeout: -1 })).toThrow(/option sessionTimeout must be an integer from 0/);
    expect(() => new TSslContext({ ...base(), expireWarnDays: -1 })).toThrow(RangeError);
  });

  test('sessionTickets and refuseExpired must be booleans', () => {
    expect(() => new TSslContext({ ...base(), sessionTickets: 'no' as never })).toThrow(TypeError);
    expect(() => new TSslContext({ ...base(), refuseExpired: 1 as never })).toThrow(TypeError);
  });

  test('options must be an object; validation comes before any file is read', () => {
    expect(() => new TSslContext(null as never)).toThrow(new TypeError('TSslContext: options must be an object'));
    expect(() => new TSslContext('cert.pem' as never)).toThrow(TypeError);
    // the file does not exist, but the bad option is reported first
    expect(() => new TSslContext({ ...base(), sslSrvSecurity: 'ultra' as never })).toThrow(TypeError);
    expect(() => new TSslContext(base())).toThrow(IdentityError);
  });

  test('validateSslContextOptions takes the name to report under', () => {
    expect(() => validateSslContextOptions({ sslCert: '' }, 'IcsHosts[2]')).toThrow(/^IcsHosts\[2\]: option sslCert/);
    expect(() => validateSslContextOptions({ sslCert: 'a.pem', sslSrvSecurity: 'high' })).not.toThrow();
  });
});

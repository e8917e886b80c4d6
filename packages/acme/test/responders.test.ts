/** The two challenge responders, driven as a CA and as an attacker would. */
import * as acme from 'acme-client';
import { execFileSync } from 'node:child_process';
import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { describeWithPrograms } from '../../../test-support/outside-program';
import { ACME_TLS_ALPN, Http01Responder, MAX_HTTP01_HEAD_BYTES, TlsAlpnResponder } from '../src';
import { PendingChallenges } from '../src/challenges';
import { newPrivateKey } from '../src/keys';

const TOKEN = 'evaGxfADs6pSRb2LAv9IZf17Dt3juxGJ-PCt92wr-oA';
const KEY_AUTHORIZATION = `${TOKEN}.9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI`;

/** Sends bytes, reads until the server closes; resolves with what came back. */
async function exchange(port: number, ...parts: (string | Buffer)[]): Promise<string> {
  const socket = net.connect(port, '127.0.0.1');
  await once(socket, 'connect');
  const chunks: Buffer[] = [];
  socket.on('data', (chunk: Buffer) => chunks.push(chunk));
  for (const part of parts) socket.write(part);
  socket.end();
  await once(socket, 'close');
  return Buffer.concat(chunks).toString('latin1');
}

describe('Http01Responder', () => {
  const challenges = new PendingChallenges();
  const responder = new Http01Responder((path) => challenges.http01Response(path), { timeoutMs: 200 });
  let port: number;

  beforeAll(async () => {
    challenges.addHttp01(TOKEN, KEY_AUTHORIZATION);
    port = await responder.listen(0);
  });
  afterAll(() => responder.close());

  test('answers the token with the key authorization, and HEAD with its length only', async () => {
    const got = await exchange(port, `GET /.well-known/acme-challenge/${TOKEN} HTTP/1.1\r\nHost: a.example.com\r\nUser-Agent: CA\r\n\r\n`);
    expect(got).toMatch(/^HTTP\/1.1 200 OK\r\n/);
    expect(got).toContain(`Content-Length: ${KEY_AUTHORIZATION.length}\r\n`);
    expect(got.endsWith(`\r\n\r\n${KEY_AUTHORIZATION}`)).toBe(true);
    const head = await exchange(port, `HEAD /.well-known/acme-challenge/${TOKEN} HTTP/1.0\r\n\r\n`);
    expect(head).toMatch(/^HTTP\/1.1 200 OK\r\n[\s\S]*\r\n\r\n$/);
  });

  test('a request arriving a byte at a time is answered', async () => {
    const request = Buffer.from(`GET /.well-known/acme-challenge/${TOKEN} HTTP/1.1\r\nHost: x\r\n\r\n`);
    const socket = net.connect(port, '127.0.0.1');
    await once(socket, 'connect');
    socket.setNoDelay(true);
    const chunks: Buffer[] = [];
    socket.on('data', (chunk: Buffer) => chunks.push(chunk));
    for (let i = 0; i < request.length; i++) socket.write(request.subarray(i, i + 1));
    await once(socket, 'end');
    socket.destroy();
    expect(Buffer.concat(chunks).toString('latin1').endsWith(KEY_AUTHORIZATION)).toBe(true);
  });

  test.each([
    ['an unknown token', `GET /.well-known/acme-challenge/${'x'.repeat(43)} HTTP/1.1\r\n\r\n`, '404 Not Found', 'notFound'],
    ['another path', 'GET /etc/passwd HTTP/1.1\r\n\r\n', '404 Not Found', 'notFound'],
    ['a path climbing out', `GET /.well-known/acme-challenge/../acme-challenge/${TOKEN} HTTP/1.1\r\n\r\n`, '404 Not Found', 'notFound'],
    ['POST', `POST /.well-known/acme-challenge/${TOKEN} HTTP/1.1\r\nContent-Length: 5\r\n\r\nhello`, '405 Method Not Allowed', 'badMethod'],
    ['no HTTP version', `GET /.well-known/acme-challenge/${TOKEN}\r\n\r\n`, '400 Bad Request', 'malformed'],
    ['a space in the path', 'GET /a b HTTP/1.1\r\n\r\n', '400 Bad Request', 'malformed'],
    ['binary', '\x16\x03\x01\x00\x05hello\r\n\r\n', '400 Bad Request', 'malformed'],
    ['a head over the bound', `GET / HTTP/1.1\r\nX: ${'a'.repeat(MAX_HTTP01_HEAD_BYTES)}\r\n\r\n`, '431 Request Header Fields Too Large', 'tooLarge'],
    ['endless header bytes', 'GET / HTTP/1.1\r\n' + 'X-A: b\r\n'.repeat(1000), '431 Request Header Fields Too Large', 'tooLarge'],
  ] as const)('%s: a status line, counted', async (_what, request, status, counter) => {
    const before = responder.counters[counter];
    const got = await exchange(port, request);
    expect(got.startsWith(`HTTP/1.1 ${status}\r\n`)).toBe(true);
    expect(got).not.toContain(KEY_AUTHORIZATION);
    expect(responder.counters[counter]).toBe(before + 1);
  });

  test('a peer that never finishes its request head is closed after timeoutMs', async () => {
    const before = responder.counters.timeout;
    const socket = net.connect(port, '127.0.0.1');
    socket.write('GET /.well-known/acme-challenge/');
    await once(socket, 'close');
    expect(responder.counters.timeout).toBe(before + 1);
  });

  test('nothing is answered once the challenge is over', async () => {
    const gone = new PendingChallenges();
    const other = new Http01Responder((path) => gone.http01Response(path));
    const otherPort = await other.listen(0);
    try {
      expect(await exchange(otherPort, `GET /.well-known/acme-challenge/${TOKEN} HTTP/1.1\r\n\r\n`)).toMatch(/^HTTP\/1.1 404/);
    } finally {
      await other.close();
    }
  });

  test('bad options name the option', () => {
    expect(() => new Http01Responder(() => undefined, { timeoutMs: 0 })).toThrow(/option timeoutMs must be an integer from 1 to 2147483647, got 0/);
    expect(() => new Http01Responder(() => undefined, { timeoutMs: 2 ** 31 })).toThrow(/option timeoutMs must be an integer from 1 to 2147483647, got 2147483648/);
    expect(() => new Http01Responder(() => undefined, { maxConnections: 'x' as unknown as number })).toThrow(TypeError);
  });
});

describe('PendingChallenges', () => {
  test('refuses a token that is not base64url (it would become a path)', () => {
    const challenges = new PendingChallenges();
    expect(() => challenges.addHttp01('../../etc/passwd-xxxxxxxxxxxx', 'k')).toThrow(/not base64url/);
    expect(() => challenges.addHttp01('short', 'k')).toThrow(/not base64url/);
  });
});

describe('TlsAlpnResponder', () => {
  const challenges = new PendingChallenges();
  const responder = new TlsAlpnResponder((name) => challenges.contextFor(name), { timeoutMs: 300 });
  const authz = { identifier: { type: 'dns', value: 'alpn.example.com' } } as acme.Authorization;
  let port: number;

  beforeAll(async () => {
    await challenges.addTlsAlpn01(authz, KEY_AUTHORIZATION, await newPrivateKey('ecdsa-p256'));
    port = await responder.listen(0);
  });
  afterAll(() => responder.close());

  async function refusal(connect: () => net.Socket): Promise<void> {
    const socket = connect();
    socket.on('error', () => undefined);
    await new Promise((resolve) => socket.on('close', resolve));
  }

  test('acme-tls/1 for a pending name gets the acmeIdentifier certificate for SHA-256 of the key authorization', async () => {
    const answered = once(responder, 'answered');
    const socket = tls.connect({ host: '127.0.0.1', port, servername: 'ALPN.example.com', ALPNProtocols: [ACME_TLS_ALPN], rejectUnauthorized: false });
    await once(socket, 'secureConnect');
    expect(socket.alpnProtocol).toBe(ACME_TLS_ALPN);
    const peer = socket.getPeerCertificate();
    socket.end(); // as a CA does once it has the certificate
    expect(peer.subjectaltname).toBe('DNS:alpn.example.com');
    const pem = `-----BEGIN CERTIFICATE-----\n${peer.raw.toString('base64')}\n-----END CERTIFICATE-----\n`;
    expect(acme.crypto.isAlpnCertificateAuthorizationValid(pem, KEY_AUTHORIZATION)).toBe(true);
    expect(acme.crypto.isAlpnCertificateAuthorizationValid(pem, `${KEY_AUTHORIZATION}x`)).toBe(false);
    expect(await answered).toEqual(['alpn.example.com']);
    expect(responder.counters.answered).toBe(1);
  });

  test('no acme-tls/1 in the ALPN list: closed before any TLS, counted', async () => {
    const before = responder.counters.noAcmeAlpn;
    await refusal(() => tls.connect({ host: '127.0.0.1', port, servername: 'alpn.example.com', ALPNProtocols: ['h2'], rejectUnauthorized: false }));
    expect(responder.counters.noAcmeAlpn).toBe(before + 1);
  });

  test('a name with no pending challenge: closed, counted', async () => {
    const before = responder.counters.noChallenge;
    await refusal(() => tls.connect({ host: '127.0.0.1', port, servername: 'other.example.com', ALPNProtocols: [ACME_TLS_ALPN], rejectUnauthorized: false }));
    await refusal(() => tls.connect({ host: '127.0.0.1', port, servername: '', ALPNProtocols: [ACME_TLS_ALPN], rejectUnauthorized: false }));
    expect(responder.counters.noChallenge).toBe(before + 2);
  });

  test('not TLS, or silence: closed, counted', async () => {
    const notTls = responder.counters.notTls;
    await refusal(() => net.connect(port, '127.0.0.1').end('GET / HTTP/1.1\r\n\r\n'));
    expect(responder.counters.notTls).toBe(notTls + 1);
    const timeout = responder.counters.timeout;
    await refusal(() => net.connect(port, '127.0.0.1'));
    expect(responder.counters.timeout).toBe(timeout + 1);
  });
});

describeWithPrograms({ openssl: 'openssl' }, 'tls-alpn-01 certificate (RFC 8737)', (programs) => {
  test('holds the name and a critical id-pe-acmeIdentifier extension', async () => {
    const challenges = new PendingChallenges();
    const key = await newPrivateKey('ecdsa-p256');
    await challenges.addTlsAlpn01({ identifier: { type: 'dns', value: 'x.example.com' } } as acme.Authorization, KEY_AUTHORIZATION, key);
    const responder = new TlsAlpnResponder((name) => challenges.contextFor(name));
    const port = await responder.listen(0);
    try {
      const socket = tls.connect({ host: '127.0.0.1', port, servername: 'x.example.com', ALPNProtocols: [ACME_TLS_ALPN], rejectUnauthorized: false });
      await once(socket, 'secureConnect');
      const der = socket.getPeerCertificate().raw;
      socket.destroy();
      const text = execFileSync(programs.openssl, ['x509', '-inform', 'DER', '-noout', '-text'], { input: der, encoding: 'latin1' });
      expect(text).toMatch(/1\.3\.6\.1\.5\.5\.7\.1\.31: critical/);
      expect(text).toContain('DNS:x.example.com');
    } finally {
      await responder.close();
    }
  });
});

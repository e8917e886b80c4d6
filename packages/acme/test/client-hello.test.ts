import { once } from 'node:events';
import * as net from 'node:net';
import * as tls from 'node:tls';
import { MAX_CLIENT_HELLO_BYTES, parseClientHello } from '../src';

/** The first bytes a real Node TLS client sends (its ClientHello), captured on a raw socket. */
async function capturedHello(options: tls.ConnectionOptions): Promise<Buffer> {
  const server = net.createServer();
  server.listen(0, '127.0.0.1');
  await once(server, 'listening');
  const accepted = once(server, 'connection') as Promise<[net.Socket]>;
  const client = tls.connect({ host: '127.0.0.1', port: (server.address() as net.AddressInfo).port, ...options });
  client.on('error', () => undefined);
  const [raw] = await accepted;
  const [bytes] = (await once(raw, 'data')) as [Buffer];
  client.destroy();
  raw.destroy();
  server.close();
  return bytes;
}

describe('parseClientHello', () => {
  test('reads the server name and the ALPN list of a real ClientHello', async () => {
    const hello = await capturedHello({ servername: 'Alpn.Example.COM', ALPNProtocols: ['acme-tls/1'] });
    expect(parseClientHello(hello)).toEqual({ kind: 'hello', serverName: 'alpn.example.com', alpnProtocols: ['acme-tls/1'] });
    const plain = await capturedHello({ servername: 'www.example.com', ALPNProtocols: ['h2', 'http/1.1'], maxVersion: 'TLSv1.2' });
    expect(parseClientHello(plain)).toEqual({ kind: 'hello', serverName: 'www.example.com', alpnProtocols: ['h2', 'http/1.1'] });
  });

  test('no SNI and no ALPN: empty values', async () => {
    const hello = await capturedHello({ servername: '' });
    expect(parseClientHello(hello)).toEqual({ kind: 'hello', serverName: '', alpnProtocols: [] });
  });

  test('every prefix is partial: the hello may come a byte at a time', async () => {
    const hello = await capturedHello({ servername: 'a.example.com', ALPNProtocols: ['acme-tls/1'] });
    for (let n = 0; n < hello.length; n++) expect(parseClientHello(hello.subarray(0, n))).toEqual({ kind: 'partial' });
  });

  test('a hello split over several handshake records is joined', async () => {
    const hello = await capturedHello({ servername: 'split.example.com', ALPNProtocols: ['acme-tls/1'] });
    const body = hello.subarray(5);
    const records: Buffer[] = [];
    for (let at = 0; at < body.length; at += 50) {
      const part = body.subarray(at, at + 50);
      const header = Buffer.from([0x16, 0x03, 0x01, 0, 0]);
      header.writeUInt16BE(part.length, 3);
      records.push(header, part);
    }
    const split = Buffer.concat(records);
    expect(parseClientHello(split)).toEqual({ kind: 'hello', serverName: 'split.example.com', alpnProtocols: ['acme-tls/1'] });
    expect(parseClientHello(split.subarray(0, split.length - 1))).toEqual({ kind: 'partial' });
  });

  test.each([
    ['plain text', Buffer.from('GET / HTTP/1.1\r\n\r\n'), /not a TLS handshake record/],
    ['a record of 0 bytes', Buffer.from([0x16, 3, 1, 0, 0]), /a TLS record of 0 bytes/],
    ['a record over 16 KB', Buffer.from([0x16, 3, 1, 0x40, 0x01]), /a TLS record of 16385 bytes/],
    ['SSL 2 version bytes', Buffer.from([0x16, 2, 0, 0, 4, 1, 0, 0, 0]), /not a TLS record version/],
    ['a ServerHello', Buffer.from([0x16, 3, 1, 0, 4, 2, 0, 0, 0]), /not a ClientHello/],
    ['a ClientHello claiming 16 MB', Buffer.from([0x16, 3, 1, 0, 4, 1, 0xff, 0xff, 0xff]), /a ClientHello of 16777219 bytes/],
    ['an empty ClientHello', Buffer.from([0x16, 3, 1, 0, 4, 1, 0, 0, 0]), /a truncated ClientHello/],
  ])('%s is invalid', (_what, bytes, reason) => {
    const result = parseClientHello(bytes);
    expect(result.kind).toBe('invalid');
    expect(result.kind === 'invalid' && result.reason).toMatch(reason);
  });

  test('lengths that point past their container are invalid, never read beyond', async () => {
    const hello = await capturedHello({ servername: 'a.example.com', ALPNProtocols: ['acme-tls/1'] });
    // Every single-byte corruption of the hello body: the parser answers, never throws.
    const kinds = new Set<string>();
    for (let i = 5; i < hello.length; i++) {
      for (const value of [0x00, 0xff]) {
        const bad = Buffer.from(hello);
        bad[i] = value;
        const result = parseClientHello(bad);
        kinds.add(result.kind);
      }
    }
    expect(kinds.has('invalid')).toBe(true);
  });

  test('an SNI name with bytes no host name has is invalid', async () => {
    const hello = await capturedHello({ servername: 'abc.example.com' });
    const at = hello.indexOf('abc.example.com');
    const bad = Buffer.from(hello);
    bad[at] = 0x0a; // a line feed inside the name
    expect(parseClientHello(bad)).toEqual({ kind: 'invalid', reason: 'a malformed server_name extension' });
  });

  test('a hello that would take more than the bound in small records is refused at the bound', () => {
    // A 16000-byte hello announced, sent in records of 100 bytes: 160 record headers push it past the bound.
    const body = Buffer.alloc(16_004);
    body[0] = 1;
    body.writeUIntBE(16_000, 1, 3);
    const records: Buffer[] = [];
    for (let at = 0; at < body.length; at += 100) {
      const part = body.subarray(at, at + 100);
      records.push(Buffer.from([0x16, 3, 1, 0, part.length]), part);
    }
    const stream = Buffer.concat(records);
    expect(parseClientHello(stream.subarray(0, MAX_CLIENT_HELLO_BYTES - 1))).toEqual({ kind: 'partial' });
    expect(parseClientHello(stream.subarray(0, MAX_CLIENT_HELLO_BYTES))).toEqual({
      kind: 'invalid',
      reason: `no complete ClientHello in ${MAX_CLIENT_HELLO_BYTES} bytes`,
    });
  });
});

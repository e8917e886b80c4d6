import { ProxyHeaderDecoder, ProxyDecodeResult } from '../src/admission/proxy-decoder';
import { crc32cUpdate } from '../src/admission/proxy-crc32c';
import type { ProxyHeader, ProxyProtocolMode } from '../src/admission/proxy-header';
import { encodeV1, encodeV2, V2_SIG } from './fixtures/proxy-encoder';

const APP = Buffer.from('\x16\x03\x01 first application bytes\r\n', 'latin1');

function decodeAll(bytes: Buffer, mode: ProxyProtocolMode = 'auto', maxV2Bytes?: number): ProxyDecodeResult {
  return new ProxyHeaderDecoder(mode, maxV2Bytes).push(bytes);
}

function header(result: ProxyDecodeResult): ProxyHeader {
  if (result.status !== 'done') throw new Error(`expected a header, got ${JSON.stringify(result)}`);
  return result.header;
}

function reason(result: ProxyDecodeResult): string {
  return result.status === 'error' ? result.reason : result.status;
}

/** Feeds `pieces` in order; returns the final result and every application byte delivered. */
function feed(decoder: ProxyHeaderDecoder, pieces: Buffer[]): { result: ProxyDecodeResult; rest: Buffer } {
  const after: Buffer[] = [];
  let result: ProxyDecodeResult = { status: 'more' };
  for (const piece of pieces) {
    if (result.status === 'done') after.push(piece);
    else if (result.status === 'more') {
      result = decoder.push(piece);
      if (result.status === 'done') after.push(result.rest);
    }
  }
  return { result, rest: Buffer.concat(after) };
}

describe('PROXY v1', () => {
  test('TCP4 line, and the bytes after it, a view of the same chunk', () => {
    const chunk = Buffer.concat([Buffer.from('PROXY TCP4 192.168.0.1 192.168.0.11 56324 443\r\n'), APP]);
    const result = decodeAll(chunk);
    expect(header(result)).toEqual({
      version: 1,
      command: 'proxy',
      endpoints: {
        family: 'ipv4',
        transport: 'stream',
        sourceAddress: '192.168.0.1',
        sourcePort: 56324,
        destinationAddress: '192.168.0.11',
        destinationPort: 443,
      },
      tlvs: {},
      byteLength: 47,
    });
    if (result.status !== 'done') throw new Error();
    expect(result.rest).toEqual(APP);
    expect(result.rest.buffer).toBe(chunk.buffer);
  });

  test('TCP6 addresses come out in the form Node reports', () => {
    const h = header(decodeAll(Buffer.from('PROXY TCP6 2001:DB8:0:0:0:0:0:1 ::FFFF:10.0.0.1 1 65535\r\n')));
    expect(h.endpoints).toMatchObject({ family: 'ipv6', sourceAddress: '2001:db8::1', destinationAddress: '::ffff:10.0.0.1', sourcePort: 1, destinationPort: 65535 });
  });

  test('UNKNOWN: short form, and the 107-byte worst case, keep the connection\'s own endpoints', () => {
    expect(header(decodeAll(Buffer.from('PROXY UNKNOWN\r\n'))).endpoints).toBeUndefined();
    const f = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const worst = Buffer.from(`PROXY UNKNOWN ${f} ${f} 65535 65535\r\n`);
    expect(worst.length).toBe(107);
    expect(header(decodeAll(worst))).toMatchObject({ version: 1, endpoints: undefined, byteLength: 107 });
  });

  test('no CRLF within 107 bytes is oversized, decided at byte 107 without waiting for more', () => {
    const f = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
    const long = Buffer.from(`PROXY UNKNOWN ${f} ${f} 65535 655350\r\n`);
    expect(reason(decodeAll(long))).toBe('oversized');
    const decoder = new ProxyHeaderDecoder();
    expect(decoder.push(long.subarray(0, 106)).status).toBe('more');
    expect(reason(decoder.push(long.subarray(106, 107)))).toBe('oversized');
  });

  test.each([
    ['a lone LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\n'],
    ['a CR not followed by LF', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2\rX\n'],
    ['a leading zero in an address', 'PROXY TCP4 01.2.3.4 5.6.7.8 1 2\r\n'],
    ['a leading zero in a port', 'PROXY TCP4 1.2.3.4 5.6.7.8 01 2\r\n'],
    ['a port over 65535', 'PROXY TCP4 1.2.3.4 5.6.7.8 65536 2\r\n'],
    ['an octet over 255', 'PROXY TCP4 1.2.3.256 5.6.7.8 1 2\r\n'],
    ['two spaces', 'PROXY TCP4  1.2.3.4 5.6.7.8 1 2\r\n'],
    ['a missing port', 'PROXY TCP4 1.2.3.4 5.6.7.8 1\r\n'],
    ['an extra field', 'PROXY TCP4 1.2.3.4 5.6.7.8 1 2 3\r\n'],
    ['a lower-case protocol', 'PROXY tcp4 1.2.3.4 5.6.7.8 1 2\r\n'],
    ['an IPv6 address on TCP4', 'PROXY TCP4 ::1 ::1 1 2\r\n'],
    ['an IPv4 address on TCP6', 'PROXY TCP6 1.2.3.4 5.6.7.8 1 2\r\n'],
    ['an IPv6 zone id', 'PROXY TCP6 fe80::1%eth0 ::1 1 2\r\n'],
    ['two "::"', 'PROXY TCP6 1::2::3 ::1 1 2\r\n'],
    ['a 5-digit IPv6 group', 'PROXY TCP6 12345::1 ::1 1 2\r\n'],
    ['UNKNOWN glued to more', 'PROXY UNKNOWNX\r\n'],
    ['an empty line', 'PROXY \r\n'],
  ])('%s is malformed', (_what, line) => {
    expect(reason(decodeAll(Buffer.from(line, 'latin1')))).toBe('malformed');
  });

  test('a v1 header on a v2 listener is an unsupported version', () => {
    expect(reason(decodeAll(encodeV1(undefined), 'v2'))).toBe('unsupported-version');
  });
});

describe('PROXY v2', () => {
  const v4 = { family: 'ipv4' as const, sourceAddress: '127.0.0.9', sourcePort: 40000, destinationAddress: '10.1.2.3', destinationPort: 8443 };

  test('TCP over IPv4, the bytes after it intact', () => {
    const bytes = encodeV2({ endpoints: v4 });
    const result = decodeAll(Buffer.concat([bytes, APP]));
    expect(header(result)).toEqual({ version: 2, command: 'proxy', endpoints: { ...v4, transport: 'stream' }, tlvs: {}, byteLength: 28 });
    if (result.status === 'done') expect(result.rest).toEqual(APP);
  });

  test('TCP and UDP over IPv6; UNIX stream', () => {
    const v6 = { family: 'ipv6' as const, sourceAddress: '2001:db8::7', sourcePort: 1, destinationAddress: '::ffff:127.0.0.1', destinationPort: 2 };
    expect(header(decodeAll(encodeV2({ endpoints: v6 }))).endpoints).toEqual({ ...v6, transport: 'stream' });
    expect(header(decodeAll(encodeV2({ endpoints: { ...v6, transport: 'dgram' } }))).endpoints).toEqual({ ...v6, transport: 'dgram' });
    const unix = { family: 'unix' as const, sourceAddress: '/run/a.sock', sourcePort: 0, destinationAddress: '/run/b.sock', destinationPort: 0 };
    expect(header(decodeAll(encodeV2({ endpoints: unix }))).endpoints).toEqual({ ...unix, transport: 'stream' });
  });

  test('LOCAL (a health check) keeps the connection\'s endpoints and skips whatever address block it carries', () => {
    const h = header(decodeAll(encodeV2({ command: 'local', endpoints: v4, tlvs: [[0x02, 'ignored']] })));
    expect(h).toMatchObject({ command: 'local', endpoints: undefined, tlvs: {} });
    expect(header(decodeAll(encodeV2({ command: 'local' }))).byteLength).toBe(16);
  });

  test('AF_UNSPEC with PROXY keeps the connection\'s endpoints', () => {
    expect(header(decodeAll(encodeV2({})))).toMatchObject({ command: 'proxy', endpoints: undefined });
  });

  test('TLVs: ALPN, authority, unique id, SSL with every subtype, netns, custom; NOOP skipped', () => {
    const h = header(
      decodeAll(
        encodeV2({
          endpoints: v4,
          tlvs: [
            [0x04, Buffer.alloc(5)],
            [0x01, 'h2'],
            [0x02, 'www.example.com'],
            [0x05, Buffer.alloc(128, 7)],
            [0x30, 'blue'],
            [0xea, Buffer.from('vpce-1')],
          ],
          ssl: {
            client: 0x07,
            verify: 0,
            sub: [
              [0x21, 'TLSv1.3'],
              [0x22, 'Ünïcode CN'],
              [0x23, 'TLS_AES_256_GCM_SHA384'],
              [0x24, 'RSA-SHA256'],
              [0x25, 'RSA2048'],
              [0x7f, 'unknown subtype'],
            ],
          },
        }),
      ),
    );
    expect(h.tlvs).toEqual({
      alpn: 'h2',
      authority: 'www.example.com',
      uniqueId: Buffer.alloc(128, 7),
      netns: 'blue',
      custom: [{ type: 0xea, value: Buffer.from('vpce-1') }],
      ssl: {
        clientSsl: true,
        clientCertConnection: true,
        clientCertSession: true,
        verify: 0,
        version: 'TLSv1.3',
        commonName: 'Ünïcode CN',
        cipher: 'TLS_AES_256_GCM_SHA384',
        signatureAlgorithm: 'RSA-SHA256',
        keyAlgorithm: 'RSA2048',
      },
    });
  });

  test('the first of a repeated TLV is kept', () => {
    expect(header(decodeAll(encodeV2({ endpoints: v4, tlvs: [[0x02, 'first'], [0x02, 'second']] }))).tlvs.authority).toBe('first');
  });

  test('CRC32C: the right one is verified and kept; a wrong one refuses the header', () => {
    const good = encodeV2({ endpoints: v4, tlvs: [[0x02, 'a.example']], crc: true });
    expect(header(decodeAll(good)).tlvs.crc32c).toBe(good.readUInt32BE(good.length - 4));
    expect(reason(decodeAll(encodeV2({ endpoints: v4, crc: 'wrong' })))).toBe('bad-checksum');
    const flipped = Buffer.from(good);
    flipped[20] ^= 0x40; // the source address changed in transit
    expect(reason(decodeAll(flipped))).toBe('bad-checksum');
  });

  test('CRC32C of "123456789" is the RFC 4960 check value', () => {
    expect(crc32cUpdate(0, Buffer.from('123456789'), 0, 9)).toBe(0xe3069283);
  });

  test.each([
    ['an unknown command', (b: Buffer) => (b[12] = 0x22)],
    ['an unknown family', (b: Buffer) => (b[13] = 0x41)],
    ['an unknown transport', (b: Buffer) => (b[13] = 0x13)],
    ['a length shorter than the IPv4 address block', (b: Buffer) => b.writeUInt16BE(11, 14)],
  ])('%s is malformed', (_what, mutate) => {
    const bytes = encodeV2({ endpoints: v4 });
    mutate(bytes);
    expect(reason(decodeAll(bytes.subarray(0, 16 + bytes.readUInt16BE(14))))).toBe('malformed');
  });

  test.each([
    ['a TLV running past the header', encodeV2({ endpoints: v4, tlvs: [[0x02, 'x']] }).subarray(0, -1)],
    ['a TLV with no room for its length', Buffer.concat([encodeV2({ endpoints: v4 }), Buffer.from([0x02, 0x00])])],
    ['a unique id over 128 bytes', encodeV2({ endpoints: v4, tlvs: [[0x05, Buffer.alloc(129)]] })],
    ['a CRC32C TLV of 3 bytes', encodeV2({ endpoints: v4, tlvs: [[0x03, Buffer.alloc(3)]] })],
    ['an SSL TLV shorter than its 5 fixed bytes', encodeV2({ endpoints: v4, tlvs: [[0x20, Buffer.alloc(4)]] })],
    ['an SSL sub-TLV running past its TLV', encodeV2({ endpoints: v4, tlvs: [[0x20, Buffer.from([1, 0, 0, 0, 0, 0x21, 0, 9, 0x41])]] })],
  ])('%s is malformed', (_what, bytes) => {
    // The declared length covers exactly the bytes given, so only the TLVs are wrong.
    const b = Buffer.from(bytes);
    b.writeUInt16BE(b.length - 16, 14);
    expect(reason(decodeAll(b))).toBe('malformed');
  });

  test('a version other than 2 is unsupported; a v2 header on a v1 listener too', () => {
    const bytes = encodeV2({ endpoints: v4 });
    bytes[12] = 0x31;
    expect(reason(decodeAll(bytes))).toBe('unsupported-version');
    expect(reason(decodeAll(encodeV2({ endpoints: v4 }), 'v1'))).toBe('unsupported-version');
  });

  test('a declared length over the cap is oversized from the first 16 bytes, nothing more held', () => {
    const big = encodeV2({ endpoints: v4, tlvs: [[0xe0, Buffer.alloc(3000)]] });
    const decoder = new ProxyHeaderDecoder('v2', 1024);
    expect(decoder.push(big.subarray(0, 15)).status).toBe('more');
    expect(decoder.pendingBytes).toBe(15);
    expect(reason(decoder.push(big.subarray(15, 16)))).toBe('oversized');
    expect(decoder.pendingBytes).toBe(0);
    expect(header(decodeAll(big, 'v2', big.length)).tlvs.custom![0].value.length).toBe(3000);
  });

  test('the largest header the spec allows (16 + 65535 bytes) decodes', () => {
    const tlvs: Array<[number, Buffer]> = [[0xe1, Buffer.alloc(65535 - 12 - 3)]];
    const max = encodeV2({ endpoints: v4, tlvs });
    expect(max.length).toBe(65551);
    expect(header(decodeAll(max)).byteLength).toBe(65551);
  });
});

describe('framing', () => {
  test('not a PROXY header: refused at the first byte that cannot start one', () => {
    expect(reason(decodeAll(Buffer.from('GET / HTTP/1.1\r\n')))).toBe('not-proxy');
    expect(reason(decodeAll(Buffer.from([0x16])))).toBe('not-proxy'); // a TLS ClientHello
    expect(reason(decodeAll(Buffer.from('PROXZ')))).toBe('not-proxy');
    expect(reason(decodeAll(Buffer.from([0x0d, 0x0a, 0x0d, 0x0a, 0x01])))).toBe('not-proxy');
  });

  test('end() before the header is complete: truncated', () => {
    const decoder = new ProxyHeaderDecoder();
    expect(decoder.push(V2_SIG.subarray(0, 5)).status).toBe('more');
    expect(reason(decoder.end())).toBe('truncated');
    expect(reason(new ProxyHeaderDecoder().end())).toBe('truncated');
  });

  test('an empty chunk changes nothing', () => {
    const decoder = new ProxyHeaderDecoder();
    expect(decoder.push(Buffer.alloc(0)).status).toBe('more');
    expect(header(decoder.push(encodeV1(undefined))).version).toBe(1);
  });

  const samples: Array<[string, Buffer]> = [
    ['v1 TCP4', encodeV1({ family: 'ipv4', sourceAddress: '1.2.3.4', sourcePort: 5, destinationAddress: '6.7.8.9', destinationPort: 10 })],
    ['v1 UNKNOWN', encodeV1(undefined, ' anything at all')],
    ['v2 IPv6 with TLVs and CRC', encodeV2({
      endpoints: { family: 'ipv6', sourceAddress: '::1', sourcePort: 1, destinationAddress: 'fe80::2', destinationPort: 2 },
      tlvs: [[0x02, 'sni.example'], [0x01, 'http/1.1']],
      ssl: { client: 1, verify: 0, sub: [[0x21, 'TLSv1.2']] },
      crc: true,
    })],
    ['v2 LOCAL', encodeV2({ command: 'local' })],
  ];

  test.each(samples)('%s: every split into two and three pieces, the application bytes intact', (_name, bytes) => {
    const wire = Buffer.concat([bytes, APP]);
    const expected = header(decodeAll(wire));
    for (let i = 0; i <= wire.length; i++) {
      for (let j = i; j <= wire.length; j += 7) {
        const decoder = new ProxyHeaderDecoder();
        const { result, rest } = feed(decoder, [wire.subarray(0, i), wire.subarray(i, j), wire.subarray(j)]);
        expect(header(result)).toEqual(expected);
        expect(rest).toEqual(APP);
      }
    }
  });

  test.each(samples)('%s: one byte at a time, never holding more than the header', (_name, bytes) => {
    const decoder = new ProxyHeaderDecoder();
    let result: ProxyDecodeResult = { status: 'more' };
    let i = 0;
    for (; i < bytes.length && result.status === 'more'; i++) {
      result = decoder.push(bytes.subarray(i, i + 1));
      expect(decoder.pendingBytes).toBeLessThan(bytes.length);
    }
    expect(i).toBe(bytes.length);
    expect(header(result).byteLength).toBe(bytes.length);
  });

  test('pushing after the header is a programming error, not input', () => {
    const decoder = new ProxyHeaderDecoder();
    decoder.push(encodeV1(undefined));
    expect(() => decoder.push(APP)).toThrow(/after the header/);
  });

  test('bad constructor arguments name the option and the value', () => {
    expect(() => new ProxyHeaderDecoder('v3' as ProxyProtocolMode)).toThrow(TypeError);
    expect(() => new ProxyHeaderDecoder('v3' as ProxyProtocolMode)).toThrow(/proxyProtocol.*v3/);
    expect(() => new ProxyHeaderDecoder('v2', 65552)).toThrow(RangeError);
    expect(() => new ProxyHeaderDecoder('v2', 15)).toThrow(/maxV2Bytes.*15/);
  });
});

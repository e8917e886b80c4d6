#!/usr/bin/env node
'use strict';
/**
 * The PROXY header decoder of ics-ts (packages/wsocket-server/dist/admission/
 * proxy-decoder.js; run `pnpm build` first) beside the npm package
 * proxy-protocol-js, on one corpus: which headers each reads right, what a
 * header costs, and how each behaves on hostile input. Evidence for the
 * decision in docs/load-balancer.md; not part of `pnpm bench`.
 *
 *   node bench/micro/proxy-decoder.js [--ms 500] [--json FILE]
 *
 * "Right" means: a valid header is accepted with the client's address and
 * port, and where the header ends is known (the application's first byte is
 * not taken for part of it); an invalid one is refused. proxy-protocol-js has
 * no incremental interface: it is given the whole buffer, and its exceptions
 * count as refusals.
 */
const path = require('node:path');
const fs = require('node:fs');

const ROOT = path.resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
const ms = Number(args[args.indexOf('--ms') + 1]) || 500;
const jsonFile = args.includes('--json') ? args[args.indexOf('--json') + 1] : undefined;

const { ProxyHeaderDecoder } = require(path.join(ROOT, 'packages', 'wsocket-server', 'dist', 'admission', 'proxy-decoder.js'));
const ppjs = require(require.resolve('proxy-protocol-js', { paths: [ROOT] }));

// ---- the corpus ---------------------------------------------------------------------------------

const SIG = Buffer.from('0d0a0d0a000d0a515549540a', 'hex');
const APP = Buffer.from('\x16\x03\x01\x00\xa5 first bytes of the application', 'latin1');

function tlv(type, value) {
  const v = Buffer.isBuffer(value) ? value : Buffer.from(value);
  return Buffer.concat([Buffer.from([type, v.length >> 8, v.length & 0xff]), v]);
}

function v2(verCmd, fam, body) {
  return Buffer.concat([SIG, Buffer.from([verCmd, fam, body.length >> 8, body.length & 0xff]), body]);
}

const ipv4Block = Buffer.from([127, 0, 0, 9, 10, 0, 0, 1, 0x9c, 0x40, 0x01, 0xbb]); // 127.0.0.9:40000 -> 10.0.0.1:443
const ipv6Block = Buffer.concat([
  Buffer.from('20010db8000000000000000000000007', 'hex'),
  Buffer.from('00000000000000000000000000000001', 'hex'),
  Buffer.from([0x9c, 0x40, 0x01, 0xbb]),
]);
const sslTlv = tlv(
  0x20,
  Buffer.concat([Buffer.from([0x07, 0, 0, 0, 0]), tlv(0x21, 'TLSv1.3'), tlv(0x22, 'client.example'), tlv(0x23, 'TLS_AES_256_GCM_SHA384'), tlv(0x24, 'ecdsa-with-SHA256'), tlv(0x25, 'EC256')]),
);
const haproxyLike = v2(0x21, 0x11, Buffer.concat([ipv4Block, tlv(0x01, 'h2'), tlv(0x02, 'sni.example'), tlv(0x05, '7F000009:9C40_0A000001:01BB_6B0FB857_0000'), sslTlv]));

/** CRC32C for the checksum cases (bit at a time; only the corpus uses it). */
function crc32c(bytes) {
  let crc = 0xffffffff;
  for (const byte of bytes) {
    crc ^= byte;
    for (let k = 0; k < 8; k++) crc = crc & 1 ? (crc >>> 1) ^ 0x82f63b78 : crc >>> 1;
  }
  return (crc ^ 0xffffffff) >>> 0;
}
function withCrc(wrong) {
  const header = v2(0x21, 0x11, Buffer.concat([ipv4Block, tlv(0x03, Buffer.alloc(4))]));
  header.writeUInt32BE((crc32c(header) ^ (wrong ? 1 : 0)) >>> 0, header.length - 4);
  return header;
}

const f = 'ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff';
/** [name, bytes (header + application bytes), valid?, expected source "addr:port" for a valid relayed header, header length] */
const CORPUS = [
  ['v1 TCP4', Buffer.from('PROXY TCP4 127.0.0.9 10.0.0.1 40000 443\r\n'), true, '127.0.0.9:40000'],
  ['v1 TCP6', Buffer.from('PROXY TCP6 2001:db8::7 ::1 40000 443\r\n'), true, '2001:db8::7:40000'],
  ['v1 UNKNOWN (short form)', Buffer.from('PROXY UNKNOWN\r\n'), true, undefined],
  ['v1 UNKNOWN, 107 bytes', Buffer.from(`PROXY UNKNOWN ${f} ${f} 65535 65535\r\n`), true, undefined],
  ['v2 TCP4', v2(0x21, 0x11, ipv4Block), true, '127.0.0.9:40000'],
  ['v2 TCP6', v2(0x21, 0x21, ipv6Block), true, '2001:db8::7:40000'],
  ['v2 TCP4 + HAProxy SSL TLVs', haproxyLike, true, '127.0.0.9:40000'],
  ['v2 TCP4 + CRC32C', withCrc(false), true, '127.0.0.9:40000'],
  ['v2 LOCAL (health check)', v2(0x20, 0x00, Buffer.alloc(0)), true, undefined],
  ['v1 leading zero in address', Buffer.from('PROXY TCP4 127.000.0.9 10.0.0.1 40000 443\r\n'), false],
  ['v1 port 65536', Buffer.from('PROXY TCP4 127.0.0.9 10.0.0.1 65536 443\r\n'), false],
  ['v1 address not an address', Buffer.from('PROXY TCP4 evil.example 10.0.0.1 40000 443\r\n'), false],
  ['v1 lone LF', Buffer.from('PROXY TCP4 127.0.0.9 10.0.0.1 40000 443\n'), false],
  ['v1 no CRLF in 200 bytes', Buffer.from(`PROXY UNKNOWN ${'a'.repeat(186)}\r\n`), false],
  ['v2 version 3', v2(0x31, 0x11, ipv4Block), false],
  ['v2 command 2', v2(0x22, 0x11, ipv4Block), false],
  ['v2 length < address block', v2(0x21, 0x11, ipv4Block.subarray(0, 8)), false],
  ['v2 TLV past the header', v2(0x21, 0x11, Buffer.concat([ipv4Block, Buffer.from([0x02, 0x00, 0x09, 0x41])])), false],
  ['v2 wrong CRC32C', withCrc(true), false],
  ['v2 truncated (12 of 28 bytes)', v2(0x21, 0x11, ipv4Block).subarray(0, 12), false],
  ['not PROXY (HTTP)', Buffer.from('GET / HTTP/1.1\r\n'), false],
];

// ---- the two decoders, one interface: (bytes) -> { ok, source, headerLength } ------------------

function ours(bytes) {
  const d = new ProxyHeaderDecoder('auto');
  let r = d.push(bytes);
  if (r.status === 'more') r = d.end();
  if (r.status !== 'done') return { ok: false, why: r.reason };
  const e = r.header.endpoints;
  return { ok: true, source: e ? `${e.sourceAddress}:${e.sourcePort}` : undefined, headerLength: r.header.byteLength, rest: r.rest };
}

function theirs(bytes) {
  try {
    const version = ppjs.ProxyProtocolIdentifier.identify(bytes);
    if (version === ppjs.ProxyProtocolVersion.V1) {
      const p = ppjs.V1BinaryProxyProtocol.parse(bytes);
      const source = p.inetProtocol === 'UNKNOWN' ? undefined : `${p.source.ipAddress}:${p.source.port}`;
      return { ok: true, source, headerLength: bytes.length - (p.data ? p.data.length : 0), rest: p.data };
    }
    if (version === ppjs.ProxyProtocolVersion.V2) {
      const p = ppjs.V2ProxyProtocol.parse(bytes);
      const a = p.proxyAddress;
      let source;
      if (a.sourceAddress && Array.isArray(a.sourceAddress.address) && a.sourceAddress.address.length === 4) source = `${a.sourceAddress.address.join('.')}:${a.sourcePort}`;
      else if (a.sourceAddress && a.sourceAddress.address.length === 16) source = `${ipv6Text(a.sourceAddress.address)}:${a.sourcePort}`;
      if (p.command === ppjs.Command.LOCAL) source = undefined;
      // Its `data` is everything after the address block: TLVs and application bytes together.
      return { ok: true, source, headerLength: bytes.length - (p.data ? p.data.length : 0), rest: p.data };
    }
    return { ok: false, why: 'not identified' };
  } catch (error) {
    return { ok: false, why: error && (error.message || error.name) };
  }
}

function ipv6Text(bytes) {
  const net = require('node:net');
  const words = [];
  for (let k = 0; k < 8; k++) words.push(((bytes[2 * k] << 8) | bytes[2 * k + 1]).toString(16));
  return new net.SocketAddress({ address: words.join(':'), family: 'ipv6' }).address;
}

// ---- correctness ------------------------------------------------------------------------------------

function judge(decode, [, header, valid, source]) {
  const wire = valid ? Buffer.concat([header, APP]) : header;
  const r = decode(wire);
  if (!valid) return r.ok ? 'WRONG: accepted' : 'right: refused';
  if (!r.ok) return `WRONG: refused (${r.why})`;
  if (r.source !== source) return `WRONG: source ${r.source}`;
  if (r.headerLength !== header.length) return `WRONG: header end at ${r.headerLength}, not ${header.length}`;
  return 'right';
}

const rows = CORPUS.map((c) => ({ case: c[0], ours: judge(ours, c), proxyProtocolJs: judge(theirs, c) }));
const width = Math.max(...rows.map((r) => r.case.length));
console.log(`${'case'.padEnd(width)}  ${'ics-ts'.padEnd(28)}  proxy-protocol-js`);
for (const r of rows) console.log(`${r.case.padEnd(width)}  ${r.ours.padEnd(28)}  ${r.proxyProtocolJs}`);
const score = (k) => rows.filter((r) => r[k].startsWith('right')).length;
console.log(`right: ics-ts ${score('ours')}/${rows.length}, proxy-protocol-js ${score('proxyProtocolJs')}/${rows.length}\n`);

// ---- cost per header --------------------------------------------------------------------------------

function perHeader(decode, bytes) {
  let sink = 0;
  // Warm up, then count runs within the window.
  for (let i = 0; i < 20000; i++) sink += decode(bytes).ok ? 1 : 0;
  let runs = 0;
  const start = process.hrtime.bigint();
  const stop = start + BigInt(ms) * 1_000_000n;
  let now = start;
  while (now < stop) {
    for (let i = 0; i < 1000; i++) sink += decode(bytes).ok ? 1 : 0;
    runs += 1000;
    now = process.hrtime.bigint();
  }
  if (sink < 0) console.log(sink);
  return Number(now - start) / runs; // ns per header
}

const costs = [];
for (const name of ['v1 TCP4', 'v2 TCP4', 'v2 TCP4 + HAProxy SSL TLVs']) {
  const header = Buffer.concat([CORPUS.find((c) => c[0] === name)[1], APP]);
  const a = perHeader(ours, header);
  const b = perHeader(theirs, header);
  costs.push({ header: name, oursNs: Math.round(a), proxyProtocolJsNs: Math.round(b) });
  console.log(`${name.padEnd(30)} ics-ts ${Math.round(a)} ns/header   proxy-protocol-js ${Math.round(b)} ns/header`);
}

// ---- hostile input --------------------------------------------------------------------------------

function timed(fn) {
  const start = process.hrtime.bigint();
  const r = fn();
  return { r, ms: Number(process.hrtime.bigint() - start) / 1e6 };
}
const flood = Buffer.concat([Buffer.from('PROXY '), Buffer.alloc(1 << 20, 0x41)]); // 1 MiB, no space, no CRLF
const hostile = [];
{
  const d = new ProxyHeaderDecoder('auto');
  let held = 0;
  const t = timed(() => {
    let r;
    for (let i = 0; i < flood.length; i += 1460) {
      r = d.push(flood.subarray(i, i + 1460));
      held = Math.max(held, d.pendingBytes);
      if (r.status !== 'more') break;
    }
    return r;
  });
  hostile.push({ case: '1 MiB "PROXY AAAA..." in 1460-byte packets', ours: `${t.r.reason} after the first packet, held at most ${held} bytes, ${t.ms.toFixed(2)} ms` });
}
{
  // Without an incremental interface the caller must gather the packets and parse again at each one.
  let gathered = Buffer.alloc(0);
  let calls = 0;
  const t = timed(() => {
    let r;
    for (let i = 0; i < 64 * 1460; i += 1460) {
      gathered = Buffer.concat([gathered, flood.subarray(i, i + 1460)]);
      calls++;
      r = theirs(gathered);
      if (r.ok || !/terminated unexpectedly/.test(String(r.why))) break;
    }
    return r;
  });
  hostile[0].proxyProtocolJs = `still "${t.r.why}" after ${calls} packets (${gathered.length} bytes gathered, no bound), ${t.ms.toFixed(1)} ms`;
}
{
  const big = v2(0x21, 0x11, Buffer.concat([ipv4Block, tlv(0xe0, Buffer.alloc(60000))]));
  const a = ours(big);
  const d = new ProxyHeaderDecoder('auto', 4096);
  const capped = d.push(big.subarray(0, 16));
  const b = theirs(big);
  hostile.push({
    case: 'v2 declaring 60 KB of TLVs',
    ours: `accepted at the spec's cap (65551); with maxV2Bytes 4096: ${capped.reason} from the first 16 bytes`,
    proxyProtocolJs: b.ok ? `accepted; no cap (TLVs returned unparsed in data: ${b.rest.length} bytes)` : `refused: ${b.why}`,
  });
  void a;
}
for (const h of hostile) console.log(`\n${h.case}\n  ics-ts:            ${h.ours}\n  proxy-protocol-js: ${h.proxyProtocolJs}`);

if (jsonFile) fs.writeFileSync(jsonFile, JSON.stringify({ date: new Date().toISOString(), node: process.version, ms, rows, costs, hostile }, null, 2));

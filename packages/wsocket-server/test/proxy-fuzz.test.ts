import fc from 'fast-check';
import { isDeepStrictEqual } from 'node:util';
import { formatIPv6, parseIPv6 } from '../src/admission/proxy-addresses';
import { ProxyDecodeResult, ProxyHeaderDecoder } from '../src/admission/proxy-decoder';
import { PROXY_REFUSALS, PROXY_V1_MAX_BYTES, PROXY_V2_MAX_BYTES, ProxyHeader, ProxyTlvs } from '../src/admission/proxy-header';
import { encodeV1, encodeV2, EncodeEndpoints, EncodeSsl, nodeForm, V2_SIG } from './fixtures/proxy-encoder';

/**
 * Property tests of the PROXY decoder (fast-check): headers from a small
 * encoder of our own decode to exactly what was encoded, whatever the split
 * points; random and mutated bytes never throw, never hold more than the
 * bound, and decode the same however they are split. The case counts add up
 * to over 100,000 (the test prints how long they took).
 */

const RUNS = { roundTrip: 15_000, mutated: 40_000, random: 35_000, ipv6: 20_000 };
const seedFromEnv = process.env.FC_SEED ? { seed: Number(process.env.FC_SEED) } : {};

/** Decodes `wire` cut at `cuts` (sorted offsets); the final result and the application bytes delivered. */
function decodeSplit(wire: Buffer, cuts: number[], mode: 'v1' | 'v2' | 'auto' = 'auto', maxV2?: number) {
  const decoder = new ProxyHeaderDecoder(mode, maxV2);
  const bound = Math.max(PROXY_V1_MAX_BYTES, maxV2 ?? PROXY_V2_MAX_BYTES);
  let result: ProxyDecodeResult = { status: 'more' };
  const after: Buffer[] = [];
  let from = 0;
  for (const to of [...cuts, wire.length]) {
    const piece = wire.subarray(from, to);
    from = to;
    if (result.status === 'done') after.push(piece);
    else if (result.status === 'more') {
      result = decoder.push(piece);
      if (decoder.pendingBytes > bound) throw new Error(`held ${decoder.pendingBytes} bytes`);
      if (result.status === 'done') after.push(result.rest);
    }
  }
  if (result.status === 'more') result = decoder.end();
  return { result, rest: Buffer.concat(after) };
}

/** Up to 6 split points, as raw numbers placed within the wire by `placeCuts` (no `chain`: it is slow). */
const rawCuts = fc.array(fc.nat(0xffff), { maxLength: 6 });
function placeCuts(raw: number[], length: number): number[] {
  return raw.map((r) => r % (length + 1)).sort((a, b) => a - b);
}

/** jest's expect is too slow for 100,000 cases: a plain deep comparison that says what differed. */
function same(actual: unknown, expected: unknown, what: string): void {
  if (!isDeepStrictEqual(actual, expected)) {
    throw new Error(`${what} differs:\n actual   ${JSON.stringify(actual)}\n expected ${JSON.stringify(expected)}`);
  }
}

/** Compares two results as values (the `rest` of a whole-buffer decode is compared by the caller). */
function summary(result: ProxyDecodeResult): unknown {
  return result.status === 'done' ? { header: result.header } : result;
}

// ---- generators of what a proxy may send ------------------------------------------------------

const port = fc.integer({ min: 0, max: 65535 });
const ipv4 = fc.tuple(fc.nat(255), fc.nat(255), fc.nat(255), fc.nat(255)).map((o) => o.join('.'));
const ipv6Words = fc.array(fc.oneof(fc.constant(0), fc.constant(0xffff), fc.integer({ min: 0, max: 0xffff })), { minLength: 8, maxLength: 8 });
/** Full 8-group text, random case: the encoder's input and a valid v1 form. */
const ipv6Full = fc.tuple(ipv6Words, fc.boolean()).map(([words, upper]) => {
  const text = words.map((w) => w.toString(16)).join(':');
  return upper ? text.toUpperCase() : text;
});

const endpointsArb = fc.oneof(
  fc.record({ family: fc.constant('ipv4' as const), sourceAddress: ipv4, sourcePort: port, destinationAddress: ipv4, destinationPort: port }),
  fc.record({ family: fc.constant('ipv6' as const), sourceAddress: ipv6Full, sourcePort: port, destinationAddress: ipv6Full, destinationPort: port }),
);

const ascii = fc.string({ unit: fc.integer({ min: 0x21, max: 0x7e }).map((c) => String.fromCharCode(c)), maxLength: 40 });
const bytes = (max: number) => fc.uint8Array({ maxLength: max }).map((a) => Buffer.from(a));

const sslArb: fc.Arbitrary<EncodeSsl> = fc.record({
  client: fc.nat(7),
  verify: fc.nat(),
  sub: fc.subarray(
    [
      [0x21, 'TLSv1.3'],
      [0x22, 'client.example'],
      [0x23, 'TLS_AES_128_GCM_SHA256'],
      [0x24, 'RSA-SHA256'],
      [0x25, 'EC256'],
    ] as Array<[number, string]>,
  ),
});

const v2Arb = fc.record(
  {
    endpoints: endpointsArb,
    transport: fc.constantFrom('stream' as const, 'dgram' as const),
    alpn: ascii,
    authority: fc.string({ maxLength: 60 }),
    uniqueId: bytes(128),
    netns: ascii,
    ssl: sslArb,
    custom: fc.array(fc.tuple(fc.integer({ min: 0xe0, max: 0xff }), bytes(20)), { maxLength: 3 }),
    noop: bytes(8),
    crc: fc.nat(3).map((n) => n === 0), // a quarter of the headers: the reference CRC is slow
  },
  { requiredKeys: ['endpoints', 'transport', 'crc'] },
);
type V2Spec = typeof v2Arb extends fc.Arbitrary<infer T> ? T : never;

const canonical = (address: string, family: 'ipv4' | 'ipv6') => (family === 'ipv4' ? address : nodeForm(address, 'ipv6'));

function expectedEndpoints(e: EncodeEndpoints, transport: 'stream' | 'dgram') {
  return {
    family: e.family,
    transport,
    sourceAddress: canonical(e.sourceAddress, e.family as 'ipv4' | 'ipv6'),
    sourcePort: e.sourcePort,
    destinationAddress: canonical(e.destinationAddress, e.family as 'ipv4' | 'ipv6'),
    destinationPort: e.destinationPort,
  };
}

/** The wire bytes and the header the decoder must report, built from the spec alone. */
function buildV2(spec: V2Spec): { wire: Buffer; expected: ProxyHeader } {
  const tlvs: Array<[number, Buffer | string]> = [];
  const expectedTlvs: Record<string, unknown> = {};
  if (spec.noop !== undefined) tlvs.push([0x04, spec.noop]);
  if (spec.alpn !== undefined) (tlvs.push([0x01, spec.alpn]), (expectedTlvs.alpn = spec.alpn));
  if (spec.authority !== undefined) {
    tlvs.push([0x02, spec.authority]);
    expectedTlvs.authority = Buffer.from(spec.authority, 'utf8').toString('utf8');
  }
  if (spec.uniqueId !== undefined) (tlvs.push([0x05, spec.uniqueId]), (expectedTlvs.uniqueId = spec.uniqueId));
  if (spec.netns !== undefined) (tlvs.push([0x30, spec.netns]), (expectedTlvs.netns = spec.netns));
  if (spec.custom?.length) {
    for (const [type, value] of spec.custom) tlvs.push([type, value]);
    expectedTlvs.custom = spec.custom.map(([type, value]) => ({ type, value }));
  }
  if (spec.ssl) {
    const sub = new Map(spec.ssl.sub);
    expectedTlvs.ssl = {
      clientSsl: (spec.ssl.client & 1) !== 0,
      clientCertConnection: (spec.ssl.client & 2) !== 0,
      clientCertSession: (spec.ssl.client & 4) !== 0,
      verify: spec.ssl.verify,
      version: sub.get(0x21),
      commonName: sub.get(0x22),
      cipher: sub.get(0x23),
      signatureAlgorithm: sub.get(0x24),
      keyAlgorithm: sub.get(0x25),
    };
  }
  const endpoints = { ...spec.endpoints, transport: spec.transport };
  const wire = encodeV2({ endpoints, tlvs, ssl: spec.ssl, crc: spec.crc });
  if (spec.crc) expectedTlvs.crc32c = wire.readUInt32BE(wire.length - 4);
  return {
    wire,
    expected: {
      version: 2,
      command: 'proxy',
      endpoints: expectedEndpoints(endpoints, spec.transport),
      tlvs: expectedTlvs as ProxyTlvs,
      byteLength: wire.length,
    },
  };
}

function buildV1(e: EncodeEndpoints): { wire: Buffer; expected: ProxyHeader } {
  const wire = encodeV1(e);
  return { wire, expected: { version: 1, command: 'proxy', endpoints: expectedEndpoints(e, 'stream'), tlvs: {}, byteLength: wire.length } };
}

const headerArb = fc.oneof(endpointsArb.map(buildV1), v2Arb.map(buildV2));
const appArb = bytes(64);

// ---- properties ---------------------------------------------------------------------------------

const started = Date.now();
afterAll(() => {
  const total = Object.values(RUNS).reduce((a, b) => a + b, 0);
  process.stdout.write(`[proxy-fuzz] ${total} generated cases in ${Date.now() - started} ms\n`);
});

test('round trip: any header we encode decodes to exactly it, at any split points, the application bytes intact', () => {
  fc.assert(
    fc.property(
      headerArb,
      appArb,
      rawCuts,
      ({ wire, expected }, app, raw) => {
        const full = Buffer.concat([wire, app]);
        const { result, rest } = decodeSplit(full, placeCuts(raw, full.length));
        if (result.status !== 'done') throw new Error(`refused: ${JSON.stringify(result)}`);
        same(result.header, expected, 'header');
        same(rest.equals(app), true, 'application bytes intact');
      },
    ),
    { numRuns: RUNS.roundTrip, ...seedFromEnv },
  );
});

/**
 * A valid header with application bytes (from a corpus made once: generating
 * and encoding costs more than decoding), then bytes flipped, inserted,
 * removed or the v2 length retold.
 */
const CORPUS = fc.sample(fc.tuple(headerArb, appArb), { numRuns: 500, seed: 14 }).map(([{ wire }, app]) => Buffer.concat([wire, app]));
const mutatedArb = fc
  .tuple(fc.nat(CORPUS.length - 1).map((i) => CORPUS[i]), fc.array(fc.tuple(fc.nat(), fc.nat(255), fc.constantFrom('flip', 'insert', 'delete', 'length')), { minLength: 1, maxLength: 4 }))
  .map(([valid, edits]) => {
    const out = Array.from(valid);
    for (const [at, value, kind] of edits) {
      const i = out.length ? at % out.length : 0;
      if (kind === 'flip') out[i] = value;
      else if (kind === 'insert') out.splice(i, 0, value);
      else if (kind === 'delete') out.splice(i, 1);
      else if (out.length > 16) (out[14] = value & 0x1f), (out[15] = value);
    }
    return Buffer.from(out);
  })
const modeArb = fc.oneof(
  { weight: 4, arbitrary: fc.constant('auto' as const) },
  { weight: 1, arbitrary: fc.constantFrom('v1' as const, 'v2' as const) },
);
const capArb = fc.oneof({ weight: 3, arbitrary: fc.constant(PROXY_V2_MAX_BYTES) }, { weight: 1, arbitrary: fc.integer({ min: 16, max: 600 }) });

function checkConsistent(wire: Buffer, raw: number[], mode: 'v1' | 'v2' | 'auto', maxV2: number): void {
  const whole = decodeSplit(wire, [], mode, maxV2);
  const split = decodeSplit(wire, placeCuts(raw, wire.length), mode, maxV2);
  same(summary(split.result), summary(whole.result), 'split result');
  if (whole.result.status === 'done') {
    const { header } = whole.result;
    if (header.byteLength > (header.version === 1 ? PROXY_V1_MAX_BYTES : maxV2)) throw new Error(`header of ${header.byteLength} bytes`);
    same(whole.rest.equals(wire.subarray(header.byteLength)), true, 'rest after a whole decode');
    same(split.rest.equals(wire.subarray(header.byteLength)), true, 'rest after a split decode');
  } else {
    same(whole.result.status, 'error', 'status');
    if (whole.result.status === 'error' && !PROXY_REFUSALS.includes(whole.result.reason)) throw new Error(`reason ${whole.result.reason}`);
  }
}

test('mutated headers: never a throw, a refusal from the fixed set or a header within bounds, the same whatever the split', () => {
  fc.assert(
    fc.property(mutatedArb, rawCuts, modeArb, capArb, checkConsistent),
    { numRuns: RUNS.mutated, ...seedFromEnv },
  );
});

test('random bytes, alone and after a signature: the same guarantees', () => {
  const prefix = fc.constantFrom(Buffer.alloc(0), Buffer.from('PROXY '), Buffer.from('PROXY TCP4 '), Buffer.from('PROXY UNKNOWN'), Buffer.concat([V2_SIG, Buffer.from([0x21])]));
  const arb = fc
    .tuple(prefix, bytes(200))
    .map(([p, b]) => Buffer.concat([p, b]));
  fc.assert(
    fc.property(arb, rawCuts, modeArb, capArb, checkConsistent),
    { numRuns: RUNS.random, ...seedFromEnv },
  );
});

test('IPv6 text: what we accept, Node accepts and writes the same way; any 16 bytes format as Node does', () => {
  const forms = fc.oneof(
    ipv6Full,
    ipv6Words.map((w) => nodeForm(w.map((x) => x.toString(16)).join(':'), 'ipv6')),
    fc.string({ unit: fc.constantFrom(...'0123456789abcdefABCDEF:.'), maxLength: 45 }),
  );
  const scratch = new Uint8Array(16);
  fc.assert(
    fc.property(forms, fc.uint8Array({ minLength: 16, maxLength: 16 }), (text, raw) => {
      if (parseIPv6(text, scratch)) same(formatIPv6(scratch, 0), nodeForm(text, 'ipv6'), text);
      const words = Array.from({ length: 8 }, (_, k) => ((raw[2 * k] << 8) | raw[2 * k + 1]).toString(16)).join(':');
      same(formatIPv6(raw, 0), nodeForm(words, 'ipv6'), words);
    }),
    { numRuns: RUNS.ipv6, ...seedFromEnv },
  );
});


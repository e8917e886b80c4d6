'use strict';
/**
 * lines: line framing. The load sends 64-byte CRLF lines (62 characters + CRLF);
 * the server counts the lines it gets (lines/s, counted in the server).
 * Two phases per server process:
 *  bulk:  4 connections pump 64 KiB blocks of lines (backpressure);
 *  bytes: 16 connections, TCP_NODELAY, write one byte per connection per
 *         event-loop turn, so the server reads packets of (about) 1 byte; the
 *         average bytes per read is reported.
 * Implementations, all decoding lines to strings (utf8):
 *  ics-ts:   TWSocketServer, a client class in line mode (onLine counts);
 *  split2:   net.Server, socket.pipe(split2()) ('data' counts);
 *  readline: net.Server, readline.createInterface({ input: socket, crlfDelay: Infinity }) ('line' counts).
 *  net-read: net.Server that only reads (counts bytes / 64 as lines): no
 *            framing at all, the floor under any line splitter (information only).
 * Target: ics-ts >= 1.5 x the faster of split2 and readline.
 * The two windows are 2/3 of --duration each.
 */
const net = require('node:net');
const { withProcs, measureWindow, rate, cpuPer } = require('../lib/rounds');

const LINE = Buffer.from(`${'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'}\r\n`, 'latin1'); // 64 bytes

let split2Path;
try {
  split2Path = require.resolve('split2');
} catch {
  split2Path = undefined;
}

const BASELINES = split2Path ? ['split2', 'readline'] : ['readline'];
// net-read: reads and counts bytes, no framing at all (a line = 64 bytes): the floor under any framing.
const IMPLS = ['ics-ts', ...BASELINES, 'net-read'];
const SPLIT2_MISSING = 'split2 is not installed: its baseline is skipped (add split2 as a root devDependency)';

const counters = { lines: 0, chunks: 0, bytes: 0 };
function onChunk(chunk) {
  counters.chunks++;
  counters.bytes += chunk.length;
}
function onLine() {
  counters.lines++;
}

async function listenNet(handler) {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.on('data', onChunk);
    handler(s);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, counters: () => ({ ...counters }) };
}

module.exports = {
  name: 'lines',
  title: 'line framing',
  what: '64-byte CRLF lines through line mode: bulk (4 connections, 64 KiB writes) and 1-byte packets (16 connections); lines/s counted in the server',
  impls: IMPLS,
  baselineText: split2Path ? 'split2 and node:readline on the same stream' : 'node:readline on the same stream (split2 not installed)',
  params: {
    full: { bulkConns: 4, byteConns: 16 },
    smoke: { bulkConns: 1, byteConns: 2 },
  },
  metrics: [
    { key: 'bulkLinesPerSec', label: 'bulk lines/s', unit: 'lines/s', higher: true, target: { type: 'ratio', min: 1.5, bestOf: BASELINES } },
    { key: 'bulkNsPerLine', label: 'bulk: server CPU per line', unit: 'ns', higher: false, info: true },
    { key: 'byteLinesPerSec', label: '1-byte packets lines/s', unit: 'lines/s', higher: true, target: { type: 'ratio', min: 1.5, bestOf: BASELINES } },
    { key: 'byteNsPerPacket', label: '1-byte: server CPU per read', unit: 'ns', higher: false, info: true },
    { key: 'bytesPerRead', label: '1-byte: bytes per read', unit: 'B', higher: false, info: true },
  ],

  async round(ctx, impl, p) {
    return withProcs(ctx, impl, { split2Path }, { bulkConns: p.bulkConns, byteConns: p.byteConns }, async ({ server, load }) => {
      await load.waitFor('running', 10000);
      await load.call('control', 'bulk');
      const windowMs = Math.max(100, Math.round(ctx.durationMs * (2 / 3))); // two windows per process
      const b = await measureWindow(server, load, ctx.warmupMs, windowMs);
      await load.call('control', 'bytes');
      const y = await measureWindow(server, load, ctx.warmupMs, windowMs);
      const bulkLines = b.s1.counters.lines - b.s0.counters.lines;
      const byteLines = y.s1.counters.lines - y.s0.counters.lines;
      const byteReads = y.s1.counters.chunks - y.s0.counters.chunks;
      if (!(bulkLines > 0) || !(byteLines > 0)) throw new Error(`no lines counted (bulk ${bulkLines}, bytes ${byteLines})`);
      return {
        bulkLinesPerSec: rate(b.s0, b.s1, 'lines'),
        bulkNsPerLine: cpuPer(b.s0, b.s1, bulkLines) * 1e6,
        byteLinesPerSec: rate(y.s0, y.s1, 'lines'),
        byteNsPerPacket: cpuPer(y.s0, y.s1, byteReads) * 1e6,
        bytesPerRead: (y.s1.counters.bytes - y.s0.counters.bytes) / byteReads,
        note: split2Path ? undefined : SPLIT2_MISSING,
        foreignPct: Math.max(b.foreignPct || 0, y.foreignPct || 0),
      };
    });
  },

  server: {
    async 'ics-ts'() {
      const { startServer, CountingLineClient, lineCounter } = require('../lib/ics');
      const server = await startServer({ clientClass: CountingLineClient });
      server.on('clientConnect', (client) => client.rawSocket.on('data', onChunk));
      return { port: server.bindPort, counters: () => ({ ...counters, lines: lineCounter.lines }) };
    },
    async split2(opts) {
      const split2 = require(opts.split2Path);
      return listenNet((s) => s.pipe(split2()).on('data', onLine));
    },
    async 'net-read'() {
      const srv = await listenNet(() => {});
      return { ...srv, counters: () => ({ ...counters, lines: Math.floor(counters.bytes / LINE.length) }) };
    },
    async readline() {
      const readline = require('node:readline');
      return listenNet((s) => readline.createInterface({ input: s, crlfDelay: Infinity }).on('line', onLine));
    },
  },

  load(opts, ctl) {
    const block = Buffer.concat(Array.from({ length: 1024 }, () => LINE)); // 64 KiB
    const bytes = Array.from(LINE, (_, i) => LINE.subarray(i, i + 1));
    let phase = 'idle';
    let sockets = [];
    let sent = 0;
    let errors = 0;
    const open = (count, noDelay) =>
      Promise.all(
        Array.from({ length: count }, () => {
          const c = net.connect({ host: opts.host, port: opts.port, noDelay });
          c.on('error', () => errors++);
          sockets.push(c);
          return new Promise((resolve) => c.once('connect', resolve));
        }),
      );
    const pump = (c) => {
      while (phase === 'bulk' && c.writable) {
        sent += block.length;
        if (!c.write(block)) {
          c.once('drain', () => pump(c));
          return;
        }
      }
    };
    // One byte per connection per turn of the event loop.
    let pos = 0;
    const trickle = () => {
      if (phase !== 'bytes') return;
      const b = bytes[pos];
      pos = (pos + 1) % bytes.length;
      for (const c of sockets) {
        if (c.writable && c.writableLength === 0) {
          c.write(b);
          sent++;
        }
      }
      setImmediate(trickle);
    };
    const closeAll = () => {
      for (const c of sockets) c.destroy();
      sockets = [];
    };
    ctl.running();
    return {
      counters: () => ({ sent, errors }),
      async control(cmd) {
        closeAll();
        phase = 'idle';
        if (cmd === 'bulk') {
          await open(opts.bulkConns, false);
          phase = 'bulk';
          for (const c of sockets) pump(c);
        } else if (cmd === 'bytes') {
          await open(opts.byteConns, true);
          phase = 'bytes';
          pos = 0;
          trickle();
        }
        return true;
      },
      stop() {
        phase = 'idle';
        closeAll();
      },
    };
  },
};

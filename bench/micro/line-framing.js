#!/usr/bin/env node
'use strict';
/**
 * In-process micro-benchmark of line framing, no sockets: what TWSocket's line
 * mode costs per line, against a prototype of a faster way (evidence for the
 * `lines` benchmark; not part of `pnpm bench`).
 *
 *   node bench/micro/line-framing.js [--ms 1000] [--packet BYTES]
 *
 * --packet 1 feeds the stream one byte per chunk, as the `lines` benchmark's
 * 1-byte phase does (there a chunk is 1.2-1.5 bytes); the figure is then the
 * framing cost per line of 64 such chunks, without Node's read path.
 *
 * Variants, each fed the same 64 KiB chunks of 64-byte CRLF lines (as the
 * `lines` benchmark's bulk phase) and counting lines delivered as strings:
 *  ics-ts:    TWSocket (packages/wsocket/dist) in line mode, chunks fed where the
 *             socket's 'data' handler feeds them (LineSplitter: Buffer.indexOf,
 *             subarray and toString per line);
 *  text-split: PROTOTYPE: decode the complete lines of a chunk with one
 *             toString, split the string with String.prototype.indexOf, one
 *             sliced string per line; the unfinished tail stays bytes;
 *  readline-core: what node:readline does per chunk (StringDecoder, then a
 *             regex lastIndex loop), without its stream and event plumbing.
 */
const path = require('node:path');
const net = require('node:net');
const { StringDecoder } = require('node:string_decoder');

const ROOT = path.resolve(__dirname, '..', '..');
const args = process.argv.slice(2);
const ms = Number(args[args.indexOf('--ms') + 1]) || 1000;
const packet = args.includes('--packet') ? Number(args[args.indexOf('--packet') + 1]) : 65536 - 7;
if (!(packet >= 1)) throw new Error('--packet needs a byte count >= 1');

const LINE = Buffer.from(`${'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'}\r\n`, 'latin1');
// Chunks as a socket delivers them: 64 KiB, so lines straddle chunk boundaries.
const STREAM = Buffer.concat(Array.from({ length: 4096 }, () => LINE));
const CHUNKS = [];
// (Copies, not views: a socket hands out a Buffer of its own per read.)
for (let i = 0; i < STREAM.length; i += packet) CHUNKS.push(Buffer.from(STREAM.subarray(i, Math.min(i + packet, STREAM.length))));

let count = 0;
let lastLine = '';
/** Every variant hands each line (a string) here, so no line can be optimized away. */
function sink(line) {
  lastLine = line;
  count++;
}

function icsTs() {
  const { TWSocket } = require(path.join(ROOT, 'packages', 'wsocket'));
  class Counting extends TWSocket {
    onLine(line) {
      sink(line);
    }
  }
  const w = new Counting({ lineMode: true });
  w.attach(new net.Socket()); // unconnected: only the line path is used
  return (chunk) => w.handleSocketData(chunk);
}

/** The prototype: one decode per chunk, string indexOf per line. ASCII delimiter; utf8/latin1. */
function textSplit() {
  const delim = '\r\n';
  const delimBytes = Buffer.from(delim, 'latin1');
  let pending; // bytes of the unfinished line
  const deliver = sink;
  return (chunk) => {
    let buf = chunk;
    if (pending) {
      buf = Buffer.concat([pending, chunk]);
      pending = undefined;
    }
    const last = buf.lastIndexOf(delimBytes);
    if (last < 0) {
      pending = buf;
      return;
    }
    const end = last + delimBytes.length;
    const text = buf.toString('utf8', 0, end); // an ASCII delimiter never occurs inside a UTF-8 sequence
    let from = 0;
    for (let i = text.indexOf(delim); i !== -1; i = text.indexOf(delim, from)) {
      deliver(text.slice(from, i));
      from = i + delim.length;
    }
    if (end < buf.length) pending = buf.subarray(end);
  };
}

function readlineCore() {
  const decoder = new StringDecoder('utf8');
  // readline's own pattern also ends a line at a lone CR, remembering a CR at a
  // chunk's end to skip the LF that may follow; CRLF-only input needs just this.
  const lineEnding = /\r?\n/g;
  let rest = '';
  return (chunk) => {
    let string = rest + decoder.write(chunk);
    lineEnding.lastIndex = 0;
    let from = 0;
    let m;
    while ((m = lineEnding.exec(string)) !== null) {
      sink(string.slice(from, m.index)); // readline emits 'line' with this
      from = lineEnding.lastIndex;
    }
    rest = string.slice(from);
    string = '';
  };
}

function measure(name, make) {
  const feed = make();
  // warm-up
  for (let i = 0; i < (packet < 64 ? 3 : 50); i++) for (const c of CHUNKS) feed(c);
  count = 0;
  const t0 = process.hrtime.bigint();
  const c0 = process.cpuUsage();
  let loops = 0;
  while (Number(process.hrtime.bigint() - t0) / 1e6 < ms) {
    for (const c of CHUNKS) feed(c);
    loops++;
  }
  const cpu = process.cpuUsage(c0);
  const lines = count;
  if (lines !== loops * 4096) throw new Error(`${name}: ${lines} lines for ${loops * 4096}`);
  if (lastLine !== LINE.toString('latin1', 0, 62)) throw new Error(`${name}: wrong line ${JSON.stringify(lastLine)}`);
  const ns = ((cpu.user + cpu.system) * 1000) / lines;
  process.stdout.write(`${name.padEnd(14)} ${ns.toFixed(1).padStart(7)} ns/line  (${(lines / 1e6).toFixed(1)} M lines)\n`);
  return ns;
}

const results = {};
for (let round = 0; round < 3; round++) {
  for (const [name, make] of [
    ['ics-ts', icsTs],
    ['text-split', textSplit],
    ['readline-core', readlineCore],
  ]) {
    (results[name] ||= []).push(measure(name, make));
  }
}
process.stdout.write('\nmedian ns per line:\n');
for (const [name, v] of Object.entries(results)) {
  v.sort((a, b) => a - b);
  process.stdout.write(`  ${name.padEnd(14)} ${v[1].toFixed(1)}\n`);
}

#!/usr/bin/env node
'use strict';
/**
 * What connection-life hardening costs on the echo path: a TWSocket echo
 * server with its defaults (backpressure that stops reading over
 * sendHighWater, sendLimit, idle and line timeouts on the shared sweep) beside
 * the same with all of it off, and a raw net echo; line mode (sendLine per
 * line) and raw mode (send per chunk). Evidence for docs/hardening.md; not part
 * of `pnpm bench`. Needs the built packages (`pnpm build`).
 *
 *   node bench/micro/echo-backpressure.js [--mib 32] [--rounds 5] [--only raw]
 *
 * The peer is a child process that streams 64-byte CRLF lines in 64 KiB
 * writes (honouring 'drain') and reads the echo; a round is the time until all
 * MIB mebibytes came back. Variants run in turn, round after round, so a
 * change in machine load touches them alike; the median round is reported.
 *
 * Then the cost of marking activity, per call: what the connection does (one
 * store of a constant) beside reading a clock per chunk.
 */
const { fork } = require('node:child_process');
const net = require('node:net');
const path = require('node:path');
const { performance } = require('node:perf_hooks');

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);


const LINE = Buffer.from(`${'0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ'}\r\n`, 'latin1');

async function main() {
  const mib = option('--mib', 32);
  const rounds = option('--rounds', 5);
  const { TWSocket } = require(path.resolve(__dirname, '..', '..', 'packages', 'wsocket'));
  const LIFE_OFF = { sendHighWater: 2 ** 30, sendLimit: 0, idleTimeout: 0, lineTimeout: 0 };
  class LineEcho extends TWSocket {
    onLine(line) {
      this.sendLine(line);
    }
  }
  class RawEcho extends TWSocket {
    onData(data) {
      this.send(data);
    }
  }
  const variants = {
    'lines, ics-ts defaults (hardening on)': (socket) => new LineEcho({ lineMode: true }).attach(socket),
    'lines, ics-ts hardening off': (socket) => new LineEcho({ lineMode: true, ...LIFE_OFF }).attach(socket),
    'raw, ics-ts defaults (hardening on)': (socket) => new RawEcho().attach(socket),
    'raw, ics-ts hardening off': (socket) => new RawEcho(LIFE_OFF).attach(socket),
    'raw, net (write per chunk, no pause)': (socket) => {
      socket.on('data', (data) => socket.write(data));
      socket.on('end', () => socket.end());
      socket.on('error', () => {});
    },
  };
  const only = args.includes('--only') ? args[args.indexOf('--only') + 1] : '';
  for (const name of Object.keys(variants)) if (!name.includes(only)) delete variants[name];
  const times = Object.fromEntries(Object.keys(variants).map((name) => [name, []]));
  for (let round = 0; round < rounds; round++) {
    for (const [name, serve] of Object.entries(variants)) times[name].push(await oneRound(serve, mib));
  }
  process.stdout.write(`echo of ${mib} MiB of 64-byte lines, ${rounds} rounds (MiB/s; higher is better)\n`);
  for (const [name, list] of Object.entries(times)) {
    const sorted = [...list].sort((a, b) => a - b);
    const median = sorted[Math.floor(sorted.length / 2)];
    const rate = (ms) => (mib / (ms / 1000)).toFixed(1).padStart(7);
    process.stdout.write(`  ${rate(median)} MiB/s median, ${rate(sorted[0])} best  (${sorted.map((t) => t.toFixed(0)).join(', ')} ms)  ${name}\n`);
  }
  stampCost();
}

/** One echo round against a fresh peer process; resolves with the milliseconds it took. */
async function oneRound(serve, mib) {
  const sockets = new Set();
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    sockets.add(socket);
    serve(socket);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  const peer = fork(__filename, ['peer', String(server.address().port), String(mib)]);
  const [ms] = await new Promise((resolve, reject) => {
    peer.once('message', (m) => resolve([m.ms]));
    peer.once('exit', (code) => code && reject(new Error(`peer exited with ${code}`)));
  });
  peer.kill();
  server.close();
  for (const socket of sockets) socket.destroy();
  return ms;
}

function runPeer(port, mib) {
  const total = mib * 1024 * 1024;
  const block = Buffer.concat(Array.from({ length: 1024 }, () => LINE)); // 64 KiB
  const socket = net.connect({ port, host: '127.0.0.1', noDelay: true });
  let sent = 0;
  let received = 0;
  let started = 0;
  const pump = () => {
    while (sent < total) {
      sent += block.length;
      if (!socket.write(block)) return;
    }
  };
  socket.on('connect', () => {
    started = performance.now();
    pump();
  });
  socket.on('drain', pump);
  socket.on('data', (data) => {
    received += data.length;
    if (received >= total) {
      process.send({ ms: performance.now() - started }, () => process.exit(0));
    }
  });
  setTimeout(() => process.exit(3), 120000).unref();
}

/** ns per call: a store of a constant (what TWSocket does on activity) beside clocks read per chunk. */
function stampCost() {
  const n = 20_000_000;
  const holder = { stamp: -1 };
  const kinds = {
    'store a constant (TWSocket: idleMs = ACTIVE)': () => {
      for (let i = 0; i < n; i++) holder.stamp = -1;
    },
    'Date.now()': () => {
      for (let i = 0; i < n; i++) holder.stamp = Date.now();
    },
    'performance.now()': () => {
      for (let i = 0; i < n; i++) holder.stamp = performance.now();
    },
  };
  process.stdout.write(`marking activity, ns per call (${n} calls, best of 3)\n`);
  for (const [name, run] of Object.entries(kinds)) {
    let best = Infinity;
    for (let k = 0; k < 3; k++) {
      const t = process.hrtime.bigint();
      run();
      best = Math.min(best, Number(process.hrtime.bigint() - t) / n);
    }
    process.stdout.write(`  ${best.toFixed(2).padStart(6)} ns  ${name}\n`);
  }
}

if (args[0] === 'peer') runPeer(Number(args[1]), Number(args[2]));
else main().catch((error) => {
  console.error(error);
  process.exit(1);
});

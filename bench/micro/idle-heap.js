#!/usr/bin/env node
'use strict';
/**
 * What an idle connection holds in the V8 heap, by object kind: heap snapshots
 * of a server before and after COUNT idle connections, the difference per
 * connection, ics-ts beside a raw net.Server (evidence for the `idle` analysis
 * in docs/performance.md; not part of `pnpm bench`).
 *
 *   node --expose-gc bench/micro/idle-heap.js [--count 2000] [--top 12]
 *
 * Each server runs in a child process of its own (this script with `server
 * IMPL`), its clients in another; everything on 127.0.0.1, port 0.
 */
const { fork } = require('node:child_process');
const fs = require('node:fs');
const net = require('node:net');
const os = require('node:os');
const path = require('node:path');
const v8 = require('node:v8');

const args = process.argv.slice(2);
const option = (name, fallback) => (args.includes(name) ? Number(args[args.indexOf(name) + 1]) : fallback);

if (args[0] === 'clients') holdClients(Number(args[1]), Number(args[2]));
else if (args[0] === 'server') serve(args[1], Number(args[2]));
else main();

async function main() {
  const count = option('--count', 2000);
  const top = option('--top', 12);
  const per = {};
  for (const impl of ['ics-ts', 'net']) per[impl] = await measure(impl, count);
  const kinds = new Set([...Object.keys(per['ics-ts']), ...Object.keys(per.net)]);
  const rows = [...kinds]
    .map((kind) => ({ kind, ics: per['ics-ts'][kind] || zero(), net: per.net[kind] || zero() }))
    .sort((a, b) => b.ics.bytes - b.net.bytes - (a.ics.bytes - a.net.bytes));
  const total = (impl) => Object.values(per[impl]).reduce((sum, e) => sum + e.bytes, 0);
  process.stdout.write(`heap per idle connection (${count} connections), by object kind: ics-ts, net, difference\n`);
  process.stdout.write(`  total ${total('ics-ts').toFixed(0)} B, ${total('net').toFixed(0)} B (compiled code included: it does not grow with the count)\n`);
  for (const row of rows.slice(0, top)) {
    const d = row.ics.bytes - row.net.bytes;
    process.stdout.write(
      `  ${row.ics.bytes.toFixed(1).padStart(7)} ${row.net.bytes.toFixed(1).padStart(7)} ${(d >= 0 ? '+' : '') + d.toFixed(1).padStart(6)}  ` +
        `(${row.ics.count.toFixed(2)} / ${row.net.count.toFixed(2)} objects)  ${row.kind}\n`,
    );
  }
}

function zero() {
  return { bytes: 0, count: 0 };
}

/** One server process: snapshot before, COUNT connections, snapshot after; per-connection difference by kind. */
function measure(impl, count) {
  return new Promise((resolve, reject) => {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), 'ics-idle-heap-'));
    const child = fork(__filename, ['server', impl, String(count)], { execArgv: ['--expose-gc'], cwd: dir });
    child.on('message', (m) => {
      if (m.error) reject(new Error(m.error));
      else {
        const before = byKind(path.join(dir, m.before));
        const after = byKind(path.join(dir, m.after));
        fs.rmSync(dir, { recursive: true, force: true });
        const out = {};
        for (const kind of new Set([...Object.keys(before), ...Object.keys(after)])) {
          const a = after[kind] || zero();
          const b = before[kind] || zero();
          out[kind] = { bytes: (a.bytes - b.bytes) / count, count: (a.count - b.count) / count };
        }
        resolve(out);
      }
      child.kill();
    });
    child.on('exit', (code) => code && reject(new Error(`server ${impl} exited with ${code}`)));
  });
}

/** Self sizes by "type:name" from a heap snapshot file (strings and code counted together). */
function byKind(file) {
  const snapshot = JSON.parse(fs.readFileSync(file, 'utf8'));
  const fields = snapshot.snapshot.meta.node_fields;
  const types = snapshot.snapshot.meta.node_types[0];
  const [typeAt, nameAt, sizeAt] = ['type', 'name', 'self_size'].map((f) => fields.indexOf(f));
  const nodes = snapshot.nodes;
  const out = {};
  for (let i = 0; i < nodes.length; i += fields.length) {
    const type = types[nodes[i + typeAt]];
    let name = snapshot.strings[nodes[i + nameAt]];
    if (type === 'string' || type === 'concatenated string' || type === 'sliced string') name = '(strings)';
    else if (type === 'code') name = '(compiled code)';
    const kind = `${type}:${name.slice(0, 60)}`;
    const entry = (out[kind] ||= zero());
    entry.bytes += nodes[i + sizeAt];
    entry.count++;
  }
  return out;
}

async function serve(impl, count) {
  setTimeout(() => process.exit(3), 120000).unref(); // hard limit
  let port;
  let held;
  if (impl === 'ics-ts') {
    const { startServer, LineClient } = require('../lib/ics');
    const server = await startServer({ clientClass: LineClient });
    port = server.bindPort;
    held = () => server.clientCount;
  } else {
    const sockets = new Set();
    const noop = () => {};
    function onClose() {
      sockets.delete(this);
    }
    const server = net.createServer((socket) => {
      sockets.add(socket);
      socket.on('error', noop);
      socket.on('close', onClose);
    });
    await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
    port = server.address().port;
    held = () => sockets.size;
  }
  const snap = (name) => {
    for (let i = 0; i < 4; i++) global.gc();
    return v8.writeHeapSnapshot(`${name}.heapsnapshot`);
  };
  const before = snap('before');
  const clients = fork(__filename, ['clients', String(port), String(count)]);
  await new Promise((resolve) => clients.once('message', resolve));
  while (held() < count) await new Promise((resolve) => setTimeout(resolve, 20));
  const after = snap('after');
  clients.kill();
  process.send({ before, after });
}

/** The client side: COUNT connections, 256 opening at a time, held until killed. */
function holdClients(port, count) {
  setTimeout(() => process.exit(3), 120000).unref();
  let started = 0;
  let open = 0;
  const sockets = [];
  const next = () => {
    if (started >= count) return;
    started++;
    const socket = net.connect(port, '127.0.0.1', () => {
      if (++open === count) process.send('open');
      next();
    });
    socket.on('error', (error) => {
      process.stderr.write(`idle-heap client: ${error.message}\n`);
      process.exit(2);
    });
    sockets.push(socket);
  };
  for (let i = 0; i < 256; i++) next();
}

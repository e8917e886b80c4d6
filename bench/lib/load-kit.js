'use strict';
/**
 * Load-generator building blocks. Everything connects to opts.host (always
 * 127.0.0.1, checked by load.js) and every loop ends when stop() is called (or
 * the process reaches its hard time limit).
 */
const net = require('node:net');
const tls = require('node:tls');

function noop() {}

/**
 * Source address and port for the short-lived connections of connectLoop.
 *
 * The side that closes first keeps TIME_WAIT for 60 s. When that is the load
 * generator (a server that waits for its client to close, as a TWSocketServer
 * does), the kernel's connect() must search the ephemeral range for a port
 * whose 4-tuple is free, and the search grows with the rate: measured at +13 µs
 * of load-generator CPU per connection at 14k/s (57 -> 70 µs), on the same two
 * cores as the server, so the server's rate fell with its client's port search.
 * A real server's clients do that search on their own machines. Cycling explicit
 * pairs over 64 loopback addresses x 22,000 ports below the ephemeral range
 * (1.4 M pairs; the cursor follows the clock at 23,000 pairs per second, so a
 * pair comes back after about 61 s, when its TIME_WAIT is over) makes the choice
 * O(1) for every server alike. Only 127.0.0.0/8 is used.
 */
const SOURCE_ADDRS = 64;
const SOURCE_PORT_FIRST = 10000;
const SOURCE_PORTS = 22000;
const SOURCE_PAIRS = SOURCE_ADDRS * SOURCE_PORTS;
let sourceCursor = Math.floor((Date.now() / 1000) * 23000) % SOURCE_PAIRS;

function nextSource() {
  const pair = sourceCursor;
  sourceCursor = (sourceCursor + 1) % SOURCE_PAIRS;
  return { localAddress: `127.0.1.${pair % SOURCE_ADDRS}`, localPort: SOURCE_PORT_FIRST + Math.floor(pair / SOURCE_ADDRS) };
}

/**
 * A PROXY protocol v2 header (TCP over IPv4, 28 bytes) as a load balancer
 * sends it first on each connection (`opts.proxyV2`): client 198.51.100.x:port
 * (a different one per connection), destination 192.0.2.1:443.
 */
const PROXY_V2_PREFIX = Buffer.from('0d0a0d0a000d0a515549540a2111000c', 'hex');
function proxyV2Header(n) {
  const header = Buffer.allocUnsafe(28);
  PROXY_V2_PREFIX.copy(header, 0);
  header[16] = 198;
  header[17] = 51;
  header[18] = 100;
  header[19] = n & 0xff;
  header[20] = 192;
  header[21] = 0;
  header[22] = 2;
  header[23] = 1;
  header.writeUInt16BE(1024 + (n % 60000), 24);
  header.writeUInt16BE(443, 26);
  return header;
}

const FIRST_LINE = Buffer.from('hello\r\n');

function connectOnce(opts, source = {}) {
  if (opts.tls) {
    return tls.connect({ host: opts.host, port: opts.port, servername: opts.servername || 'localhost', rejectUnauthorized: false, ...source });
  }
  return net.connect({ host: opts.host, port: opts.port, ...source });
}

/**
 * `count` connections, each pumping `block` with backpressure (write until
 * write() returns false, go on at 'drain') until stop(). Counts bytes received.
 * `onAllOpen` runs once every connection is up.
 */
function pumpConnections(opts, count, block, onAllOpen) {
  let stopped = false;
  let bytesIn = 0;
  let errors = 0;
  let open = 0;
  const sockets = [];
  const pump = (c) => {
    while (!stopped && c.writable) {
      if (!c.write(block)) {
        c.once('drain', () => pump(c));
        return;
      }
    }
  };
  for (let i = 0; i < count; i++) {
    const c = net.connect({ host: opts.host, port: opts.port });
    sockets.push(c);
    c.on('data', (d) => {
      bytesIn += d.length;
    });
    c.on('error', () => errors++);
    c.once('connect', () => {
      if (++open === count) {
        onAllOpen();
        for (const s of sockets) pump(s);
      }
    });
  }
  return {
    counters: () => ({ bytes: bytesIn, errors, open }),
    stop() {
      stopped = true;
      for (const s of sockets) s.destroy();
    },
  };
}

/**
 * Short-lived connections, `concurrency` in flight: connect (TLS: handshake),
 * read the first data (the banner), end, and when closed start the next one.
 * `done` counts connections that got their banner and closed.
 */
function connectLoop(opts, concurrency) {
  let stopped = false;
  let done = 0;
  let errors = 0;
  let noData = 0;
  let started = 0;
  let sourceBusy = 0;
  let firstInfo;
  const next = () => {
    if (stopped) return;
    started++;
    const c = connectOnce(opts, opts.ephemeralPorts ? undefined : nextSource());
    // Sent once connected, before anything else; 'with-line': a first line in the same write (the server puts it back on the socket).
    if (opts.proxyV2) c.write(opts.proxyV2 === 'with-line' ? Buffer.concat([proxyV2Header(started), FIRST_LINE]) : proxyV2Header(started));
    else if (opts.firstLine) c.write(FIRST_LINE); // the same line without a header: the reference for 'with-line'
    let got = false;
    c.on('data', () => {
      if (got) return;
      got = true;
      if (!firstInfo && opts.tls) firstInfo = { protocol: c.getProtocol(), cipher: c.getCipher().name };
      c.end();
    });
    c.on('error', (error) => {
      // A source pair some other program holds (a listener on that port): not the server's fault.
      if (error.code === 'EADDRINUSE' && error.syscall === 'bind') sourceBusy++;
      else errors++;
    });
    c.on('close', () => {
      if (got) done++;
      else noData++;
      if (!stopped) setImmediate(next);
    });
  };
  for (let i = 0; i < concurrency; i++) next();
  return {
    counters: () => ({ done, errors, noData, started, sourceBusy, ...(firstInfo ? { tls: firstInfo } : {}) }),
    stop() {
      stopped = true;
    },
  };
}

/**
 * Opens `count` connections (TLS: completes each handshake), at most
 * `concurrency` opening at a time, and holds them idle. `onAllOpen(result)`
 * runs when every attempt has finished.
 */
function holdConnections(opts, count, concurrency, onAllOpen) {
  const sockets = [];
  let open = 0;
  let errors = 0;
  let attempted = 0;
  let finished = 0;
  let reported = false;
  let firstError;
  const settle = () => {
    if (++finished === count && !reported) {
      reported = true;
      onAllOpen({ open, errors, firstError });
    } else if (attempted < count) next();
  };
  const next = () => {
    attempted++;
    const c = connectOnce(opts);
    sockets.push(c);
    let settled = false;
    const once = (ok, error) => {
      if (settled) return;
      settled = true;
      if (ok) open++;
      else {
        errors++;
        firstError = firstError || String(error && error.message);
      }
      settle();
    };
    c.once(opts.tls ? 'secureConnect' : 'connect', () => once(true));
    c.on('error', (error) => once(false, error));
    c.on('data', noop);
  };
  for (let i = 0; i < Math.min(concurrency, count); i++) next();
  return {
    counters: () => ({ open, errors, attempted }),
    stop() {
      for (const s of sockets) s.destroy();
    },
  };
}

module.exports = { pumpConnections, connectLoop, holdConnections, noop };

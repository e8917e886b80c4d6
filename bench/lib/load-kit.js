'use strict';
/**
 * Load-generator building blocks. Everything connects to opts.host (always
 * 127.0.0.1, checked by load.js) and every loop ends when stop() is called (or
 * the process reaches its hard time limit).
 */
const net = require('node:net');
const tls = require('node:tls');

function noop() {}

function connectOnce(opts) {
  if (opts.tls) {
    return tls.connect({ host: opts.host, port: opts.port, servername: opts.servername || 'localhost', rejectUnauthorized: false });
  }
  return net.connect({ host: opts.host, port: opts.port });
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
  let firstInfo;
  const next = () => {
    if (stopped) return;
    started++;
    const c = connectOnce(opts);
    let got = false;
    c.on('data', () => {
      if (got) return;
      got = true;
      if (!firstInfo && opts.tls) firstInfo = { protocol: c.getProtocol(), cipher: c.getCipher().name };
      c.end();
    });
    c.on('error', () => errors++);
    c.on('close', () => {
      if (got) done++;
      else noData++;
      if (!stopped) setImmediate(next);
    });
  };
  for (let i = 0; i < concurrency; i++) next();
  return {
    counters: () => ({ done, errors, noData, started, ...(firstInfo ? { tls: firstInfo } : {}) }),
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

'use strict';
/**
 * The scale benchmark's raw Node server: net.Server or tls.Server keeping its
 * sockets in a Set, an error and a close handler, the banner on connect, every
 * chunk written back (a probe line arrives as one chunk). Run alone (the
 * `net` and `tls` baselines: one process) or in cluster workers
 * (`net-cluster`: what Node's cluster costs without ics-ts).
 */
const fs = require('node:fs');
const net = require('node:net');
const tls = require('node:tls');
const { settledMemory } = require('./child');
const { vmRssBytes } = require('./proc-stat');

/** opts: { banner, backlog, port (default 0), tls, cert, key }. */
async function startRawServer(opts) {
  const sockets = new Set();
  const bannerLine = `${opts.banner}\r\n`;
  function noop() {}
  function onClose() {
    sockets.delete(this);
  }
  function answer(chunk) {
    this.write(chunk);
  }
  const hold = (s) => {
    sockets.add(s);
    s.on('error', noop);
    s.on('close', onClose);
    s.on('data', answer);
    s.write(bannerLine);
  };
  const server = opts.tls ? tls.createServer({ cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) }, hold) : net.createServer(hold);
  if (opts.tls) server.on('tlsClientError', noop);
  await new Promise((resolve) => server.listen({ port: opts.port || 0, host: '127.0.0.1', backlog: opts.backlog }, resolve));
  return {
    port: server.address().port,
    info: { workers: [] },
    stats: () => ({ clients: sockets.size, perProcess: [sockets.size] }),
    handlers: {
      async mem() {
        const m = await settledMemory();
        const rss = vmRssBytes(process.pid);
        return { rss, heapUsed: m.heapUsed, external: m.external, perProcessRss: [rss] };
      },
    },
  };
}

module.exports = { startRawServer };

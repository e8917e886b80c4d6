'use strict';
/**
 * tls: full TLS 1.3 handshakes per second (ECDSA P-256 certificate, no session
 * resumption), 32 in flight: connect, handshake, read the banner, close.
 *  ics-ts: TWSocketServer with 200 icsHosts on one TLS port, each with its own
 *          P-256 certificate; the client asks (SNI) for host 137, so every
 *          handshake goes through the host lookup; client class through DI, banner.
 *  tls:    tls.Server with the same certificate, writes the banner and ends.
 */
const fs = require('node:fs');
const tls = require('node:tls');
const { rateRound, rate, cpuPer } = require('../lib/rounds');
const { connectLoop } = require('../lib/load-kit');
const { lineThenEndServer, noop } = require('../lib/baselines');

const BANNER = 'Welcome to the ics-ts benchmark server';

/** A free loopback port (icsHosts bind fixed ports: 0 means "none" there, as in ICS). */
function freePort() {
  return new Promise((resolve, reject) => {
    const probe = require('node:net').createServer();
    probe.once('error', reject);
    probe.listen(0, '127.0.0.1', () => {
      const { port } = probe.address();
      probe.close(() => resolve(port));
    });
  });
}

module.exports = {
  name: 'tls',
  title: 'TLS 1.3 handshakes',
  what: 'full TLS 1.3 handshakes (ECDSA P-256, no resumption), 32 in flight, banner read then close; ics-ts with 200 icsHosts picked by SNI',
  impls: ['ics-ts', 'tls'],
  baselineText: 'tls.Server with one certificate, writes the banner and ends',
  params: { full: { concurrency: 32, hosts: 200 }, smoke: { concurrency: 4, hosts: 4 } },
  metrics: [
    { key: 'perSec', label: 'handshakes/s', unit: 'hs/s', higher: true, target: { type: 'ratio', min: 0.95, against: 'tls' } },
    { key: 'cpuUsPerConn', label: 'server CPU per handshake', unit: 'µs', higher: false, info: true },
    { key: 'loadCpuUsPerConn', label: 'load generator CPU per handshake', unit: 'µs', higher: false, info: true },
  ],

  async round(ctx, impl, p) {
    const servername = `h${Math.min(137, p.hosts - 1)}.bench.test`;
    const r = await rateRound(
      ctx,
      impl,
      { cert: ctx.cert.cert, key: ctx.cert.key, hosts: p.hosts },
      { concurrency: p.concurrency, tls: true, servername },
    );
    const n = r.l1.counters.done - r.l0.counters.done;
    if (!(n > 0)) throw new Error(`no handshake completed (${JSON.stringify(r.l1.counters)})`);
    const t = r.l1.counters.tls;
    if (t && t.protocol !== 'TLSv1.3') throw new Error(`negotiated ${t.protocol}, not TLSv1.3`);
    return {
      perSec: rate(r.l0, r.l1, 'done'),
      cpuUsPerConn: cpuPer(r.s0, r.s1, n) * 1000,
      loadCpuUsPerConn: cpuPer(r.l0, r.l1, n) * 1000,
      errors: r.l1.counters.errors,
      foreignPct: r.foreignPct,
      note: t ? `negotiated ${t.protocol} ${t.cipher}` : undefined,
    };
  },

  server: {
    async 'ics-ts'(opts) {
      const { ws, LineClient, sslContext } = require('../lib/ics');
      const { createDevCertificate } = sslContext();
      const port = await freePort();
      const icsHosts = [{ hostTag: 'h0', hostNames: ['localhost', 'h0.bench.test'], bindIpAddr: '127.0.0.1', bindSslPort: port, sslCert: opts.cert, sslKey: opts.key }];
      for (let i = 1; i < opts.hosts; i++) {
        const id = await createDevCertificate({ names: [`h${i}.bench.test`] });
        icsHosts.push({ hostTag: `h${i}`, hostNames: [`h${i}.bench.test`], bindIpAddr: '127.0.0.1', bindSslPort: port, sslCert: id.cert, sslKey: id.key });
      }
      const server = new ws.TWSocketServer({ clientClass: LineClient, banner: BANNER, icsHosts });
      server.on('bgException', (error) => process.stderr.write(`[bench ics-ts] bgException: ${error && error.stack}\n`));
      let picked = '';
      server.once('clientConnect', (client) => (picked = `${client.hostTag} (${client.tls && client.tls.serverName})`));
      await server.listen();
      return { port: server.bindPort, stats: () => ({ clients: server.clientCount, sslHandshakeErrors: server.sslHandshakeErrors, hosts: server.icsHosts.length, picked }) };
    },
    // Ablation servers (not run by default; `--impls`), to see where ics-ts's CPU per handshake goes.
    /** A bare tls.TLSSocket over an accepted socket with a TSslContext's context: banner, end after the client. */
    async tlssocket(opts) {
      const net = require('node:net');
      const { sslContext } = require('../lib/ics');
      const { secureContext } = new (sslContext().TSslContext)({ sslCert: opts.cert, sslKey: opts.key });
      const server = net.createServer({ allowHalfOpen: true }, (raw) => {
        const socket = new tls.TLSSocket(raw, { isServer: true, secureContext });
        socket.on('error', noop);
        socket.on('secure', () => socket.write(`${BANNER}\r\n`));
        socket.on('end', () => socket.end());
      });
      await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
      return { port: server.address().port };
    },
    /** ics-ts, one sslEnable listener with one certificate (no icsHosts, no SNI). */
    async 'ics-ts-one-host'(opts) {
      const { startServer, LineClient } = require('../lib/ics');
      const server = await startServer({ clientClass: LineClient, banner: BANNER, sslEnable: true, sslContext: { sslCert: opts.cert, sslKey: opts.key } });
      return { port: server.bindPort };
    },
    /** ics-ts's handshake only: the same listener, but no client object (banner, end after the client). */
    async 'ics-ts-handshake'(opts) {
      const { startServer, LineClient } = require('../lib/ics');
      const server = await startServer({ clientClass: LineClient, banner: BANNER, sslEnable: true, sslContext: { sslCert: opts.cert, sslKey: opts.key } });
      server.handshakeDone = function handshakeDone(socket) {
        // Reaches into the server on purpose: this server exists to measure the handshake alone.
        this.handshakeSockets.delete(socket);
        this.handshaking--;
        socket.on('error', noop);
        socket.on('end', () => socket.end());
        socket.write(`${BANNER}\r\n`);
      };
      return { port: server.bindPort };
    },
    tls(opts) {
      const options = { cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) };
      return lineThenEndServer((onConnection) => tls.createServer(options, onConnection), BANNER);
    },
  },

  load(opts, ctl) {
    const loop = connectLoop(opts, opts.concurrency);
    ctl.running();
    return loop;
  },
};

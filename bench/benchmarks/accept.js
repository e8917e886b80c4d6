'use strict';
/**
 * accept: short-lived connections, 64 in flight: connect, read the banner,
 * close; connections per second, counted by the load generator.
 *  ics-ts: TWSocketServer with a banner; every connection gets its client
 *          class (a line-mode class taking ConnectionInfo in its constructor)
 *          resolved through tsyringe, in a child container made for it.
 *  ics-ts-admission: the same with the admission stages on: allow and deny
 *          lists (CIDR), maxClientsPerIp, maxConnections, an accept filter.
 *  net:    net.Server that writes the banner and ends.
 *  net-after-fin (for information): the same, but it ends only after the
 *          client's FIN, the close order of any server that keeps its client
 *          (so the client, not the server, holds TIME_WAIT).
 *  ics-ts-proxy-v2 (--impls): the ics-ts server behind a load balancer: the
 *          listener reads a PROXY v2 header (proxyProtocol 'v2', trustedProxies
 *          127.0.0.0/8), which the load generator sends first on each
 *          connection (a different client address and port each time); the
 *          difference with ics-ts is what the header costs per connection.
 *  ics-ts-proxy-v2-line (--impls): the same, with a first line in the same
 *          packet as the header: what putting those bytes back costs (unshift).
 *  ics-ts-line (--impls): ics-ts with that first line and no header, the
 *          reference for ics-ts-proxy-v2-line.
 */
const net = require('node:net');
const { rateRound, rate, cpuPer } = require('../lib/rounds');
const { connectLoop } = require('../lib/load-kit');
const { lineThenEndServer, noop } = require('../lib/baselines');

const BANNER = 'Welcome to the ics-ts benchmark server';

function endSocket() {
  this.end();
}

async function afterFinServer(readAddresses) {
  const text = `${BANNER}\r\n`;
  const server = net.createServer({ allowHalfOpen: true }, (socket) => {
    if (readAddresses) socket.addresses = [socket.remoteAddress, socket.remotePort, socket.localAddress, socket.localPort];
    socket.on('error', noop);
    socket.on('end', endSocket);
    socket.write(text);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port };
}

module.exports = {
  name: 'accept',
  title: 'accept rate',
  what: 'short-lived connections (connect, read the banner, close), 64 in flight; client class resolved through DI each time',
  impls: ['ics-ts', 'ics-ts-admission', 'net', 'net-after-fin'],
  baselineText: 'net.Server that writes the banner and ends',
  params: { full: { concurrency: 64 }, smoke: { concurrency: 8 } },
  metrics: [
    { key: 'perSec', label: 'connections/s', unit: 'conn/s', higher: true, target: { type: 'ratio', min: 0.9, against: 'net' } },
    { key: 'cpuUsPerConn', label: 'server CPU per connection', unit: 'µs', higher: false, info: true },
    { key: 'loadCpuUsPerConn', label: 'load generator CPU per connection', unit: 'µs', higher: false, info: true },
  ],

  async round(ctx, impl, p) {
    const r = await rateRound(ctx, impl, {}, {
      concurrency: p.concurrency,
      proxyV2: impl === 'ics-ts-proxy-v2' ? true : impl === 'ics-ts-proxy-v2-line' ? 'with-line' : undefined,
      firstLine: impl === 'ics-ts-line',
    });
    const n = r.l1.counters.done - r.l0.counters.done;
    if (!(n > 0)) throw new Error(`no connection completed (${JSON.stringify(r.l1.counters)})`);
    return {
      perSec: rate(r.l0, r.l1, 'done'),
      cpuUsPerConn: cpuPer(r.s0, r.s1, n) * 1000,
      loadCpuUsPerConn: cpuPer(r.l0, r.l1, n) * 1000,
      errors: r.l1.counters.errors,
      noData: r.l1.counters.noData,
      foreignPct: r.foreignPct,
    };
  },

  server: {
    async 'ics-ts'() {
      const { startServer, LineClient } = require('../lib/ics');
      const server = await startServer({ clientClass: LineClient, banner: BANNER });
      return { port: server.bindPort, stats: () => ({ clients: server.clientCount }) };
    },
    // Ablation server (--impls): the same behind a load balancer sending PROXY v2 headers.
    async 'ics-ts-proxy-v2'() {
      const { startServer, LineClient } = require('../lib/ics');
      const server = await startServer({ clientClass: LineClient, banner: BANNER, proxyProtocol: 'v2', trustedProxies: ['127.0.0.0/8'] });
      return {
        port: server.bindPort,
        stats: () => ({ clients: server.clientCount, proxyDecoded: server.proxyHeaders.decoded, proxyRefused: server.refusals.proxyHeader }),
      };
    },
    'ics-ts-line'() {
      return module.exports.server['ics-ts']();
    },
    'ics-ts-proxy-v2-line'() {
      return module.exports.server['ics-ts-proxy-v2']();
    },
    // The admission stages on (they never refuse here: the load comes from 127.0.1.x, 64 in flight).
    async 'ics-ts-admission'() {
      const { startServer, LineClient } = require('../lib/ics');
      const server = await startServer({
        clientClass: LineClient,
        banner: BANNER,
        allow: ['127.0.0.0/8', '::1'],
        deny: ['10.0.0.0/8', '172.16.0.0/12', '192.168.0.0/16', '2001:db8::/32'],
        maxClientsPerIp: 1000,
        maxConnections: 15000,
        acceptFilter: (peer) => peer.peerPort !== 0,
      });
      return { port: server.bindPort, stats: () => ({ clients: server.clientCount, refused: server.refusals }) };
    },
    net() {
      return lineThenEndServer((onConnection) => net.createServer(onConnection), BANNER);
    },
    'net-after-fin'() {
      return afterFinServer(false);
    },
    // Ablation server (--impls): the same, reading the peer and local address and port as it accepts.
    'net-after-fin-addresses'() {
      return afterFinServer(true);
    },
  },

  load(opts, ctl) {
    const loop = connectLoop(opts, opts.concurrency);
    ctl.running();
    return loop;
  },
};

'use strict';
/**
 * busy: connections over maxClients, turned away with bannerTooBusy; per
 * second, counted by the load generator (connect, read the line, close; 64 in
 * flight).
 *  ics-ts: TWSocketServer, maxClients 8, all 8 places taken by idle
 *          connections the load holds, so every further connection is refused.
 *  net:    net.Server that writes the same line and ends.
 */
const net = require('node:net');
const { withProcs, measureWindow, rate, cpuPer, sleep } = require('../lib/rounds');
const { connectLoop, holdConnections } = require('../lib/load-kit');
const { lineThenEndServer } = require('../lib/baselines');

const TOO_BUSY = 'Sorry, too many clients';
const MAX_CLIENTS = 8;

module.exports = {
  name: 'busy',
  title: 'too-busy rejections',
  what: `connections over maxClients (${MAX_CLIENTS}, all taken) turned away with bannerTooBusy, 64 in flight`,
  impls: ['ics-ts', 'net'],
  baselineText: 'net.Server that writes a line and ends',
  params: { full: { concurrency: 64 }, smoke: { concurrency: 8 } },
  metrics: [
    { key: 'perSec', label: 'rejections/s', unit: 'conn/s', higher: true, target: { type: 'ratio', min: 0.9, against: 'net' } },
    { key: 'cpuUsPerConn', label: 'server CPU per rejection', unit: 'µs', higher: false, info: true },
  ],

  async round(ctx, impl, p) {
    const holders = impl === 'ics-ts' ? MAX_CLIENTS : 0;
    return withProcs(ctx, impl, {}, { concurrency: p.concurrency, holders }, async ({ server, load }) => {
      await load.waitFor('holding', 20000);
      if (holders) {
        // Every place taken before the loop starts.
        for (let i = 0; i < 200 && (await server.call('stats')).clients < holders; i++) await sleep(10);
        const { clients } = await server.call('stats');
        if (clients !== holders) throw new Error(`only ${clients} of ${holders} holders admitted`);
      }
      await load.call('control', 'go');
      const w = await measureWindow(server, load, ctx.warmupMs, ctx.durationMs);
      const stats = await server.call('stats');
      const n = w.l1.counters.done - w.l0.counters.done;
      if (!(n > 0)) throw new Error(`no connection completed (${JSON.stringify(w.l1.counters)})`);
      if (impl === 'ics-ts' && stats.clients !== holders) throw new Error(`a refused connection became a client (${stats.clients})`);
      return {
        perSec: rate(w.l0, w.l1, 'done'),
        cpuUsPerConn: cpuPer(w.s0, w.s1, n) * 1000,
        errors: w.l1.counters.errors,
        tooBusyCount: stats.tooBusyCount,
        foreignPct: w.foreignPct,
      };
    });
  },

  server: {
    async 'ics-ts'() {
      const { startServer, LineClient } = require('../lib/ics');
      const server = await startServer({ clientClass: LineClient, maxClients: MAX_CLIENTS, bannerTooBusy: TOO_BUSY });
      return { port: server.bindPort, stats: () => ({ clients: server.clientCount, tooBusyCount: server.tooBusyCount }) };
    },
    net() {
      return lineThenEndServer((onConnection) => net.createServer(onConnection), TOO_BUSY);
    },
  },

  load(opts, ctl) {
    let loop;
    let held;
    const start = () => ctl.event('holding', {});
    if (opts.holders > 0) held = holdConnections(opts, opts.holders, opts.holders, start);
    else setImmediate(start);
    return {
      counters: () => (loop ? loop.counters() : { done: 0, errors: 0 }),
      control(cmd) {
        if (cmd === 'go' && !loop) loop = connectLoop(opts, opts.concurrency);
        return true;
      },
      stop() {
        if (loop) loop.stop();
        if (held) held.stop();
      },
    };
  },
};

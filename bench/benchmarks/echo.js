'use strict';
/**
 * echo: N connections pump 16 KiB chunks (with backpressure) through an echo
 * server; MB/s echoed back, counted by the load generator.
 *  ics-ts: TWSocketServer + the sample EchoClient (raw mode, onData -> send;
 *          pauses the socket when send returns false, resumes on drain).
 *  net:    net.Server with socket.pipe(socket).
 * Every server reports its mark-compacts (V8's major GCs) per GB echoed: in
 * this benchmark they are what the server's extra CPU goes into
 * (docs/performance.md, "echo: the cause").
 */
const net = require('node:net');
const { rateRound, rate, cpuPer } = require('../lib/rounds');
const { pumpConnections } = require('../lib/load-kit');
const { gcCounter } = require('../lib/gc-count');

module.exports = {
  name: 'echo',
  title: 'echo throughput',
  what: '100 connections pump 16 KiB chunks (backpressure) through the sample EchoClient; MB/s echoed back',
  impls: ['ics-ts', 'net'],
  baselineText: 'net.Server, socket.pipe(socket)',
  params: {
    full: { conns: 100, chunk: 16384 },
    smoke: { conns: 4, chunk: 16384 },
  },
  metrics: [
    { key: 'mbps', label: 'echo MB/s', unit: 'MB/s', higher: true, target: { type: 'ratio', min: 0.95, against: 'net' } },
    { key: 'cpuMsPerMB', label: 'server CPU per MB echoed', unit: 'ms/MB', higher: false, info: true },
    { key: 'majorGcPerGB', label: 'server mark-compacts (major GCs) per GB echoed', unit: '/GB', higher: false, info: true },
  ],

  async round(ctx, impl, p) {
    const r = await rateRound(ctx, impl, {}, { conns: p.conns, chunk: p.chunk });
    const mbps = rate(r.l0, r.l1, 'bytes') / 1e6;
    const mb = (r.l1.counters.bytes - r.l0.counters.bytes) / 1e6;
    if (!(mb > 0)) throw new Error('no bytes echoed');
    const majorGcPerGB = ((r.s1.counters.majorGcs - r.s0.counters.majorGcs) * 1000) / mb;
    return { mbps, cpuMsPerMB: cpuPer(r.s0, r.s1, mb), majorGcPerGB, errors: r.l1.counters.errors, foreignPct: r.foreignPct };
  },

  server: {
    async 'ics-ts'() {
      const gc = gcCounter();
      const { startServer, sampleClients } = require('../lib/ics');
      const server = await startServer({ clientClass: sampleClients().EchoClient });
      return { port: server.bindPort, stats: () => ({ clients: server.clientCount }), counters: gc.counters };
    },
    // Ablation servers (--impls): the sample EchoClient's own pause at Node's 16 KiB mark left out, so only
    // TWSocket's sendHighWater paces it; and the same with sendHighWater raised to 1 MiB (sendLimit 8 MiB).
    async 'ics-ts-twsocket-pause'() {
      const gc = gcCounter();
      const { startServer, sampleClients } = require('../lib/ics');
      const server = await startServer({ clientClass: sendOnlyEcho(sampleClients().EchoClient) });
      return { port: server.bindPort, stats: () => ({ clients: server.clientCount }), counters: gc.counters };
    },
    async 'ics-ts-high-water-1m'() {
      const gc = gcCounter();
      const { startServer, sampleClients } = require('../lib/ics');
      const server = await startServer({
        clientClass: sendOnlyEcho(sampleClients().EchoClient),
        clientDefaults: { sendHighWater: 1024 * 1024, sendLimit: 8 * 1024 * 1024 },
      });
      return { port: server.bindPort, stats: () => ({ clients: server.clientCount }), counters: gc.counters };
    },
    // Another build of the same server (ICS_BENCH_OTHER_ROOT: a checkout with its packages built, e.g. an
    // older commit in a git worktree), so two builds are compared in the same alternating rounds.
    async 'ics-ts-other'() {
      const gc = gcCounter();
      const { startServer, sampleClients } = require('../lib/ics-other').otherTree();
      const server = await startServer({ clientClass: sampleClients().EchoClient });
      return { port: server.bindPort, stats: () => ({ clients: server.clientCount }), counters: gc.counters };
    },
    // The raw baseline in a process that has loaded our packages (this tree's, or ICS_BENCH_OTHER_ROOT's)
    // without using them: what the process's heap alone does to the echo.
    async 'net-ics-loaded'() {
      const gc = gcCounter();
      require('../lib/ics').sampleClients();
      return startPipeServer(gc);
    },
    async 'net-other-loaded'() {
      const gc = gcCounter();
      require('../lib/ics-other').otherTree().sampleClients();
      return startPipeServer(gc);
    },
    async net() {
      return startPipeServer(gcCounter());
    },
  },

  load(opts, ctl) {
    const block = Buffer.alloc(opts.chunk, 'x');
    return pumpConnections(opts, opts.conns, block, () => ctl.running());
  },
};

/** The sample echo class, sending every chunk back without pausing by itself. */
function sendOnlyEcho(EchoClient) {
  return class SendOnlyEcho extends EchoClient {
    onData(data) {
      this.send(data);
    }
  };
}

/** net.Server with socket.pipe(socket): the baseline. */
async function startPipeServer(gc) {
  const server = net.createServer((s) => {
    s.on('error', () => {});
    s.pipe(s);
  });
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port, counters: gc.counters };
}

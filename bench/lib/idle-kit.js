'use strict';
/**
 * Idle-connection memory: the load opens COUNT connections (TLS: completes
 * each handshake) and holds them; the server's memory after full GCs is
 * compared with its memory before them.
 *
 * "Before" is taken after a warm-up: WARM connections opened, held until the
 * server has them all, and closed again. What a server pays once (the code V8
 * compiles for the connection path, Node's and the libraries' lazy set-up, heap
 * pages) is then in both figures and not counted per connection. Without it
 * that one-time cost (about 25-45 B per connection at 10,000) was charged
 * to the connections, more for the implementation with more code.
 *
 * Both servers run with the young generation capped (--max-semi-space-size=1,
 * in MB): V8 grows it while a burst of connections allocates and keeps it
 * resident after full collections until its memory reducer shrinks it, about
 * 10 s later. Uncapped, the RSS figure counted that capacity (900 B per
 * connection more for the server that allocates more while accepting), not
 * memory the connections hold. `--no-young-cap` runs them uncapped; the
 * young generation's resident size is reported either way.
 * Server and load are separate processes (ulimit -n is 20000 per process).
 */
const fs = require('node:fs');
const net = require('node:net');
const tls = require('node:tls');
const { withProcs, sleep } = require('./rounds');
const { holdConnections } = require('./load-kit');

function makeIdleBench({ name, useTls, count, smokeCount, maxDelta, heapTarget, what, baselineText }) {
  const base = useTls ? 'tls' : 'net';
  const metrics = [
    { key: 'rssPerConn', label: 'server RSS per connection', unit: 'B', higher: false, target: { type: 'delta', maxDelta, unit: 'B', against: base } },
    {
      key: 'heapPerConn',
      label: 'server V8 heap per connection',
      unit: 'B',
      higher: false,
      ...(heapTarget ? { target: { type: 'delta', maxDelta, unit: 'B', against: base } } : { info: true }),
    },
    { key: 'externalPerConn', label: 'server external per connection', unit: 'B', higher: false, info: true },
    { key: 'youngPerConn', label: 'server young generation (resident, empty) per connection', unit: 'B', higher: false, info: true },
  ];
  return {
    name,
    title: what,
    what,
    impls: ['ics-ts', base],
    baselineText,
    params: {
      full: { count, warm: useTls ? 200 : 1000, concurrency: useTls ? 64 : 256 },
      smoke: { count: smokeCount, warm: 20, concurrency: 16 },
    },
    metrics,
    hardMs: () => (useTls ? 120000 : 90000),

    async round(ctx, impl, p) {
      const serverOpts = useTls ? { cert: ctx.cert.cert, key: ctx.cert.key } : {};
      const loadOpts = { count: p.count, warm: p.warm, concurrency: p.concurrency, tls: useTls };
      const youngCap = ctx.youngCap === false ? [] : ['--max-semi-space-size=1'];
      return withProcs(
        { ...ctx, serverExecArgv: (...args) => [...youngCap, ...ctx.serverExecArgv(...args)] },
        impl,
        serverOpts,
        loadOpts,
        async ({ server, load }) => {
          const openTimeout = useTls ? 100000 : 60000;
          await load.call('control', 'warm');
          const warmed = await load.waitFor('warmed', openTimeout);
          if (warmed.open !== p.warm) throw new Error(`warm-up opened ${warmed.open} of ${p.warm} (${warmed.errors} errors: ${warmed.firstError})`);
          await serverHolds(server, p.warm);
          await load.call('control', 'unwarm');
          await serverHolds(server, 0);
          const before = await server.call('mem');
          await load.call('control', 'open');
          const opened = await load.waitFor('running', openTimeout);
          if (opened.open !== p.count) throw new Error(`load opened ${opened.open} of ${p.count} (${opened.errors} errors: ${opened.firstError})`);
          await serverHolds(server, p.count);
          await sleep(200);
          const after = await server.call('mem', undefined, 30000);
          const still = (await server.call('stats')).clients;
          if (still !== p.count) throw new Error(`server held ${still} of ${p.count} after GC`);
          const per = (key) => (after[key] - before[key]) / p.count;
          return {
            rssPerConn: per('rss'),
            heapPerConn: per('heapUsed'),
            externalPerConn: per('external'),
            youngPerConn: per('young'),
            held: still,
            rssMiB: after.rss / 2 ** 20,
          };
        },
        { serverFirst: true },
      );
    },

    server: {
      async 'ics-ts'(opts) {
        const { startServer, LineClient } = require('./ics');
        const server = await startServer({
          clientClass: LineClient,
          ...(useTls ? { sslEnable: true, sslContext: { sslCert: opts.cert, sslKey: opts.key } } : {}),
        });
        return { port: server.bindPort, stats: () => ({ clients: server.clientCount }) };
      },
      async [base](opts) {
        // What a minimal raw server holds per connection: the set of sockets, an error handler.
        const sockets = new Set();
        function onClose() {
          sockets.delete(this);
        }
        function noop() {}
        const hold = (s) => {
          sockets.add(s);
          s.on('error', noop);
          s.on('close', onClose);
        };
        const server = useTls
          ? tls.createServer({ cert: fs.readFileSync(opts.cert), key: fs.readFileSync(opts.key) }, hold)
          : net.createServer(hold);
        if (useTls) server.on('tlsClientError', noop);
        await new Promise((resolve) => server.listen({ port: 0, host: '127.0.0.1', backlog: 4096 }, resolve));
        return { port: server.address().port, stats: () => ({ clients: sockets.size }) };
      },
    },

    load(opts, ctl) {
      let warm;
      let held;
      return {
        counters: () => (held ? held.counters() : {}),
        control(cmd) {
          if (cmd === 'warm' && !warm) warm = holdConnections(opts, opts.warm, opts.concurrency, (r) => ctl.event('warmed', r));
          if (cmd === 'unwarm' && warm) warm.stop();
          if (cmd === 'open' && !held) held = holdConnections(opts, opts.count, opts.concurrency, (r) => ctl.running(r));
          return true;
        },
        stop() {
          if (warm) warm.stop();
          if (held) held.stop();
        },
      };
    },
  };
}

/** Waits (up to 5 s) until the server holds exactly `count` connections. */
async function serverHolds(server, count) {
  let clients = -1;
  for (let i = 0; i < 500; i++) {
    ({ clients } = await server.call('stats'));
    if (clients === count) return;
    await sleep(10);
  }
  throw new Error(`server holds ${clients} connections, not ${count}`);
}

module.exports = { makeIdleBench };

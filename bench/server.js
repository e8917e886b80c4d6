'use strict';
/**
 * A benchmark's server process: `node bench/server.js BENCH IMPL OPTS_JSON`,
 * started by bench/run.js only. It listens on 127.0.0.1 (system-chosen port),
 * reports 'ready' with the port, then answers the parent's calls: mark (time,
 * CPU, counters), mem (memory after GC), stats, stop. It exits on 'stop', when
 * the parent goes away, or at its hard time limit.
 */
const fs = require('node:fs');
const path = require('node:path');
const { setupChild, serve, send, mark, settledMemory } = require('./lib/child');

const [bench, impl, optsJson] = process.argv.slice(2);
const opts = JSON.parse(optsJson);
setupChild(`server ${bench} ${impl}`, opts.hardMs);

(async () => {
  const def = require(`./benchmarks/${bench}`);
  const start = def.server[impl];
  if (!start) throw new Error(`benchmark ${bench} has no server ${impl}`);
  const srv = await start(opts);
  const profiler = opts.profile ? windowProfiler(opts.profile) : undefined;
  serve({
    mark: async () => {
      const m = mark(srv.counters ? srv.counters() : {});
      if (profiler) await profiler.mark();
      return m;
    },
    mem: () => settledMemory(),
    stats: () => (srv.stats ? srv.stats() : {}),
    stop: () => ({}),
    ...(srv.handlers || {}),
  });
  send('ready', { port: srv.port, info: srv.info || {} });
})().catch((error) => {
  process.stderr.write(`[bench server ${bench} ${impl}] ${error && error.stack ? error.stack : error}\n`);
  process.send({ type: 'fatal', error: String(error && error.stack ? error.stack : error) }, () => process.exit(3));
});

/**
 * --profile: a V8 CPU profile of each measured window only (the first mark
 * starts it, the second writes it), the same profile `node --cpu-prof` writes
 * but without start-up and warm-up.
 */
function windowProfiler({ dir, name }) {
  const inspector = require('node:inspector');
  const session = new inspector.Session();
  session.connect();
  const post = (method, params) =>
    new Promise((resolve, reject) => session.post(method, params, (err, result) => (err ? reject(err) : resolve(result))));
  let marks = 0;
  let ready = post('Profiler.enable').then(() => post('Profiler.setSamplingInterval', { interval: 100 }));
  return {
    async mark() {
      await ready;
      const n = marks++;
      if (n % 2 === 0) return post('Profiler.start');
      const { profile } = await post('Profiler.stop');
      const file = path.join(dir, `${name}-w${(n + 1) / 2}.cpuprofile`);
      fs.writeFileSync(file, JSON.stringify(profile));
      ready = Promise.resolve();
    },
  };
}

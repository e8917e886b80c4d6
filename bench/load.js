'use strict';
/**
 * A benchmark's load generator: `node bench/load.js BENCH - OPTS_JSON`, started
 * by bench/run.js only, in its own process, connecting to 127.0.0.1 only.
 * Every loop it runs is bounded: it stops on the parent's 'stop', when the
 * parent goes away, or at its hard time limit (whichever comes first).
 */
const { setupChild, serve, send, mark } = require('./lib/child');

const [bench, , optsJson] = process.argv.slice(2);
const opts = JSON.parse(optsJson);
setupChild(`load ${bench}`, opts.hardMs);
if (opts.host !== '127.0.0.1') {
  process.stderr.write(`[bench load ${bench}] refusing host ${opts.host}: loopback 127.0.0.1 only\n`);
  process.exit(2);
}

let load;
serve({
  mark: () => mark(load ? load.counters() : {}),
  stop: () => {
    if (load && load.stop) load.stop();
    return mark(load ? load.counters() : {});
  },
  control: (arg) => (load && load.control ? load.control(arg) : undefined),
});

(async () => {
  const def = require(`./benchmarks/${bench}`);
  const ctl = { running: (data) => setImmediate(send, 'running', data || {}), event: send };
  load = await def.load(opts, ctl);
})().catch((error) => {
  process.stderr.write(`[bench load ${bench}] ${error && error.stack ? error.stack : error}\n`);
  process.send({ type: 'fatal', error: String(error && error.stack ? error.stack : error) }, () => process.exit(3));
});

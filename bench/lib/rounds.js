'use strict';
/**
 * Parent-side round skeletons: start the server (fresh process per round),
 * wait until it listens, start the load process against its port, run the
 * body, and always stop (or kill) both.
 */
const { Child } = require('./proc');
const { foreignMeter } = require('./sysload');

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/**
 * ctx: { bench, round, hardMs, serverExecArgv(impl, round) -> string[], pin, ephemeralPorts }
 * body({ server, load, port, info }) -> result
 */
async function withProcs(ctx, impl, serverOpts, loadOpts, body, options = {}) {
  const server = new Child('server', ctx.bench, impl, { ...serverOpts, hardMs: ctx.hardMs, profile: ctx.profile }, {
    execArgv: ['--expose-gc', ...ctx.serverExecArgv(impl, ctx.round)],
    cpu: ctx.pin ? '0' : undefined,
  });
  let load;
  try {
    const ready = await server.waitFor('ready', 30000);
    const loadAll = { ...loadOpts, host: '127.0.0.1', port: ready.port, hardMs: ctx.hardMs, ephemeralPorts: ctx.ephemeralPorts };
    load = new Child('load', ctx.bench, null, loadAll, {
      execArgv: ['--max-old-space-size=2048'],
      cpu: ctx.pin ? '1' : undefined,
    });
    return await body({ server, load, port: ready.port, info: ready.info });
  } finally {
    // Idle benchmarks stop the server first: its FINs leave TIME_WAIT on the
    // server side, not on the load's ephemeral ports.
    const first = options.serverFirst ? [server, load] : [load, server];
    for (const child of first) if (child) await child.stop();
  }
}

/**
 * Warm up, then two marks `durationMs` apart on both sides. `foreignPct`: CPU
 * used by other processes of the machine during the window, in % of one core.
 */
async function measureWindow(server, load, warmupMs, durationMs) {
  await sleep(warmupMs);
  const [s0, l0] = await Promise.all([server.call('mark'), load.call('mark')]);
  const meter = foreignMeter();
  await sleep(durationMs);
  const [s1, l1] = await Promise.all([server.call('mark'), load.call('mark')]);
  const foreignPct = meter.stop(s1.cpuMs - s0.cpuMs + (l1.cpuMs - l0.cpuMs));
  return { s0, s1, l0, l1, foreignPct };
}

/** The usual rate round: load runs from 'running' until stopped; one measured window. */
async function rateRound(ctx, impl, serverOpts, loadOpts, runningTimeoutMs = 30000) {
  return withProcs(ctx, impl, serverOpts, loadOpts, async ({ server, load, info }) => {
    const running = await load.waitFor('running', runningTimeoutMs);
    const w = await measureWindow(server, load, ctx.warmupMs, ctx.durationMs);
    const stats = await server.call('stats');
    return { ...w, running, stats, info };
  });
}

/** Per-second rate of counter `key` between two marks (each side's own clock). */
function rate(a, b, key) {
  return (b.counters[key] - a.counters[key]) / ((b.t - a.t) / 1000);
}

/** Server CPU milliseconds between two marks, per unit of `count`. */
function cpuPer(a, b, count) {
  return count > 0 ? (b.cpuMs - a.cpuMs) / count : NaN;
}

module.exports = { sleep, withProcs, measureWindow, rateRound, rate, cpuPer };

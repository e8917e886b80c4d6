'use strict';
/**
 * The child-process side of a benchmark (server or load generator):
 * a hard time limit, exit when the parent goes away, and a tiny request/reply
 * channel over Node's IPC.
 *
 * Every child stops itself:
 *  - after `hardMs` whatever happens (a timer that cannot be missed: it is the
 *    last thing keeping nothing alive, but the IPC channel keeps the process up
 *    until it fires or the parent disconnects);
 *  - when the IPC channel closes (the parent exited or was killed).
 */

function setupChild(label, hardMs) {
  if (typeof process.send !== 'function') {
    process.stderr.write(`[bench ${label}] must be started by bench/run.js (needs an IPC channel)\n`);
    process.exit(2);
  }
  const timer = setTimeout(() => {
    process.stderr.write(`[bench ${label}] hard time limit of ${hardMs} ms reached: exiting\n`);
    process.exit(97);
  }, hardMs);
  timer.unref();
  process.on('disconnect', () => process.exit(0));
  process.on('uncaughtException', (error) => {
    process.stderr.write(`[bench ${label}] uncaught exception: ${error && error.stack ? error.stack : error}\n`);
    sendThenExit({ type: 'fatal', error: String(error && error.stack ? error.stack : error) }, 3);
  });
}

/** Sends a message, then exits once it has been handed to the channel. */
function sendThenExit(message, code) {
  try {
    process.send(message, () => process.exit(code));
  } catch {
    process.exit(code);
  }
  setTimeout(() => process.exit(code), 1000).unref();
}

/**
 * Answers the parent's calls. A handler returns data (or a promise of it);
 * the special handler `stop` replies, then the process exits.
 */
function serve(handlers) {
  process.on('message', async (msg) => {
    if (!msg || msg.type !== 'call') return;
    const handler = handlers[msg.name];
    let reply;
    try {
      if (!handler) throw new Error(`no handler ${msg.name}`);
      reply = { type: 'reply', id: msg.id, data: await handler(msg.arg) };
    } catch (error) {
      reply = { type: 'reply', id: msg.id, error: String(error && error.stack ? error.stack : error) };
    }
    if (msg.name === 'stop') sendThenExit(reply, 0);
    else process.send(reply);
  });
}

function send(type, data) {
  process.send({ type, data });
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

/** A mark: the time and CPU used so far, and whatever counters the caller adds. */
function mark(counters) {
  const cpu = process.cpuUsage();
  return { t: Number(process.hrtime.bigint()) / 1e6, cpuMs: (cpu.user + cpu.system) / 1000, counters };
}

/** Memory after full collections (the process needs --expose-gc). */
async function settledMemory() {
  for (let i = 0; i < 4; i++) {
    if (global.gc) global.gc();
    await sleep(60);
  }
  const m = process.memoryUsage();
  // The young generation is empty after a full collection: what it holds resident is capacity, not objects.
  const young = require('node:v8')
    .getHeapSpaceStatistics()
    .filter((space) => space.space_name === 'new_space')
    .reduce((sum, space) => sum + space.physical_space_size, 0);
  return { rss: m.rss, heapUsed: m.heapUsed, heapTotal: m.heapTotal, external: m.external, arrayBuffers: m.arrayBuffers, young };
}

module.exports = { setupChild, serve, send, sleep, mark, settledMemory };

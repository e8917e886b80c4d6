'use strict';
/**
 * Other processes' CPU during a measured window: the machine's busy CPU time
 * (/proc/stat, steal included) less what the benchmark's own processes used.
 * On a shared 2-core machine this is what makes a sample noisy; run.js
 * re-runs samples where it is high.
 */
const fs = require('node:fs');
const { tickMs } = require('./proc-stat');

/** Busy CPU milliseconds of the whole machine so far (undefined where /proc/stat is missing). */
function machineBusyMs() {
  try {
    const line = fs.readFileSync('/proc/stat', 'latin1').split('\n', 1)[0];
    const [user, nice, system, , , irq, softirq, steal] = line.trim().split(/\s+/).slice(1).map(Number);
    return (user + nice + system + irq + softirq + (steal || 0)) * tickMs();
  } catch {
    return undefined;
  }
}

function parentCpuMs() {
  const u = process.cpuUsage();
  return (u.user + u.system) / 1000;
}

/** Starts a measurement; stop(ownCpuMs) gives the foreign CPU as a percentage of one core over the window. */
function foreignMeter() {
  const busy0 = machineBusyMs();
  const own0 = parentCpuMs();
  const t0 = Date.now();
  return {
    stop(childCpuMs) {
      const busy1 = machineBusyMs();
      if (busy0 === undefined || busy1 === undefined) return undefined;
      const own = parentCpuMs() - own0 + childCpuMs;
      const foreign = Math.max(0, busy1 - busy0 - own);
      return (foreign / Math.max(1, Date.now() - t0)) * 100;
    },
  };
}

/**
 * Waits (at most `maxMs`) until the machine has been quiet for one 500 ms
 * interval: busy CPU below `pct` % of one core. Returns the last reading.
 */
async function waitForQuiet(pct, maxMs) {
  const end = Date.now() + maxMs;
  let last;
  while (Date.now() < end) {
    const m = foreignMeter();
    await new Promise((resolve) => setTimeout(resolve, 500));
    last = m.stop(0);
    if (last === undefined || last < pct) return last;
  }
  return last;
}

module.exports = { foreignMeter, waitForQuiet };

'use strict';
/**
 * Garbage collections of this process as counters for a server's marks:
 * mark-compacts (V8's major GCs) and scavenges, with their main-thread pause
 * in ms. The observer is started when the server starts, so a window's
 * difference counts only the collections inside it. (A mark-compact's
 * concurrent marking runs on V8's helper threads: its CPU shows in the
 * process's CPU time, not in the pause.)
 */
const { PerformanceObserver, constants } = require('node:perf_hooks');

function gcCounter() {
  const counts = { majorGcs: 0, majorGcMs: 0, minorGcs: 0, minorGcMs: 0 };
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) {
      if (entry.detail && entry.detail.kind === constants.NODE_PERFORMANCE_GC_MAJOR) {
        counts.majorGcs++;
        counts.majorGcMs += entry.duration;
      } else {
        counts.minorGcs++;
        counts.minorGcMs += entry.duration;
      }
    }
  });
  observer.observe({ entryTypes: ['gc'] });
  return { counters: () => ({ ...counts }) };
}

module.exports = { gcCounter };

'use strict';
/**
 * What /proc says about a process by its pid: resident memory (VmRSS) and CPU
 * time used (utime + stime). For the processes a benchmark started but cannot
 * ask directly (the cluster's workers, measured from outside the same way).
 */
const fs = require('node:fs');
const { execFileSync } = require('node:child_process');

let msPerTick;
/** Milliseconds per clock tick, the unit of /proc's CPU times (getconf CLK_TCK; 10 ms if it cannot say). */
function tickMs() {
  if (msPerTick === undefined) {
    try {
      msPerTick = 1000 / Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim());
    } catch {
      msPerTick = 10;
    }
    if (!Number.isFinite(msPerTick) || msPerTick <= 0) msPerTick = 10;
  }
  return msPerTick;
}

/** Resident set size of a process in bytes, as /proc/PID/status reports it (VmRSS). */
function vmRssBytes(pid) {
  const match = /^VmRSS:\s+(\d+) kB$/m.exec(fs.readFileSync(`/proc/${pid}/status`, 'utf8'));
  if (!match) throw new Error(`no VmRSS in /proc/${pid}/status`);
  return Number(match[1]) * 1024;
}

/** CPU milliseconds (user + system) a process has used so far, from /proc/PID/stat. */
function cpuMs(pid) {
  const stat = fs.readFileSync(`/proc/${pid}/stat`, 'latin1');
  // The command name (field 2) may hold spaces: count fields after its closing parenthesis.
  const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
  return (Number(fields[11]) + Number(fields[12])) * tickMs(); // utime, stime: fields 14 and 15
}

/** Summed CPU milliseconds of several processes. */
function cpuMsOf(pids) {
  return pids.reduce((sum, pid) => sum + cpuMs(pid), 0);
}

module.exports = { vmRssBytes, cpuMs, cpuMsOf, tickMs };

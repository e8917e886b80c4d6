'use strict';
/**
 * What a cluster-wide client slot costs, on this machine, against the
 * in-process LocalBus:
 *   1. reserveSlot() + releaseSlot() round trips from one worker, one at a time
 *      (latency p50/p99) and 256 in flight (throughput), with the CPU time of
 *      the worker and of the primary per reservation;
 *   2. accepts per second of a TWSocketServer worker (connect, banner, close;
 *      64 connections at a time from a load process of its own) with `bus: new ClusterBus()`
 *      and with its default LocalBus.
 * Run after `pnpm build`: node packages/cluster/bench/slot-cost.js [seconds per accept run, default 3]
 * One worker: what is measured is the IPC hop, not the spread over cores.
 */
const cluster = require('node:cluster');
const net = require('node:net');
const { performance } = require('node:perf_hooks');

if (process.argv[2] === '--load') {
  // The load generator, its own process: the primary's CPU is the cluster's alone.
  const [port, ms, concurrency] = process.argv.slice(3).map(Number);
  acceptLoad(port, ms, concurrency).then((served) => process.stdout.write(String(served)));
} else if (cluster.isPrimary) primary().catch((error) => { console.error(error); process.exit(1); });
else worker().catch((error) => { console.error(error); process.exit(1); });

async function primary() {
  const { ClusterBusHost } = require('../dist');
  const seconds = Number(process.argv[2] ?? 3);
  const host = new ClusterBusHost().start();
  const results = {};
  for (const busKind of ['local', 'cluster']) {
    const child = cluster.fork({ BENCH_BUS: busKind });
    // The worker's own messages (its bus's carry `ics` and are the host's business).
    const next = () => new Promise((resolve) => {
      const onMessage = (message) => {
        if (message.ics !== undefined) return;
        child.off('message', onMessage);
        resolve(message);
      };
      child.on('message', onMessage);
    });
    const { port } = await next();
    // 1. round trips (the worker measures; the primary's CPU over the same span)
    const primaryCpu = process.cpuUsage();
    child.send({ run: 'roundTrips' });
    const trips = await next();
    const primaryUs = process.cpuUsage(primaryCpu);
    trips.primaryCpuUsPerSlot = +((primaryUs.user + primaryUs.system) / trips.count).toFixed(1);
    // 2. accepts
    child.send({ run: 'cpu' });
    await next();
    const acceptPrimaryCpu = process.cpuUsage();
    const accepts = await loadFromAnotherProcess(port, seconds * 1000, 64);
    const acceptPrimaryUs = process.cpuUsage(acceptPrimaryCpu);
    child.send({ run: 'cpu' });
    const workerCpu = await next();
    results[busKind] = {
      ...trips,
      acceptsPerSecond: Math.round(accepts / seconds),
      workerCpuUsPerAccept: +(workerCpu.us / accepts).toFixed(1),
      primaryCpuUsPerAccept: +((acceptPrimaryUs.user + acceptPrimaryUs.system) / accepts).toFixed(1),
    };
    child.kill();
    await new Promise((resolve) => child.once('exit', resolve));
  }
  console.log(JSON.stringify({ node: process.version, hostDropped: host.stats().dropped, results }, null, 2));
  host.stop();
}

function loadFromAnotherProcess(port, ms, concurrency) {
  const { execFile } = require('node:child_process');
  return new Promise((resolve, reject) => {
    execFile(process.execPath, [__filename, '--load', String(port), String(ms), String(concurrency)], (error, stdout) => (error ? reject(error) : resolve(Number(stdout))));
  });
}

/** Connect, wait for the banner line, close; `concurrency` at a time, for `ms`. Returns the connections served. */
function acceptLoad(port, ms, concurrency) {
  return new Promise((resolve) => {
    const end = performance.now() + ms;
    let served = 0;
    let running = 0;
    const one = () => {
      if (performance.now() >= end) {
        if (running === 0) resolve(served);
        return;
      }
      running++;
      const socket = net.connect(port, '127.0.0.1');
      socket.once('data', () => {
        served++;
        socket.destroy();
      });
      socket.on('error', () => {});
      socket.once('close', () => {
        running--;
        one();
      });
    };
    for (let i = 0; i < concurrency; i++) one();
  });
}

async function worker() {
  const { TWSocketClient, TWSocketServer } = require('@ics-ts/wsocket-server');
  const { ClusterBus } = require('../dist');
  const bus = process.env.BENCH_BUS === 'cluster' ? new ClusterBus() : undefined;
  class Quiet extends TWSocketClient {}
  const server = new TWSocketServer({ addr: '127.0.0.1', port: 0, clientClass: Quiet, banner: 'hi', maxClients: 100000, ...(bus ? { bus } : {}) });
  await server.listen();
  const theBus = server.bus;
  let cpuMark = process.cpuUsage();
  process.on('message', async (message) => {
    if (message.run === 'roundTrips') process.send(await roundTrips(theBus));
    else if (message.run === 'cpu') {
      const used = process.cpuUsage(cpuMark);
      cpuMark = process.cpuUsage();
      process.send({ us: used.user + used.system });
    }
  });
  process.send({ port: server.listener.bindPort });
}

async function roundTrips(bus) {
  const count = 20000;
  const latencies = new Float64Array(count);
  const cpu = process.cpuUsage();
  for (let i = 0; i < count; i++) {
    const start = performance.now();
    await bus.reserveSlot('10.0.0.1', 0, 0);
    latencies[i] = performance.now() - start;
    bus.releaseSlot('10.0.0.1');
  }
  const used = process.cpuUsage(cpu);
  latencies.sort();
  const batchStart = performance.now();
  for (let done = 0; done < count; done += 256) {
    await Promise.all(Array.from({ length: 256 }, () => bus.reserveSlot('10.0.0.2', 0, 0)));
    for (let i = 0; i < 256; i++) bus.releaseSlot('10.0.0.2');
  }
  const batchMs = performance.now() - batchStart;
  return {
    kind: bus.kind,
    count: count * 2, // reservations: `count` one at a time, then `count` 256 at a time
    p50us: +(latencies[count >> 1] * 1000).toFixed(1),
    p99us: +(latencies[Math.floor(count * 0.99)] * 1000).toFixed(1),
    workerCpuUsPerSlot: +((used.user + used.system) / count).toFixed(1), // one at a time
    reservationsPerSecondAt256InFlight: Math.round((Math.ceil(count / 256) * 256) / (batchMs / 1000)),
  };
}

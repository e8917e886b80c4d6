'use strict';
/**
 * The scale benchmark's ics-ts server with workers: @ics-ts/cluster's
 * runWorkers() (from packages/cluster/dist) in this process (bench/server.js,
 * the primary) forks `workers` processes of lib/scale-worker.js, each a
 * TWSocketServer on the port they share, with a ClusterBus the primary serves
 * (service-wide client slots: every connection asks the primary for one).
 * With Node's default scheduling the primary accepts and hands each connection
 * to the next free worker (round-robin), so every worker holds about
 * count / workers descriptors, under its own limit of 20,000.
 *
 * No restarts: a worker that dies fails the round (maxRestartsPerMinute 0),
 * and the bench, not the supervisor, owns signals and the primary's exit.
 *
 * The primary answers the parent's calls for all its workers: stats (clients
 * summed), mem (every worker collects its garbage, then the VmRSS of every
 * worker process, from /proc/PID/status, summed; the primary's own apart: it
 * holds no connection, but with the bus its ServiceHub holds every
 * connection's slot) and service (the bus as one worker sees it: the
 * service-wide client count, status, slot timeouts).
 */
const cluster = require('node:cluster');
const path = require('node:path');
const { vmRssBytes } = require('./proc-stat');
const { settledMemory } = require('./child');

const ROOT = path.resolve(__dirname, '..', '..');

/** Calls into one cluster worker (lib/child.js `serve` on the other side). */
class WorkerLink {
  constructor(worker) {
    this.worker = worker;
    this.pid = worker.process.pid;
    this.nextId = 1;
    this.pending = new Map();
    this.exited = false;
    this.ready = new Promise((resolve, reject) => {
      this.readyWaiter = { resolve, reject };
    });
    worker.on('message', (msg) => this.onMessage(msg));
    worker.on('exit', (code, signal) => {
      this.exited = true;
      const error = new Error(`scale worker ${this.pid} exited (${code === null ? signal : code})${this.fatal ? `: ${this.fatal}` : ''}`);
      this.readyWaiter.reject(error);
      for (const p of this.pending.values()) {
        clearTimeout(p.timer);
        p.reject(error);
      }
      this.pending.clear();
    });
  }

  onMessage(msg) {
    if (!msg || typeof msg !== 'object') return;
    if (msg.type === 'ready') this.readyWaiter.resolve(msg.data);
    else if (msg.type === 'fatal') this.fatal = msg.error;
    else if (msg.type === 'reply') {
      const p = this.pending.get(msg.id);
      if (!p) return;
      this.pending.delete(msg.id);
      clearTimeout(p.timer);
      if (msg.error) p.reject(new Error(`scale worker ${this.pid}: ${msg.error}`));
      else p.resolve(msg.data);
    }
  }

  call(name, timeoutMs) {
    if (this.exited) return Promise.reject(new Error(`scale worker ${this.pid} has exited`));
    const id = this.nextId++;
    return new Promise((resolve, reject) => {
      const timer = setTimeout(() => {
        this.pending.delete(id);
        reject(new Error(`scale worker ${this.pid}: call ${name} got no reply within ${timeoutMs} ms`));
      }, timeoutMs);
      this.pending.set(id, { resolve, reject, timer });
      this.worker.send({ type: 'call', id, name });
    });
  }
}

/**
 * Runs the workers and waits until every one listens on the shared port.
 * opts: { workers, bus (serve a ClusterBus to the workers, or let each keep
 * its own slots), raw (the workers run the raw net.Server instead), hardMs, banner, backlog, tls, cert, key, workerExecArgv }.
 */
async function startCluster(opts) {
  const { runWorkers } = require(path.join(ROOT, 'packages', 'cluster'));
  const workerOpts = { bus: opts.bus, raw: opts.raw, port: 0, hardMs: opts.hardMs, banner: opts.banner, backlog: opts.backlog, tls: opts.tls, cert: opts.cert, key: opts.key };
  const supervisor = runWorkers({
    workers: opts.workers,
    exec: path.join(__dirname, 'scale-worker.js'),
    args: [JSON.stringify(workerOpts)],
    execArgv: opts.workerExecArgv,
    maxRestartsPerMinute: 0,
    bus: opts.bus,
    handleSignals: false,
    exitProcess: false,
    log: false,
  });
  supervisor.on('exit', (slot, code, signal, expected) => {
    if (!expected) process.stderr.write(`[bench scale primary] worker ${slot.index} (pid ${slot.pid}) exited: ${code === null ? signal : code}\n`);
  });
  // runWorkers() forked them all (cluster.workers is filled as each is forked).
  const links = Object.values(cluster.workers).map((worker) => new WorkerLink(worker));
  // Every worker listens on port 0 with the same address: the primary binds one
  // port for the first and gives the others the same handle.
  const readies = await Promise.all(links.map((link) => link.ready));
  const ports = new Set(readies.map((r) => r.port));
  if (links.length !== opts.workers) throw new Error(`${links.length} workers forked, not ${opts.workers}`);
  if (ports.size !== 1) throw new Error(`the workers listen on different ports: ${[...ports].join(', ')}`);
  const port = readies[0].port;

  const allCall = (name, timeoutMs) => Promise.all(links.map((link) => link.call(name, timeoutMs)));
  return {
    port,
    info: { workers: links.map((link) => link.pid) },
    async stats() {
      const all = await allCall('stats', 10000);
      return { clients: all.reduce((sum, s) => sum + s.clients, 0), perProcess: all.map((s) => s.clients) };
    },
    handlers: {
      async mem() {
        const all = await allCall('mem', 60000);
        await settledMemory(); // the primary's too (bench/server.js runs with --expose-gc): its hub holds the service's slots
        const perProcessRss = links.map((link) => vmRssBytes(link.pid));
        return {
          rss: perProcessRss.reduce((a, b) => a + b, 0),
          heapUsed: all.reduce((sum, m) => sum + m.heapUsed, 0),
          external: all.reduce((sum, m) => sum + m.external, 0),
          perProcessRss,
          primaryRss: vmRssBytes(process.pid),
        };
      },
      async service() {
        const all = await allCall('service', 10000);
        return {
          serviceClients: all[0].serviceClients,
          down: all.filter((s) => s.status === 'down').length, // 'local' without the bus: not an outage
          slotTimeouts: all.reduce((sum, s) => sum + s.slotTimeouts, 0),
          slotErrors: all.reduce((sum, s) => sum + s.slotErrors, 0),
        };
      },
    },
  };
}

module.exports = { startCluster };

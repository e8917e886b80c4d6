'use strict';
/**
 * A worker of the scale benchmark's ics-ts server, run by @ics-ts/cluster's
 * runWorkers() in the primary (lib/scale-cluster.js): one TWSocketServer from
 * packages/*\/dist on the port every worker shares, with a ClusterBus (its
 * client slots are the service's, counted by the primary) and handleShutdown
 * (the supervisor's shutdown requests), as a cluster deployment runs it. Its
 * client class answers each line with the same line; the banner tells the
 * load generator its connection is served. idleTimeout is off: the
 * connections are held idle on purpose. With opts.raw (the net-cluster
 * ablation) it runs the raw net.Server of lib/scale-raw-server.js instead.
 *
 * Answers the primary's calls (lib/child.js `serve`): stats, mem (after full
 * collections), service (the bus: service-wide count, status, slot waits that
 * timed out or failed), stop. Exits with the primary (IPC closed) or at its
 * hard time limit.
 */
const path = require('node:path');
const { setupChild, serve, send, settledMemory } = require('./child');

const opts = JSON.parse(process.argv[2]);
setupChild(`scale worker ${process.pid}`, opts.hardMs);

(async () => {
  if (opts.raw) return startRaw();
  const { ROOT, ws, tsyringe, startServer } = require('./ics');
  const { ClusterBus, handleShutdown } = require(path.join(ROOT, 'packages', 'cluster'));

  /** Answers every line with itself: the "is it still served" probe. */
  class AnsweringLineClient extends ws.TWSocketClient {
    constructor(info) {
      super({ lineMode: true });
      this.info = info;
    }

    onLine(line) {
      this.sendLine(line);
    }
  }
  // What TypeScript's emitDecoratorMetadata writes for `constructor(info: ConnectionInfo)`, then @injectable().
  Reflect.defineMetadata('design:paramtypes', [ws.ConnectionInfo], AnsweringLineClient);
  tsyringe.injectable()(AnsweringLineClient);

  // Without opts.bus (the ablation server): each worker keeps its own slots (its LocalBus), no IPC per connection.
  const bus = opts.bus ? new ClusterBus() : undefined;
  const server = await startServer({
    port: opts.port,
    clientClass: AnsweringLineClient,
    banner: opts.banner,
    listenBacklog: opts.backlog,
    clientDefaults: { idleTimeout: 0 },
    ...(bus ? { bus } : {}),
    ...(opts.tls ? { sslEnable: true, sslContext: { sslCert: opts.cert, sslKey: opts.key } } : {}),
  });
  handleShutdown(server, { signals: false });
  serve({
    stats: () => ({ clients: server.clientCount }),
    mem: () => settledMemory(),
    async service() {
      // Without the ClusterBus this would be the worker's own count: not a service-wide figure.
      const serviceClients = bus ? await server.serviceClientCount() : undefined;
      const { slotTimeouts, slotErrors } = server.stats().service;
      return { serviceClients, status: server.bus.status, slotTimeouts, slotErrors };
    },
    stop: () => ({}),
  });
  send('ready', { port: server.bindPort, pid: process.pid });
})().catch(fail);

/** The net-cluster ablation: the raw net.Server (lib/scale-raw-server.js) in this worker. */
async function startRaw() {
  const { startRawServer } = require('./scale-raw-server');
  const server = await startRawServer(opts);
  serve({
    stats: () => ({ clients: server.stats().clients }),
    mem: () => settledMemory(),
    service: () => ({ serviceClients: undefined, status: 'up', slotTimeouts: 0, slotErrors: 0 }),
    stop: () => ({}),
  });
  send('ready', { port: server.port, pid: process.pid });
}

function fail(error) {
  process.stderr.write(`[bench scale worker] ${error && error.stack ? error.stack : error}\n`);
  process.send({ type: 'fatal', error: String(error && error.stack ? error.stack : error) }, () => process.exit(3));
}

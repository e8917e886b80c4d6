'use strict';
/**
 * The ics-ts side, loaded from the built packages (packages/* /dist), so no
 * TypeScript compilation is measured. Only server processes require this.
 *
 * The bench client classes are written in plain JS; what TypeScript's
 * emitDecoratorMetadata would emit for `constructor(info: ConnectionInfo)` is
 * written by hand (`design:paramtypes`), then tsyringe's `injectable()` is
 * applied, exactly as the decorator does.
 */
const path = require('node:path');

const ROOT = path.resolve(__dirname, '..', '..');
const pkg = (name) => path.join(ROOT, 'packages', name);
const fromServer = (id) => require(require.resolve(id, { paths: [pkg('wsocket-server')] }));

fromServer('reflect-metadata'); // before tsyringe and the packages
const tsyringe = fromServer('tsyringe');
const ws = require(pkg('wsocket-server'));
const { TWSocketClient, TWSocketServer, ConnectionInfo } = ws;

function injectableWithInfo(cls) {
  Reflect.defineMetadata('design:paramtypes', [ConnectionInfo], cls);
  tsyringe.injectable()(cls);
  return cls;
}

/** A typical line-mode client class: per-connection facts injected, lines in onLine. */
class LineClient extends TWSocketClient {
  constructor(info) {
    super({ lineMode: true });
    this.info = info;
  }

  onLine() {}
}
injectableWithInfo(LineClient);

/** Counts the lines it receives into a module-wide counter (the `lines` benchmark). */
const lineCounter = { lines: 0 };
class CountingLineClient extends TWSocketClient {
  constructor(info) {
    super({ lineMode: true });
    this.info = info;
  }

  onLine() {
    lineCounter.lines++;
  }
}
injectableWithInfo(CountingLineClient);

function sampleClients() {
  return require(pkg('sample-clients'));
}

function sslContext() {
  return require(pkg('ssl-context'));
}

/** Starts a TWSocketServer on 127.0.0.1, port chosen by the system. */
async function startServer(options) {
  const server = new TWSocketServer({ addr: '127.0.0.1', port: 0, ...options });
  server.on('bgException', (error) => process.stderr.write(`[bench ics-ts] bgException: ${error && error.stack}\n`));
  await server.listen();
  return server;
}

module.exports = { ROOT, ws, tsyringe, LineClient, CountingLineClient, lineCounter, sampleClients, sslContext, startServer };

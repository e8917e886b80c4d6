'use strict';
/**
 * The server and sample clients of another checkout (ICS_BENCH_OTHER_ROOT: its packages built, e.g. an
 * older commit in a git worktree), for ablations comparing two builds in the same alternating rounds
 * (echo's `ics-ts-other`). Its own tsyringe and reflect-metadata are used, and nothing of this tree is
 * loaded: a server process runs one implementation.
 */
const path = require('node:path');

function otherTree() {
  const given = process.env.ICS_BENCH_OTHER_ROOT;
  if (!given) throw new Error('ICS_BENCH_OTHER_ROOT is not set: the root of a checkout whose packages are built');
  const root = path.resolve(given);
  const pkg = (name) => path.join(root, 'packages', name);
  require(require.resolve('reflect-metadata', { paths: [pkg('wsocket-server')] }));
  const ws = require(pkg('wsocket-server'));
  return {
    ROOT: root,
    ws,
    sampleClients: () => require(pkg('sample-clients')),
    async startServer(options) {
      const server = new ws.TWSocketServer({ addr: '127.0.0.1', port: 0, ...options });
      server.on('bgException', (error) => process.stderr.write(`[bench ics-ts-other] bgException: ${error && error.stack}\n`));
      await server.listen();
      return server;
    },
  };
}

module.exports = { otherTree };

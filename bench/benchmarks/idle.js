'use strict';
/**
 * idle: 10,000 idle plain connections held; server RSS and V8 heap per
 * connection (after full GCs, against the same server before the first one).
 *  ics-ts: TWSocketServer, a line-mode client class taking ConnectionInfo (no banner).
 *  net:    net.Server keeping its sockets in a Set, with an error and a close handler.
 * Target: <= baseline + 1 KiB per connection (RSS and heap).
 */
const { makeIdleBench } = require('../lib/idle-kit');

module.exports = makeIdleBench({
  name: 'idle',
  useTls: false,
  count: 10000,
  smokeCount: 200,
  maxDelta: 1024,
  heapTarget: true,
  what: '10,000 idle plain connections held: server RSS and V8 heap per connection',
  baselineText: 'net.Server holding the same (a Set of sockets, error + close handlers)',
});

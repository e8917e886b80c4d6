'use strict';
/**
 * tls-idle: 5,000 idle TLS connections (handshake done) held; server RSS per
 * connection (V8 heap shown too).
 *  ics-ts: TWSocketServer with sslEnable, line-mode client class (no banner).
 *  tls:    tls.Server with the same certificate, holding the same.
 * Target: RSS <= baseline + 2 KiB per connection.
 */
const { makeIdleBench } = require('../lib/idle-kit');

module.exports = makeIdleBench({
  name: 'tls-idle',
  useTls: true,
  count: 5000,
  smokeCount: 100,
  maxDelta: 2048,
  heapTarget: false,
  what: '5,000 idle TLS connections held: server RSS per connection',
  baselineText: 'tls.Server holding the same (a Set of sockets, error + close handlers)',
});

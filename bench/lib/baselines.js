'use strict';
/** Raw-Node baseline servers shared by several benchmarks. */

function noop() {}

/**
 * A server made by `create(onConnection)` (net.createServer or tls.createServer
 * with its options bound) that writes `line` + CRLF to each connection and ends
 * it; listening on 127.0.0.1, port chosen by the system.
 */
async function lineThenEndServer(create, line) {
  const text = `${line}\r\n`;
  const server = create((socket) => {
    socket.on('error', noop);
    socket.end(text);
  });
  server.on('tlsClientError', noop);
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve));
  return { port: server.address().port };
}

module.exports = { lineThenEndServer, noop };

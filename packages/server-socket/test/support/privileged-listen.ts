/**
 * Run in a child process (as an unprivileged user when the tests run as root):
 * listens on a port below 1024 and prints what the error event reported, as JSON.
 */
import { XojoServerSocket } from '../../src/xojo';

const server = new XojoServerSocket({ port: Number(process.argv[2]), networkInterface: '127.0.0.1' });
server.on('error', (errorCode, error) => {
  process.stdout.write(JSON.stringify({ errorCode, message: error.message, code: (error as NodeJS.ErrnoException).code }));
});
server.listen().then((ok) => {
  if (ok) process.stdout.write(JSON.stringify({ listening: server.port }));
  server.stopListening();
});

/**
 * Run in a child process (as an unprivileged user when the tests run as root):
 * listens on a port below 1024 with the Xojo and the AIR server sockets and
 * prints what each reported, as one JSON object.
 */
import { ServerSocket as AirServerSocket } from '../../src/air';
import { XojoServerSocket } from '../../src/xojo';

async function main(port: number): Promise<void> {
  const report: Record<string, unknown> = {};
  const xojo = new XojoServerSocket({ port, networkInterface: '127.0.0.1' });
  xojo.on('error', (errorCode, error) => {
    report.xojo = { errorCode, message: error.message, code: (error as NodeJS.ErrnoException).code };
  });
  if (await xojo.listen()) report.xojo = { listening: xojo.port };
  xojo.stopListening();
  const air = new AirServerSocket();
  air.bind(port, '127.0.0.1');
  try {
    await air.listen();
    report.air = { listening: air.localPort };
    air.close();
  } catch (error) {
    report.air = { message: (error as Error).message, code: (error as NodeJS.ErrnoException).code };
  }
  process.stdout.write(JSON.stringify(report));
}

void main(Number(process.argv[2]));

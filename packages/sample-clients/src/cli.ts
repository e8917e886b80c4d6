#!/usr/bin/env node
/**
 * ics-ts-server: serves a registered client class, from a JSON config (or the
 * chat demo), until SIGINT or SIGTERM. Options: `--help` (cli-args.ts); config
 * keys and checks: config.ts.
 */
import 'reflect-metadata';
import { existsSync } from 'node:fs';
import { createRequire } from 'node:module';
import * as path from 'node:path';
import { ExampleName, RunningExample, startExample } from '@ics-ts/server-socket';
import { TWSocketServer, clientClassRegistry } from '@ics-ts/wsocket-server';
import { CliArgs, HELP_TEXT, UsageError, parseCliArgs } from './cli-args';
import { ConfigError, applyOverrides, baseConfig, serverOptions } from './config';
import './index'; // registers echo, chat, daytime, command

export interface CliIO {
  out(line: string): void;
  err(line: string): void;
  cwd: string;
}

/** Either the server (or a seed's example server) is listening, or the CLI is done with this exit code. */
export type CliStart =
  | { server: TWSocketServer; exitCode?: undefined; example?: undefined }
  | { server?: undefined; exitCode: number; example?: undefined }
  | { server?: undefined; exitCode?: undefined; example: RunningExample };

/** Everything the CLI does before it waits for a signal; no process globals, so it can be called in a test. */
export async function startCli(argv: readonly string[], io: CliIO): Promise<CliStart> {
  let server: TWSocketServer;
  let quiet: boolean;
  let lenient = false;
  let check = false;
  try {
    const args = parseCliArgs(argv);
    if (args.help) {
      io.out(HELP_TEXT.trimEnd());
      return { exitCode: 0 };
    }
    if (args.example) return await startSeedExample(args.example, args, io);
    quiet = args.quiet;
    check = args.check;
    for (const module of args.require) loadModule(module, io.cwd);
    const config = applyOverrides(baseConfig(args.config, args.client, io.cwd), args);
    const name = config.clientClass;
    if (name !== undefined && !clientClassRegistry.has(name)) {
      const where = args.client !== undefined ? 'command line: option --client' : `${args.config}: option clientClass`;
      throw new ConfigError(
        `${where}: no client class is registered as ${JSON.stringify(name)} ` +
          `(registered: ${clientClassRegistry.names().join(', ')}; --require the module that registers it)`,
      );
    }
    lenient = config.listenPolicy === 'lenient';
    const options = await serverOptions(config, args.config ?? 'demo config');
    try {
      server = new TWSocketServer(options);
    } catch (error) {
      // Any check the config layer left to the server.
      throw new ConfigError(`${args.config ?? 'command line'}: ${(error as Error).message}`);
    }
  } catch (error) {
    if (error instanceof UsageError) {
      io.err(`ics-ts-server: ${error.message}`);
      io.err('Try ics-ts-server --help');
      return { exitCode: 2 };
    }
    if (error instanceof ConfigError) {
      io.err(`ics-ts-server: ${error.message}`);
      return { exitCode: 2 };
    }
    throw error;
  }

  if (check) {
    // The config is valid (the server was made); tell what it would serve, without listening or ordering.
    if (server.icsHosts.length > 0) io.out(server.validateHosts().text);
    else for (const listener of server.listenSockets) io.out(`${listener.url}: ${listener.spec.sslEnable ? 'TLS' : 'plain'}`);
    return { exitCode: 0 };
  }

  server.on('error', (error) => io.err(`ics-ts-server: ${error.message}`));
  server.on('bgException', (error, client) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    io.err(`ics-ts-server: client ${client?.cliId ?? '-'} failed: ${text}`);
  });
  if (!quiet) {
    server.on('clientConnect', (client) =>
      io.out(`client ${client.cliId} connected from ${hostPort(client.peerAddr, client.peerPort)} (${server.clientCount} now)`),
    );
    server.on('clientDisconnect', (client) =>
      io.out(`client ${client.cliId} disconnected (${server.clientCount - 1} now)`),
    );
    server.on('tooBusy', (info) => io.out(`turned away ${hostPort(info.peerAddr, info.peerPort)}: maxClients reached`));
  }

  if (lenient) {
    const failures = await server.multiListenEx();
    for (const failure of failures) io.err(`ics-ts-server: ${failure.error.message}`);
    if (!server.listenAny) return { exitCode: 1 };
  } else {
    try {
      await server.listen();
    } catch (error) {
      io.err(`ics-ts-server: ${(error as Error).message}`);
      return { exitCode: 1 };
    }
  }
  for (const listener of server.listenSockets) {
    if (listener.state === 'listening') io.out(`listening ${listener.url}`);
  }
  return { server };
}

/** `--example NAME`: one of the seeds' example servers (@ics-ts/server-socket), its log on stdout. */
async function startSeedExample(name: ExampleName, args: CliArgs, io: CliIO): Promise<CliStart> {
  const port = args.port === undefined ? undefined : Number(args.port);
  if (port !== undefined && (!/^\d+$/.test(args.port!.trim()) || port > 65535)) {
    throw new UsageError(`option --port must be an integer in 0..65535 with --example, got ${JSON.stringify(args.port)}`);
  }
  const addr = args.addr ?? '127.0.0.1';
  let example: RunningExample;
  try {
    example = await startExample(name, { addr, port, log: (line) => io.out(line) });
  } catch (error) {
    io.err(`ics-ts-server: ${(error as Error).message}`);
    // A bad --addr is the command line's fault; anything else is the system refusing to listen.
    return { exitCode: error instanceof TypeError ? 2 : 1 };
  }
  io.out(`listening tcp://${hostPort(addr, example.port)}`);
  return { example };
}

/**
 * Loads a --require module: a package name is looked up from `cwd` as Node
 * would; a path (or a name with no package of that name) relative to `cwd`.
 */
function loadModule(module: string, cwd: string): void {
  const load = createRequire(path.join(cwd, '[ics-ts-server]'));
  let resolved: string;
  try {
    resolved = load.resolve(module);
  } catch (error) {
    const asPath = path.resolve(cwd, module);
    if (!existsSync(asPath)) throw new ConfigError(`--require ${module}: cannot find this module (${(error as Error).message.split('\n')[0]})`);
    resolved = asPath;
  }
  try {
    load(resolved);
  } catch (error) {
    throw new ConfigError(`--require ${module}: loading it failed: ${(error as Error).stack ?? error}`);
  }
}

function hostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

async function main(): Promise<void> {
  const io: CliIO = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    cwd: process.cwd(),
  };
  let server: { shutdown(): Promise<unknown> } | undefined;
  let stopping = false;
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      io.err(`ics-ts-server: ${signal} again, exiting at once`);
      process.exit(1);
    }
    stopping = true;
    if (!server) process.exit(0); // not listening yet: nothing to close
    server.shutdown().then(
      () => process.exit(0),
      (error: unknown) => {
        io.err(`ics-ts-server: shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  // Before listening: a signal right after the "listening" line must find its handler.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const start = await startCli(process.argv.slice(2), io);
  if (start.example) server = start.example;
  else if (!start.server) process.exit(start.exitCode);
  else server = start.server;
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`ics-ts-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}

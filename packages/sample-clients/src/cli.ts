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
import type { ServerStats, ShutdownOptions, ShutdownResult } from '@ics-ts/wsocket-server';
import { certificateWarnings } from './cert-warnings';
import { CliArgs, HELP_TEXT, UsageError, parseCliArgs } from './cli-args';
import { ConfigError, ServerConfig, applyOverrides, baseConfig, serverOptions } from './config';
import { RateLimitedLog } from './rate-limited-log';
import { formatStatus, statsLine } from './status-report';
import { ICS_ERR, icsError } from '@ics-ts/wsocket';
import cluster from 'node:cluster';
import { WORKER_OPTIONS_ENV, describeBusStatus, loadCluster, optionsFromPrimary, serviceBus, supervisesWorkers } from './cli-service';
import './index'; // registers echo, chat, daytime, command

export interface CliIO {
  out(line: string): void;
  err(line: string): void;
  cwd: string;
}

/**
 * Either the server (or a seed's example server) is listening (close
 * `exceptionLog` after the server, so that the last count of suppressed
 * exceptions is written), or the CLI is done with this exit code.
 */
export type CliStart =
  | { server: TWSocketServer; exceptionLog: RateLimitedLog; shutdown: ShutdownOptions; quiet: boolean; exitCode?: undefined; example?: undefined; workers?: undefined }
  | { server?: undefined; exitCode: number; example?: undefined; workers?: undefined }
  | { server?: undefined; exitCode?: undefined; example: RunningExample; workers?: undefined }
  | { server?: undefined; exitCode?: undefined; example?: undefined; workers: WorkersStart };

/** A `workers` config in the primary: what runWorkers() needs to fork the workers that serve it. */
export interface WorkersStart {
  count: number | 'auto';
  shutdown: ShutdownOptions;
  quiet: boolean;
  /** The server options settled once (free ports, development certificates), for every worker. */
  optionsJson: string;
}

/** Everything the CLI does before it waits for a signal; no process globals, so it can be called in a test. */
export async function startCli(argv: readonly string[], io: CliIO): Promise<CliStart> {
  let server: TWSocketServer;
  let quiet: boolean;
  let lenient = false;
  let check = false;
  let statsInterval: number | undefined;
  let shutdown: ShutdownOptions = { timeout: DEFAULT_SHUTDOWN_TIMEOUT };
  let workers: WorkersStart | undefined;
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
    if (args.status) return { exitCode: await printStatus(config, args.config ?? 'demo config', io) };
    statsInterval = args.statsInterval;
    lenient = config.listenPolicy === 'lenient';
    shutdown = { timeout: config.shutdownTimeout ?? DEFAULT_SHUTDOWN_TIMEOUT, notice: config.shutdownNotice };
    const where = args.config ?? 'demo config';
    const options = optionsFromPrimary() ?? (await serverOptions(config, where));
    const bus = serviceBus(config, where);
    if (supervisesWorkers(config)) {
      workers = { count: config.workers!, shutdown, quiet, optionsJson: JSON.stringify(options) };
    } else if (bus) options.bus = bus;
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
  // The primary of a workers config checked it by making the server; the workers serve it.
  if (workers) return { workers };

  server.on('serviceStatus', (status, reason) => io.err(`ics-ts-server: ${describeBusStatus(server.bus, status, reason)}`));
  server.on('error', (error) => io.err(`ics-ts-server: ${error.message}`));
  // Peers can provoke exceptions in client code at will: a few stacks per interval, then a count.
  const exceptionLog = new RateLimitedLog({ write: (line) => io.err(`ics-ts-server: ${line}`), noun: 'client exceptions' });
  server.on('bgException', (error, client) => {
    const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
    exceptionLog.log(`client ${client?.cliId ?? '-'} failed: ${text}`);
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
  if (server.adminUrl) io.out(`admin ${server.adminUrl}`);
  if (statsInterval !== undefined) printStatsEvery(server, statsInterval, io);
  warnAboutCertificates(server, io);
  watchCertificateReloads(server, io);
  return { server, exceptionLog, shutdown, quiet };
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

/** --stats-interval: a summary line on stderr every `seconds` while the server listens. */
function printStatsEvery(server: TWSocketServer, seconds: number, io: CliIO): void {
  let timer: NodeJS.Timeout | undefined;
  const start = () => {
    timer ??= setInterval(() => io.err(statsLine(server.stats({ maxClients: 0 }))), seconds * 1000);
    timer.unref();
  };
  start();
  server.on('changeState', (state) => {
    if (state === 'listening') return start();
    clearInterval(timer);
    timer = undefined;
  });
}

/** --status: the snapshot of the server this config describes, from its admin listener; the exit code. */
async function printStatus(config: ServerConfig, where: string, io: CliIO): Promise<number> {
  const admin = config.admin;
  if (!admin || typeof admin.port !== 'number' || admin.port === 0) {
    throw new ConfigError(`${where}: --status needs the config's admin listener with a fixed port ("admin": { "port": 9323 })`);
  }
  const addr = admin.addr ?? '127.0.0.1';
  const url = `http://${addr.includes(':') ? `[${addr}]` : addr}:${admin.port}/stats?clients=50`;
  let stats: ServerStats;
  try {
    const response = await fetch(url, {
      headers: admin.token ? { authorization: `Bearer ${admin.token}` } : {},
      signal: AbortSignal.timeout(5000),
    });
    if (!response.ok) throw icsError(Error, ICS_ERR.CLI_STATUS_REQUEST, `HTTP ${response.status} ${(await response.text()).trim()}`);
    stats = (await response.json()) as ServerStats;
  } catch (error) {
    const cause = (error as { cause?: { code?: string } }).cause?.code;
    io.err(`ics-ts-server: --status: ${url}: ${cause ?? (error as Error).message}`);
    return 1;
  }
  io.out(formatStatus(stats));
  return 0;
}

/** Expired, not yet valid or soon expiring certificates: served anyway (as ICS does), but said loudly. */
function warnAboutCertificates(server: TWSocketServer, io: CliIO): void {
  for (const warning of certificateWarnings(server)) io.err(`ics-ts-server: warning: ${warning}`);
}

/**
 * The host table's files are re-read every sslCertRecheckInterval ms; the
 * event comes when a file changed. A new certificate is the moment to say
 * again what is wrong with the certificates; a file that fails to load is
 * reported once per distinct error, not at every recheck (a broken file fails
 * at each one until it is fixed).
 */
function watchCertificateReloads(server: TWSocketServer, io: CliIO): void {
  const reported = new Map<string, string>();
  server.on('sslCertRecheck', (result) => {
    for (const { hostTag, error } of result.failed) {
      if (reported.get(hostTag) === error.message) continue;
      reported.set(hostTag, error.message);
      io.err(`ics-ts-server: warning: host ${hostTag}: reloading its certificate failed, the last good one is kept: ${error.message}`);
    }
    for (const hostTag of result.reloaded) reported.delete(hostTag);
    if (result.reloaded.length > 0) warnAboutCertificates(server, io);
  });
}

function hostPort(addr: string, port: number): string {
  return addr.includes(':') ? `[${addr}]:${port}` : `${addr}:${port}`;
}

/** Default ms of the graceful shutdown at the first signal (config: shutdownTimeout). */
const DEFAULT_SHUTDOWN_TIMEOUT = 10000;
/** Exit code: a graceful shutdown had to abort clients still open at its timeout. */
export const EXIT_SHUTDOWN_ABORTED = 3;
/** A second signal: 128 + its number (130 for SIGINT, 143 for SIGTERM), as shells report a death by signal. */
const EXIT_SIGNAL_BASE = 128;

async function main(): Promise<void> {
  const io: CliIO = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    cwd: process.cwd(),
  };
  let server: { shutdown(options?: ShutdownOptions): Promise<unknown> } | undefined;
  let exceptionLog: RateLimitedLog | undefined;
  let shutdown: ShutdownOptions = { timeout: DEFAULT_SHUTDOWN_TIMEOUT };
  let quiet = true;
  let stopping = false;
  // The first SIGINT/SIGTERM shuts down gracefully; a second one exits at once. The exit code says which.
  const stop = (signal: NodeJS.Signals) => {
    if (stopping) {
      io.err(`ics-ts-server: ${signal} again: exiting at once, open connections dropped`);
      process.exit(EXIT_SIGNAL_BASE + (signal === 'SIGINT' ? 2 : 15));
    }
    stopping = true;
    if (!server) process.exit(0); // not listening yet: nothing to close
    if (!quiet) io.out(`${signal}: shutting down gracefully (at most ${shutdown.timeout} ms; ${signal} again to exit at once)`);
    server.shutdown(shutdown).then(
      (result) => {
        exceptionLog?.close();
        const { clients = 0, aborted = 0 } = (result ?? {}) as Partial<ShutdownResult>;
        if (!quiet) io.out(`shut down: ${clients - aborted} of ${clients} clients closed gracefully, ${aborted} aborted at the timeout`);
        process.exit(aborted > 0 ? EXIT_SHUTDOWN_ABORTED : 0);
      },
      (error: unknown) => {
        exceptionLog?.close();
        io.err(`ics-ts-server: shutdown failed: ${error instanceof Error ? error.message : String(error)}`);
        process.exit(1);
      },
    );
  };
  if (cluster.isWorker) return serveAsWorker(io);
  // Before listening: a signal right after the "listening" line must find its handler.
  process.on('SIGINT', stop);
  process.on('SIGTERM', stop);
  const start = await startCli(process.argv.slice(2), io);
  if (start.workers) {
    // The supervisor takes the signals over: graceful shutdown of every worker, a second one kills them.
    process.off('SIGINT', stop);
    process.off('SIGTERM', stop);
    const { count, shutdown: workerShutdown, quiet: quietWorkers, optionsJson } = start.workers;
    loadCluster().runWorkers({
      workers: count,
      env: { [WORKER_OPTIONS_ENV]: optionsJson },
      shutdownTimeout: workerShutdown.timeout,
      shutdownNotice: workerShutdown.notice,
      log: quietWorkers ? false : (line) => io.out(line),
    });
    return;
  }
  if (start.example) server = start.example;
  else if (!start.server) process.exit(start.exitCode);
  else {
    server = start.server;
    exceptionLog = start.exceptionLog;
    shutdown = start.shutdown;
    quiet = start.quiet;
  }
}

/**
 * A worker of a `workers` config: the same command line, served with the
 * options its primary settled; the primary's shutdown request (or a signal
 * to the whole process group) shuts it down gracefully, and the exit code
 * tells the primary how it went.
 */
async function serveAsWorker(baseIo: CliIO): Promise<void> {
  const tag = `worker ${process.pid}: `;
  const io: CliIO = { out: (line) => baseIo.out(tag + line), err: (line) => baseIo.err(tag + line), cwd: baseIo.cwd };
  const start = await startCli(process.argv.slice(2), io);
  if (!start.server) process.exit(start.exitCode ?? 1);
  const { server, exceptionLog, quiet } = start;
  loadCluster().handleShutdown(server, {
    onDone: (result) => {
      exceptionLog.close();
      if (!quiet) io.out(`shut down: ${result.clients - result.aborted} of ${result.clients} clients closed gracefully, ${result.aborted} aborted at the timeout`);
    },
  });
}

if (require.main === module) {
  main().catch((error: unknown) => {
    process.stderr.write(`ics-ts-server: ${error instanceof Error ? (error.stack ?? error.message) : String(error)}\n`);
    process.exit(1);
  });
}

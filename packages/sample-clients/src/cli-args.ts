import { parseArgs } from 'node:util';
import { EXAMPLE_NAMES, ExampleName } from '@ics-ts/server-socket';
import { ICS_ERR, type IcsErrorCode } from '@ics-ts/wsocket';

/** The command line of `ics-ts-server`, parsed but not yet checked against a config. */
export interface CliArgs {
  help: boolean;
  /** --config FILE */
  config?: string;
  /** --require MODULE, in the order given */
  require: string[];
  /** --port N (overrides the config) */
  port?: string;
  /** --addr A (overrides the config) */
  addr?: string;
  /** --client NAME (overrides the config's clientClass) */
  client?: string;
  /** --quiet: no connect/disconnect lines */
  quiet: boolean;
  /** --check: validate the config and print the hosts' report, without listening */
  check: boolean;
  /** --example NAME: run a seed's example server (xojo, totalcross, air) instead of a TWSocketServer */
  example?: ExampleName;
  /** --status: print a running server's snapshot (through its admin listener) and exit */
  status: boolean;
  /** --stats-interval N: a one-line summary on stderr every N seconds */
  statsInterval?: number;
  /** --workers N|auto (overrides the config's workers) */
  workers?: string;
}

/** A bad command line: exit code 2, with the message and a pointer to --help. */
export class UsageError extends Error {
  override name = 'UsageError';
  readonly code: IcsErrorCode = ICS_ERR.CLI_USAGE;
}

export const HELP_TEXT = `Usage: ics-ts-server [options]

Serves a registered client class (echo, chat, daytime, command, or your own)
with a TWSocketServer. Without --config it runs the demo, a host table: the
chat sample on 127.0.0.1:2323 and, over TLS, on 127.0.0.1:2324 for
"localhost"; the echo sample on the same TLS port for "echo.localhost"
(picked by SNI); generated certificates; at most 50 clients.

Options:
  --config FILE     JSON config file (keys below); replaces the demo config,
                    keys it leaves out take the TWSocketServer defaults
  --require MODULE  load a module that registers client classes (with
                    @clientClass('name') or registerClientClass); a path is
                    relative to the current directory; may be repeated
  --port N          the main listener's port (0: the system picks one), overrides
                    the config; with 0, every other listener takes a free port too;
                    with icsHosts, the table's ports become N, N+1, ... in order
  --addr A          listen on address A (an IP literal), overrides the config
                    (with icsHosts: every host's bindIpAddr)
  --client NAME     serve the client class registered as NAME, overrides the
                    config; without --config: on 127.0.0.1:2323, no banner
  --quiet           do not print a line per connection and disconnection
  --check           check the config and print the host table's report (bindings;
                    each host's certificate: source, expiry, next renewal; problems)
                    without listening or ordering; exit 0 if the config is valid
  --example NAME    run a seed's example server instead: xojo (the Xojo
                    ServerSocket docs' ClientSocket pool, port 2002), totalcross
                    (accept and echo, any free port), air (the AIR docs'
                    ServerSocketExample, any free port); on 127.0.0.1 unless
                    --addr, --port overrides; prints what the example logs
  --status          print the status of the server this config describes (asked
                    through its admin listener: the config's "admin") and exit
  --stats-interval N  print a one-line summary to stderr every N seconds
  --workers N       serve from N worker processes sharing the listeners, slots
                    and chat rooms (0 or auto: one per core); overrides the
                    config's "workers" (docs/scaling-out.md)
  -h, --help        print this help and exit

Config keys (all optional; the defaults are TWSocketServer's):
  addr           IP literal to listen on: "0.0.0.0", "::", "127.0.0.1", "::1"  ("0.0.0.0")
  port           0..65535 or a service name such as "telnet"; 0 = any free port  (0)
  socketFamily   "any", "ipv4" or "ipv6"; must match addr  (from addr)
  ipv6Only       with addr "::", do not accept IPv4 too  (false)
  listenBacklog  pending connections queued by the system, >= 0  (511)
  clientClass    name of a registered client class: echo, chat, daytime, command  (none)
  banner         line sent to each new client; "" sends none  ("")
  bannerTooBusy  line sent to a client over maxClients before closing  ("Sorry, too many clients")
  lineEnd        line end for bannerTooBusy  ("\\r\\n")
  maxClients     most clients at once, 0 = no limit  (0)
  tooBusyCloseTimeout  ms a turned-away client may take to close  (5000)
  multiListenSockets   more listeners: [{ "addr", "port", "socketFamily", "ipv6Only",
                 "listenBacklog", "sslEnable", "sslContext", "clientClass" }, ...]  ([])
  sslEnable      serve TLS on addr/port  (false)
  sslContext     TLS identity and settings: { "sslCert": file or PEM, "sslKey",
                 "sslPassword", "sslInter", "sslCA", "sslSrvSecurity": "high",
                 "sslVerifyPeer", "alpnProtocols" }, or { "devCertificate":
                 ["localhost"] } to generate a development certificate at start
  sslHandshakeTimeout  ms a TLS handshake may take  (10000)
  listenPolicy   "strict": every listener or none; "lenient": serve on those
                 that open and report the others  ("strict")
  icsHosts       TLS and plain hosts, instead of addr/port/multiListenSockets/
                 sslContext: [{ "hostNames": ["mail.example.com", "*.example.com"],
                 "bindIpAddr", "bindIpAddr2", "bindNonPort", "bindSslPort",
                 "hostTag", "descr", "hostEnabled", "sslCert", "sslKey", ...,
                 "sslSrvSecurity", "clientClass", "banner" }] (a host may give
                 "devCertificate": ["name"] instead of sslCert/sslKey, or
                 "certAutoOrder": { "directory", "contact", "workDir", "keyType",
                 "challenge", "renewDays", "caBundle", "httpPort" } to order its
                 certificate from an ACME CA and renew it)
  sniUnknown, sniMissing  a TLS server name matching no host / none sent:
                 "default" host or "refuse"  ("default")
  sslCertRecheckInterval  ms between certificate file rechecks, 0 = never  (0)
  workers        worker processes, 0 or "auto" = one per core  (one process)
  reusePort      with workers: each binds the ports itself (SO_REUSEPORT,
                 Node >= 22.12)  (false)
  redis          share slots, rooms and presence with other servers:
                 "redis://HOST:PORT" or { "url", "service", "presenceTtl" }  (off)
  admin          the admin HTTP listener: { "addr": "127.0.0.1", "port": 9323,
                 "token": "..." }: GET / (status page), /metrics (Prometheus),
                 /stats (JSON); POST actions need "Authorization: Bearer TOKEN"
                 (docs/operating.md)  (off; the demo: 127.0.0.1:9323)

Example config:
  {
    "addr": "127.0.0.1",
    "port": 7007,
    "clientClass": "echo",
    "maxClients": 100,
    "bannerTooBusy": "Too busy, try again later"
  }

On start it prints one "listening tcp://ADDR:PORT" (or tls://) line per
listener, with the real port when 0 was asked (with workers, one per worker). The
first SIGINT or SIGTERM shuts down gracefully (at most shutdownTimeout ms), a
second one at once.
Exit codes: 0 clean stop or --help, 1 cannot listen, 2 bad option or config,
3 clients still open at the shutdown timeout were aborted, 130/143 a second
SIGINT/SIGTERM; with workers also 4 (workers kept dying) and 5 (a worker
killed at the shutdown deadline).
`;

/**
 * Parses argv (without node and the script). Throws UsageError.
 * A leading `--` is skipped: `pnpm start -- --port 0` passes it on to the script.
 */
export function parseCliArgs(argv: readonly string[]): CliArgs {
  const args = argv[0] === '--' ? argv.slice(1) : [...argv];
  let parsed;
  try {
    parsed = parseArgs({
      args,
      strict: true,
      allowPositionals: false,
      options: {
        help: { type: 'boolean', short: 'h', default: false },
        config: { type: 'string' },
        require: { type: 'string', multiple: true, default: [] },
        port: { type: 'string' },
        addr: { type: 'string' },
        client: { type: 'string' },
        quiet: { type: 'boolean', default: false },
        check: { type: 'boolean', default: false },
        example: { type: 'string' },
        status: { type: 'boolean', default: false },
        'stats-interval': { type: 'string' },
        workers: { type: 'string' },
      },
    });
  } catch (error) {
    throw new UsageError(error instanceof Error ? error.message : String(error));
  }
  const { values } = parsed;
  for (const key of ['config', 'port', 'addr', 'client', 'example', 'workers'] as const) {
    if (values[key] !== undefined && values[key].trim() === '') throw new UsageError(`option --${key} needs a value`);
  }
  for (const module of values.require) {
    if (module.trim() === '') throw new UsageError('option --require needs a module name or path');
  }
  const example = values.example;
  if (example !== undefined) {
    if (!(EXAMPLE_NAMES as string[]).includes(example)) {
      throw new UsageError(`option --example: no example named ${JSON.stringify(example)} (${EXAMPLE_NAMES.join(', ')})`);
    }
    const clash = (['config', 'client', 'workers'] as const).find((key) => values[key] !== undefined) ?? (values.require.length > 0 ? 'require' : undefined);
    if (clash) throw new UsageError(`option --example cannot be given with --${clash}: the example brings its own server`);
  }
  let statsInterval: number | undefined;
  const interval = values['stats-interval'];
  if (interval !== undefined) {
    statsInterval = Number(interval);
    if (!/^\d+$/.test(interval.trim()) || statsInterval < 1 || statsInterval > 86400) {
      throw new UsageError(`option --stats-interval must be a whole number of seconds from 1 to 86400, got ${JSON.stringify(interval)}`);
    }
  }
  return {
    help: values.help,
    status: values.status,
    statsInterval,
    config: values.config,
    require: values.require,
    port: values.port,
    addr: values.addr,
    client: values.client,
    quiet: values.quiet,
    check: values.check,
    example: example as ExampleName | undefined,
    workers: values.workers,
  };
}

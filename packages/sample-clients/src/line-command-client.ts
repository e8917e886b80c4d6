import type { LineLimitAction } from '@ics-ts/wsocket';
import { TWSocketClient, clientClass } from '@ics-ts/wsocket-server';

/** One entry of the command table. */
export interface LineCommand {
  /** How to call it, for HELP: `TIME`, `HELP [command]`. */
  readonly usage: string;
  /** What it does, for HELP. */
  readonly summary: string;
  /** Whether it takes arguments; one that does not answers -ERR when given some. */
  readonly takesArgs: boolean;
  /** Sends exactly one reply (`client.ok` or `client.err`); may close the connection after it. */
  run(client: LineCommandClient, args: string): void;
}

/**
 * The command table: names in upper case (commands are matched
 * case-insensitively). A subclass serves more commands by overriding
 * `commandTable` with `{ ...COMMANDS, ECHO: {...} }`.
 */
export const COMMANDS: Readonly<Record<string, LineCommand>> = {
  HELP: {
    usage: 'HELP [command]',
    summary: 'lists the commands, or describes one',
    takesArgs: true,
    run: (client, args) => client.help(args),
  },
  TIME: {
    usage: 'TIME',
    summary: "the server's date and time, ISO 8601 in UTC",
    takesArgs: false,
    run: (client) => client.ok(new Date().toISOString()),
  },
  QUIT: {
    usage: 'QUIT',
    summary: 'says goodbye and closes the connection',
    takesArgs: false,
    run: (client) => {
      client.ok('bye');
      client.close();
    },
  },
};

/**
 * `command`: the pattern for a custom line protocol. Each request line is a
 * command name (any case) and optional arguments; each gets exactly one reply
 * line, `+OK text` or `-ERR text` (as POP3 does), so a program can drive it as
 * easily as a person. Blank lines are ignored. The greeting is `+OK` followed
 * by the server's banner (or a default one).
 *
 * Commands: HELP [command], TIME, QUIT, from the table in `commandTable`.
 */
@clientClass('command')
export class LineCommandClient extends TWSocketClient {
  constructor() {
    super({ lineMode: true, lineAcceptLf: true, lineLimit: 1024 });
  }

  /** The commands served, by upper-case name. */
  protected get commandTable(): Readonly<Record<string, LineCommand>> {
    return COMMANDS;
  }

  override startConnection(): void {
    this.ok(this.banner || 'ics-ts command server ready, HELP lists the commands');
  }

  ok(text: string): boolean {
    return this.sendLine(`+OK ${text}`);
  }

  err(text: string): boolean {
    return this.sendLine(`-ERR ${text}`);
  }

  /** HELP: every command on one line, or one command's usage and summary. */
  help(args: string): void {
    const table = this.commandTable;
    if (args === '') {
      this.ok(`commands: ${Object.keys(table).join(', ')} (HELP <command> for details)`);
      return;
    }
    const name = args.toUpperCase();
    const command = Object.hasOwn(table, name) ? table[name] : undefined;
    if (command) this.ok(`${command.usage}: ${command.summary}`);
    else this.err(`no command ${JSON.stringify(args)}`);
  }

  protected override onLine(line: string): void {
    const text = line.trim();
    if (text === '') return;
    const match = /^(\S+)\s*(.*)$/.exec(text)!;
    const name = match[1].toUpperCase();
    const args = match[2];
    const table = this.commandTable;
    const command = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!command) {
      this.err(`unknown command ${JSON.stringify(match[1])}, HELP lists the commands`);
      return;
    }
    if (!command.takesArgs && args !== '') {
      this.err(`${name} takes no arguments (usage: ${command.usage})`);
      return;
    }
    command.run(this, args);
  }

  /** A request line over lineLimit is answered, then dropped up to its line end. */
  protected override onLineLimitExceeded(length: number): LineLimitAction {
    super.onLineLimitExceeded(length);
    this.err(`line too long (over ${this.lineLimit} bytes)`);
    return 'discard';
  }
}

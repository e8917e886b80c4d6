import type { LineLimitAction } from '@ics-ts/wsocket';
import { TWSocketClient, clientClass } from '@ics-ts/wsocket-server';
import type { TWSocketServer } from '@ics-ts/wsocket-server';

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
 * Characters a reply must not carry raw: controls (C0, DEL, C1), the Unicode
 * line and paragraph separators, and bidi marks/overrides/isolates, which
 * could break the one-line framing or redraw a person's terminal.
 */
const UNSAFE_IN_REPLY = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;

/** The longest piece of a request a reply quotes back (a 1 KB name need not come back whole). */
const QUOTE_LIMIT = 40;

/**
 * Request text as a reply shows it: double-quoted, with every unsafe
 * character as a `\uXXXX` escape, cut to QUOTE_LIMIT characters.
 */
export function quoteRequest(text: string): string {
  const cut = text.length > QUOTE_LIMIT ? `${text.slice(0, QUOTE_LIMIT)}...` : text;
  return JSON.stringify(cut).replace(UNSAFE_IN_REPLY, escapeChar);
}

function escapeChar(char: string): string {
  return `\\u${char.charCodeAt(0).toString(16).padStart(4, '0')}`;
}

/**
 * What one peer may make the command sample read: 100 requests a second
 * (bursts of 200: a script pipelining requests), 64 KB a second of bytes
 * (over-long lines are read and dropped, and cost reading too). Over it,
 * reading pauses until the rate allows more (TWSocket's token buckets): the
 * peer is slowed down, not cut off.
 */
export const COMMAND_READ_RATE = Object.freeze({ readLinesPerSecond: 100, readLinesBurst: 200, readBytesPerSecond: 65_536 });

/**
 * `command`: the pattern for a custom line protocol. Each request line is a
 * command name (any case) and optional arguments; each gets exactly one reply
 * line, `+OK text` or `-ERR text` (as POP3 does), so a program can drive it as
 * easily as a person. Blank lines (nothing but Unicode white space) are
 * ignored. The greeting is `+OK` followed by the server's banner (or a default
 * one).
 *
 * Hostile input: any character may appear in a request. The name ends at the
 * first white space (any Unicode white space, CR and U+2028 included); the
 * arguments are the rest, trimmed, handed to the command as they are. What the
 * parser cannot take (an unknown name, arguments to a command without any, a
 * line over lineLimit) is answered `-ERR <reason>`, and a command that throws
 * is answered `-ERR <NAME> failed (internal error)` and reported to the
 * server's `bgException` (the client is not aborted: the connection stays
 * up). Reply text never carries a raw control, separator or bidi character.
 * A peer that does not read its replies stops being read (TWSocket's
 * sendHighWater); one that floods is held to COMMAND_READ_RATE, so that it
 * cannot take the server's CPU from the others.
 *
 * Commands: HELP [command], TIME, QUIT, from the table in `commandTable`.
 */
@clientClass('command')
export class LineCommandClient extends TWSocketClient {
  constructor() {
    super({ lineMode: true, lineAcceptLf: true, lineLimit: 1024, ...COMMAND_READ_RATE });
  }

  /** The commands served, by upper-case name. */
  protected get commandTable(): Readonly<Record<string, LineCommand>> {
    return COMMANDS;
  }

  override startConnection(): void {
    this.ok(this.banner || 'ics-ts command server ready, HELP lists the commands');
  }

  ok(text: string): boolean {
    return this.reply(`+OK ${text}`);
  }

  err(text: string): boolean {
    return this.reply(`-ERR ${text}`);
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
    else this.err(`no command ${quoteRequest(args)}`);
  }

  protected override onLine(line: string): void {
    const text = line.trim();
    if (text === '') return;
    // \s is the white space trim() removes, so `text` starts with a name of at least one character.
    const space = text.search(/\s/);
    const word = space < 0 ? text : text.slice(0, space);
    const args = space < 0 ? '' : text.slice(space + 1).trim();
    const name = word.toUpperCase();
    const table = this.commandTable;
    const command = Object.hasOwn(table, name) ? table[name] : undefined;
    if (!command) {
      this.err(`unknown command ${quoteRequest(word)}, HELP lists the commands`);
    } else if (!command.takesArgs && args !== '') {
      this.err(`${name} takes no arguments (usage: ${command.usage})`);
    } else {
      this.runCommand(name, command, args);
    }
  }

  /** A request line over lineLimit is answered, then dropped up to its line end. */
  protected override onLineLimitExceeded(length: number): LineLimitAction {
    super.onLineLimitExceeded(length);
    this.err(`line too long (over ${this.lineLimit} bytes)`);
    return 'discard';
  }

  private runCommand(name: string, command: LineCommand, args: string): void {
    try {
      command.run(this, args);
    } catch (error) {
      // The request still gets its one reply; the stack goes to the server's log, not to the peer.
      this.err(`${name} failed (internal error)`);
      this.reportException(error);
    }
  }

  /**
   * To the server's `bgException`, as any exception in client code, except
   * that the connection stays up: the request has had its reply and the
   * command table keeps no per-connection state a failure could corrupt.
   * Without a server (a standalone socket), TWSocket's own handling.
   */
  private reportException(error: unknown): void {
    let server: TWSocketServer;
    try {
      server = this.server;
    } catch {
      throw error;
    }
    if (!server.emit('bgException', error, this)) {
      const text = error instanceof Error ? (error.stack ?? error.message) : String(error);
      process.emitWarning(`unhandled exception in client code (client ${this.cliId}): ${text}`, 'TWSocketServerWarning');
    }
  }

  /** One line out: a raw CR or LF (a command echoing its arguments) would forge a second reply. */
  private reply(line: string): boolean {
    return this.sendLine(line.replace(UNSAFE_IN_REPLY, escapeChar));
  }
}

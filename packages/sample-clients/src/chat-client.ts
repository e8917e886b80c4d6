import { TWSocketClient, clientClass } from '@ics-ts/wsocket-server';
import { CHAT_MEMBER, ChatMember, ChatRoom } from './chat-room';

/**
 * ASCII letters, digits, `_` and `-`, 1 to 20 of them, unique in the room
 * compared case-insensitively. ASCII only on purpose: with Unicode letters,
 * `аdmin` (Cyrillic а) sits beside `admin` looking the same, invisible
 * joiners make twins, and case folding differs by locale (`İ`); a confusable
 * check would need Unicode's whole skeleton table. Messages stay Unicode.
 */
const NICK = /^[A-Za-z0-9_-]{1,20}$/;
/**
 * What a line may not carry to the others' terminals, removed from messages
 * and nicks: C0 controls but TAB, DEL, C1 controls (U+009B is a one-character
 * CSI on some terminals), the line and paragraph separators, and the bidi
 * marks, embeddings, overrides and isolates (U+061C, U+200E/F, U+202A-202E,
 * U+2066-2069), with which `<bob> hi` can be made to show text it does not hold.
 */
const UNSAFE = /[\u0000-\u0008\u000a-\u001f\u007f-\u009f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069]/g;
/** A refused nick or an unknown command is shown back cut to this length. */
const SHOWN_LENGTH = 30;

function cut(text: string): string {
  return text.length > SHOWN_LENGTH ? `${text.slice(0, SHOWN_LENGTH)}...` : text;
}
/**
 * What one member may make the chat read: 10 lines a second (bursts of 50, a
 * pasted paragraph), 64 KB a second of bytes. Each line is broadcast to every
 * member, so a flooder costs the server `members` writes per line: over the
 * rate, its reading pauses (TWSocket's token buckets) and the others keep the
 * CPU. A person typing never comes near it.
 */
export const CHAT_READ_RATE = Object.freeze({ readLinesPerSecond: 10, readLinesBurst: 50, readBytesPerSecond: 65_536 });

export const CHAT_PROMPT = 'Welcome to the ics-ts chat. Your nick?';

const HELP = [
  '* Commands:',
  '*   /nick NAME      choose or change your nick',
  '*   /who            who is here',
  '*   /quit [MESSAGE] leave',
  '*   /help           this list',
  '* Any other line is sent to everyone else (start it with // to send a leading /).',
];

/**
 * `chat`: a line-mode chat room. The first line (or `/nick NAME`) is the nick;
 * after that, every line goes to the other members as `<nick> text`. Joins,
 * leaves and nick changes are announced with a leading `* `; a `/quit` is
 * announced when it is typed.
 *
 * Hostile input: control, separator and bidi characters are removed from
 * every line (see UNSAFE); nicks are ASCII (see NICK); a member that does
 * not read is no longer read either (TWSocket's sendHighWater) and is dropped
 * once too much waits for it (ChatRoom.maxBacklog); a flooder is held to
 * CHAT_READ_RATE.
 *
 * The room is a service injected by tsyringe: see ChatRoom (the server's
 * service room, one across the servers of a service). Claiming a nick and
 * /who ask the service, so they are asynchronous: reading pauses until the
 * answer is in, so that the member's lines keep their order. Lines end with
 * CRLF, or a bare LF (`nc`, most scripts); replies end with CRLF.
 */
@clientClass('chat')
export class ChatClient extends TWSocketClient implements ChatMember {
  readonly [CHAT_MEMBER] = true as const;
  private currentNick: string | undefined;

  constructor(protected readonly room: ChatRoom) {
    super({ lineMode: true, lineAcceptLf: true, lineLimit: 4096, ...CHAT_READ_RATE });
  }

  get nick(): string | undefined {
    return this.currentNick;
  }

  /** The server's banner, which should ask for a nick; CHAT_PROMPT when there is none. */
  override startConnection(): void {
    // Chat lines are small and several may go out back to back (a join announced to
    // everyone, /help): without TCP_NODELAY, Nagle holds the second one until the peer's
    // delayed ACK, some 40 ms later (ICS: wsoTcpNoDelay).
    this.rawSocket?.setNoDelay(true);
    this.sendLine(this.banner || CHAT_PROMPT);
  }

  protected override onLine(line: string): void {
    this.handleLine(line.replace(UNSAFE, '').trim());
  }

  /**
   * The server is shutting down: every member hears it, with the shutdown's
   * notice if it has one. Everyone is leaving, so no "left" notices follow.
   */
  protected override onShutdown(notice: string | undefined): void {
    this.currentNick = undefined;
    this.room.leave(this);
    this.sendLine(`* ${notice || 'The chat server is shutting down. Bye!'}`);
  }

  /** A member that did not /quit (dropped, aborted) is announced here. */
  protected override onSessionClosed(error: Error | undefined): void {
    const nick = this.currentNick;
    this.currentNick = undefined;
    if (nick !== undefined) this.room.broadcast(`* ${nick} left`, this);
    this.room.leave(this);
    super.onSessionClosed(error);
  }

  /** A line for this member from the room (this server's or another's): sent, the backlog rule applied (ChatRoom.deliver). */
  deliver(line: string): void {
    // Between the nick's claim and the welcome line, nothing: the welcome comes first.
    if (this.currentNick !== undefined) this.room.deliver(this, line);
  }

  private handleLine(text: string): void {
    if (text === '') return;
    if (text.startsWith('/') && !text.startsWith('//')) return this.command(text);
    if (this.currentNick === undefined) return this.setNick(text);
    this.room.broadcast(`<${this.currentNick}> ${text.startsWith('//') ? text.slice(1) : text}`, this);
  }

  /**
   * Leaves the room at once: the others hear it now, not when the socket is
   * finally closed (a client such as `nc` keeps its side open until
   * closeTimeout, 10 s). The nick is dropped first, so the close announces
   * nothing a second time.
   */
  private quit(message: string): void {
    const nick = this.currentNick;
    this.currentNick = undefined;
    this.sendLine(`* Bye${nick !== undefined ? `, ${nick}` : ''}.`);
    if (nick !== undefined) this.room.broadcast(`* ${nick} left${message ? ` (${message})` : ''}`, this);
    this.room.leave(this);
    this.close();
  }

  private command(text: string): void {
    const space = text.indexOf(' ');
    const name = (space < 0 ? text : text.slice(0, space)).toLowerCase();
    const args = space < 0 ? '' : text.slice(space + 1).trim();
    switch (name) {
      case '/nick':
        return this.setNick(args);
      case '/who':
        return this.whilePaused(() => this.who());
      case '/quit':
        return this.quit(args);
      case '/help':
        for (const help of HELP) this.sendLine(help);
        return;
      default:
        this.sendLine(`* Unknown command ${cut(name)}, try /help`);
    }
  }

  private setNick(nick: string): void {
    if (!NICK.test(nick)) {
      this.sendLine(`* "${cut(nick)}" is not a valid nick: 1 to 20 ASCII letters, digits, _ or -. Your nick?`);
      return;
    }
    if (nick === this.currentNick) return void this.sendLine(`* You are already ${nick}.`);
    this.whilePaused(() => this.claimNick(nick));
  }

  /** The nick is claimed across the service (another case of one's own nick is a rename without a clash). */
  private async claimNick(nick: string): Promise<void> {
    const claimed = await this.room.join(this, nick);
    if (this.state !== 'connected') return;
    if (!claimed) return void this.sendLine(`* ${nick} is taken. Your nick?`);
    const previous = this.currentNick;
    if (previous !== undefined) {
      this.currentNick = nick;
      this.room.broadcast(`* ${previous} is now ${nick}`, this);
      this.sendLine(`* You are now ${nick}.`);
      return;
    }
    const wanted = nick.toLowerCase();
    const others = (await this.room.who()).filter((member) => member.nick.toLowerCase() !== wanted).map((member) => member.nick);
    if (this.state !== 'connected' || this.room.room.keyOf(this) !== wanted) return;
    this.currentNick = nick;
    this.sendLine(
      `* Welcome, ${nick}. ` +
        (others.length === 0 ? 'Nobody else is here yet.' : `Here: ${others.join(', ')}.`) +
        ' /help lists the commands.',
    );
    this.room.broadcast(`* ${nick} joined`, this);
  }

  private async who(): Promise<void> {
    const here = await this.room.who();
    if (this.state !== 'connected') return;
    this.sendLine(here.length === 0 ? '* Nobody is here yet.' : `* Here (${here.length}): ${here.map((member) => `${member.nick} (${member.addr})`).join(', ')}`);
  }

  /**
   * Runs an answer that waits for the service: reading is paused meanwhile, so
   * the member's next lines wait for it and keep their order. A failure
   * (the service is not reachable) is told to the member.
   */
  private whilePaused(task: () => Promise<void>): void {
    this.pauseReading();
    task().then(
      () => this.resumeReading(),
      () => {
        if (this.state === 'connected') this.sendLine('* The chat service did not answer; try again.');
        this.resumeReading();
      },
    );
  }
}

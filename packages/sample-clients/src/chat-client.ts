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
 * The room is a service injected by tsyringe: see ChatRoom for why it is
 * per-server and stateless. Lines end with CRLF, or a bare LF (`nc`, most
 * scripts); replies end with CRLF.
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

  /** A member that did not /quit (dropped, aborted, server shutdown) is announced here. */
  protected override onSessionClosed(error: Error | undefined): void {
    const nick = this.currentNick;
    this.currentNick = undefined;
    if (nick !== undefined) this.room.broadcast(`* ${nick} left`, this);
    super.onSessionClosed(error);
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
    this.close();
  }

  private command(text: string): void {
    const space = text.indexOf(' ');
    const name = (space < 0 ? text : text.slice(0, space)).toLowerCase();
    const args = space < 0 ? '' : text.slice(space + 1).trim();
    switch (name) {
      case '/nick':
        return this.setNick(args);
      case '/who': {
        const nicks = this.room.nicks();
        this.sendLine(nicks.length === 0 ? '* Nobody is here yet.' : `* Here (${nicks.length}): ${nicks.join(', ')}`);
        return;
      }
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
    const holder = this.room.findNick(nick);
    if (holder === this) {
      // Same nick, maybe another case: a rename without a clash.
      if (nick === this.currentNick) return void this.sendLine(`* You are already ${nick}.`);
    } else if (holder) {
      this.sendLine(`* ${nick} is taken. Your nick?`);
      return;
    }
    const previous = this.currentNick;
    this.currentNick = nick;
    if (previous !== undefined) {
      this.room.broadcast(`* ${previous} is now ${nick}`, this);
      this.sendLine(`* You are now ${nick}.`);
      return;
    }
    const others = this.room.members().filter((member) => member !== this).map((member) => member.nick!);
    this.sendLine(
      `* Welcome, ${nick}. ` +
        (others.length === 0 ? 'Nobody else is here yet.' : `Here: ${others.join(', ')}.`) +
        ' /help lists the commands.',
    );
    this.room.broadcast(`* ${nick} joined`, this);
  }
}

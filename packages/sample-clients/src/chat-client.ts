import { TWSocketClient, clientClass } from '@ics-ts/wsocket-server';
import { CHAT_MEMBER, ChatMember, ChatRoom } from './chat-room';

/** Letters, digits, `_` and `-`, 1 to 20 of them. */
const NICK = /^[\p{L}\p{N}_-]{1,20}$/u;
/** Control characters other than TAB: a peer must not send terminal escapes to the others. */
const CONTROL = /[\u0000-\u0008\u000a-\u001f\u007f]/g;

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
 * leaves and nick changes are announced with a leading `* `.
 *
 * The room is a service injected by tsyringe: see ChatRoom for why it is
 * per-server and stateless. Lines end with CRLF, or a bare LF (`nc`, most
 * scripts); replies end with CRLF.
 */
@clientClass('chat')
export class ChatClient extends TWSocketClient implements ChatMember {
  readonly [CHAT_MEMBER] = true as const;
  private currentNick: string | undefined;
  private quitMessage = '';

  constructor(protected readonly room: ChatRoom) {
    super({ lineMode: true, lineAcceptLf: true, lineLimit: 4096 });
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
    const text = line.replace(CONTROL, '').trim();
    if (text === '') return;
    if (text.startsWith('/') && !text.startsWith('//')) return this.command(text);
    if (this.currentNick === undefined) return this.setNick(text);
    this.room.broadcast(`<${this.currentNick}> ${text.startsWith('//') ? text.slice(1) : text}`, this);
  }

  protected override onSessionClosed(error: Error | undefined): void {
    const nick = this.currentNick;
    if (nick !== undefined) {
      this.room.broadcast(`* ${nick} left${this.quitMessage ? ` (${this.quitMessage})` : ''}`, this);
    }
    super.onSessionClosed(error);
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
        this.quitMessage = args;
        this.sendLine(`* Bye${this.currentNick ? `, ${this.currentNick}` : ''}.`);
        return this.close();
      case '/help':
        for (const help of HELP) this.sendLine(help);
        return;
      default:
        this.sendLine(`* Unknown command ${name}, try /help`);
    }
  }

  private setNick(nick: string): void {
    if (!NICK.test(nick)) {
      this.sendLine(`* "${nick}" is not a valid nick: 1 to 20 letters, digits, _ or -. Your nick?`);
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

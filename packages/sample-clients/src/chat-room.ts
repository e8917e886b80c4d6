import { TWSocketServer } from '@ics-ts/wsocket-server';
import { injectable } from 'tsyringe';

/** Marks a client as taking part in its server's chat room. */
export const CHAT_MEMBER: unique symbol = Symbol('ics-ts.chat-member');

/** What the room needs of a member (ChatClient is one; a bot class could be another). */
export interface ChatMember {
  readonly [CHAT_MEMBER]: true;
  /** Undefined until the member has chosen a nick: only then is it in the room. */
  readonly nick: string | undefined;
  readonly state: string;
  /** Bytes queued for this member and not yet handed to the system. */
  readonly bufferedBytes: number;
  sendLine(text: string): boolean;
  abort(): void;
}

function isChatMember(client: object): client is ChatMember {
  return (client as Partial<ChatMember>)[CHAT_MEMBER] === true;
}

/**
 * The chat room of one TWSocketServer, the application service ChatClient gets
 * through dependency injection.
 *
 * Why the room holds no state of its own: its members are the server's client
 * list (ICS `Client[]`) filtered to connected chat members with a nick, and
 * each nick lives on its client. So
 * - there is exactly one room per server by construction: the TWSocketServer
 *   injected here is the one that accepted the connection (the server registers
 *   itself in its own container), and two servers in one process never share a
 *   room, whatever container they were given;
 * - nothing has to be registered anywhere: it works with the server's default
 *   container, and the CLI serves `chat` like any other class. (A stateful room
 *   registered as a singleton would need a parent container per server, set up
 *   by whoever creates the server, and would silently become one room per
 *   client if someone forgot: tsyringe builds unregistered classes anew on
 *   every resolve.);
 * - nothing is left to clean up when a client goes: the server takes it off
 *   its list.
 * The price is a walk over the client list per broadcast, which a broadcast is
 * anyway.
 *
 * To change what the room does (log, filter, keep history), register an
 * `@injectable()` subclass in the container given to the server:
 * `parent.register(ChatRoom, { useClass: LoggingChatRoom })`.
 */
@injectable()
export class ChatRoom {
  /**
   * Bytes a member may have queued and unread before it is dropped: one member
   * that stops reading must not make the server hold everyone's lines for it
   * without bound.
   */
  static maxBacklog = 1024 * 1024;

  constructor(private readonly server: TWSocketServer) {}

  /** Connected members with a nick, in connection order. */
  members(): ChatMember[] {
    const members: ChatMember[] = [];
    for (const client of this.server.clients) {
      if (isChatMember(client) && client.nick !== undefined && client.state === 'connected') members.push(client);
    }
    return members;
  }

  nicks(): string[] {
    return this.members().map((member) => member.nick!);
  }

  /** The member using `nick`, compared case-insensitively. */
  findNick(nick: string): ChatMember | undefined {
    const wanted = nick.toLowerCase();
    return this.members().find((member) => member.nick!.toLowerCase() === wanted);
  }

  /**
   * Sends `line` to every member but `except`; returns how many it was sent to.
   * A member with more than `maxBacklog` bytes still queued is aborted (its
   * leave is announced as for any other).
   */
  broadcast(line: string, except?: ChatMember): number {
    let count = 0;
    for (const member of this.members()) {
      if (member === except) continue;
      if (!member.sendLine(line) && member.bufferedBytes > ChatRoom.maxBacklog) {
        member.abort();
        continue;
      }
      count++;
    }
    return count;
  }
}

import { ServiceRoom, TWSocketServer } from '@ics-ts/wsocket-server';
import type { RoomMember } from '@ics-ts/wsocket-server';
import { injectable } from 'tsyringe';

/** Marks a client as taking part in its server's chat room. */
export const CHAT_MEMBER: unique symbol = Symbol('ics-ts.chat-member');

/** What the room needs of a member (ChatClient is one; a bot class could be another). */
export interface ChatMember extends RoomMember {
  readonly [CHAT_MEMBER]: true;
  /** Undefined until the member has chosen a nick: only then is it in the room. */
  readonly nick: string | undefined;
  readonly state: string;
  /** The member's address as /who shows it (the client's, from the PROXY header when the listener reads one). */
  readonly peerAddr: string;
  /** Bytes queued for this member and not yet handed to the system. */
  readonly bufferedBytes: number;
  sendLine(text: string): boolean;
  abort(): void;
}

/** A member of the chat as /who shows it (nick as typed, address, node), on any server of the service. */
type ChatPresence = { nick: string; addr: string; node: string };

function isChatMember(member: object): member is ChatMember {
  return (member as Partial<ChatMember>)[CHAT_MEMBER] === true;
}

/** What a nick and an address may look like when they come from another node (anything else is not shown as is). */
const NICK = /^[A-Za-z0-9_-]{1,20}$/;
const ADDRESS = /^[0-9A-Fa-f:.]{1,45}$/;

/**
 * The chat room, the application service ChatClient gets through dependency
 * injection: the TWSocketServer's room `ChatRoom.roomName` (server.room(),
 * a ServiceRoom), so the chat is one room across every server of the
 * service (options.bus: cluster workers, machines on Redis, servers on one
 * ServiceHub), and one room per server with the default LocalBus.
 *
 * Nicks are the room's keys, lower-cased (unique case-insensitively across
 * the service); each entry's info holds the nick as typed and the member's
 * address, for /who. The room keeps the state; this class keeps none of its
 * own, so
 * - the TWSocketServer injected here is the one that accepted the
 *   connection (the server registers itself in its own container): two
 *   servers in one process share a chat only when they share a bus;
 * - nothing has to be registered anywhere: it works with the server's
 *   default container, and the CLI serves `chat` like any other class;
 * - a member that goes is taken out of the room by the server when it
 *   leaves the client list.
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
  /** The name of the server's room the chat uses. */
  static roomName = 'chat';

  constructor(private readonly server: TWSocketServer) {}

  /** The service room behind the chat. */
  get room(): ServiceRoom {
    return this.server.room(ChatRoom.roomName);
  }

  /**
   * Claims `nick` for `member` across the service (compared
   * case-insensitively); resolves true when it is the member's. A member with
   * a nick already is renamed (its old nick is freed once the new one is held).
   */
  join(member: ChatMember, nick: string): Promise<boolean> {
    return this.room.join(member, nick.toLowerCase(), JSON.stringify({ nick, addr: member.peerAddr }));
  }

  /** Takes `member` out of the room (its nick is free again). */
  leave(member: ChatMember): void {
    this.room.leave(member);
  }

  /** This server's members with a nick, connected, in join order. */
  members(): ChatMember[] {
    const members: ChatMember[] = [];
    for (const member of this.room.local) {
      if (isChatMember(member) && member.nick !== undefined && member.state === 'connected') members.push(member);
    }
    return members;
  }

  /** The nicks of this server's members. */
  nicks(): string[] {
    return this.members().map((member) => member.nick!);
  }

  /** This server's member using `nick`, compared case-insensitively. */
  findNick(nick: string): ChatMember | undefined {
    const wanted = nick.toLowerCase();
    return this.members().find((member) => member.nick!.toLowerCase() === wanted);
  }

  /** Everybody in the chat, on every server of the service, in join order. */
  async who(): Promise<{ nick: string; addr: string; node: string }[]> {
    const here: ChatPresence[] = [];
    for (const entry of await this.room.members()) {
      const presence = presenceOf(entry.key, entry.value, entry.node);
      if (presence !== undefined) here.push(presence);
    }
    return here;
  }

  /**
   * Sends `line` to every member but `except`, on every server; returns how
   * many members of this server it was handed to.
   */
  broadcast(line: string, except?: ChatMember): number {
    return this.room.broadcast(line, except);
  }

  /**
   * Hands a line to a member (its RoomMember deliver()): a member with more
   * than `maxBacklog` bytes still queued is aborted (its leave is announced as
   * for any other).
   */
  deliver(member: ChatMember, line: string): void {
    if (member.state !== 'connected') return;
    if (!member.sendLine(line) && member.bufferedBytes > ChatRoom.maxBacklog) member.abort();
  }
}

/** A presence entry as /who shows it; another node's entry that does not look like a chat member's is left out. */
function presenceOf(key: string, value: string, node: string): ChatPresence | undefined {
  let info: { nick?: unknown; addr?: unknown } | null = null;
  try {
    info = JSON.parse(value) as { nick?: unknown; addr?: unknown } | null;
  } catch {
    // shown by its key alone, below
  }
  const nick = typeof info?.nick === 'string' && NICK.test(info.nick) ? info.nick : key;
  if (!NICK.test(nick)) return undefined;
  const addr = typeof info?.addr === 'string' && ADDRESS.test(info.addr) ? info.addr : '?';
  return { nick, addr, node };
}

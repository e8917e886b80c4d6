/**
 * Sample client classes. Importing this module registers them by name in the
 * shared clientClassRegistry: `echo`, `chat`, `daytime`, `command`.
 */
import 'reflect-metadata';

export { EchoClient } from './echo-client';
export { ChatClient, CHAT_PROMPT, CHAT_READ_RATE } from './chat-client';
export { ChatRoom, CHAT_MEMBER } from './chat-room';
export type { ChatMember } from './chat-room';
export { DaytimeClient, formatDaytime } from './daytime-client';
export { LineCommandClient, COMMANDS, COMMAND_READ_RATE, quoteRequest } from './line-command-client';
export type { LineCommand } from './line-command-client';

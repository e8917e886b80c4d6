import { readFileSync } from 'node:fs';

/**
 * Port numbers for TCP service names ("telnet" → 23), as ICS resolves a Port
 * given as text. Node has no getservbyname, so the system's services database
 * is read once; a few well-known names are built in for machines without it.
 */

const BUILT_IN: Readonly<Record<string, number>> = {
  echo: 7, discard: 9, daytime: 13, qotd: 17, chargen: 19, ftp: 21, ssh: 22, telnet: 23, smtp: 25,
  time: 37, domain: 53, gopher: 70, finger: 79, http: 80, pop3: 110, nntp: 119, imap: 143, irc: 194,
  ldap: 389, https: 443, submissions: 465, submission: 587, ldaps: 636, imaps: 993, pop3s: 995, mqtt: 1883,
};

let table: Map<string, number> | undefined;

export function parseServices(text: string): Map<string, number> {
  const result = new Map<string, number>();
  for (const rawLine of text.split('\n')) {
    const line = rawLine.replace(/#.*/, '').trim();
    if (!line) continue;
    const [name, portProto, ...aliases] = line.split(/\s+/);
    const match = /^(\d+)\/tcp$/.exec(portProto ?? '');
    if (!match) continue;
    const port = Number(match[1]);
    for (const n of [name, ...aliases]) if (!result.has(n)) result.set(n, port);
  }
  return result;
}

function services(): Map<string, number> {
  if (table) return table;
  try {
    table = parseServices(readFileSync('/etc/services', 'latin1'));
  } catch {
    table = new Map();
  }
  for (const [name, port] of Object.entries(BUILT_IN)) if (!table.has(name)) table.set(name, port);
  return table;
}

/** The TCP port of a service name, or undefined when the name is unknown. */
export function servicePort(name: string): number | undefined {
  return services().get(name.toLowerCase());
}

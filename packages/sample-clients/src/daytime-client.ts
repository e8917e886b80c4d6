import { TWSocketClient, clientClass } from '@ics-ts/wsocket-server';

const DAYS = ['Sunday', 'Monday', 'Tuesday', 'Wednesday', 'Thursday', 'Friday', 'Saturday'];
const MONTHS = [
  'January', 'February', 'March', 'April', 'May', 'June',
  'July', 'August', 'September', 'October', 'November', 'December',
];

/**
 * The daytime line, in the form RFC 867 suggests ("Weekday, Month Day, Year
 * Time-Zone"), always in UTC so that it does not depend on the server's zone:
 * `Monday, November 25, 2024 15:17:03-UTC`.
 */
export function formatDaytime(date: Date): string {
  const two = (n: number) => String(n).padStart(2, '0');
  const time = `${two(date.getUTCHours())}:${two(date.getUTCMinutes())}:${two(date.getUTCSeconds())}`;
  return `${DAYS[date.getUTCDay()]}, ${MONTHS[date.getUTCMonth()]} ${date.getUTCDate()}, ${date.getUTCFullYear()} ${time}-UTC`;
}

/**
 * `daytime` (RFC 867): on connect, sends the current date and time as one line
 * and closes. The close is graceful: the line is flushed before the FIN, and
 * anything the peer sends is ignored. The server's banner is not sent: the
 * protocol is the date line and nothing else.
 */
@clientClass('daytime')
export class DaytimeClient extends TWSocketClient {
  constructor() {
    super();
  }

  override startConnection(): void {
    this.sendLine(formatDaytime(new Date()));
    this.close();
  }
}

import * as net from 'node:net';
import * as os from 'node:os';
import { describe, ICS_ERR, icsError } from '@ics-ts/wsocket';

/**
 * The address to listen on for Xojo's NetworkInterface: an interface name
 * (`lo`, `eth0`: its first IPv4 address, else its first IPv6 address that is not
 * link-local) or an IP literal (taken as it is, `0.0.0.0` and `::` included);
 * undefined or '' means every interface (`0.0.0.0`). An unknown name is a
 * TypeError that lists the interfaces this machine has.
 */
export function resolveNetworkInterface(value: unknown, where: string): string {
  if (value === undefined || value === '') return '0.0.0.0';
  if (typeof value !== 'string') {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option networkInterface must be an interface name or an IP address, got ${describe(value)}`);
  }
  if (net.isIP(value) !== 0) return value;
  const interfaces = os.networkInterfaces();
  const addresses = interfaces[value];
  if (!addresses) {
    const known = Object.keys(interfaces).sort().join(', ');
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option networkInterface: no network interface named ${describe(value)} on this machine (known: ${known})`);
  }
  const usable =
    addresses.find((a) => a.family === 'IPv4') ??
    addresses.find((a) => a.family === 'IPv6' && !a.address.toLowerCase().startsWith('fe80:'));
  if (!usable) {
    throw icsError(TypeError, ICS_ERR.INVALID_OPTION, `${where}: option networkInterface: interface ${describe(value)} has no IPv4 or routable IPv6 address`);
  }
  return usable.address;
}

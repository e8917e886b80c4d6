import { ipv6Words } from './address-list';

/**
 * The key per-address limits count under: an IPv4 address as it is (an
 * IPv4-mapped IPv6 peer too), and an IPv6 address by its /64, the block a
 * single site or host normally holds (one host can pick any address in it).
 */
export function ipKey(address: string): string {
  if (address.startsWith('::ffff:') && address.includes('.')) return address.slice(7);
  if (!address.includes(':')) return address;
  const words = ipv6Words(address);
  if (!words) return address;
  return `${words[0].toString(16)}:${words[1].toString(16)}:${words[2].toString(16)}:${words[3].toString(16)}::/64`;
}

import { AddressList } from '../src/admission/address-list';
import { ipKey } from '../src/admission/ip-key';

describe('AddressList: addresses and CIDR blocks', () => {
  const list = new AddressList(['10.0.0.0/8', '192.168.1.7', '2001:db8::/32', 'fe80::1', '::ffff:172.16.0.0/108', '100.64.0.0/10'], 'T', 'allow');

  test.each([
    ['10.1.2.3', true],
    ['11.0.0.1', false],
    ['192.168.1.7', true],
    ['192.168.1.8', false],
    ['::ffff:10.9.9.9', true], // IPv4-mapped: matched as IPv4
    ['2001:db8:1::5', true],
    ['2001:db9::1', false],
    ['fe80::1', true],
    ['fe80::2', false],
    ['172.16.5.5', true], // from the mapped block ::ffff:172.16.0.0/108 (= 172.16.0.0/12)
    ['172.32.0.1', false],
    ['100.127.255.255', true],
    ['100.128.0.0', false],
    ['not-an-ip', false],
  ])('%s -> %s', (address, expected) => {
    expect(list.has(address)).toBe(expected);
  });

  test('/0 matches everything of its family', () => {
    const all4 = new AddressList(['0.0.0.0/0'], 'T', 'deny');
    expect(all4.has('1.2.3.4')).toBe(true);
    expect(all4.has('::1')).toBe(false);
    const all6 = new AddressList(['::/0'], 'T', 'deny');
    expect(all6.has('::1')).toBe(true);
  });

  test.each([['10.0.0.0/33'], ['1.2.3'], ['::1/129'], ['10.0.0.0/-1'], ['10.0.0.0/8x'], [7], ['']])('refuses %j with the option named', (entry) => {
    expect(() => new AddressList([entry], 'T', 'deny')).toThrow(/^T: option deny\[0\] must be an IP address or a CIDR block/);
  });
});

describe('ipKey: what per-address limits count under', () => {
  test.each([
    ['127.0.0.1', '127.0.0.1'],
    ['::ffff:127.0.0.1', '127.0.0.1'],
    ['2001:db8:1:2:3:4:5:6', '2001:db8:1:2::/64'],
    ['2001:db8:1:2::9', '2001:db8:1:2::/64'],
    ['::1', '0:0:0:0::/64'],
  ])('%s -> %s', (address, key) => {
    expect(ipKey(address)).toBe(key);
  });
});

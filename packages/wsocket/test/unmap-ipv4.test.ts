import { unmapIPv4 } from '../src';

describe('unmapIPv4', () => {
  test('an IPv4-mapped IPv6 address reads as plain IPv4', () => {
    expect(unmapIPv4('::ffff:127.0.0.1')).toBe('127.0.0.1');
    expect(unmapIPv4('::ffff:10.1.2.3')).toBe('10.1.2.3');
  });

  test('anything else is left as it is', () => {
    for (const address of ['127.0.0.1', '::1', 'fe80::1', '::ffff:7f00:1', '', '::ffff']) {
      expect(unmapIPv4(address)).toBe(address);
    }
  });
});

import { describe, expect, it } from 'vitest';
import {
  AllowlistError,
  checkTarget,
  classifyAddress,
  isPublicAddress,
  parseAllowlist,
  parseIp,
  sameAddress,
} from '../../src/fetch/address-policy.ts';

// [address, public?]
const table: [string, boolean][] = [
  // IPv4 public, incl. the addresses right next to special ranges
  ['8.8.8.8', true],
  ['1.1.1.1', true],
  ['93.184.215.14', true],
  ['9.255.255.255', true],
  ['11.0.0.0', true],
  ['100.63.255.255', true],
  ['100.128.0.0', true],
  ['126.255.255.255', true],
  ['128.0.0.0', true],
  ['169.253.255.255', true],
  ['169.255.0.0', true],
  ['172.15.255.255', true],
  ['172.32.0.0', true],
  ['192.167.255.255', true],
  ['192.169.0.0', true],
  ['198.17.255.255', true],
  ['198.20.0.0', true],
  ['223.255.255.255', true],
  // IPv4 refused
  ['0.0.0.0', false],
  ['0.1.2.3', false],
  ['10.0.0.1', false],
  ['10.255.255.255', false],
  ['100.64.0.1', false],
  ['100.127.255.255', false],
  ['127.0.0.1', false],
  ['127.255.255.254', false],
  ['169.254.0.1', false],
  ['169.254.169.254', false],
  ['172.16.0.1', false],
  ['172.31.255.255', false],
  ['192.0.0.1', false],
  ['192.0.2.1', false],
  ['192.88.99.1', false],
  ['192.168.0.1', false],
  ['192.168.255.255', false],
  ['198.18.0.1', false],
  ['198.19.255.255', false],
  ['198.51.100.7', false],
  ['203.0.113.9', false],
  ['224.0.0.1', false],
  ['239.255.255.250', false],
  ['240.0.0.1', false],
  ['255.255.255.255', false],
  // IPv6 public
  ['2606:4700:4700::1111', true],
  ['2001:4860:4860::8888', true],
  ['2a00:1450:4001:82b::200e', true],
  ['::ffff:8.8.8.8', true],
  ['::ffff:808:808', true],
  ['64:ff9b::8.8.8.8', true],
  ['2002:808:808::1', true],
  // IPv6 refused
  ['::', false],
  ['::1', false],
  ['0:0:0:0:0:0:0:1', false],
  ['::ffff:127.0.0.1', false],
  ['::ffff:7f00:1', false],
  ['::ffff:10.0.0.1', false],
  ['::ffff:169.254.169.254', false],
  ['::ffff:0.0.0.0', false],
  ['::127.0.0.1', false],
  ['::ffff:0:7f00:1', false],
  ['64:ff9b::7f00:1', false],
  ['64:ff9b::10.0.0.1', false],
  ['64:ff9b:1::1', false],
  ['2002:7f00:1::1', false],
  ['2002:a00:1::', false],
  ['2002:c0a8:101::1', false],
  ['2001::1', false],
  ['2001:2::1', false],
  ['2001:db8::1', false],
  ['3fff::1', false],
  ['100::1', false],
  ['5f00::1', false],
  ['4000::1', false],
  ['fc00::1', false],
  ['fd00:ec2::254', false],
  ['fd12:3456:789a::1', false],
  ['fe80::1', false],
  ['fe80::1%eth0', false],
  ['febf::1', false],
  ['fec0::1', false],
  ['ff02::1', false],
  ['ff05::1:3', false],
  // not IP literals at all: never public
  ['127.1', false],
  ['2130706433', false],
  ['0x7f.1', false],
  ['localhost', false],
  ['', false],
];

describe('isPublicAddress', () => {
  it('has a table of at least 40 addresses', () => {
    expect(table.length).toBeGreaterThanOrEqual(40);
  });

  it.each(table)('%s → public: %s', (address, expected) => {
    expect(isPublicAddress(address)).toBe(expected);
  });

  it('names the range it refused', () => {
    expect(classifyAddress('10.1.2.3').range).toMatch(/RFC 1918/);
    expect(classifyAddress('169.254.169.254').range).toMatch(/link-local/);
    expect(classifyAddress('::ffff:127.0.0.1').range).toMatch(/IPv4-mapped.*loopback/);
    expect(classifyAddress('2002:7f00:1::1').range).toMatch(/6to4.*loopback/);
    expect(classifyAddress('fd00:ec2::254').range).toMatch(/unique local/);
    expect(classifyAddress('8.8.8.8')).toEqual({ public: true, range: 'public unicast' });
  });
});

describe('parseIp / sameAddress', () => {
  it('parses v4, v6, bracketed and embedded forms to the same value', () => {
    expect(parseIp('[::1]')).toEqual({ version: 6, value: 1n, zoned: false });
    expect(parseIp('1.2.3.4')?.value).toBe(0x01020304n);
    expect(parseIp('::ffff:1.2.3.4')?.value).toBe(parseIp('::ffff:102:304')?.value);
    expect(parseIp('1:2:3:4:5:6:7:8')?.value).toBe(0x00010002000300040005000600070008n);
    expect(parseIp('fe80::1%lo')?.zoned).toBe(true);
    expect(parseIp('127.1')).toBeUndefined();
  });

  it('treats an IPv4-mapped address as its IPv4 address', () => {
    expect(sameAddress('::ffff:127.0.0.1', '127.0.0.1')).toBe(true);
    expect(sameAddress('::1', '127.0.0.1')).toBe(false);
    expect(sameAddress('x', 'x')).toBe(false);
  });
});

describe('parseAllowlist', () => {
  it('parses host:port, [v6]:port, CIDRs and bare IPs', () => {
    const list = parseAllowlist([
      '127.0.0.1:45678',
      'LocalHost.:8080',
      '[::1]:9000',
      '127.0.0.0/8',
      '::1/128',
      '10.0.0.7',
      '  ',
      '127.1:81',
    ]);
    expect(list.entries.map((e) => e.kind)).toEqual([
      'ip-port',
      'host-port',
      'ip-port',
      'cidr',
      'cidr',
      'cidr',
      'ip-port',
    ]);
    expect(list.entries[1]).toMatchObject({ host: 'localhost', port: 8080 });
    expect(list.entries[6]).toMatchObject({ kind: 'ip-port', port: 81 });
  });

  it.each([
    'localhost',
    '127.0.0.1:0',
    '127.0.0.1:70000',
    '10.0.0.0/33',
    'fe80::/129',
    '10.0.0.0/x',
    'http://example.com',
    'a b:80',
    '[::1]',
  ])('rejects %j', (entry) => {
    expect(() => parseAllowlist([entry])).toThrow(AllowlistError);
  });
});

describe('checkTarget', () => {
  const list = parseAllowlist(['127.0.0.1:45678', 'localhost:8080', '[::1]:9000', '10.9.0.0/16']);

  it('allows public addresses without an entry', () => {
    expect(checkTarget(list, { address: '8.8.8.8', port: 1, hostname: 'dns.google' })).toMatchObject({
      allowed: true,
      reason: 'public',
    });
  });

  it('allows an ip:port entry on that port only, whatever name was used', () => {
    expect(checkTarget(list, { address: '127.0.0.1', port: 45678, hostname: 'anything' }).allowed).toBe(true);
    expect(checkTarget(list, { address: '::ffff:127.0.0.1', port: 45678, hostname: 'x' }).allowed).toBe(true);
    expect(checkTarget(list, { address: '127.0.0.1', port: 45679, hostname: '127.0.0.1' }).allowed).toBe(
      false,
    );
    expect(checkTarget(list, { address: '127.0.0.2', port: 45678, hostname: '127.0.0.2' }).allowed).toBe(
      false,
    );
  });

  it('allows a host:port entry for that URL hostname and port only', () => {
    expect(checkTarget(list, { address: '127.0.0.1', port: 8080, hostname: 'localhost' }).allowed).toBe(true);
    expect(checkTarget(list, { address: '::1', port: 8080, hostname: 'LOCALHOST.' }).allowed).toBe(true);
    expect(checkTarget(list, { address: '127.0.0.1', port: 8080, hostname: '127.0.0.1' }).allowed).toBe(
      false,
    );
    expect(checkTarget(list, { address: '127.0.0.1', port: 8081, hostname: 'localhost' }).allowed).toBe(
      false,
    );
  });

  it('allows [v6]:port and CIDR entries', () => {
    expect(checkTarget(list, { address: '::1', port: 9000, hostname: '::1' }).allowed).toBe(true);
    expect(checkTarget(list, { address: '::1', port: 9001, hostname: '::1' }).allowed).toBe(false);
    expect(checkTarget(list, { address: '10.9.200.1', port: 1, hostname: 'a' }).allowed).toBe(true);
    expect(checkTarget(list, { address: '::ffff:10.9.0.1', port: 1, hostname: 'a' }).allowed).toBe(true);
    expect(checkTarget(list, { address: '10.10.0.1', port: 1, hostname: 'a' })).toEqual({
      allowed: false,
      range: 'private-use (RFC 1918)',
    });
  });

  it('never allows a zoned address or a non-address', () => {
    const all = parseAllowlist(['fe80::/10', '::/0', '0.0.0.0/0']);
    expect(checkTarget(all, { address: 'fe80::1%eth0', port: 80, hostname: 'x' }).allowed).toBe(false);
    expect(checkTarget(all, { address: 'localhost', port: 80, hostname: 'x' }).allowed).toBe(false);
    expect(checkTarget(all, { address: 'fe80::1', port: 80, hostname: 'x' }).allowed).toBe(true);
  });
});

import { test } from 'node:test';
import assert from 'node:assert/strict';
import { isIP } from 'node:net';
import { AddressError, addressWords, formatAddress, formatEndpoint, parseAddress, parseEndpoint } from '../../src/net/address.js';
import { parseBackend, parseNeighbor, RuleError } from '../../src/forward/rules.js';
import { ForwardTable } from '../../src/forward/table.js';
import { Filter } from '../../src/feed/filter.js';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('addresses as users write them', () => {
  const cases: [string, 4 | 6, string, string][] = [
    ['10.0.0.3', 4, '0a000003', '10.0.0.3'],
    ['0.0.0.0', 4, '00000000', '0.0.0.0'],
    ['255.255.255.255', 4, 'ffffffff', '255.255.255.255'],
    ['fd00::3', 6, 'fd000000000000000000000000000003', 'fd00::3'],
    ['FD00:0:0:0:0:0:0:3', 6, 'fd000000000000000000000000000003', 'fd00::3'],
    ['fd00:0000:0000:0000:0000:0000:0000:0003', 6, 'fd000000000000000000000000000003', 'fd00::3'],
    ['::', 6, '0'.repeat(32), '::'],
    ['::1', 6, '0'.repeat(31) + '1', '::1'],
    ['1::', 6, '0001' + '0'.repeat(28), '1::'],
    ['2001:db8:0:0:1:0:0:1', 6, '20010db8000000000001000000000001', '2001:db8::1:0:0:1'],
    ['2001:db8:0:1:1:1:1:1', 6, '20010db8000000010001000100010001', '2001:db8:0:1:1:1:1:1'],
    ['::ffff:10.0.0.3', 6, '00000000000000000000ffff0a000003', '::ffff:10.0.0.3'],
    ['::ffff:a00:3', 6, '00000000000000000000ffff0a000003', '::ffff:10.0.0.3'],
    ['64:ff9b::10.0.0.3', 6, '0064ff9b0000000000000000' + '0a000003', '64:ff9b::a00:3'],
    ['fe80::1', 6, 'fe80' + '0'.repeat(27) + '1', 'fe80::1'],
  ];
  for (const [s, family, bytes, text] of cases) {
    const a = parseAddress(s);
    assert.equal(a.family, family, s);
    assert.equal(hex(a.bytes), bytes, s);
    assert.equal(a.text, text, s);
    assert.equal(formatAddress(a.bytes), text, s);
    assert.equal(hex(parseAddress(text).bytes), bytes, `${s}: its text parses back`);
    assert.equal(isIP(s), family, `${s}: node agrees it is IPv${family}`);
  }
  assert.deepEqual([...addressWords(parseAddress('10.0.0.3').bytes)], [0x0a00, 0x0003]);
  assert.deepEqual([...addressWords(parseAddress('::ffff:10.0.0.3').bytes)], [0, 0, 0, 0, 0, 0xffff, 0x0a00, 0x0003]);
});

test('what is not an address is refused, saying why', () => {
  for (const s of ['', '10.0.0', '10.0.0.256', '10.0.0.3.4', '1:2:3:4:5:6:7', '1:2:3:4:5:6:7:8:9', '1::2::3', ':::', 'fd00::g', '12345::', '::1.2.3', 'host', '1:2:3:4:5:6:7::8:9']) {
    assert.throws(() => parseAddress(s), AddressError, s);
    assert.equal(isIP(s), 0, `${s}: node agrees`);
  }
  assert.throws(() => parseAddress('010.0.0.3'), /leading zeros/);
  assert.throws(() => parseAddress('fe80::1%eth0'), /zone ids \(%eth0\) are not supported.*\(fe80::1\)/);
  assert.throws(() => parseAddress('::ffff:10.0.0.3', { mapped: 'refuse' }), /IPv4-mapped.*write the IPv4 address 10\.0\.0\.3/);
  assert.equal(parseAddress('::ffff:10.0.0.3', { mapped: 'keep' }).family, 6);
});

test('endpoints: ADDR:PORT and [IPv6]:PORT', () => {
  assert.deepEqual({ ...parseEndpoint('10.0.0.3:9001'), bytes: undefined }, { family: 4, text: '10.0.0.3', port: 9001, bytes: undefined });
  const e = parseEndpoint('[fd00::3]:9001');
  assert.equal(e.text, 'fd00::3');
  assert.equal(e.port, 9001);
  assert.equal(formatEndpoint(e, e.port), '[fd00::3]:9001');
  assert.equal(formatEndpoint(parseEndpoint('10.0.0.3:1'), 1), '10.0.0.3:1');
  assert.throws(() => parseEndpoint('fd00::3:9001'), /needs brackets/);
  assert.throws(() => parseEndpoint('[10.0.0.3]:9001'), /brackets are for IPv6/);
  assert.throws(() => parseEndpoint('10.0.0.3:0'), /not a port/);
  assert.throws(() => parseEndpoint('10.0.0.3:65536'), /not a port/);
  assert.throws(() => parseEndpoint('10.0.0.3'), /ADDR:PORT/);
  assert.throws(() => parseEndpoint('[fe80::1%eth0]:9001'), /zone ids/);
});

test('forwarding rules: canonical addresses, IPv4-mapped and zone ids refused', () => {
  assert.deepEqual(parseBackend('[FD00:0::3]:9001'), { addr: 'fd00::3', family: 6, port: 9001 });
  assert.deepEqual(parseBackend(' 10.0.0.3:9001 '), { addr: '10.0.0.3', family: 4, port: 9001 });
  assert.throws(() => parseBackend('[::ffff:10.0.0.3]:9001'), (e: Error) => e instanceof RuleError && /write the IPv4 address 10\.0\.0\.3/.test(e.message));
  assert.throws(() => parseBackend('[fe80::1%eth0]:9001'), (e: Error) => e instanceof RuleError && /zone ids/.test(e.message));
  assert.deepEqual(parseNeighbor('FD00::3=02:00:00:00:00:03'), ['fd00::3', '02:00:00:00:00:03']);
  assert.throws(() => parseNeighbor('::ffff:10.0.0.3=02:00:00:00:00:03'), /IPv4-mapped/);
  // The table's wire words and name come from the same parse.
  const t = new ForwardTable([{ frontPort: 9000, backends: [{ addr: 'fd00:0:0:0:0:0:0:3', family: 6, port: 9001 }] }]);
  const b = t.rules[0].backends[0];
  assert.equal(b.name, '9000->[fd00::3]:9001');
  assert.deepEqual([...b.addrWords], [0xfd00, 0, 0, 0, 0, 0, 0, 3]);
});

test('the feed filter takes the same addresses (IPv4-mapped kept: it matches what arrives)', () => {
  assert.doesNotThrow(() => new Filter({ source: '::ffff:10.0.0.3' }));
  assert.throws(() => new Filter({ source: 'fe80::1%eth0' }), /^Error: source "fe80::1%eth0": zone ids/);
  assert.throws(() => new Filter({ source: 'nope' }), /source "nope" is not an IP address/);
});

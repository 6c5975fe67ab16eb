import assert from 'node:assert/strict';
import { isIPv4 } from 'node:net';
import { describe, it } from 'node:test';
import { formatIp, packEndpoint, parseIp, unpackEndpoint, unpackPeers } from '../../src/protocol/compact.js';

describe('compact peers', () => {
  it('packs IPv4 as 4 address bytes and a big-endian port', () => {
    const ip = parseIp('192.168.1.200');
    assert.ok(ip);
    assert.equal(packEndpoint(ip, 6881).toString('hex'), 'c0a801c81ae1');
    assert.deepEqual(unpackEndpoint(Buffer.from('c0a801c81ae1', 'hex')), {
      ip: '192.168.1.200',
      port: 6881,
      family: 4,
    });
  });

  it('packs IPv6 as 16 address bytes and a big-endian port', () => {
    const ip = parseIp('2001:db8::ff00:42:8329');
    assert.ok(ip);
    const packed = packEndpoint(ip, 65535);
    assert.equal(packed.toString('hex'), '20010db8000000000000ff0000428329ffff');
    assert.deepEqual(unpackEndpoint(packed), { ip: '2001:db8::ff00:42:8329', port: 65535, family: 6 });
  });

  it('reads IPv4-mapped IPv6 addresses as IPv4 peers', () => {
    assert.deepEqual(parseIp('::ffff:10.1.2.3'), { family: 4, bytes: Buffer.from([10, 1, 2, 3]) });
    assert.deepEqual(parseIp('::ffff:a01:203'), { family: 4, bytes: Buffer.from([10, 1, 2, 3]) });
  });

  it('parses dotted IPv4 exactly as node:net judges it, zeros included', () => {
    for (const text of ['0.0.0.0', '10.0.0.1', '1.2.3.04', '01.2.3.4', '255.255.255.255', '::ffff:0.0.0.0']) {
      const viaNet = isIPv4(text.replace('::ffff:', ''));
      assert.equal(parseIp(text) !== undefined, viaNet, text);
    }
    assert.equal(parseIp('10.0.0.1')?.bytes.toString('hex'), '0a000001');
    assert.equal(formatIp(parseIp('2001:db8::1')!), '2001:db8::1');
    assert.equal(formatIp(parseIp('::ffff:10.1.2.3')!), '10.1.2.3');
  });

  it('handles ::, ::1, full forms, zones, and refuses garbage', () => {
    assert.equal(parseIp('::1')?.bytes.toString('hex'), `${'00'.repeat(15)}01`);
    assert.equal(parseIp('::')?.bytes.toString('hex'), '00'.repeat(16));
    assert.equal(parseIp('1:2:3:4:5:6:7:8')?.bytes.toString('hex'), '00010002000300040005000600070008');
    assert.equal(parseIp('fe80::1%eth0')?.family, 6);
    for (const bad of ['', 'example.com', '1.2.3', '256.1.1.1', '1::2::3', '::g'])
      assert.equal(parseIp(bad), undefined, bad);
  });

  it('prints IPv6 in RFC 5952 form', () => {
    const text = (s: string): string => unpackEndpoint(packEndpoint(parseIp(s)!, 1)).ip;
    assert.equal(text('2001:0db8:0000:0000:0001:0000:0000:0001'), '2001:db8::1:0:0:1');
    assert.equal(text('::1'), '::1');
    assert.equal(text('1:0:2:3:4:5:6:7'), '1:0:2:3:4:5:6:7');
  });

  it('splits concatenated entries of each family', () => {
    const data = Buffer.from('7f0000011ae17f0000021ae2', 'hex');
    assert.deepEqual(unpackPeers(data, 4), [
      { ip: '127.0.0.1', port: 6881 },
      { ip: '127.0.0.2', port: 6882 },
    ]);
    assert.throws(() => unpackEndpoint(Buffer.alloc(5)), RangeError);
  });
});

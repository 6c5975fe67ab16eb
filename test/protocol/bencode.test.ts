import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { BencodeError, decodeBencode, encodeBencode } from '../../src/protocol/bencode.js';

describe('bencode', () => {
  it('encodes integers, strings, lists and dicts', () => {
    assert.equal(encodeBencode(0).toString(), 'i0e');
    assert.equal(encodeBencode(-42).toString(), 'i-42e');
    assert.equal(encodeBencode(2n ** 63n).toString(), 'i9223372036854775808e');
    assert.equal(encodeBencode('spam').toString(), '4:spam');
    assert.equal(encodeBencode(['a', 1]).toString(), 'l1:ai1ee');
    assert.equal(encodeBencode({}).toString(), 'de');
  });

  it('counts string lengths in bytes, not UTF-16 code units', () => {
    assert.equal(encodeBencode('é€').toString('latin1'), `5:${Buffer.from('é€').toString('latin1')}`);
  });

  it('writes binary strings byte for byte', () => {
    const bytes = Buffer.from([0x00, 0xff, 0x80, 0x3a, 0x65]);
    const out = encodeBencode(bytes);
    assert.ok(out.equals(Buffer.concat([Buffer.from('5:'), bytes])));
    assert.ok((decodeBencode(out) as Buffer).equals(bytes));
  });

  it('sorts dict keys by raw bytes', () => {
    // UTF-16 order would put 'Z' (0x5a) before 'a'; so does byte order. 'é' (0xc3 0xa9) sorts after 'z'.
    const out = encodeBencode({ z: 1, é: 2, a: 3, Z: 4, 'min interval': 5, interval: 6 });
    const keys = Object.keys(decodeBencode(out) as object);
    assert.deepEqual(keys, ['Z', 'a', 'interval', 'min interval', 'z', Buffer.from('é').toString('latin1')]);
    assert.equal(out.toString('latin1').slice(0, 12), 'd1:Zi4e1:ai3');
  });

  it('skips undefined dict values', () => {
    assert.equal(encodeBencode({ a: 1, b: undefined }).toString(), 'd1:ai1ee');
  });

  it('round-trips nested values with binary strings', () => {
    const hash = Buffer.alloc(20, 0xfe);
    const decoded = decodeBencode(encodeBencode({ files: [hash, { complete: 1 }], n: -7 })) as Record<string, unknown>;
    const files = decoded.files as [Buffer, { complete: number }];
    assert.ok(files[0].equals(hash));
    assert.equal(files[1].complete, 1);
    assert.equal(decoded.n, -7);
  });

  it('rejects malformed input', () => {
    for (const bad of ['i01e', 'i-0e', 'ie', '3:ab', 'l', 'd1:b1:x1:a1:ye', 'i1ex', '-1:a', '01:a']) {
      assert.throws(() => decodeBencode(Buffer.from(bad)), BencodeError, bad);
    }
  });

  it('keeps a __proto__ key as an own entry, not as the prototype', () => {
    const d = decodeBencode(Buffer.from('d9:__proto__d1:ai1eee')) as Record<string, unknown>;
    assert.deepEqual(Object.keys(d), ['__proto__']);
    assert.equal(Object.getPrototypeOf(d), Object.prototype);
    assert.equal(d.a, undefined);
    assert.deepEqual(Object.getOwnPropertyDescriptor(d, '__proto__')?.value, { a: 1 });
  });

  it('refuses non-integer numbers', () => {
    assert.throws(() => encodeBencode(1.5), TypeError);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { ProtocolError } from '../../src/errors.js';
import { lastValue, parseQuery } from '../../src/protocol/query.js';

describe('query decoder', () => {
  it('decodes info_hashes covering every byte value 0x00-0xFF exactly', () => {
    for (let start = 0; start < 256; start += 20) {
      const hash = Buffer.alloc(20);
      for (let i = 0; i < 20; i++) hash[i] = (start + i) & 0xff;
      // Mix the spellings real clients use: %XX in either case, and unreserved bytes left bare.
      let encoded = '';
      for (const b of hash) {
        const ch = String.fromCharCode(b);
        if (/[A-Za-z0-9._~-]/.test(ch)) encoded += ch;
        else encoded += `%${b.toString(16).padStart(2, '0')}`[b % 2 ? 'toUpperCase' : 'toLowerCase']();
      }
      const params = parseQuery(`info_hash=${encoded}&port=1`);
      assert.ok(lastValue(params, 'info_hash')?.equals(hash), `bytes ${start}..${start + 19}`);
    }
  });

  it('reads a bare + as a space byte and keeps %2B as +', () => {
    const params = parseQuery('a=x+y&b=x%2By');
    assert.equal(lastValue(params, 'a')?.toString('latin1'), 'x y');
    assert.equal(lastValue(params, 'b')?.toString('latin1'), 'x+y');
  });

  it('keeps repeated keys in order, and empty and valueless keys', () => {
    const params = parseQuery('info_hash=a&info_hash=b&&empty=&flag');
    assert.deepEqual(
      params.get('info_hash')?.map((b) => b.toString()),
      ['a', 'b'],
    );
    assert.equal(lastValue(params, 'empty')?.length, 0);
    assert.equal(lastValue(params, 'flag')?.length, 0);
    assert.equal(lastValue(params, 'missing'), undefined);
  });

  it('decodes percent-encoded keys', () => {
    assert.equal(lastValue(parseQuery('info%5Fhash=1'), 'info_hash')?.toString(), '1');
  });

  it('rejects bad percent-encoding with a protocol error', () => {
    for (const bad of ['a=%', 'a=%4', 'a=%zz', 'a=%4g', 'a=abc%']) {
      assert.throws(
        () => parseQuery(bad),
        (err: unknown) => err instanceof ProtocolError && err.code === 'invalid_encoding',
        bad,
      );
    }
  });

  it('rejects characters that cannot be bytes of a raw URL', () => {
    assert.throws(() => parseQuery('a=\u0101'), ProtocolError);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import {
  encodeCommand,
  INCOMPLETE,
  RespError,
  RespProtocolError,
  RespReader,
  type RespValue,
} from '../../src/store/redis/resp.js';

/** All complete replies in `bytes`, fed in chunks of `size` bytes. */
function readAll(bytes: Buffer, size: number): RespValue[] {
  const reader = new RespReader();
  const out: RespValue[] = [];
  for (let i = 0; i < bytes.length; i += size) {
    reader.push(bytes.subarray(i, i + size));
    for (let v = reader.next(); v !== INCOMPLETE; v = reader.next()) out.push(v);
  }
  return out;
}

/** Buffers as latin1 strings, so deepEqual compares content. */
function plain(v: RespValue): unknown {
  if (Buffer.isBuffer(v)) return v.toString('latin1');
  if (Array.isArray(v)) return v.map(plain);
  if (v instanceof RespError) return { error: v.message };
  return v;
}

describe('RESP2 encoding', () => {
  it('encodes strings (UTF-8) and Buffers as one array of bulk strings', () => {
    const bytes = encodeCommand(['EVALSHA', 'é', Buffer.from([0, 13, 10, 255]), '']);
    assert.equal(bytes.toString('latin1'), '*4\r\n$7\r\nEVALSHA\r\n$2\r\n\xc3\xa9\r\n$4\r\n\x00\r\n\xff\r\n$0\r\n\r\n');
  });

  it('writes lengths of any number of digits', () => {
    const big = Buffer.alloc(12_345, 0x61);
    const bytes = encodeCommand(['SET', 'k', big]);
    assert.equal(bytes.length, '*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$12345\r\n'.length + 12_345 + 2);
    assert.deepEqual(readAll(Buffer.from('*1\r\n:5\r\n'), 3).map(plain), [[5]]);
  });
});

describe('RESP2 reading', () => {
  const stream = Buffer.concat([
    Buffer.from(':42\r\n:-7\r\n+OK\r\n-NOSCRIPT No matching script\r\n$-1\r\n*-1\r\n$0\r\n\r\n'),
    Buffer.from('*2\r\n:1\r\n*2\r\n$4\r\na\r\nb\r\n$2\r\n\r\n\r\n*0\r\n'),
    Buffer.from([0x24, 0x33, 13, 10, 0, 13, 10, 13, 10]), // $3 with binary content "\0\r\n"
  ]);
  const expected = [
    42,
    -7,
    'OK',
    { error: 'NOSCRIPT No matching script' },
    null,
    null,
    '',
    [1, ['a\r\nb', '\r\n']],
    [],
    '\0\r\n',
  ];

  it('reads every reply type, whole', () => {
    assert.deepEqual(readAll(stream, stream.length).map(plain), expected);
  });

  it('gives the same replies however the stream is cut into chunks', () => {
    for (const size of [1, 2, 3, 5, 7, 11, 64]) {
      assert.deepEqual(readAll(stream, size).map(plain), expected, `chunks of ${size}`);
    }
  });

  it('returns INCOMPLETE until a reply is whole, then the reply', () => {
    const reader = new RespReader();
    reader.push(Buffer.from('*2\r\n$5\r\nhel'));
    assert.equal(reader.next(), INCOMPLETE);
    reader.push(Buffer.from('lo\r\n'));
    assert.equal(reader.next(), INCOMPLETE);
    reader.push(Buffer.from(':9\r\n'));
    assert.deepEqual(plain(reader.next() as RespValue), ['hello', 9]);
    assert.equal(reader.next(), INCOMPLETE);
  });

  it('gathers a reply of megabytes from small chunks, and earlier views stay intact', () => {
    const big = Buffer.alloc(2_000_000);
    for (let i = 0; i < big.length; i++) big[i] = (i * 7) & 255;
    const bytes = Buffer.concat([
      Buffer.from('*2\r\n$3\r\nabc\r\n*1\r\n$4\r\nhead\r\n'),
      Buffer.from(`*2\r\n$${big.length}\r\n`),
      big,
      Buffer.from('\r\n:5\r\n:6\r\n'),
    ]);
    const reader = new RespReader();
    const out: RespValue[] = [];
    for (let i = 0; i < bytes.length; i += 1000) {
      reader.push(bytes.subarray(i, i + 1000));
      for (let v = reader.next(); v !== INCOMPLETE; v = reader.next()) out.push(v);
    }
    assert.equal(out.length, 3);
    assert.deepEqual(plain(out[0] as RespValue), ['abc', ['head']]);
    assert.ok(((out[1] as RespValue[])[0] as Buffer).equals(big));
    assert.equal((out[1] as RespValue[])[1], 5);
    assert.equal(out[2], 6);
  });

  it('refuses bytes that are not RESP2, and reset() starts clean', () => {
    const reader = new RespReader();
    reader.push(Buffer.from('HTTP/1.1 400\r\n'));
    assert.throws(() => reader.next(), RespProtocolError);
    reader.reset();
    reader.push(Buffer.from(':x1\r\n'));
    assert.throws(() => reader.next(), RespProtocolError);
    reader.reset();
    reader.push(Buffer.from(':1\r\n'));
    assert.equal(reader.next(), 1);
  });
});

import assert from 'node:assert/strict';
import { describe, it } from 'node:test';
import { CONNECTION_ID_MAX_AGE_SECONDS, ConnectionIds, mapIpv4 } from '../../src/protocol/connection-id.js';

function clock(startMs: number): { now: () => number; set: (ms: number) => void } {
  let t = startMs;
  return { now: () => t, set: (ms) => (t = ms) };
}

const v4 = (a: number, b: number, c: number, d: number): Uint8Array =>
  mapIpv4(new Uint8Array([a, b, c, d]), new Uint8Array(16));
const v6 = (hex: string): Uint8Array => Buffer.from(hex, 'hex');

describe('connection ids', () => {
  const secret = Buffer.from('test secret');
  const ip = v4(192, 0, 2, 7);
  const T0 = 1_700_000_000_000;

  function issue(ids: ConnectionIds, addr = ip, port = 6881): Buffer {
    const out = Buffer.alloc(8);
    ids.issue(addr, port, out, 0);
    return out;
  }

  it('verifies for the same address and port, and not for another ip, port or family', () => {
    const c = clock(T0);
    const ids = new ConnectionIds({ secret, now: c.now });
    const id = issue(ids);
    assert.ok(ids.verify(id, 0, ip, 6881));
    assert.ok(!ids.verify(id, 0, ip, 6882), 'another port');
    assert.ok(!ids.verify(id, 0, v4(192, 0, 2, 8), 6881), 'another IPv4 address');
    assert.ok(!ids.verify(id, 0, v6('20010db8000000000000000000000007'), 6881), 'an IPv6 address');
    const id6 = issue(ids, v6('20010db8000000000000000000000007'));
    assert.ok(ids.verify(id6, 0, v6('20010db8000000000000000000000007'), 6881));
    assert.ok(!ids.verify(id6, 0, v6('20010db8000000000000000000000008'), 6881));
  });

  it('is accepted for two minutes and rejected after', () => {
    const c = clock(T0);
    const ids = new ConnectionIds({ secret, now: c.now });
    const id = issue(ids);
    for (const s of [0, 1, 59, 60, 61, 119, CONNECTION_ID_MAX_AGE_SECONDS]) {
      c.set(T0 + s * 1000);
      assert.ok(ids.verify(id, 0, ip, 6881), `accepted after ${s} s`);
    }
    c.set(T0 + (CONNECTION_ID_MAX_AGE_SECONDS + 1) * 1000);
    assert.ok(!ids.verify(id, 0, ip, 6881), 'rejected after 121 s');
    c.set(T0 + 3600_000);
    assert.ok(!ids.verify(id, 0, ip, 6881), 'rejected after an hour');
  });

  it('is accepted across a time-unit boundary and across the 16-bit wrap of its time field', () => {
    // Issued in the last millisecond of a second, checked in the next.
    const c = clock(T0 + 999);
    const ids = new ConnectionIds({ secret, now: c.now });
    const id = issue(ids);
    c.set(T0 + 1000);
    assert.ok(ids.verify(id, 0, ip, 6881));
    // Issued just before the low 16 bits of the seconds wrap to 0.
    const wrapAt = (Math.floor(T0 / 1000 / 65536) + 1) * 65536 * 1000;
    c.set(wrapAt - 1000);
    const late = issue(ids);
    assert.equal(late.readUInt16BE(0), 0xffff);
    c.set(wrapAt + 30_000);
    assert.ok(ids.verify(late, 0, ip, 6881), 'accepted 31 s later, after the wrap');
    c.set(wrapAt + 130_000);
    assert.ok(!ids.verify(late, 0, ip, 6881), 'and still expires');
    // 65536 s later the time field reads the same again, but the MAC covers the full time.
    c.set(wrapAt - 1000 + 65536 * 1000);
    assert.ok(!ids.verify(late, 0, ip, 6881), 'an id from 18 hours ago is not revived by the wrap');
  });

  it('tolerates a little clock skew between hosts, not more', () => {
    const c = clock(T0);
    const ids = new ConnectionIds({ secret, now: c.now });
    const id = issue(ids);
    c.set(T0 - 5000);
    assert.ok(ids.verify(id, 0, ip, 6881), 'issued 5 s in our future');
    c.set(T0 - 6000);
    assert.ok(!ids.verify(id, 0, ip, 6881), '6 s in the future is too much');
  });

  it('rejects an id whose time field was moved to extend its life', () => {
    const c = clock(T0);
    const ids = new ConnectionIds({ secret, now: c.now });
    const id = issue(ids);
    c.set(T0 + 200_000);
    const moved = Buffer.from(id);
    moved.writeUInt16BE((id.readUInt16BE(0) + 200) & 0xffff, 0);
    assert.ok(!ids.verify(moved, 0, ip, 6881));
  });

  it('is accepted by any instance sharing the secret, and by no other', () => {
    const c = clock(T0);
    const a = new ConnectionIds({ secret, now: c.now });
    const b = new ConnectionIds({ secret: Buffer.from('test secret'), now: c.now });
    const other = new ConnectionIds({ secret: Buffer.from('another secret'), now: c.now });
    const id = issue(a);
    assert.ok(b.verify(id, 0, ip, 6881));
    assert.ok(!other.verify(id, 0, ip, 6881));
  });

  it('rejects every single-bit flip and short input', () => {
    const c = clock(T0);
    const ids = new ConnectionIds({ secret, now: c.now });
    const id = issue(ids);
    for (let bit = 0; bit < 64; bit++) {
      const flipped = Buffer.from(id);
      flipped[bit >> 3] = (flipped[bit >> 3] as number) ^ (0x80 >> (bit & 7));
      assert.ok(!ids.verify(flipped, 0, ip, 6881), `bit ${bit}`);
    }
    assert.ok(!ids.verify(id.subarray(0, 7), 0, ip, 6881));
    assert.ok(!ids.verify(Buffer.alloc(8), 0, ip, 6881), 'all zeros');
  });

  it('gives different ids to different clients at the same time', () => {
    const ids = new ConnectionIds({ secret, now: () => T0 });
    const seen = new Set<string>();
    for (let i = 0; i < 1000; i++) seen.add(issue(ids, v4(10, 0, i >> 8, i & 0xff)).toString('hex'));
    assert.equal(seen.size, 1000);
  });
});

/**
 * SipHash-2-4 (Aumasson & Bernstein, 2012) over data[offset, offset+length),
 * with a 128-bit key given as four little-endian 32-bit words (k0 low, k0 high,
 * k1 low, k1 high). The 64-bit result is written to out as [low, high] uint32.
 * The UDP connection-id MAC (connection-id.ts says why SipHash); checked
 * against the reference test vectors.
 *
 * JavaScript has no fast 64-bit integers (BigInt allocates), so every 64-bit
 * lane is a pair of uint32 halves: additions carry by hand, rotations mix the
 * halves, a rotation by 32 swaps them.
 *
 * The SipRound is written once, as the body of one loop that runs two rounds
 * per message block and then the four finalization rounds, rather than as a
 * `sipRound()` function: a function cannot hand the eight uint32 halves back
 * without a memory round trip. Measured on the 2-core test VM, 2M hashes of
 * the 22-byte connection-id input (Node 20, best of 5 runs, three alternated
 * processes each): this loop 104 ns a hash, the rounds written out twice (the
 * form before) 101 ns, `sipRound(state)` on a Uint32Array 150 ns, `sipRound()`
 * on module-level variables 1,500 ns (V8 boxes them as heap numbers).
 */
export function siphash24(key: Uint32Array, data: Uint8Array, offset: number, length: number, out: Uint32Array): void {
  const k0l = key[0] as number;
  const k0h = key[1] as number;
  const k1l = key[2] as number;
  const k1h = key[3] as number;
  // "somepseudorandomlygeneratedbytes"
  let v0l = (k0l ^ 0x70736575) >>> 0;
  let v0h = (k0h ^ 0x736f6d65) >>> 0;
  let v1l = (k1l ^ 0x6e646f6d) >>> 0;
  let v1h = (k1h ^ 0x646f7261) >>> 0;
  let v2l = (k0l ^ 0x6e657261) >>> 0;
  let v2h = (k0h ^ 0x6c796765) >>> 0;
  let v3l = (k1l ^ 0x79746573) >>> 0;
  let v3h = (k1h ^ 0x74656462) >>> 0;

  const end = offset + length;
  const fullEnd = offset + (length & ~7);
  let ml = 0;
  let mh = 0;
  let t = 0;
  // One pass per 8-byte block, one for the last block (the tail bytes and the
  // length byte), then one for finalization: 2 rounds each, 4 for the last.
  for (let p = offset; ; p += 8) {
    let rounds = 2;
    if (p < fullEnd) {
      ml =
        ((data[p] as number) |
          ((data[p + 1] as number) << 8) |
          ((data[p + 2] as number) << 16) |
          ((data[p + 3] as number) << 24)) >>>
        0;
      mh =
        ((data[p + 4] as number) |
          ((data[p + 5] as number) << 8) |
          ((data[p + 6] as number) << 16) |
          ((data[p + 7] as number) << 24)) >>>
        0;
    } else if (p === fullEnd) {
      ml = 0;
      mh = (length & 0xff) << 24;
      const rem = end - p;
      for (let i = 0; i < rem; i++) {
        const b = data[p + i] as number;
        if (i < 4) ml |= b << (8 * i);
        else mh |= b << (8 * (i - 4));
      }
      ml >>>= 0;
      mh >>>= 0;
    } else {
      v2l = (v2l ^ 0xff) >>> 0;
      rounds = 4;
    }
    if (rounds === 2) {
      v3l = (v3l ^ ml) >>> 0;
      v3h = (v3h ^ mh) >>> 0;
    }
    for (let r = 0; r < rounds; r++) {
      // SipRound. v0 += v1; v1 <<<= 13; v1 ^= v0; v0 <<<= 32
      t = v0l + v1l;
      v0h = (v0h + v1h + (t > 0xffffffff ? 1 : 0)) >>> 0;
      v0l = t >>> 0;
      t = v1l;
      v1l = ((v1l << 13) | (v1h >>> 19)) >>> 0;
      v1h = ((v1h << 13) | (t >>> 19)) >>> 0;
      v1l = (v1l ^ v0l) >>> 0;
      v1h = (v1h ^ v0h) >>> 0;
      t = v0l;
      v0l = v0h;
      v0h = t;
      // v2 += v3; v3 <<<= 16; v3 ^= v2
      t = v2l + v3l;
      v2h = (v2h + v3h + (t > 0xffffffff ? 1 : 0)) >>> 0;
      v2l = t >>> 0;
      t = v3l;
      v3l = ((v3l << 16) | (v3h >>> 16)) >>> 0;
      v3h = ((v3h << 16) | (t >>> 16)) >>> 0;
      v3l = (v3l ^ v2l) >>> 0;
      v3h = (v3h ^ v2h) >>> 0;
      // v0 += v3; v3 <<<= 21; v3 ^= v0
      t = v0l + v3l;
      v0h = (v0h + v3h + (t > 0xffffffff ? 1 : 0)) >>> 0;
      v0l = t >>> 0;
      t = v3l;
      v3l = ((v3l << 21) | (v3h >>> 11)) >>> 0;
      v3h = ((v3h << 21) | (t >>> 11)) >>> 0;
      v3l = (v3l ^ v0l) >>> 0;
      v3h = (v3h ^ v0h) >>> 0;
      // v2 += v1; v1 <<<= 17; v1 ^= v2; v2 <<<= 32
      t = v2l + v1l;
      v2h = (v2h + v1h + (t > 0xffffffff ? 1 : 0)) >>> 0;
      v2l = t >>> 0;
      t = v1l;
      v1l = ((v1l << 17) | (v1h >>> 15)) >>> 0;
      v1h = ((v1h << 17) | (t >>> 15)) >>> 0;
      v1l = (v1l ^ v2l) >>> 0;
      v1h = (v1h ^ v2h) >>> 0;
      t = v2l;
      v2l = v2h;
      v2h = t;
    }
    if (rounds === 4) break;
    v0l = (v0l ^ ml) >>> 0;
    v0h = (v0h ^ mh) >>> 0;
  }
  out[0] = (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
  out[1] = (v0h ^ v1h ^ v2h ^ v3h) >>> 0;
}

/**
 * SipHash-1-3 of exactly 20 bytes, data[offset, offset+20) (a peer id), under
 * the 128-bit key k0l, k0h, k1l, k1h (little-endian 32-bit words, as for
 * siphash24; int32 or uint32 alike). Returns the low 32 bits of the 64-bit
 * result. Used by the memory store's peer index (peer-table.ts says why).
 *
 * SipHash-1-3 (one round per block, three at finalization) is the variant
 * hash tables use: Rust's standard HashMap, CPython's str/bytes hash since
 * 3.11, the Linux kernel's hsiphash on 64-bit machines. An index slot is not a
 * MAC: nothing is forged by predicting one, so the 2-4 margin buys little, and
 * 1-3 costs 6 SipRounds on a 20-byte input instead of 10. Checked against
 * OpenSSL's SipHash with c-rounds 1, d-rounds 3.
 *
 * Unlike siphash24, the 64-bit additions carry without a comparison: the
 * carry out of `a + b` (as uint32) is the top bit of `(a & b) | ((a | b) &
 * ~sum)`. A comparison (`sum > 0xffffffff ? 1 : 0`, or an unsigned `<` of the
 * int32 halves) compiles to a conditional jump, and random carries mispredict
 * half of them. Measured with 2M hashes of random ids (Node 20, 2-core VM,
 * best of 5): 48 ns a hash with the bit carry, about 105 ns with comparisons,
 * 37 ns with the round written out six times (not worth six copies of it);
 * FNV-1a over the same 20 bytes takes 12 ns.
 */
export function siphash13Id(
  k0l: number,
  k0h: number,
  k1l: number,
  k1h: number,
  data: Uint8Array,
  offset: number,
): number {
  // "somepseudorandomlygeneratedbytes", as in siphash24, in int32 arithmetic.
  let v0l = k0l ^ 0x70736575;
  let v0h = k0h ^ 0x736f6d65;
  let v1l = k1l ^ 0x6e646f6d;
  let v1h = k1h ^ 0x646f7261;
  let v2l = k0l ^ 0x6e657261;
  let v2h = k0h ^ 0x6c796765;
  let v3l = k1l ^ 0x79746573;
  let v3h = k1h ^ 0x74656462;
  let ml = 0;
  let mh = 0;
  let t = 0;
  // Rounds 0-2 compress one 8-byte block each (the third holds bytes 16-19
  // and the length, 20, in its top byte); rounds 3-5 are the finalization.
  for (let round = 0; round < 6; round++) {
    if (round < 3) {
      const p = offset + 8 * round;
      ml =
        (data[p] as number) |
        ((data[p + 1] as number) << 8) |
        ((data[p + 2] as number) << 16) |
        ((data[p + 3] as number) << 24);
      mh =
        round === 2
          ? 20 << 24
          : (data[p + 4] as number) |
            ((data[p + 5] as number) << 8) |
            ((data[p + 6] as number) << 16) |
            ((data[p + 7] as number) << 24);
      v3l ^= ml;
      v3h ^= mh;
    } else if (round === 3) {
      v2l ^= 0xff;
    }
    // SipRound. v0 += v1; v1 <<<= 13; v1 ^= v0; v0 <<<= 32
    t = (v0l + v1l) | 0;
    v0h = (v0h + v1h + (((v0l & v1l) | ((v0l | v1l) & ~t)) >>> 31)) | 0;
    v0l = t;
    t = v1l;
    v1l = (v1l << 13) | (v1h >>> 19);
    v1h = (v1h << 13) | (t >>> 19);
    v1l ^= v0l;
    v1h ^= v0h;
    t = v0l;
    v0l = v0h;
    v0h = t;
    // v2 += v3; v3 <<<= 16; v3 ^= v2
    t = (v2l + v3l) | 0;
    v2h = (v2h + v3h + (((v2l & v3l) | ((v2l | v3l) & ~t)) >>> 31)) | 0;
    v2l = t;
    t = v3l;
    v3l = (v3l << 16) | (v3h >>> 16);
    v3h = (v3h << 16) | (t >>> 16);
    v3l ^= v2l;
    v3h ^= v2h;
    // v0 += v3; v3 <<<= 21; v3 ^= v0
    t = (v0l + v3l) | 0;
    v0h = (v0h + v3h + (((v0l & v3l) | ((v0l | v3l) & ~t)) >>> 31)) | 0;
    v0l = t;
    t = v3l;
    v3l = (v3l << 21) | (v3h >>> 11);
    v3h = (v3h << 21) | (t >>> 11);
    v3l ^= v0l;
    v3h ^= v0h;
    // v2 += v1; v1 <<<= 17; v1 ^= v2; v2 <<<= 32
    t = (v2l + v1l) | 0;
    v2h = (v2h + v1h + (((v2l & v1l) | ((v2l | v1l) & ~t)) >>> 31)) | 0;
    v2l = t;
    t = v1l;
    v1l = (v1l << 17) | (v1h >>> 15);
    v1h = (v1h << 17) | (t >>> 15);
    v1l ^= v2l;
    v1h ^= v2h;
    t = v2l;
    v2l = v2h;
    v2h = t;
    if (round < 3) {
      v0l ^= ml;
      v0h ^= mh;
    }
  }
  return (v0l ^ v1l ^ v2l ^ v3l) >>> 0;
}

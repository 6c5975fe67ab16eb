/**
 * Fixed-size chunks carved out of large shared ArrayBuffers (slabs), for the
 * PeerTables of small swarms. An ArrayBuffer and its two typed-array views
 * cost some 700 bytes of process memory before their data (measured: a
 * 96-byte buffer with a Uint32Array and a Uint8Array on it grows RSS by ~770
 * bytes), while the data of a one- or two-peer table is under 100 bytes; a
 * tracker of a million one-peer torrents would spend most of its memory on
 * buffer bookkeeping. A chunk shares its slab's two views instead.
 *
 * Chunks are handed out by number (slab * chunksPerSlab + position) and
 * taken back with free(), which the owner must call: a chunk is not
 * reclaimed by the garbage collector. Freed chunks are reused before a new
 * slab is made; slabs are kept once made (the pool's peak, as a Map's table
 * stays at its peak size).
 */

/** Bytes of each slab: 1 MiB, a few thousand chunks. */
const SLAB_BYTES = 1 << 20;

export interface Slab {
  readonly u32: Uint32Array;
  readonly u8: Uint8Array;
}

export class ChunkPool {
  readonly slabs: Slab[] = [];
  private readonly chunksPerSlab: number;
  /** Chunks freed and not yet reused. */
  private readonly freed: number[] = [];
  /** Chunks handed out from the newest slab so far. */
  private bumped: number;
  inUse = 0;

  /** `chunkBytes`: a multiple of 4, so every chunk starts on a 32-bit word. */
  constructor(readonly chunkBytes: number) {
    if (chunkBytes % 4 !== 0 || chunkBytes <= 0) throw new Error('a chunk is a positive multiple of 4 bytes');
    this.chunksPerSlab = Math.floor(SLAB_BYTES / chunkBytes);
    this.bumped = this.chunksPerSlab;
  }

  /** A zeroed chunk's number. */
  take(): number {
    this.inUse++;
    const reused = this.freed.pop();
    if (reused !== undefined) {
      const at = this.byteOffset(reused);
      this.slabOf(reused).u8.fill(0, at, at + this.chunkBytes);
      return reused;
    }
    if (this.bumped === this.chunksPerSlab) {
      const buffer = new ArrayBuffer(this.chunksPerSlab * this.chunkBytes);
      this.slabs.push({ u32: new Uint32Array(buffer), u8: new Uint8Array(buffer) });
      this.bumped = 0;
    }
    return (this.slabs.length - 1) * this.chunksPerSlab + this.bumped++;
  }

  free(chunk: number): void {
    this.inUse--;
    this.freed.push(chunk);
  }

  slabOf(chunk: number): Slab {
    return this.slabs[Math.floor(chunk / this.chunksPerSlab)] as Slab;
  }

  /** The chunk's first byte in its slab. */
  byteOffset(chunk: number): number {
    return (chunk % this.chunksPerSlab) * this.chunkBytes;
  }

  /** Bytes of all slabs. */
  get bytes(): number {
    return this.slabs.length * this.chunksPerSlab * this.chunkBytes;
  }
}

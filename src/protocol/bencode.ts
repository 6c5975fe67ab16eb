/**
 * Bencode (BEP 3). Strings are byte strings: a JS string is written as its UTF-8
 * bytes, a Buffer as is, and the length prefix counts bytes. Dictionary keys are
 * sorted by their raw bytes, as the spec requires (not by UTF-16 code units).
 */
export type BencodeValue = number | bigint | string | Buffer | BencodeValue[] | BencodeDict;
export interface BencodeDict {
  [key: string]: BencodeValue | undefined;
}

export function encodeBencode(value: BencodeValue): Buffer {
  const parts: Buffer[] = [];
  write(value, parts);
  return Buffer.concat(parts);
}

function write(value: BencodeValue, out: Buffer[]): void {
  if (typeof value === 'number') {
    if (!Number.isSafeInteger(value)) throw new TypeError(`bencode: not an integer: ${value}`);
    out.push(Buffer.from(`i${value}e`, 'latin1'));
  } else if (typeof value === 'bigint') {
    out.push(Buffer.from(`i${value}e`, 'latin1'));
  } else if (typeof value === 'string') {
    writeBytes(Buffer.from(value, 'utf8'), out);
  } else if (Buffer.isBuffer(value)) {
    writeBytes(value, out);
  } else if (Array.isArray(value)) {
    out.push(Buffer.from('l', 'latin1'));
    for (const item of value) write(item, out);
    out.push(Buffer.from('e', 'latin1'));
  } else {
    const entries: [Buffer, BencodeValue][] = [];
    for (const [k, v] of Object.entries(value)) {
      if (v !== undefined) entries.push([Buffer.from(k, 'utf8'), v]);
    }
    entries.sort((a, b) => Buffer.compare(a[0], b[0]));
    out.push(Buffer.from('d', 'latin1'));
    for (const [k, v] of entries) {
      writeBytes(k, out);
      write(v, out);
    }
    out.push(Buffer.from('e', 'latin1'));
  }
}

function writeBytes(bytes: Buffer, out: Buffer[]): void {
  out.push(Buffer.from(`${bytes.length}:`, 'latin1'), bytes);
}

/** A decoded value: byte strings stay Buffers (they may be binary), dict keys are latin1 strings. */
export type DecodedValue = number | bigint | Buffer | DecodedValue[] | DecodedDict;
export interface DecodedDict {
  [key: string]: DecodedValue;
}

export class BencodeError extends Error {}

/** Strict decoder (used by tests, tools and clients of the tracker; the tracker itself only encodes). */
export function decodeBencode(data: Buffer): DecodedValue {
  const state = { pos: 0 };
  const value = read(data, state, 0);
  if (state.pos !== data.length) throw new BencodeError(`trailing bytes at ${state.pos}`);
  return value;
}

const MAX_DEPTH = 64;

function read(data: Buffer, s: { pos: number }, depth: number): DecodedValue {
  if (depth > MAX_DEPTH) throw new BencodeError('nesting too deep');
  const c = data[s.pos];
  if (c === undefined) throw new BencodeError('unexpected end');
  if (c === 0x69 /* i */) {
    const end = data.indexOf(0x65, s.pos + 1);
    if (end < 0) throw new BencodeError('unterminated integer');
    const text = data.toString('latin1', s.pos + 1, end);
    if (!/^(0|-?[1-9][0-9]*)$/.test(text)) throw new BencodeError(`bad integer "${text}"`);
    s.pos = end + 1;
    const n = Number(text);
    return Number.isSafeInteger(n) ? n : BigInt(text);
  }
  if (c === 0x6c /* l */) {
    s.pos++;
    const list: DecodedValue[] = [];
    while (data[s.pos] !== 0x65) {
      if (s.pos >= data.length) throw new BencodeError('unterminated list');
      list.push(read(data, s, depth + 1));
    }
    s.pos++;
    return list;
  }
  if (c === 0x64 /* d */) {
    s.pos++;
    const dict: DecodedDict = {};
    let last: Buffer | undefined;
    while (data[s.pos] !== 0x65) {
      if (s.pos >= data.length) throw new BencodeError('unterminated dict');
      const key = readString(data, s);
      if (last && Buffer.compare(last, key) >= 0) throw new BencodeError('dict keys not sorted');
      last = key;
      // defineProperty, not assignment: a `__proto__` key must be an own entry
      // (assigning it would set the dict's prototype instead).
      Object.defineProperty(dict, key.toString('latin1'), {
        value: read(data, s, depth + 1),
        enumerable: true,
        writable: true,
        configurable: true,
      });
    }
    s.pos++;
    return dict;
  }
  return readString(data, s);
}

function readString(data: Buffer, s: { pos: number }): Buffer {
  const colon = data.indexOf(0x3a, s.pos);
  if (colon < 0) throw new BencodeError('bad string length');
  const text = data.toString('latin1', s.pos, colon);
  if (!/^(0|[1-9][0-9]*)$/.test(text)) throw new BencodeError(`bad string length "${text}"`);
  const len = Number(text);
  const start = colon + 1;
  if (start + len > data.length) throw new BencodeError('string runs past end');
  s.pos = start + len;
  return data.subarray(start, start + len);
}

/**
 * On-disk structures declared once, as data: a field table (name → type at a byte offset)
 * drives decoding, encoding, the size check and a hex dump. Offsets are relative to the
 * structure; every access is bounds-checked against the buffer.
 */
import { CorruptStructureError } from '../errors.ts';
import { formatGuid, parseGuid } from './guid.ts';

interface FieldBase<T> {
  readonly offset: number;
  readonly size: number;
  read(view: DataView, at: number): T;
  write(view: DataView, at: number, value: T): void;
}

export type Field<T> = FieldBase<T>;

export const u8 = (offset: number): Field<number> => ({
  offset, size: 1,
  read: (v, at) => v.getUint8(at),
  write: (v, at, x) => v.setUint8(at, x),
});

export const u16le = (offset: number): Field<number> => ({
  offset, size: 2,
  read: (v, at) => v.getUint16(at, true),
  write: (v, at, x) => v.setUint16(at, x, true),
});

export const u32le = (offset: number): Field<number> => ({
  offset, size: 4,
  read: (v, at) => v.getUint32(at, true),
  write: (v, at, x) => v.setUint32(at, x >>> 0, true),
});

export const i8 = (offset: number): Field<number> => ({
  offset, size: 1,
  read: (v, at) => v.getInt8(at),
  write: (v, at, x) => v.setInt8(at, x),
});

/** 64-bit fields as bigint: sector numbers and byte offsets of large disks exceed 2^53 in hostile input. */
export const u64le = (offset: number): Field<bigint> => ({
  offset, size: 8,
  read: (v, at) => v.getBigUint64(at, true),
  write: (v, at, x) => v.setBigUint64(at, x, true),
});

export const bytes = (offset: number, size: number): Field<Uint8Array> => ({
  offset, size,
  read: (v, at) => new Uint8Array(v.buffer.slice(v.byteOffset + at, v.byteOffset + at + size)),
  write: (v, at, x) => {
    if (x.length !== size) throw new RangeError(`field of ${size} bytes given ${x.length}`);
    new Uint8Array(v.buffer, v.byteOffset + at, size).set(x);
  },
});

/** Fixed-width ASCII, trailing NULs and spaces dropped on read, NUL-padded on write. */
export const ascii = (offset: number, size: number): Field<string> => ({
  offset, size,
  read: (v, at) => {
    let s = '';
    for (let i = 0; i < size; i++) s += String.fromCharCode(v.getUint8(at + i));
    return s.replace(/[\0 ]+$/, '');
  },
  write: (v, at, x) => {
    for (let i = 0; i < size; i++) v.setUint8(at + i, i < x.length ? x.charCodeAt(i) & 0x7f : 0);
  },
});

/** UTF-16LE of fixed width (GPT partition names), cut at the first NUL. */
export const utf16le = (offset: number, size: number): Field<string> => ({
  offset, size,
  read: (v, at) => {
    let s = '';
    for (let i = 0; i + 1 < size; i += 2) {
      const c = v.getUint16(at + i, true);
      if (c === 0) break;
      s += String.fromCharCode(c);
    }
    return s;
  },
  write: (v, at, x) => {
    for (let i = 0; i + 1 < size; i += 2) v.setUint16(at + i, i / 2 < x.length ? x.charCodeAt(i / 2) : 0, true);
  },
});

/** A GUID in Microsoft's mixed-endian byte order, as a lower-case string without braces. */
export const guid = (offset: number): Field<string> => ({
  offset, size: 16,
  read: (v, at) => formatGuid(new Uint8Array(v.buffer, v.byteOffset + at, 16)),
  write: (v, at, x) => new Uint8Array(v.buffer, v.byteOffset + at, 16).set(parseGuid(x)),
});

type Fields = Record<string, Field<unknown>>;
export type Decoded<F extends Fields> = { [K in keyof F]: F[K] extends Field<infer T> ? T : never };

export interface Layout<F extends Fields> {
  readonly name: string;
  readonly size: number;
  readonly fields: F;
  /** Decode from `buf` at `at`; throws CorruptStructureError when the buffer is too short. */
  decode(buf: Uint8Array, at?: number): Decoded<F>;
  /** Write `value` into `buf` at `at` (fields not named keep their bytes). */
  encodeInto(value: Decoded<F>, buf: Uint8Array, at?: number): void;
  encode(value: Decoded<F>): Uint8Array;
  /** One line per field: offset, name, value; for test snapshots and debugging. */
  dump(buf: Uint8Array, at?: number): string;
}

export function layout<F extends Fields>(name: string, size: number, fields: F): Layout<F> {
  for (const [key, field] of Object.entries(fields)) {
    if (field.offset < 0 || field.offset + field.size > size) {
      throw new RangeError(`${name}.${key} (offset ${field.offset}, ${field.size} bytes) lies outside ${size} bytes`);
    }
  }
  const view = (buf: Uint8Array, at: number): DataView => {
    if (at < 0 || at + size > buf.length) {
      throw new CorruptStructureError(name, at, `needs ${size} bytes, only ${Math.max(0, buf.length - at)} available`);
    }
    return new DataView(buf.buffer, buf.byteOffset + at, size);
  };
  const decode = (buf: Uint8Array, at = 0): Decoded<F> => {
    const v = view(buf, at);
    const out: Record<string, unknown> = {};
    for (const [key, field] of Object.entries(fields)) out[key] = field.read(v, field.offset);
    return out as Decoded<F>;
  };
  const encodeInto = (value: Decoded<F>, buf: Uint8Array, at = 0): void => {
    const v = view(buf, at);
    for (const [key, field] of Object.entries(fields)) {
      (field as Field<unknown>).write(v, field.offset, (value as Record<string, unknown>)[key]);
    }
  };
  return {
    name, size, fields, decode, encodeInto,
    encode: (value) => {
      const buf = new Uint8Array(size);
      encodeInto(value, buf);
      return buf;
    },
    dump: (buf, at = 0) => Object.entries(decode(buf, at)).map(([key, value]) => {
      const offset = fields[key]!.offset.toString(16).padStart(3, '0');
      const shown = value instanceof Uint8Array ? Buffer.from(value).toString('hex') : String(value);
      return `0x${offset} ${key} = ${shown}`;
    }).join('\n'),
  };
}

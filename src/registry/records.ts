/**
 * Records inside cells (boot-and-bcd.md 5.4): key nodes (nk), values (vk), big data (db) and the
 * subkey index lists (lf, lh, li, ri). Offsets are relative to the cell body (after the size).
 */
import { bytes, layout, u16le, u32le, u64le, type Decoded } from '../binary/layout.ts';

export const KeyNode = layout('nk', 0x4c, {
  signature: bytes(0x00, 2), // "nk"
  flags: u16le(0x02), // see KEY_FLAGS
  lastWrittenTimestamp: u64le(0x04), // FILETIME
  accessBits: u32le(0x0c),
  parent: u32le(0x10), // cell offset of the parent nk
  numberOfSubkeys: u32le(0x14),
  numberOfVolatileSubkeys: u32le(0x18), // 0 on disk
  subkeysListOffset: u32le(0x1c), // lf, lh, li or ri
  volatileSubkeysListOffset: u32le(0x20), // meaningless on disk
  numberOfKeyValues: u32le(0x24),
  keyValuesListOffset: u32le(0x28), // array of vk offsets
  keySecurityOffset: u32le(0x2c), // sk
  classNameOffset: u32le(0x30),
  largestSubkeyNameLength: u32le(0x34), // low 16 bits; upper bits are flags since Vista
  largestSubkeyClassNameLength: u32le(0x38),
  largestValueNameLength: u32le(0x3c),
  largestValueDataSize: u32le(0x40),
  workVar: u32le(0x44),
  keyNameLength: u16le(0x48), // bytes
  classNameLength: u16le(0x4a),
  // key name at 0x4c
});
export type KeyNode = Decoded<typeof KeyNode.fields>;
export const KEY_NAME_OFFSET = 0x4c;

export const KEY_FLAGS = {
  volatile: 0x0001,
  hiveExit: 0x0002,
  hiveEntry: 0x0004, // the root key
  noDelete: 0x0008,
  symlink: 0x0010,
  compName: 0x0020, // name is one byte per character (Latin-1), not UTF-16LE
} as const;

export const KeyValue = layout('vk', 0x14, {
  signature: bytes(0x00, 2), // "vk"
  nameLength: u16le(0x02), // 0 = the default value
  dataSize: u32le(0x04), // bit 31 set: data inline in dataOffset
  dataOffset: u32le(0x08), // cell offset of the data, or the data itself (first bytes)
  dataType: u32le(0x0c),
  flags: u16le(0x10), // VALUE_COMP_NAME
  spare: u16le(0x12),
  // value name at 0x14
});
export type KeyValue = Decoded<typeof KeyValue.fields>;
export const VALUE_NAME_OFFSET = 0x14;
export const VALUE_COMP_NAME = 0x0001;
export const DATA_INLINE = 0x80000000;
/** The most bytes an inline value holds (in the data offset field). */
export const MAX_INLINE_DATA = 4;

export const BigData = layout('db', 8, {
  signature: bytes(0x00, 2), // "db"
  numberOfSegments: u16le(0x02),
  segmentsListOffset: u32le(0x04), // cell holding u32 offsets of the segment cells
});
/** Every big data segment but the last holds exactly this many bytes. */
export const BIG_DATA_SEGMENT = 16344;

export const IndexHeader = layout('subkeys list', 4, {
  signature: bytes(0x00, 2), // "li", "lf", "lh" or "ri"
  numberOfElements: u16le(0x02),
  // elements at 0x04: li/ri 4 bytes (offset), lf/lh 8 bytes (offset + name hint or hash)
});
export const INDEX_ELEMENTS_OFFSET = 4;

export const ascii2 = (b: Uint8Array) => String.fromCharCode(b[0] ?? 0, b[1] ?? 0);

/** Latin-1 ("compressed", one byte per character) or UTF-16LE, as the record's flag says. */
export function decodeName(raw: Uint8Array, compressed: boolean): string {
  if (compressed) {
    let s = '';
    for (const c of raw) s += String.fromCharCode(c);
    return s;
  }
  let s = '';
  for (let i = 0; i + 1 < raw.length; i += 2) s += String.fromCharCode(raw[i]! | (raw[i + 1]! << 8));
  return s;
}

/** Upper-case one UTF-16 code unit at a time, as Windows compares key and value names. */
export function upcaseName(name: string): string {
  let s = '';
  for (const c of name) {
    if (c.length !== 1) {
      s += c; // a surrogate pair: Windows leaves code units outside the BMP alone
      continue;
    }
    const u = c.toUpperCase();
    s += u.length === 1 ? u : c;
  }
  return s;
}

/** The lh name hash: h = h * 37 + code unit of the upper-cased name, modulo 2^32. */
export function lhHash(name: string): number {
  const up = upcaseName(name);
  let h = 0;
  for (let i = 0; i < up.length; i++) h = (Math.imul(h, 37) + up.charCodeAt(i)) >>> 0;
  return h;
}

/** sk: security descriptor cell, shared by keys; the writer counts a new key in `referenceCount`. */
export const SecurityKey = layout('sk', 0x14, {
  signature: bytes(0x00, 2), // "sk"
  reserved: u16le(0x02),
  flink: u32le(0x04), // circular list of all sk cells
  blink: u32le(0x08),
  referenceCount: u32le(0x0c), // number of nk naming this sk
  descriptorSize: u32le(0x10),
  // self-relative SECURITY_DESCRIPTOR at 0x14
});

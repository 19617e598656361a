/**
 * The on-disk structures of a Lifeboat image, declared once; docs/formats/image.md is the
 * normative description these follow.
 */
import { crc32 } from 'node:zlib';
import { bytes, layout, u16le, u32le, u64le, u8, type Decoded } from '../binary/layout.ts';

export const FORMAT_MAJOR = 1;
export const FORMAT_MINOR = 0;
export const PART_HEADER_SIZE = 4096;
export const RECORD_HEADER_SIZE = 48;
export const FOOTER_SIZE = 64;
export const INDEX_ENTRY_SIZE = 24;
export const MIN_CHUNK = 1 << 20;
export const MAX_CHUNK = 4 << 20;
export const IMAGE_EXTENSION = '.lbimg';

export const PART_MAGIC = Uint8Array.from([0x4c, 0x42, 0x49, 0x4d, 0x41, 0x47, 0x45, 0x1a]); // LBIMAGE\x1a
export const RECORD_MARKER = Uint8Array.from([0x4c, 0x42, 0x52, 0x45, 0x43, 0x0d, 0x0a, 0x1a]); // LBREC\r\n\x1a
export const FOOTER_MAGIC = Uint8Array.from([0x4c, 0x42, 0x46, 0x4f, 0x4f, 0x54, 0x45, 0x52]); // LBFOOTER

export const PartHeader = layout('image part header', PART_HEADER_SIZE, {
  magic: bytes(0x000, 8),
  formatMajor: u16le(0x008),
  formatMinor: u16le(0x00a),
  headerSize: u32le(0x00c),
  imageId: bytes(0x010, 16),
  partNumber: u32le(0x020),
  flags: u32le(0x024), // bit 0 encrypted
  chunkSize: u32le(0x028),
  createdMs: u64le(0x030),
  kdf: u8(0x038), // 0 none, 1 scrypt
  scryptLog2N: u8(0x039),
  scryptR: u8(0x03a),
  scryptP: u8(0x03b),
  salt: bytes(0x040, 32),
  keyCheckNonce: bytes(0x060, 12),
  keyCheck: bytes(0x06c, 32),
  headerCrc32: u32le(0xffc),
});
export type PartHeader = Decoded<typeof PartHeader.fields>;

export const RecordHeader = layout('image record header', RECORD_HEADER_SIZE, {
  marker: bytes(0x00, 8),
  type: u8(0x08),
  codec: u8(0x09),
  flags: u16le(0x0a), // bit 0 encrypted
  storedLength: u32le(0x0c),
  sourceOffset: u64le(0x10),
  sourceLength: u32le(0x18),
  payloadCrc32: u32le(0x1c),
  dataCrc32: u32le(0x20),
  sequence: u32le(0x24),
  reserved: u32le(0x28),
  headerCrc32: u32le(0x2c),
});
export type RecordHeader = Decoded<typeof RecordHeader.fields>;

export const Footer = layout('image footer', FOOTER_SIZE, {
  magic: bytes(0x00, 8),
  imageId: bytes(0x08, 16),
  indexPart: u32le(0x18),
  metadataPart: u32le(0x1c),
  indexOffset: u64le(0x20),
  metadataOffset: u64le(0x28),
  partCount: u32le(0x30),
  chunkCount: u32le(0x34),
  reserved: u32le(0x38),
  footerCrc32: u32le(0x3c),
});
export type Footer = Decoded<typeof Footer.fields>;

export const IndexEntry = layout('image index entry', INDEX_ENTRY_SIZE, {
  sourceOffset: u64le(0x00),
  fileOffset: u64le(0x08), // 0: all-zero chunk, not stored
  partNumber: u32le(0x10),
  sourceLength: u32le(0x14),
});
export type IndexEntry = Decoded<typeof IndexEntry.fields>;

export const RECORD_TYPE = { chunk: 1, metadata: 2, index: 3 } as const;
export const RECORD_SKIPPABLE = 0x80;
export const CODEC = { stored: 0, zstd: 1 } as const;
export const FLAG_ENCRYPTED = 1;

/** CRC-32 of a structure's bytes up to (not including) its trailing CRC field. */
export function structureCrc(buf: Uint8Array, crcOffset: number): number {
  return crc32(buf.subarray(0, crcOffset));
}

export const sameBytes = (a: Uint8Array, b: Uint8Array): boolean => a.length === b.length && a.every((x, i) => x === b[i]);

/** Name of part `n` (1-based) of the image whose first part is `path`. */
export function partPath(path: string, n: number): string {
  return n === 1 ? path : `${path}.${String(n).padStart(3, '0')}`;
}

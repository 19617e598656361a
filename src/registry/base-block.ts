/**
 * The regf base block: the first 4096 bytes of a primary hive file (docs/formats/registry.md,
 * shared reference boot-and-bcd.md 5.1). Only the first 512 bytes carry fields; the checksum
 * covers the 127 words before it. Validation order: signature, file type and format, version,
 * checksum, then the hive bins data size and root cell offset against the file.
 */
import { bytes, layout, u32le, u64le, type Decoded } from '../binary/layout.ts';
import { CorruptStructureError } from '../errors.ts';

export const BASE_BLOCK_SIZE = 4096;
/** Hive bins (and every cell offset inside the hive) count from here. */
export const HIVE_BINS_START = BASE_BLOCK_SIZE;
/** Supported minor versions with major version 1: 1.3 (NT 4) to 1.6 (Windows 10/11). */
export const MIN_MINOR_VERSION = 3;
export const MAX_MINOR_VERSION = 6;

export const RegfBaseBlock = layout('regf base block', 512, {
  signature: bytes(0x000, 4), // "regf"
  primarySequenceNumber: u32le(0x004), // incremented when a write starts
  secondarySequenceNumber: u32le(0x008), // incremented when it ends; equal = clean
  lastWrittenTimestamp: u64le(0x00c), // FILETIME
  majorVersion: u32le(0x014), // 1
  minorVersion: u32le(0x018), // 3..6
  fileType: u32le(0x01c), // 0 primary file; 1, 2, 6 in transaction logs
  fileFormat: u32le(0x020), // 1 direct memory load
  rootCellOffset: u32le(0x024), // relative to the hive bins (file offset 4096)
  hiveBinsDataSize: u32le(0x028), // bytes of all hbins, multiple of 4096
  clusteringFactor: u32le(0x02c), // 1
  fileName: bytes(0x030, 64), // UTF-16LE, debugging only
  checksum: u32le(0x1fc), // XOR of the 127 words at 0x000..0x1fb (see regfChecksum)
});
export type RegfBaseBlock = Decoded<typeof RegfBaseBlock.fields>;

/**
 * The base-block checksum as Windows stores it: the XOR of the u32 words at 0x000..0x1FB, with
 * 0xFFFFFFFF stored as 0xFFFFFFFE and 0 as 1. (hivex stores the plain XOR; both are accepted.)
 */
export function regfChecksum(block: Uint8Array): number {
  const plain = plainXor(block);
  if (plain === 0xffffffff) return 0xfffffffe;
  if (plain === 0) return 1;
  return plain;
}

function plainXor(block: Uint8Array): number {
  if (block.length < 0x200) throw new CorruptStructureError('regf base block', 0, `needs 512 bytes, only ${block.length} available`);
  const v = new DataView(block.buffer, block.byteOffset, 0x1fc);
  let x = 0;
  for (let i = 0; i < 0x1fc; i += 4) x ^= v.getUint32(i, true);
  return x >>> 0;
}

export interface BaseBlockInfo {
  block: RegfBaseBlock;
  majorVersion: number;
  minorVersion: number;
  primarySequenceNumber: number;
  secondarySequenceNumber: number;
  /** Sequence numbers differ: a write was interrupted, transaction logs may hold newer data. */
  dirty: boolean;
  rootCellOffset: number;
  hiveBinsDataSize: number;
  lastWritten: Date;
}

/** Validate the base block of `file` (the whole hive: the bins size is checked against its length). */
export function decodeBaseBlock(file: Uint8Array): BaseBlockInfo {
  const fail = (offset: number, problem: string) => new CorruptStructureError('regf base block', offset, problem);
  const b = RegfBaseBlock.decode(file);
  if (String.fromCharCode(...b.signature) !== 'regf') {
    throw fail(0, `signature is ${JSON.stringify(String.fromCharCode(...b.signature))}, not "regf"`);
  }
  if (b.fileType !== 0) throw fail(0x1c, `file type ${b.fileType} is a transaction log, not a primary hive (0)`);
  if (b.fileFormat !== 1) throw fail(0x20, `file format ${b.fileFormat} is not 1 (direct memory load)`);
  if (b.majorVersion !== 1 || b.minorVersion < MIN_MINOR_VERSION || b.minorVersion > MAX_MINOR_VERSION) {
    throw fail(0x14, `version ${b.majorVersion}.${b.minorVersion} is not 1.${MIN_MINOR_VERSION}..1.${MAX_MINOR_VERSION}`);
  }
  const plain = plainXor(file);
  if (b.checksum !== plain && b.checksum !== regfChecksum(file)) {
    throw fail(0x1fc, `checksum 0x${b.checksum.toString(16)} does not match the computed 0x${regfChecksum(file).toString(16)}`);
  }
  const size = b.hiveBinsDataSize;
  if (size === 0 || size % 4096 !== 0) throw fail(0x28, `hive bins data size ${size} is not a positive multiple of 4096`);
  if (HIVE_BINS_START + size > file.length) {
    throw fail(0x28, `hive bins data size ${size} goes past the end of the file (${file.length} bytes)`);
  }
  if (b.rootCellOffset >= size) throw fail(0x24, `root cell offset ${b.rootCellOffset} lies outside the ${size} bytes of hive bins`);
  return {
    block: b,
    majorVersion: b.majorVersion,
    minorVersion: b.minorVersion,
    primarySequenceNumber: b.primarySequenceNumber,
    secondarySequenceNumber: b.secondarySequenceNumber,
    dirty: b.primarySequenceNumber !== b.secondarySequenceNumber,
    rootCellOffset: b.rootCellOffset,
    hiveBinsDataSize: size,
    lastWritten: filetimeToDate(b.lastWrittenTimestamp),
  };
}

const FILETIME_UNIX_EPOCH_MS = 11644473600000n;

/** A FILETIME (100 ns since 1601) as a Date; values beyond Date's range give an invalid Date. */
export function filetimeToDate(ft: bigint): Date {
  const ms = ft / 10000n - FILETIME_UNIX_EPOCH_MS;
  return new Date(ms > 8640000000000000n || ms < -8640000000000000n ? Number.NaN : Number(ms));
}

/**
 * exFAT directory entries (exFAT specification 6–7; filesystems.md 8.3): the critical
 * primary entries of the root (allocation bitmap, up-case table, volume label) and file
 * entry sets (File, Stream Extension, File Name). Parsing is pure: a directory's bytes in;
 * `offsetOf` turns a position in them into a volume offset for error messages.
 */
import { bytes, layout, u16le, u32le, u64le, u8 } from '../../binary/layout.ts';
import { CorruptStructureError } from '../../errors.ts';
import { dosDateTime } from '../fat/timestamps.ts';
import { entrySetChecksum } from './checksums.ts';

export const ENTRY_SIZE = 32;
export const TYPE_END = 0x00;
export const TYPE_BITMAP = 0x81;
export const TYPE_UPCASE = 0x82;
export const TYPE_LABEL = 0x83;
export const TYPE_FILE = 0x85;
export const TYPE_STREAM = 0xc0;
export const TYPE_NAME = 0xc1;
const IN_USE = 0x80;
const SECONDARY = 0x40;

export const AllocationBitmapEntry = layout('ExfatAllocationBitmapEntry', ENTRY_SIZE, {
  entryType: u8(0x00), // 0x81
  bitmapFlags: u8(0x01), // bit 0: first (0) or second (1) bitmap, TexFAT
  firstCluster: u32le(0x14),
  dataLength: u64le(0x18),
});

export const UpcaseTableEntry = layout('ExfatUpcaseTableEntry', ENTRY_SIZE, {
  entryType: u8(0x00), // 0x82
  tableChecksum: u32le(0x04),
  firstCluster: u32le(0x14),
  dataLength: u64le(0x18),
});

export const VolumeLabelEntry = layout('ExfatVolumeLabelEntry', ENTRY_SIZE, {
  entryType: u8(0x00), // 0x83
  characterCount: u8(0x01), // 0..11
  volumeLabel: bytes(0x02, 22), // UTF-16LE
});

export const FileEntry = layout('ExfatFileEntry', ENTRY_SIZE, {
  entryType: u8(0x00), // 0x85
  secondaryCount: u8(0x01), // 2..18
  setChecksum: u16le(0x02),
  fileAttributes: u16le(0x04),
  createTimestamp: u32le(0x08), // date << 16 | time, DOS layout
  lastModifiedTimestamp: u32le(0x0c),
  lastAccessedTimestamp: u32le(0x10),
  create10msIncrement: u8(0x14),
  lastModified10msIncrement: u8(0x15),
  createUtcOffset: u8(0x16), // bit 7 valid, bits 0–6 signed quarter hours
  lastModifiedUtcOffset: u8(0x17),
  lastAccessedUtcOffset: u8(0x18),
});

export const StreamExtensionEntry = layout('ExfatStreamExtensionEntry', ENTRY_SIZE, {
  entryType: u8(0x00), // 0xC0
  generalSecondaryFlags: u8(0x01), // bit 0 AllocationPossible, bit 1 NoFatChain
  nameLength: u8(0x03),
  nameHash: u16le(0x04),
  validDataLength: u64le(0x08),
  firstCluster: u32le(0x14),
  dataLength: u64le(0x18),
});

export const FileNameEntry = layout('ExfatFileNameEntry', ENTRY_SIZE, {
  entryType: u8(0x00), // 0xC1
  generalSecondaryFlags: u8(0x01),
  fileName: bytes(0x02, 30), // 15 UTF-16 units
});

export const FLAG_NO_FAT_CHAIN = 0x02;
export const ATTR_DIRECTORY = 0x10;
const NAME_UNITS_PER_ENTRY = 15;

export interface ExfatItem {
  name: string;
  attributes: number;
  noFatChain: boolean;
  firstCluster: number;
  /** Bytes allocated to the content. */
  dataLength: bigint;
  /** Bytes written; the rest up to dataLength reads as zeros. */
  validDataLength: bigint;
  created?: Date;
  modified?: Date;
  accessed?: Date;
  /** Position of the File entry in the directory's bytes. */
  offset: number;
}

export interface BitmapRef {
  bitmapFlags: number;
  firstCluster: number;
  dataLength: bigint;
  offset: number;
}

export interface UpcaseRef {
  tableChecksum: number;
  firstCluster: number;
  dataLength: bigint;
  offset: number;
}

export interface ExfatDirectory {
  items: ExfatItem[];
  /** Entry sets that failed their checks, in order; they are left out of `items`. */
  problems: CorruptStructureError[];
  bitmaps: BitmapRef[];
  upcase?: UpcaseRef;
  label?: string;
}

function utf16(b: Uint8Array, units: number): string {
  let s = '';
  for (let i = 0; i < units; i++) s += String.fromCharCode(b[2 * i]! | (b[2 * i + 1]! << 8));
  return s;
}

function timestamp(stamp: number, tenMs: number, utcOffset: number): Date | undefined {
  // A valid offset is a signed 7-bit count of quarter hours east of UTC.
  const minutes = utcOffset & 0x80 ? (((utcOffset & 0x7f) ^ 0x40) - 0x40) * 15 : 0;
  return dosDateTime(stamp >>> 16, stamp & 0xffff, tenMs, minutes);
}

/**
 * Entries in order until the end marker: unused (deleted) entries and benign or unknown
 * entries are stepped over; a File entry set must have its checksum, a Stream Extension
 * second and enough File Name entries for NameLength. A set that fails goes to `problems`
 * (one damaged file must not hide the root's bitmap entry or its siblings); the caller
 * decides whether that is fatal.
 */
export function parseExfatDirectory(data: Uint8Array, offsetOf: (at: number) => number): ExfatDirectory {
  const dir: ExfatDirectory = { items: [], problems: [], bitmaps: [] };
  let at = 0;
  while (at + ENTRY_SIZE <= data.length) {
    const type = data[at]!;
    if (type === TYPE_END) break;
    if (!(type & IN_USE) || type & SECONDARY) {
      at += ENTRY_SIZE; // deleted, or a secondary entry outside a set (left by a crash)
      continue;
    }
    if (type === TYPE_BITMAP) {
      const e = AllocationBitmapEntry.decode(data, at);
      dir.bitmaps.push({ bitmapFlags: e.bitmapFlags, firstCluster: e.firstCluster, dataLength: e.dataLength, offset: offsetOf(at) });
    } else if (type === TYPE_UPCASE) {
      const e = UpcaseTableEntry.decode(data, at);
      dir.upcase = { tableChecksum: e.tableChecksum, firstCluster: e.firstCluster, dataLength: e.dataLength, offset: offsetOf(at) };
    } else if (type === TYPE_LABEL) {
      const e = VolumeLabelEntry.decode(data, at);
      dir.label = utf16(e.volumeLabel, Math.min(e.characterCount, 11));
    } else if (type === TYPE_FILE) {
      try {
        dir.items.push(parseFileSet(data, at, offsetOf));
      } catch (e) {
        if (!(e instanceof CorruptStructureError)) throw e;
        dir.problems.push(e);
      }
      const count = data[at + 1]!;
      at += ENTRY_SIZE * (count >= 2 && count <= 18 ? count + 1 : 1);
      continue;
    } else if (type & 0x20) {
      // A benign primary (volume GUID, TexFAT padding…): step over it and its secondaries.
      at += ENTRY_SIZE * (data[at + 1]! + 1);
      continue;
    }
    at += ENTRY_SIZE;
  }
  return dir;
}

function parseFileSet(data: Uint8Array, at: number, offsetOf: (at: number) => number): ExfatItem {
  const file = FileEntry.decode(data, at);
  const fail = (problem: string): never => {
    throw new CorruptStructureError('exFAT file entry set', offsetOf(at), problem);
  };
  if (file.secondaryCount < 2 || file.secondaryCount > 18) fail(`SecondaryCount is ${file.secondaryCount} (2..18 expected)`);
  const end = at + ENTRY_SIZE * (file.secondaryCount + 1);
  if (end > data.length) fail(`its ${file.secondaryCount} secondary entries run past the end of the directory`);
  const sum = entrySetChecksum(data.subarray(at, end));
  if (sum !== file.setChecksum) fail(`SetChecksum is 0x${file.setChecksum.toString(16)}, the entries give 0x${sum.toString(16)}`);
  if (data[at + ENTRY_SIZE] !== TYPE_STREAM) fail('the first secondary entry is not a Stream Extension (0xC0)');
  const stream = StreamExtensionEntry.decode(data, at + ENTRY_SIZE);
  const nameEntries = Math.ceil(stream.nameLength / NAME_UNITS_PER_ENTRY);
  if (stream.nameLength === 0 || nameEntries > file.secondaryCount - 1) {
    fail(`NameLength ${stream.nameLength} does not fit ${file.secondaryCount - 1} File Name entries`);
  }
  let name = '';
  for (let i = 0; i < nameEntries; i++) {
    const e = at + ENTRY_SIZE * (2 + i);
    if (data[e] !== TYPE_NAME) fail(`secondary entry ${2 + i} is 0x${data[e]!.toString(16)}, not a File Name entry (0xC1)`);
    const units = Math.min(NAME_UNITS_PER_ENTRY, stream.nameLength - name.length);
    name += utf16(FileNameEntry.decode(data, e).fileName, units);
  }
  if (stream.validDataLength > stream.dataLength) {
    fail(`ValidDataLength ${stream.validDataLength} exceeds DataLength ${stream.dataLength}`);
  }
  return {
    name,
    attributes: file.fileAttributes,
    noFatChain: (stream.generalSecondaryFlags & FLAG_NO_FAT_CHAIN) !== 0,
    firstCluster: stream.firstCluster,
    dataLength: stream.dataLength,
    validDataLength: stream.validDataLength,
    created: timestamp(file.createTimestamp, file.create10msIncrement, file.createUtcOffset),
    modified: timestamp(file.lastModifiedTimestamp, file.lastModified10msIncrement, file.lastModifiedUtcOffset),
    accessed: timestamp(file.lastAccessedTimestamp, 0, file.lastAccessedUtcOffset),
    offset: at,
  };
}

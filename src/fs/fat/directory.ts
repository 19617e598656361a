/**
 * FAT directory entries (32 bytes each) and the VFAT long-name entries that precede them
 * (filesystems.md 8.1 "Directory entries"). Parsing is pure: the bytes of a whole directory
 * in, its live entries out.
 */
import { bytes, layout, u16le, u32le, u8 } from '../../binary/layout.ts';
import { lfnChecksum, oemText, shortName } from './names.ts';
import { dosDateTime } from './timestamps.ts';

export const DIR_ENTRY_SIZE = 32;

export const FatDirEntry = layout('FatDirectoryEntry', DIR_ENTRY_SIZE, {
  name: bytes(0x00, 11), // DIR_Name: 8 + 3, space padded; 0xE5 deleted, 0x00 end, 0x05 = 0xE5
  attributes: u8(0x0b), // DIR_Attr
  ntReserved: u8(0x0c), // DIR_NTRes: Windows NT lower-case flags
  createTimeTenth: u8(0x0d), // DIR_CrtTimeTenth: 0–199, units of 10 ms
  createTime: u16le(0x0e), // DIR_CrtTime
  createDate: u16le(0x10), // DIR_CrtDate
  lastAccessDate: u16le(0x12), // DIR_LstAccDate
  firstClusterHigh: u16le(0x14), // DIR_FstClusHI: FAT32 only
  writeTime: u16le(0x16), // DIR_WrtTime
  writeDate: u16le(0x18), // DIR_WrtDate
  firstClusterLow: u16le(0x1a), // DIR_FstClusLO
  fileSize: u32le(0x1c), // DIR_FileSize
});

export const LongNameEntry = layout('FatLongNameEntry', DIR_ENTRY_SIZE, {
  order: u8(0x00), // LDIR_Ord: 1..20, | 0x40 on the last (stored first)
  name1: bytes(0x01, 10), // LDIR_Name1: UTF-16 units 1–5
  attributes: u8(0x0b), // LDIR_Attr: 0x0F
  type: u8(0x0c), // LDIR_Type: 0
  checksum: u8(0x0d), // LDIR_Chksum of the short name
  name2: bytes(0x0e, 12), // LDIR_Name2: units 6–11
  firstClusterLow: u16le(0x1a), // LDIR_FstClusLO: 0
  name3: bytes(0x1c, 4), // LDIR_Name3: units 12–13
});

export const ATTR_READ_ONLY = 0x01;
export const ATTR_HIDDEN = 0x02;
export const ATTR_SYSTEM = 0x04;
export const ATTR_VOLUME_ID = 0x08;
export const ATTR_DIRECTORY = 0x10;
export const ATTR_ARCHIVE = 0x20;
export const ATTR_LONG_NAME = 0x0f;
const MAX_LFN_ENTRIES = 20; // 255 characters / 13

export interface FatDirItem {
  /** Long name when a valid one precedes the entry, else the 8.3 name. */
  name: string;
  shortName: string;
  attributes: number;
  firstCluster: number;
  size: number;
  created?: Date;
  modified?: Date;
  accessed?: Date;
  /** Byte offset of the 32-byte short entry inside the directory's bytes. */
  offset: number;
}

export interface FatDirectory {
  items: FatDirItem[];
  /** Text of a volume-label entry (meaningful in the root directory only). */
  label?: string;
}

interface PendingLongName {
  checksum: number;
  /** LDIR_Ord expected next; 0 when the name is complete. */
  next: number;
  parts: string[];
}

function units(b: Uint8Array): number[] {
  const out: number[] = [];
  for (let i = 0; i + 1 < b.length; i += 2) out.push(b[i]! | (b[i + 1]! << 8));
  return out;
}

function longNamePart(e: ReturnType<typeof LongNameEntry.decode>): string {
  let s = '';
  for (const u of [...units(e.name1), ...units(e.name2), ...units(e.name3)]) {
    if (u === 0) break; // the name ends; 0xFFFF pads the rest of the entry
    s += String.fromCharCode(u);
  }
  return s;
}

/**
 * Live entries of a directory, in order: deleted entries, volume labels, `.` and `..` skipped;
 * a long name is used only when its entries run in sequence and carry the short name's
 * checksum (otherwise it is an orphan left by a non-VFAT writer, and the 8.3 name stands).
 * `fat32` decides whether DIR_FstClusHI belongs to the cluster number.
 */
export function parseFatDirectory(data: Uint8Array, fat32: boolean): FatDirectory {
  const items: FatDirItem[] = [];
  let label: string | undefined;
  let pending: PendingLongName | undefined;
  for (let at = 0; at + DIR_ENTRY_SIZE <= data.length; at += DIR_ENTRY_SIZE) {
    const first = data[at]!;
    if (first === 0x00) break;
    if (first === 0xe5) {
      pending = undefined;
      continue;
    }
    const attributes = data[at + 0x0b]!;
    if ((attributes & 0x3f) === ATTR_LONG_NAME) {
      const e = LongNameEntry.decode(data, at);
      const order = e.order & 0x1f;
      if (e.order & 0x40) {
        pending = order >= 1 && order <= MAX_LFN_ENTRIES ? { checksum: e.checksum, next: order, parts: [] } : undefined;
      } else if (pending && (order === 0 || order !== pending.next || e.checksum !== pending.checksum)) {
        pending = undefined;
      }
      if (pending && order === pending.next) {
        pending.parts[order - 1] = longNamePart(e);
        pending.next--;
      }
      continue;
    }
    const e = FatDirEntry.decode(data, at);
    const long = pending;
    pending = undefined;
    if (attributes & ATTR_VOLUME_ID) {
      if (!(attributes & ATTR_DIRECTORY)) label = oemText(e.name);
      continue;
    }
    if (first === 0x2e && (e.name[1] === 0x20 || e.name[1] === 0x2e)) continue; // "." and ".."
    const short = shortName(e.name, e.ntReserved);
    const longName = long && long.next === 0 && long.checksum === lfnChecksum(e.name) ? long.parts.join('') : '';
    items.push({
      name: longName || short,
      shortName: short,
      attributes,
      firstCluster: (fat32 ? e.firstClusterHigh * 0x10000 : 0) + e.firstClusterLow,
      size: attributes & ATTR_DIRECTORY ? 0 : e.fileSize,
      created: dosDateTime(e.createDate, e.createTime, e.createTimeTenth),
      modified: dosDateTime(e.writeDate, e.writeTime),
      accessed: dosDateTime(e.lastAccessDate, 0),
      offset: at,
    });
  }
  return label === undefined ? { items } : { items, label };
}

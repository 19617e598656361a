/**
 * GUID partition table (shared/reference/boot-and-bcd.md 2.1–2.4): header and entry array,
 * checked in a fixed order (signature, header size, header CRC, self-pointer, bounds, entry
 * size, entry count, array placement, array CRC). When the primary fails, the backup at the
 * last LBA is used and the reason is kept as a warning. Writing: gpt-encode.ts.
 */
import { crc32 } from 'node:zlib';
import { ascii, guid, layout, u32le, u64le, utf16le, type Decoded } from '../binary/layout.ts';
import { NIL_GUID } from '../binary/guid.ts';
import { CorruptStructureError } from '../errors.ts';
import type { ReadableDevice } from '../device/block-device.ts';

export const GptHeader = layout('GptHeader', 92, {
  signature: ascii(0x00, 8), // "EFI PART"
  revision: u32le(0x08),
  headerSize: u32le(0x0c),
  headerCrc32: u32le(0x10),
  reserved: u32le(0x14),
  myLba: u64le(0x18),
  alternateLba: u64le(0x20),
  firstUsableLba: u64le(0x28),
  lastUsableLba: u64le(0x30),
  diskGuid: guid(0x38),
  partitionEntryLba: u64le(0x48),
  numberOfPartitionEntries: u32le(0x50),
  sizeOfPartitionEntry: u32le(0x54),
  partitionEntryArrayCrc32: u32le(0x58),
});
export type GptHeader = Decoded<typeof GptHeader.fields>;

export const GptEntry = layout('GptPartitionEntry', 128, {
  partitionTypeGuid: guid(0x00),
  uniquePartitionGuid: guid(0x10),
  startingLba: u64le(0x20),
  endingLba: u64le(0x28), // inclusive
  attributes: u64le(0x30),
  partitionName: utf16le(0x38, 72),
});
export type GptEntry = Decoded<typeof GptEntry.fields>;

export const GPT_SIGNATURE = 'EFI PART';
export const GPT_ENTRY_SIZE = 128;
/** Beyond this the array is not a real one: 128 entries is the norm, a few thousand the extreme. */
export const MAX_GPT_ENTRIES = 16384;

export interface GptPartition {
  /** 1-based slot number in the entry array (what sgdisk and Windows call partition N). */
  index: number;
  typeGuid: string;
  uniqueGuid: string;
  startLba: number;
  /** Inclusive, as stored. */
  endLba: number;
  attributes: bigint;
  name: string;
}

export interface Gpt {
  header: GptHeader;
  /** Which copy was read: a damaged primary falls back to the backup. */
  source: 'primary' | 'backup';
  partitions: GptPartition[];
  /** Problems with the copy that was not used, or with the used one that are not fatal. */
  warnings: string[];
}

function toSafe(value: bigint, structure: string, offset: number, field: string): number {
  if (value > BigInt(Number.MAX_SAFE_INTEGER)) {
    throw new CorruptStructureError(structure, offset, `${field} ${value} is beyond any real disk`);
  }
  return Number(value);
}

/** Validate a header sector read at `lba`; returns the decoded header or throws why not. */
export function decodeGptHeader(block: Uint8Array, lba: number, sectorSize: number, deviceSectors: number): GptHeader {
  const at = lba * sectorSize;
  const name = lba === 1 ? 'GPT primary header' : 'GPT backup header';
  const h = GptHeader.decode(block);
  if (h.signature !== GPT_SIGNATURE) throw new CorruptStructureError(name, at, `signature is ${JSON.stringify(h.signature)}, not "EFI PART"`);
  if (h.headerSize < 92 || h.headerSize > sectorSize) throw new CorruptStructureError(name, at, `header size ${h.headerSize} is outside 92..${sectorSize}`);
  const copy = block.slice(0, h.headerSize);
  copy.fill(0, 0x10, 0x14);
  const crc = crc32(copy);
  if (crc !== h.headerCrc32) {
    throw new CorruptStructureError(name, at, `header CRC-32 is 0x${h.headerCrc32.toString(16)}, computed 0x${crc.toString(16)}`);
  }
  if (h.myLba !== BigInt(lba)) throw new CorruptStructureError(name, at, `MyLBA says ${h.myLba}, read from LBA ${lba}`);
  const first = toSafe(h.firstUsableLba, name, at, 'FirstUsableLBA');
  const last = toSafe(h.lastUsableLba, name, at, 'LastUsableLBA');
  if (first > last || last >= deviceSectors) {
    throw new CorruptStructureError(name, at, `usable range ${first}..${last} does not fit a disk of ${deviceSectors} sectors`);
  }
  if (h.sizeOfPartitionEntry !== GPT_ENTRY_SIZE) {
    throw new CorruptStructureError(name, at, `partition entry size is ${h.sizeOfPartitionEntry}, only 128 is supported`);
  }
  if (h.numberOfPartitionEntries === 0 || h.numberOfPartitionEntries > MAX_GPT_ENTRIES) {
    throw new CorruptStructureError(name, at, `${h.numberOfPartitionEntries} partition entries (1..${MAX_GPT_ENTRIES} accepted)`);
  }
  const arrayLba = toSafe(h.partitionEntryLba, name, at, 'PartitionEntryLBA');
  const arrayEnd = arrayLba * sectorSize + h.numberOfPartitionEntries * GPT_ENTRY_SIZE;
  if (arrayLba < 2 || arrayEnd > deviceSectors * sectorSize) {
    throw new CorruptStructureError(name, at, `entry array at LBA ${arrayLba} does not fit the disk`);
  }
  // UEFI: the primary array lies between its header and FirstUsableLBA, the backup array between
  // LastUsableLBA and its header. Elsewhere, partition data could be read as entries (or the reverse).
  const arrayLast = Math.ceil(arrayEnd / sectorSize) - 1;
  const inside = lba === 1 ? arrayLba > lba && arrayLast < first : arrayLba > last && arrayLast < lba;
  if (!inside) {
    const between = lba === 1 ? `header LBA ${lba} and FirstUsableLBA ${first}` : `LastUsableLBA ${last} and header LBA ${lba}`;
    throw new CorruptStructureError(name, at, `entry array at LBA ${arrayLba}..${arrayLast} is not between ${between}`);
  }
  return h;
}

export function decodeGptEntries(array: Uint8Array, header: GptHeader, arrayOffset: number): GptPartition[] {
  const crc = crc32(array);
  if (crc !== header.partitionEntryArrayCrc32) {
    throw new CorruptStructureError('GPT partition entry array', arrayOffset,
      `CRC-32 is 0x${header.partitionEntryArrayCrc32.toString(16)}, computed 0x${crc.toString(16)}`);
  }
  const out: GptPartition[] = [];
  for (let i = 0; i < header.numberOfPartitionEntries; i++) {
    const e = GptEntry.decode(array, i * GPT_ENTRY_SIZE);
    if (e.partitionTypeGuid === NIL_GUID) continue;
    const at = arrayOffset + i * GPT_ENTRY_SIZE;
    const start = toSafe(e.startingLba, 'GPT partition entry', at, 'StartingLBA');
    const end = toSafe(e.endingLba, 'GPT partition entry', at, 'EndingLBA');
    if (start > end || start < header.firstUsableLba || end > header.lastUsableLba) {
      throw new CorruptStructureError('GPT partition entry', at,
        `partition ${i + 1} spans LBA ${start}..${end}, outside the usable ${header.firstUsableLba}..${header.lastUsableLba}`,
        { partition: i + 1 });
    }
    out.push({ index: i + 1, typeGuid: e.partitionTypeGuid, uniqueGuid: e.uniquePartitionGuid, startLba: start,
      endLba: end, attributes: e.attributes, name: e.partitionName });
  }
  return out;
}

async function readCopy(device: ReadableDevice, lba: number): Promise<Omit<Gpt, 'source' | 'warnings'>> {
  const s = device.sectorSize;
  const sectors = Math.floor(device.size / s);
  const header = decodeGptHeader(await device.read(lba * s, s), lba, s, sectors);
  const arrayOffset = Number(header.partitionEntryLba) * s;
  const array = await device.read(arrayOffset, header.numberOfPartitionEntries * GPT_ENTRY_SIZE);
  return { header, partitions: decodeGptEntries(array, header, arrayOffset) };
}

/** Read the primary GPT, else the backup in the last LBA; throws only when both are unusable. */
export async function readGpt(device: ReadableDevice): Promise<Gpt> {
  const lastLba = Math.floor(device.size / device.sectorSize) - 1;
  let primaryError: unknown;
  try {
    const primary = await readCopy(device, 1);
    const warnings: string[] = [];
    try {
      await readCopy(device, lastLba);
    } catch (e) {
      warnings.push(`backup GPT unusable: ${(e as Error).message}`);
    }
    return { ...primary, source: 'primary', warnings };
  } catch (e) {
    if (!(e instanceof CorruptStructureError)) throw e;
    primaryError = e;
  }
  try {
    const backup = await readCopy(device, lastLba);
    return { ...backup, source: 'backup', warnings: [`primary GPT unusable, using the backup: ${(primaryError as Error).message}`] };
  } catch (e) {
    if (!(e instanceof CorruptStructureError)) throw e;
    throw new CorruptStructureError('GPT', device.sectorSize,
      `neither copy is usable. Primary: ${(primaryError as Error).message}. Backup: ${e.message}`);
  }
}

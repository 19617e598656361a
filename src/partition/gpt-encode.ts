/**
 * Writing GUID partition tables (boot-and-bcd.md 2.1–2.5): the entry array, the primary header
 * in LBA 1 and the backup header in the last LBA of a disk of a given size, so a restore to a
 * larger or smaller disk moves the backup structures to its end. Everything produced is decoded
 * again by `decodeGptHeader`/`decodeGptEntries` and compared before it is returned.
 */
import { crc32 } from 'node:zlib';
import { formatGuid, NIL_GUID, parseGuid } from '../binary/guid.ts';
import { CorruptStructureError, UsageError } from '../errors.ts';
import type { WritableDevice } from '../device/block-device.ts';
import {
  decodeGptEntries, decodeGptHeader, GPT_ENTRY_SIZE, GPT_SIGNATURE, GptEntry, GptHeader, MAX_GPT_ENTRIES,
  type Gpt, type GptPartition,
} from './gpt.ts';
import { writeAndVerify, type SectorWrite } from './table-write.ts';

export const GPT_REVISION_1_0 = 0x00010000;
export const GPT_HEADER_SIZE = 92;
export const DEFAULT_GPT_ENTRIES = 128;
/** UTF-16 code units in an entry's name field. */
export const GPT_NAME_LENGTH = 36;

export interface GptSpec {
  diskGuid: string;
  /** Kept from the source: sgdisk uses 34 (512-byte sectors), sfdisk aligns it to 1 MiB. */
  firstUsableLba: number;
  /**
   * Default: the largest the disk allows, last LBA − array sectors − 1 (what sgdisk and sfdisk
   * write, and what `sgdisk -e` sets after a disk grew).
   */
  lastUsableLba?: number;
  /** Default 128. */
  numberOfPartitionEntries?: number;
  /** `index` is the 1-based slot in the entry array; other slots stay zero. */
  partitions: readonly GptPartition[];
}

export interface GptTarget {
  sectorSize: number;
  /** The disk's size in sectors: the backup header goes in the last one. */
  diskSectors: number;
}

export interface EncodedGpt extends GptTarget {
  /** The primary header as written (the backup differs in MyLBA, AlternateLBA, PartitionEntryLBA, CRC). */
  header: GptHeader;
  /** One sector each, the header followed by zeros. */
  primaryHeader: Uint8Array;
  backupHeader: Uint8Array;
  /** The entry array padded with zeros to whole sectors; written at both array LBAs. */
  entries: Uint8Array;
  primaryEntriesLba: number;
  backupEntriesLba: number;
  backupHeaderLba: number;
}

/** The spec that re-encodes a decoded GPT; LastUsableLBA is left to follow the target's size. */
export function gptSpec(gpt: Gpt): GptSpec {
  return {
    diskGuid: gpt.header.diskGuid,
    firstUsableLba: Number(gpt.header.firstUsableLba),
    numberOfPartitionEntries: gpt.header.numberOfPartitionEntries,
    partitions: gpt.partitions,
  };
}

const normalGuid = (text: string): string => formatGuid(parseGuid(text));

function checkTarget(t: GptTarget): void {
  if (!Number.isInteger(t.sectorSize) || t.sectorSize < 512 || (t.sectorSize & (t.sectorSize - 1)) !== 0) {
    throw new UsageError(`sector size ${t.sectorSize} is not a power of two from 512`);
  }
  if (!Number.isSafeInteger(t.diskSectors) || t.diskSectors < 1) throw new UsageError(`a disk of ${t.diskSectors} sectors is impossible`);
}

/** Normalised partitions in slot order; throws UsageError naming the partition. */
function checkPartitions(spec: GptSpec, entries: number, first: number, last: number): GptPartition[] {
  const seen = new Map<number, GptPartition>();
  for (const p of spec.partitions) {
    const bad = (why: string) => new UsageError(`GPT partition ${p.index}: ${why}`, { partition: p.index });
    if (!Number.isInteger(p.index) || p.index < 1 || p.index > entries) throw bad(`slot is outside 1..${entries}`);
    if (seen.has(p.index)) throw bad('slot given twice');
    const typeGuid = normalGuid(p.typeGuid);
    if (typeGuid === NIL_GUID) throw bad('the zero type GUID marks an unused entry');
    if (!Number.isSafeInteger(p.startLba) || !Number.isSafeInteger(p.endLba) || p.startLba > p.endLba || p.startLba < first || p.endLba > last) {
      throw bad(`LBA ${p.startLba}..${p.endLba} is outside the usable ${first}..${last}`);
    }
    if (p.attributes < 0n || p.attributes >= 1n << 64n) throw bad(`attributes ${p.attributes} do not fit 64 bits`);
    if (p.name.length > GPT_NAME_LENGTH || p.name.includes('\0')) throw bad(`name ${JSON.stringify(p.name)} is not up to ${GPT_NAME_LENGTH} UTF-16 units without NUL`);
    seen.set(p.index, { index: p.index, typeGuid, uniqueGuid: normalGuid(p.uniqueGuid), startLba: p.startLba, endLba: p.endLba,
      attributes: p.attributes, name: p.name });
  }
  const sorted = [...seen.values()].sort((a, b) => a.startLba - b.startLba);
  for (let i = 1; i < sorted.length; i++) {
    const a = sorted[i - 1]!;
    const b = sorted[i]!;
    if (b.startLba <= a.endLba) throw new UsageError(`GPT partitions ${a.index} and ${b.index} overlap`, { partition: b.index });
  }
  return [...seen.values()].sort((a, b) => a.index - b.index);
}

function headerSector(h: GptHeader, sectorSize: number): Uint8Array {
  const sector = new Uint8Array(sectorSize);
  GptHeader.encodeInto({ ...h, headerCrc32: 0 }, sector);
  const crc = crc32(sector.subarray(0, h.headerSize));
  GptHeader.encodeInto({ ...h, headerCrc32: crc }, sector);
  return sector;
}

/**
 * Encode both copies for a disk of `target.diskSectors`. Fields are computed in this order:
 * array sectors; backup header LBA (last) and backup array LBA (last − array sectors);
 * LastUsableLBA; the entry array and its CRC; the primary header (MyLBA 1, AlternateLBA last,
 * PartitionEntryLBA 2) and its CRC; the backup header (MyLBA and AlternateLBA swapped,
 * PartitionEntryLBA of the backup array, same array CRC) and its CRC.
 */
export function encodeGpt(spec: GptSpec, target: GptTarget): EncodedGpt {
  checkTarget(target);
  const { sectorSize, diskSectors } = target;
  const count = spec.numberOfPartitionEntries ?? DEFAULT_GPT_ENTRIES;
  if (!Number.isInteger(count) || count < 1 || count > MAX_GPT_ENTRIES) {
    throw new UsageError(`${count} partition entries (1..${MAX_GPT_ENTRIES} accepted)`);
  }
  const arraySectors = Math.ceil((count * GPT_ENTRY_SIZE) / sectorSize);
  const backupHeaderLba = diskSectors - 1;
  const backupEntriesLba = backupHeaderLba - arraySectors;
  const maxLastUsable = backupEntriesLba - 1;
  const first = spec.firstUsableLba;
  const last = spec.lastUsableLba ?? maxLastUsable;
  if (!Number.isSafeInteger(first) || first < 2 + arraySectors) {
    throw new UsageError(`FirstUsableLBA ${first} overlaps the primary entry array (LBA 2..${1 + arraySectors})`);
  }
  if (!Number.isSafeInteger(last) || last > maxLastUsable || last < first) {
    throw new UsageError(`LastUsableLBA ${last} must be within ${first}..${maxLastUsable} on a disk of ${diskSectors} sectors`, { diskSectors });
  }
  const partitions = checkPartitions(spec, count, first, last);

  const entries = new Uint8Array(arraySectors * sectorSize);
  for (const p of partitions) {
    GptEntry.encodeInto({
      partitionTypeGuid: p.typeGuid, uniquePartitionGuid: p.uniqueGuid, startingLba: BigInt(p.startLba),
      endingLba: BigInt(p.endLba), attributes: p.attributes, partitionName: p.name,
    }, entries, (p.index - 1) * GPT_ENTRY_SIZE);
  }
  const arrayCrc = crc32(entries.subarray(0, count * GPT_ENTRY_SIZE));
  const header: GptHeader = {
    signature: GPT_SIGNATURE, revision: GPT_REVISION_1_0, headerSize: GPT_HEADER_SIZE, headerCrc32: 0, reserved: 0,
    myLba: 1n, alternateLba: BigInt(backupHeaderLba), firstUsableLba: BigInt(first), lastUsableLba: BigInt(last),
    diskGuid: normalGuid(spec.diskGuid), partitionEntryLba: 2n, numberOfPartitionEntries: count,
    sizeOfPartitionEntry: GPT_ENTRY_SIZE, partitionEntryArrayCrc32: arrayCrc,
  };
  const primaryHeader = headerSector(header, sectorSize);
  const backupHeader = headerSector({ ...header, myLba: BigInt(backupHeaderLba), alternateLba: 1n, partitionEntryLba: BigInt(backupEntriesLba) }, sectorSize);
  const encoded: EncodedGpt = {
    sectorSize, diskSectors, header: GptHeader.decode(primaryHeader), primaryHeader, backupHeader, entries,
    primaryEntriesLba: 2, backupEntriesLba, backupHeaderLba,
  };
  verify(encoded, partitions);
  return encoded;
}

/** Decode both copies with the readers' own checks and compare with what was meant (STYLE.md #7). */
function verify(g: EncodedGpt, partitions: GptPartition[]): void {
  const key = (p: GptPartition) => [p.index, p.typeGuid, p.uniqueGuid, p.startLba, p.endLba, p.attributes, JSON.stringify(p.name)].join(' ');
  const want = partitions.map(key).join(', ');
  for (const [name, lba, sector, arrayLba] of [
    ['GPT primary header (as encoded)', 1, g.primaryHeader, g.primaryEntriesLba],
    ['GPT backup header (as encoded)', g.backupHeaderLba, g.backupHeader, g.backupEntriesLba],
  ] as const) {
    const h = decodeGptHeader(sector, lba, g.sectorSize, g.diskSectors);
    if (h.alternateLba !== BigInt(lba === 1 ? g.backupHeaderLba : 1) || h.partitionEntryLba !== BigInt(arrayLba)) {
      throw new CorruptStructureError(name, lba * g.sectorSize, `AlternateLBA ${h.alternateLba} / PartitionEntryLBA ${h.partitionEntryLba} are not where the copies go`);
    }
    const array = g.entries.subarray(0, h.numberOfPartitionEntries * GPT_ENTRY_SIZE);
    const got = decodeGptEntries(array, h, arrayLba * g.sectorSize).map(key).join(', ');
    if (got !== want) throw new CorruptStructureError(name, lba * g.sectorSize, `entries read back as [${got}], not [${want}]`);
  }
}

/**
 * Write an encoded GPT in the order of boot-and-bcd.md 2.5 — backup array, backup header,
 * primary array, primary header, then the protective MBR if given (its 512 bytes only) — flush,
 * and read every range back. The device must have exactly the encoded size and sector size.
 */
export async function writeGpt(device: WritableDevice, gpt: EncodedGpt, protectiveMbr?: Uint8Array): Promise<void> {
  const s = device.sectorSize;
  if (s !== gpt.sectorSize || Math.floor(device.size / s) !== gpt.diskSectors) {
    throw new UsageError(`GPT encoded for ${gpt.diskSectors} sectors of ${gpt.sectorSize} bytes; ${device.name} has `
      + `${Math.floor(device.size / s)} of ${s}`, { device: device.name });
  }
  const writes: SectorWrite[] = [
    { offset: gpt.backupEntriesLba * s, bytes: gpt.entries, what: 'GPT backup entry array' },
    { offset: gpt.backupHeaderLba * s, bytes: gpt.backupHeader, what: 'GPT backup header' },
    { offset: gpt.primaryEntriesLba * s, bytes: gpt.entries, what: 'GPT primary entry array' },
    { offset: s, bytes: gpt.primaryHeader, what: 'GPT primary header' },
  ];
  if (protectiveMbr) {
    if (protectiveMbr.length !== 512) throw new UsageError(`protective MBR is ${protectiveMbr.length} bytes, not 512`);
    writes.push({ offset: 0, bytes: protectiveMbr, what: 'protective MBR' });
  }
  await writeAndVerify(device, writes);
}

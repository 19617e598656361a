/**
 * Master boot record and extended boot records (shared/reference/boot-and-bcd.md 1.1–1.5).
 * Decoding is pure; `readMbrPartitions` follows the EBR chain through a device.
 */
import { bytes, layout, u16le, u32le, u8, type Decoded } from '../binary/layout.ts';
import { CorruptStructureError } from '../errors.ts';
import type { ReadableDevice } from '../device/block-device.ts';

export const MbrPartitionEntry = layout('MbrPartitionEntry', 16, {
  status: u8(0x00), // 0x80 active, 0x00 inactive
  chsFirst: bytes(0x01, 3),
  type: u8(0x04), // 0x07 NTFS/exFAT, 0x05/0x0f extended, 0xee protective GPT
  chsLast: bytes(0x05, 3),
  firstLba: u32le(0x08), // absolute in the MBR; relative inside an EBR
  sectorCount: u32le(0x0c),
});
export type MbrPartitionEntry = Decoded<typeof MbrPartitionEntry.fields>;

/** The 512-byte structure at the start of LBA 0 (also on 4Kn disks). */
export const MbrSector = layout('MBR', 512, {
  bootCode: bytes(0x000, 440),
  diskSignature: u32le(0x1b8),
  reserved: u16le(0x1bc),
  bootSignature: u16le(0x1fe), // 0xaa55 (bytes 55 AA)
});

export const MBR_ENTRY_OFFSET = 0x1be;
export const BOOT_SIGNATURE = 0xaa55;
export const TYPE_EXTENDED = new Set([0x05, 0x0f, 0x85]);
export const TYPE_PROTECTIVE_GPT = 0xee;
/** A longer chain than this is treated as a loop or garbage: real disks have a few dozen at most. */
export const MAX_LOGICAL_PARTITIONS = 128;

export interface Mbr {
  bootCode: Uint8Array;
  diskSignature: number;
  /** The four slots as stored, empty ones included. */
  entries: MbrPartitionEntry[];
}

export function hasBootSignature(sector: Uint8Array): boolean {
  return sector.length >= 512 && sector[0x1fe] === 0x55 && sector[0x1ff] === 0xaa;
}

export function decodeMbr(sector: Uint8Array, at = 0): Mbr {
  const head = MbrSector.decode(sector, at);
  if (head.bootSignature !== BOOT_SIGNATURE) {
    throw new CorruptStructureError('MBR', at, `boot signature is 0x${head.bootSignature.toString(16)}, not 0xaa55`);
  }
  const entries = [0, 1, 2, 3].map((i) => MbrPartitionEntry.decode(sector, at + MBR_ENTRY_OFFSET + 16 * i));
  entries.forEach((e, i) => {
    if (e.status !== 0 && e.status !== 0x80) {
      throw new CorruptStructureError('MBR', at + MBR_ENTRY_OFFSET + 16 * i,
        `partition entry ${i + 1} has status 0x${e.status.toString(16)} (only 0x00 and 0x80 are valid)`);
    }
  });
  return { bootCode: head.bootCode, diskSignature: head.diskSignature, entries };
}

export function encodeMbr(mbr: Mbr, into = new Uint8Array(512)): Uint8Array {
  MbrSector.encodeInto({ bootCode: mbr.bootCode, diskSignature: mbr.diskSignature, reserved: 0, bootSignature: BOOT_SIGNATURE }, into);
  mbr.entries.forEach((e, i) => MbrPartitionEntry.encodeInto(e, into, MBR_ENTRY_OFFSET + 16 * i));
  return into;
}

export const isEmptyEntry = (e: MbrPartitionEntry): boolean => e.type === 0 || e.sectorCount === 0;

export function isProtectiveMbr(mbr: Mbr): boolean {
  return mbr.entries.some((e) => e.type === TYPE_PROTECTIVE_GPT);
}

export interface MbrPartition {
  /** 1–4 for primary slots, 5 onwards for logical partitions in chain order (Linux numbering). */
  index: number;
  startLba: number;
  sectorCount: number;
  type: number;
  active: boolean;
  logical: boolean;
  /** Where its entry is stored: the byte offset of the MBR or EBR sector. */
  tableOffset: number;
}

export interface MbrLayout {
  mbr: Mbr;
  partitions: MbrPartition[];
  /** The extended partition container itself, when present (not a volume). */
  extended?: { index: number; startLba: number; sectorCount: number };
}

export async function readMbrLayout(device: ReadableDevice, mbr?: Mbr): Promise<MbrLayout> {
  const sector = device.sectorSize;
  mbr ??= decodeMbr(await device.read(0, 512));
  const partitions: MbrPartition[] = [];
  let extended: MbrLayout['extended'];
  mbr.entries.forEach((e, i) => {
    if (isEmptyEntry(e)) return;
    if (TYPE_EXTENDED.has(e.type)) {
      if (extended) throw new CorruptStructureError('MBR', 0, `entries ${extended.index} and ${i + 1} are both extended partitions`);
      extended = { index: i + 1, startLba: e.firstLba, sectorCount: e.sectorCount };
      return;
    }
    partitions.push({ index: i + 1, startLba: e.firstLba, sectorCount: e.sectorCount, type: e.type,
      active: e.status === 0x80, logical: false, tableOffset: 0 });
  });
  if (extended) partitions.push(...await readLogicalPartitions(device, extended.startLba, extended.sectorCount, sector));
  for (const p of partitions) {
    const end = (p.startLba + p.sectorCount) * sector;
    if (end > device.size) {
      throw new CorruptStructureError(p.logical ? 'EBR' : 'MBR', p.tableOffset,
        `partition ${p.index} ends at byte ${end}, past the end of ${device.name} (${device.size} bytes)`,
        { partition: p.index });
    }
  }
  return extended ? { mbr, partitions, extended } : { mbr, partitions };
}

async function readLogicalPartitions(device: ReadableDevice, extStart: number, extCount: number, sector: number): Promise<MbrPartition[]> {
  const out: MbrPartition[] = [];
  const seen = new Set<number>();
  let ebrLba = extStart;
  while (true) {
    if (seen.has(ebrLba)) throw new CorruptStructureError('EBR', ebrLba * sector, 'the EBR chain loops back on itself');
    if (seen.size >= MAX_LOGICAL_PARTITIONS) {
      throw new CorruptStructureError('EBR', ebrLba * sector, `more than ${MAX_LOGICAL_PARTITIONS} logical partitions`);
    }
    if (ebrLba < extStart || ebrLba >= extStart + extCount || (ebrLba + 1) * sector > device.size) {
      throw new CorruptStructureError('EBR', ebrLba * sector, 'EBR lies outside the extended partition');
    }
    seen.add(ebrLba);
    const ebr = decodeMbr(await device.read(ebrLba * sector, 512), 0);
    const [logical, link] = ebr.entries as [MbrPartitionEntry, MbrPartitionEntry];
    if (!isEmptyEntry(logical)) {
      out.push({ index: 5 + out.length, startLba: ebrLba + logical.firstLba, sectorCount: logical.sectorCount,
        type: logical.type, active: logical.status === 0x80, logical: true, tableOffset: ebrLba * sector });
    }
    if (isEmptyEntry(link)) return out;
    ebrLba = extStart + link.firstLba;
  }
}

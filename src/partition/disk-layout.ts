/**
 * The partition layout of a disk, whatever its scheme: the one model MBR and GPT both decode
 * into, and that inspect, backup and restore work from.
 */
import type { ReadableDevice } from '../device/block-device.ts';
import { decodeMbr, hasBootSignature, isProtectiveMbr, readMbrLayout } from './mbr.ts';
import { readGpt } from './gpt.ts';
import { GPT_TYPE, gptTypeName, mbrTypeName } from './types.ts';
import { probeBytes, type FilesystemKind } from '../fs/probe.ts';

/** Filesystems whose boot sector can sit in LBA 0 of a device that has no partition table. */
const VOLUME_KINDS = new Set<FilesystemKind>(['ntfs', 'fat12', 'fat16', 'fat32', 'exfat', 'bitlocker', 'refs']);

export type PartitionScheme = 'mbr' | 'gpt' | 'none';

export interface Partition {
  /** MBR: 1–4 primary, 5+ logical. GPT: slot number in the entry array. */
  index: number;
  /** Byte offset and length on the disk. */
  offset: number;
  size: number;
  startLba: number;
  sectorCount: number;
  /** MBR type byte as two hex digits, or the GPT type GUID. */
  type: string;
  typeName: string;
  /** MBR only. */
  active?: boolean;
  logical?: boolean;
  /** MBR: byte offset of the sector holding this partition's entry (0 for the MBR, else its EBR). */
  tableOffset?: number;
  /** GPT only. */
  guid?: string;
  name?: string;
  attributes?: bigint;
}

export interface DiskLayout {
  scheme: PartitionScheme;
  diskSize: number;
  sectorSize: number;
  /** MBR disk signature as 8 hex digits, or the GPT disk GUID. */
  diskId?: string;
  partitions: Partition[];
  /** MBR: the extended partition container (not a volume), when there is one. */
  extended?: { index: number; offset: number; size: number };
  /** Not fatal, but worth telling: a damaged backup GPT, a primary replaced by its backup. */
  warnings: string[];
}

export async function readDiskLayout(device: ReadableDevice): Promise<DiskLayout> {
  const s = device.sectorSize;
  const base = { diskSize: device.size, sectorSize: s };
  if (device.size < 512) return { ...base, scheme: 'none', partitions: [], warnings: [] };
  const lba0 = await device.read(0, 512);
  if (!hasBootSignature(lba0)) return { ...base, scheme: 'none', partitions: [], warnings: [] };
  // A volume without a partition table (a partition's own image, a "superfloppy" stick) also ends
  // its first sector with 55 AA; its boot code is not a partition table and must not be read as one.
  const volume = probeBytes(await device.read(0, Math.min(8192, device.size)));
  if (VOLUME_KINDS.has(volume)) {
    return {
      ...base, scheme: 'none', warnings: [],
      partitions: [{
        index: 1, startLba: 0, sectorCount: Math.floor(device.size / s), offset: 0, size: Math.floor(device.size / s) * s,
        type: 'volume', typeName: 'whole device (no partition table)',
      }],
    };
  }
  const mbr = decodeMbr(lba0);
  if (isProtectiveMbr(mbr)) {
    const gpt = await readGpt(device);
    return {
      ...base, scheme: 'gpt', diskId: gpt.header.diskGuid, warnings: gpt.warnings,
      partitions: gpt.partitions.map((p) => ({
        index: p.index, startLba: p.startLba, sectorCount: p.endLba - p.startLba + 1,
        offset: p.startLba * s, size: (p.endLba - p.startLba + 1) * s,
        type: p.typeGuid, typeName: gptTypeName(p.typeGuid), guid: p.uniqueGuid, name: p.name, attributes: p.attributes,
      })),
    };
  }
  const layout = await readMbrLayout(device, mbr);
  const ext = layout.extended;
  return {
    ...base, scheme: 'mbr', diskId: mbr.diskSignature.toString(16).padStart(8, '0'), warnings: [],
    ...(ext ? { extended: { index: ext.index, offset: ext.startLba * s, size: ext.sectorCount * s } } : {}),
    partitions: layout.partitions.map((p) => ({
      index: p.index, startLba: p.startLba, sectorCount: p.sectorCount, offset: p.startLba * s, size: p.sectorCount * s,
      type: p.type.toString(16).padStart(2, '0'), typeName: mbrTypeName(p.type), active: p.active, logical: p.logical,
      tableOffset: p.tableOffset,
    })),
  };
}

/** Partitions whose type marks them as opaque containers: dynamic disks and Storage Spaces. */
export function containerKind(p: Partition): 'ldm' | 'storage-spaces' | undefined {
  if (p.type === '42' || p.type === GPT_TYPE.ldmMetadata || p.type === GPT_TYPE.ldmData) return 'ldm';
  if (p.type === GPT_TYPE.storageSpaces) return 'storage-spaces';
  return undefined;
}

/**
 * Bytes a GPT keeps past its last partition for the backup entry array and header (the last
 * 33 sectors of a 512-byte disk; the same count of sectors is reserved on 4Kn); 0 for MBR.
 */
export function gptBackupBytes(layout: Pick<DiskLayout, 'scheme' | 'sectorSize'>): number {
  return layout.scheme === 'gpt' ? 33 * layout.sectorSize : 0;
}

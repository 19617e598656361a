/**
 * What a backup will read (DESIGN.md, Modes of backup): per partition, the byte ranges of the
 * disk to store and why, plus the partition-table areas. Computed before anything is written,
 * so the front ends can show sizes, exclusions and fallbacks first.
 */
import type { ReadableDevice } from '../device/block-device.ts';
import { partitionDevice } from '../device/partition-device.ts';
import { LifeboatError, UsageError } from '../errors.ts';
import { ExtentList } from '../fs/extents.ts';
import { openFilesystem } from '../fs/open-filesystem.ts';
import { probeFilesystem, type FilesystemKind } from '../fs/probe.ts';
import { diffAreaFiles, excludedFiles, type SpecialFile } from '../fs/windows-files.ts';
import { containerKind, gptBackupBytes, readDiskLayout, type DiskLayout, type Partition } from '../partition/disk-layout.ts';

export type BackupMode = 'intelligent' | 'sector' | 'forensic';
export const BACKUP_MODES: readonly BackupMode[] = ['intelligent', 'sector', 'forensic'];

export interface PlanOptions {
  mode: BackupMode;
  /** Partition indices to back up; undefined = every partition (a whole-disk backup). */
  partitions?: number[];
  /** Leave the VSS store files' data out (their records stay; restored, they read as zeros). */
  excludeDiffArea?: boolean;
}

export interface PartitionPlan {
  partition: Partition;
  filesystem: FilesystemKind | 'ldm' | 'storage-spaces';
  label?: string;
  clusterSize?: number;
  usedBytes?: number;
  /** How this partition is read: by its allocation, or every sector. */
  mode: 'intelligent' | 'sector';
  /** Why an intelligent backup reads every sector of this partition. */
  fallbackReason?: string;
  /** Disk byte ranges to store. */
  extents: ExtentList;
  excludedFiles: SpecialFile[];
  diffArea: { files: SpecialFile[]; bytes: number; excluded: boolean };
  /** Bytes left out: excluded files' (and, if asked, the diff area's) allocated clusters. */
  leftOutBytes: number;
}

export interface BackupPlan {
  mode: BackupMode;
  source: { name: string; size: number; sectorSize: number };
  layout: DiskLayout;
  partitions: PartitionPlan[];
  /** Partition-table areas: the first MiB, EBRs, the GPT backup area. */
  tableExtents: ExtentList;
  /** The GPT backup entry array and header (from past the last partition to the disk end). */
  gptBackupArea?: { start: number; length: number };
  /** Everything the image will hold, sorted. */
  storedExtents: ExtentList;
  warnings: string[];
}

const MIB = 1 << 20;

function gptBackupArea(layout: DiskLayout, size: number): { start: number; length: number } | undefined {
  if (layout.scheme !== 'gpt') return undefined;
  // The backup entry array and header sit at the disk's end (gptBackupBytes), past the last partition.
  const lastEnd = Math.max(0, ...layout.partitions.map((p) => p.offset + p.size));
  const start = Math.max(lastEnd, size - gptBackupBytes(layout));
  return { start, length: size - start };
}

/** MBR/GPT structures and the gap before the first partition (boot loaders live there). */
function tableExtents(layout: DiskLayout, size: number): ExtentList {
  const ranges = [{ start: 0, length: Math.min(MIB, size) }];
  for (const p of layout.partitions) {
    if (p.tableOffset) ranges.push({ start: p.tableOffset, length: layout.sectorSize });
  }
  const backup = gptBackupArea(layout, size);
  if (backup) ranges.push(backup);
  return ExtentList.of(ranges).clip(size);
}

async function planPartition(device: ReadableDevice, partition: Partition, options: PlanOptions): Promise<PartitionPlan> {
  const whole = ExtentList.of([{ start: partition.offset, length: partition.size }]);
  const container = containerKind(partition);
  const base = {
    partition, excludedFiles: [] as SpecialFile[], diffArea: { files: [] as SpecialFile[], bytes: 0, excluded: false }, leftOutBytes: 0,
  };
  if (container) {
    return { ...base, filesystem: container, mode: 'sector', extents: whole,
      fallbackReason: `${container === 'ldm' ? 'dynamic-disk (LDM)' : 'Storage Spaces'} partitions are copied sector by sector` };
  }
  const volume = partitionDevice(device, partition.offset, partition.size, `${device.name} partition ${partition.index}`);
  const filesystem = await probeFilesystem(volume);
  let fs;
  try {
    fs = await openFilesystem(volume, filesystem);
  } catch (e) {
    if (!(e instanceof LifeboatError)) throw e;
    return { ...base, filesystem, mode: 'sector', extents: whole,
      fallbackReason: `the ${filesystem} filesystem is damaged (${e.message}); every sector is copied` };
  }
  if (!fs) {
    const why = filesystem === 'bitlocker' ? 'BitLocker-encrypted volumes cannot be read for their allocation'
      : filesystem === 'unknown' ? 'the filesystem is not recognised' : `${filesystem} volumes are not read for their allocation`;
    return { ...base, filesystem, mode: 'sector', extents: whole, fallbackReason: `${why}; every sector is copied` };
  }
  const facts = { filesystem, label: fs.label, clusterSize: fs.clusterSize, usedBytes: (await fs.usedClusters()) * fs.clusterSize };
  try {
    const excluded = await excludedFiles(fs);
    const diff = await diffAreaFiles(fs);
    let leftOut = ExtentList.empty;
    for (const f of excluded) leftOut = leftOut.union(await fs.fileExtents(f.path));
    if (options.excludeDiffArea) for (const f of diff) leftOut = leftOut.union(await fs.fileExtents(f.path));
    const kept = options.mode === 'intelligent'
      ? (await fs.allocationMap())
      : ExtentList.of([{ start: 0, length: partition.size }]);
    const extents = kept.subtract(leftOut).shift(partition.offset);
    return {
      ...base, ...facts, mode: options.mode === 'intelligent' ? 'intelligent' : 'sector', extents,
      excludedFiles: excluded,
      diffArea: { files: diff, bytes: diff.reduce((s, f) => s + f.size, 0), excluded: Boolean(options.excludeDiffArea) },
      leftOutBytes: kept.intersect(leftOut).bytes,
    };
  } catch (e) {
    if (!(e instanceof LifeboatError)) throw e;
    return { ...base, ...facts, mode: 'sector', extents: whole,
      fallbackReason: `reading the ${filesystem} filesystem failed (${e.message}); every sector is copied` };
  }
}

export async function planBackup(device: ReadableDevice, options: PlanOptions): Promise<BackupPlan> {
  const layout = await readDiskLayout(device);
  const source = { name: device.name, size: device.size, sectorSize: device.sectorSize };
  if (options.mode === 'forensic') {
    if (options.partitions) throw new UsageError('a forensic image covers the whole device; partitions cannot be chosen');
    const all = ExtentList.of([{ start: 0, length: device.size }]);
    return { mode: 'forensic', source, layout, partitions: [], tableExtents: all, storedExtents: all, warnings: [] };
  }
  const wanted = options.partitions ?? layout.partitions.map((p) => p.index);
  for (const index of wanted) {
    if (!layout.partitions.some((p) => p.index === index)) {
      throw new UsageError(`${device.name} has no partition ${index} (it has ${layout.partitions.map((p) => p.index).join(', ') || 'none'})`, { index });
    }
  }
  const partitions: PartitionPlan[] = [];
  for (const p of layout.partitions.filter((q) => wanted.includes(q.index))) partitions.push(await planPartition(device, p, options));
  const tables = tableExtents(layout, device.size);
  const backupArea = gptBackupArea(layout, device.size);
  const extra = backupArea ? { gptBackupArea: backupArea } : {};
  const stored = partitions.reduce((acc, p) => acc.union(p.extents), tables);
  const warnings = [...layout.warnings];
  for (const p of partitions) if (p.fallbackReason && options.mode === 'intelligent') warnings.push(`partition ${p.partition.index}: ${p.fallbackReason}`);
  if (layout.scheme === 'none' && !options.partitions) {
    warnings.push('no partition table: the whole device is copied sector by sector');
    const all = ExtentList.of([{ start: 0, length: device.size }]);
    return { mode: options.mode, source, layout, partitions, tableExtents: tables, ...extra, storedExtents: all, warnings };
  }
  return { mode: options.mode, source, layout, partitions, tableExtents: tables, ...extra, storedExtents: stored, warnings };
}

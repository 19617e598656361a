/**
 * The restore plan: which image bytes go where on the target, checked against the safety rules
 * of DESIGN.md before anything is written. It is data — the CLI prints it (`--dry-run`), the
 * TUI shows it, and `runRestore` carries out exactly it.
 *
 * A whole disk goes onto a target of the same size, a larger one (the Windows volume grows,
 * trailing partitions move to the end) or a smaller one (the Windows volume shrinks when all
 * its allocated clusters lie below its new end); old 63-sector layouts can be realigned to
 * 1 MiB. One partition can go into an existing partition of the target at any offset.
 */
import { realpathSync } from 'node:fs';
import type { ReadableDevice } from '../device/block-device.ts';
import { UsageError } from '../errors.ts';
import { RestoreRefusedError } from './plan-errors.ts';
import { fitLayout, isMisaligned, resizablePartition, type FittedLayout } from './layout.ts';
import { ExtentList } from '../fs/extents.ts';
import { partitionDevice } from '../device/partition-device.ts';
import { ntfsShrinkLimit, planNtfsShrink } from '../fs/ntfs/shrink.ts';
import { planNtfsGrow } from '../fs/ntfs/grow.ts';
import { zeroExtendedDevice } from '../device/zero-extended-device.ts';
import { LifeboatError } from '../errors.ts';
import { planSectorSizeChange, SectorSizeRefusedError } from '../fs/sector-size.ts';
import { gptBackupBytes, readDiskLayout, type DiskLayout } from '../partition/disk-layout.ts';
import type { ImageReader } from '../image/reader.ts';

export interface ImagePartition {
  index: number;
  clusterSize?: number;
  offset: number;
  size: number;
  filesystem: string;
  label?: string;
  mode: string;
  storedBytes: number;
  excludedFiles: Array<{ path: string; size: number; allocated: number }>;
}

export interface RestorePartitionPlan {
  index: number;
  filesystem: string;
  label?: string;
  from: { offset: number; size: number };
  /** `table`: byte offset of the EBR that describes a logical partition. */
  to: { offset: number; size: number; index: number; table?: number };
  /** Image bytes written into this partition, and where on the target. */
  bytes: number;
  extents: ExtentList;
  /** The filesystem is resized to the new partition size. */
  resize?: 'grow' | 'shrink';
  /** Excluded files whose first cluster is zeroed after the copy. */
  excludedFiles: string[];
}

export interface RestorePlan {
  kind: 'disk' | 'partition';
  image: { path: string; mode: string; sourceName: string; sourceSize: number; sectorSize: number; scheme: string };
  target: { name: string; size: number; sectorSize: number };
  partitions: RestorePartitionPlan[];
  /** Disk byte ranges of the target that receive image data (tables excluded: written last). */
  dataExtents: ExtentList;
  /** Byte ranges of the target holding partition tables, rewritten at the end of a disk restore. */
  tableExtents: ExtentList;
  /** Bytes the target needs, and has. */
  needed: number;
  available: number;
  zeroFree: boolean;
  /** Give the restored disk a new identity (MBR signature, or GPT disk and partition GUIDs). */
  newDiskId: boolean;
  /** Partitions move or change size: the partition table is re-encoded, not copied. */
  relayout: boolean;
  /** MBR: the extended partition as it is written (re-encoded layouts). */
  extended?: FittedLayout['extended'];
  /** The target's logical sector size differs: these partitions' volumes are re-expressed in it. */
  sectorSizeChange?: { from: number; to: number; partitions: number[] };
  warnings: string[];
}

export interface RestoreOptions {
  /** Restore this image partition only, into `targetPartition` of the target's own layout. */
  partition?: number;
  targetPartition?: number;
  /** Write zeros where the image holds nothing, inside the restored partitions. */
  zeroFree?: boolean;
  /** Whole-disk restore to another size: move trailing partitions and resize the Windows volume (default true). */
  resize?: boolean;
  /** New MBR signature or GPT disk/partition GUIDs (whole-disk restore only). */
  newDiskId?: boolean;
  /** Move partitions not starting on a 1 MiB boundary (old 63-sector layouts) up to the next one. */
  realign?: boolean;
  /** Paths of the image's files and of the boot medium: a target that is one of them is refused. */
  protectedPaths?: string[];
}

export { RestoreRefusedError };

interface ImageSummary {
  partitions: ImagePartition[];
  layout: DiskLayout;
}

const canonical = (path: string): string => {
  try {
    return realpathSync(path);
  } catch {
    return path; // not a path on this machine (a device name): compare as given
  }
};

async function summarise(reader: ImageReader): Promise<ImageSummary> {
  const layout = await readDiskLayout(reader.device());
  const partitions = (reader.metadata.partitions as ImagePartition[] | undefined) ?? [];
  return { partitions, layout };
}

function gptTail(layout: DiskLayout, size: number): { start: number; length: number } | undefined {
  const length = gptBackupBytes(layout);
  return length > 0 ? { start: size - length, length } : undefined;
}

export async function planRestore(reader: ImageReader, target: ReadableDevice, options: RestoreOptions = {}): Promise<RestorePlan> {
  const meta = reader.metadata;
  const source = meta.source;
  const image = {
    path: reader.path, mode: meta.mode, sourceName: source.name, sourceSize: source.size, sectorSize: source.sectorSize,
    scheme: source.scheme ?? 'none',
  };
  const targetInfo = { name: target.name, size: target.size, sectorSize: target.sectorSize };
  const imagePaths = reader.parts.map((p) => canonical(p.path));
  for (const path of [...imagePaths, ...(options.protectedPaths ?? []).map(canonical)]) {
    if (canonical(target.name) === path) {
      throw new RestoreRefusedError(`the target ${target.name} is ${imagePaths.includes(path) ? 'the image being restored' : 'the boot medium'}; choose another disk`, { target: target.name });
    }
  }
  if (!reader.complete) throw new RestoreRefusedError(`${reader.path} is incomplete (${reader.problems[0] ?? 'no footer'}); restore refuses to write part of a disk`);
  const summary = await summarise(reader);
  const stored = ExtentList.of(meta.storedExtents.map(([start, length]) => ({ start, length })));
  const warnings: string[] = [];

  if (options.partition !== undefined && options.newDiskId) {
    throw new UsageError('a new disk identity is given to a whole disk; restoring one partition keeps the target disk\'s own');
  }
  if (options.partition !== undefined && options.realign) {
    throw new UsageError('realigning moves the partitions of a whole disk; restoring one partition keeps the target\'s partitions where they are');
  }
  if (options.partition !== undefined) return planPartitionRestore(reader, target, options, summary, stored, image, targetInfo);

  const layout = summary.layout;
  const filesystems = new Map(summary.partitions.map((p) => [p.index, { filesystem: p.filesystem }]));
  const resize = options.resize ?? true;
  const realign = Boolean(options.realign);
  if (realign && !isMisaligned(layout)) warnings.push('every partition already starts on a 1 MiB boundary; nothing to realign');
  const windows = resize ? resizablePartition(layout, filesystems) : undefined;
  const view = (p: { offset: number; size: number; index: number }) => partitionDevice(reader.device(), p.offset, p.size, `${reader.path} partition ${p.index}`);
  // Where the Windows volume's data ends decides how far it can shrink: read it from the image.
  const mayShrink = windows && (target.size < source.size || realign);
  const minimumSize = mayShrink ? (await ntfsShrinkLimit(view(windows))).minimumSize : undefined;
  const converting = target.sectorSize !== source.sectorSize;
  // The GPT's backup area is counted in the target's sectors.
  const fitted = fitLayout({ layout: { ...layout, sectorSize: target.sectorSize }, filesystems, sourceSize: source.size, targetSize: target.size, resize, realign,
    ...(minimumSize !== undefined ? { minimumSize } : {}) });
  const moves = fitted.moves;
  if (converting && moves.some((m) => m.resize === 'shrink')) {
    const asIs = Math.max(...layout.partitions.map((p) => p.offset + p.size)) + gptBackupBytes({ scheme: layout.scheme, sectorSize: target.sectorSize });
    throw new RestoreRefusedError(`${target.name} has ${target.sectorSize}-byte sectors and the image ${source.sectorSize}-byte ones; a volume cannot be shrunk ` +
      `while its sector size changes: restore to a disk of at least ${asIs} bytes`, { needed: asIs, available: target.size });
  }
  for (const m of moves.filter((x) => x.resize)) {
    // Every refusal of the resizer (dirty volume, journal to replay, clusters in use past the
    // new end, …) comes now, from the image, before anything is written to the target.
    const volume = view({ ...m.from, index: m.index });
    try {
      if (m.resize === 'shrink') await planNtfsShrink(volume, m.to.size);
      else await planNtfsGrow(zeroExtendedDevice(volume, m.to.size), m.to.size);
    } catch (e) {
      if (!(e instanceof LifeboatError)) throw e;
      throw new RestoreRefusedError(`partition ${m.index} cannot ${m.resize} to ${m.to.size} bytes: ${e.message}`, { partition: m.index, ...e.data });
    }
  }
  const lastEnd = Math.max(0, ...moves.map((m) => m.to.offset + m.to.size));
  const needed = meta.mode === 'forensic' && layout.scheme === 'none' ? source.size : lastEnd + gptBackupBytes(layout);
  if (target.size < needed) {
    throw new RestoreRefusedError(`${target.name} is too small: the image needs ${needed} bytes, the target has ${target.size}`, { needed, available: target.size });
  }
  const moved = moves.some((m) => m.to.offset !== m.from.offset || m.to.size !== m.from.size);
  const sectorSizeChange = converting
    ? await planSectorSizes(reader, moves, summary.partitions, source.sectorSize, target, fitted.extended)
    : undefined;
  if (sectorSizeChange) warnings.push(sectorSizeWarning(sectorSizeChange));
  if (target.size < source.size) warnings.push(`the target is ${source.size - target.size} bytes smaller than the source`);
  if (target.size > source.size && !moved) warnings.push(`the target is ${target.size - source.size} bytes larger than the source; the extra space stays unallocated`);
  for (const m of moves) {
    if (m.resize) warnings.push(`partition ${m.index} ${m.resize === 'grow' ? 'grows' : 'shrinks'} from ${m.from.size} to ${m.to.size} bytes`);
    else if (m.to.offset !== m.from.offset) warnings.push(`partition ${m.index} moves from byte ${m.from.offset} to ${m.to.offset}`);
  }
  const firstStart = Math.min(source.size, ...layout.partitions.map((p) => p.offset));
  const sourceTables = ExtentList.of([
    { start: 0, length: firstStart },
    ...layout.partitions.filter((p) => p.tableOffset).map((p) => ({ start: p.tableOffset!, length: layout.sectorSize })),
    ...(layout.scheme === 'gpt' ? [{ start: Math.max(0, ...layout.partitions.map((p) => p.offset + p.size)), length: source.size }] : []),
  ]).clip(source.size);
  const partitions: RestorePartitionPlan[] = moves.map((m) => {
    const meta = summary.partitions.find((q) => q.index === m.index);
    // A shrinking volume's allocated clusters all lie below its new end (planNtfsShrink checked); its old tail is not copied.
    const copied = stored.subtract(sourceTables).intersect(ExtentList.of([{ start: m.from.offset, length: Math.min(m.from.size, m.to.size) }]));
    return {
      index: m.index, filesystem: meta?.filesystem ?? 'unknown', ...(meta?.label ? { label: meta.label } : {}),
      from: m.from, to: { ...m.to, index: m.index }, ...(m.resize ? { resize: m.resize } : {}),
      bytes: copied.bytes, extents: copied.shift(m.to.offset - m.from.offset),
      excludedFiles: (meta?.excludedFiles ?? []).map((f) => f.path),
    };
  });
  // Bytes of the source outside every partition but not tables (forensic images of odd disks).
  const loose = stored.subtract(sourceTables).subtract(ExtentList.of(layout.partitions.map((p) => ({ start: p.offset, length: p.size }))));
  const dataExtents = partitions.reduce((acc, p) => acc.union(p.extents), moved ? ExtentList.empty : loose).clip(target.size);
  const tail = gptTail(layout, target.size);
  const targetFirst = Math.min(target.size, ...moves.map((m) => m.to.offset));
  const targetTables = ExtentList.of([
    { start: 0, length: targetFirst },
    ...moves.filter((m) => m.to.table).map((m) => ({ start: m.to.table!, length: layout.sectorSize })),
    ...(tail ? [tail] : []),
  ]);
  return { kind: 'disk', image, target: targetInfo, partitions, dataExtents, tableExtents: targetTables, needed, available: target.size,
    zeroFree: Boolean(options.zeroFree), newDiskId: Boolean(options.newDiskId), relayout: moved || converting,
    ...(fitted.extended ? { extended: fitted.extended } : {}), ...(sectorSizeChange ? { sectorSizeChange } : {}), warnings };
}

async function planPartitionRestore(reader: ImageReader, target: ReadableDevice, options: RestoreOptions, summary: ImageSummary,
  stored: ExtentList, image: RestorePlan['image'], targetInfo: RestorePlan['target']): Promise<RestorePlan> {
  const from = summary.layout.partitions.find((p) => p.index === options.partition);
  if (!from) {
    throw new UsageError(`the image has no partition ${options.partition} (it has ${summary.layout.partitions.map((p) => p.index).join(', ') || 'none'})`);
  }
  const targetLayout = await readDiskLayout(target);
  const wanted = options.targetPartition ?? options.partition!;
  const to = targetLayout.partitions.find((p) => p.index === wanted);
  if (!to) {
    throw new RestoreRefusedError(`${target.name} has no partition ${wanted} to restore into (it has ${targetLayout.partitions.map((p) => p.index).join(', ') || 'none'})`);
  }
  const inPartition = stored.intersect(ExtentList.of([{ start: from.offset, length: from.size }]));
  if (to.size < from.size) {
    throw new RestoreRefusedError(`partition ${to.index} of ${target.name} is too small: image partition ${from.index} needs ${from.size} bytes, the target partition has ${to.size}`,
      { needed: from.size, available: to.size });
  }
  const m = summary.partitions.find((q) => q.index === from.index);
  const dataExtents = inPartition.shift(to.offset - from.offset);
  const sectorSizeChange = target.sectorSize !== image.sectorSize
    ? await planSectorSizes(reader, [{ index: from.index, from, to }], summary.partitions, image.sectorSize, target)
    : undefined;
  const warnings: string[] = to.size > from.size ? [`partition ${to.index} is ${to.size - from.size} bytes larger than the image's; the filesystem keeps its size`] : [];
  if (sectorSizeChange) warnings.push(sectorSizeWarning(sectorSizeChange));
  return {
    kind: 'partition', image, target: targetInfo,
    partitions: [{
      index: from.index, filesystem: m?.filesystem ?? 'unknown', ...(m?.label ? { label: m.label } : {}),
      from: { offset: from.offset, size: from.size }, to: { offset: to.offset, size: to.size, index: to.index },
      bytes: dataExtents.bytes, extents: dataExtents, excludedFiles: (m?.excludedFiles ?? []).map((f) => f.path),
    }],
    dataExtents, tableExtents: ExtentList.empty, needed: from.size, available: to.size, zeroFree: Boolean(options.zeroFree), newDiskId: false,
    relayout: false, ...(sectorSizeChange ? { sectorSizeChange } : {}), warnings,
  };
}

/**
 * Restoring across logical sector sizes (512 ↔ 4096): every partition (and EBR) must lie on
 * whole sectors of the target, and each volume must be re-expressible in them
 * (src/fs/sector-size.ts). A partition holding no filesystem and nothing stored (an MSR) needs
 * no rewriting. Returns the partitions whose volumes are rewritten.
 */
async function planSectorSizes(reader: ImageReader, moves: ReadonlyArray<{ index: number; from: { offset: number; size: number }; to: { offset: number; size: number; table?: number } }>,
  partitions: ImagePartition[], from: number, target: ReadableDevice, extended?: { offset: number; size: number }): Promise<{ from: number; to: number; partitions: number[] }> {
  const to = target.sectorSize;
  const misfit = (what: string, bytes: number) => new RestoreRefusedError(`${target.name} has ${to}-byte sectors and the image ${from}-byte ones: ${what} ` +
    `(byte ${bytes}) is not a whole number of ${to}-byte sectors; restore to a disk with ${from}-byte sectors`, { imageSectorSize: from, targetSectorSize: to });
  for (const m of moves) {
    if (m.to.offset % to !== 0) throw misfit(`partition ${m.index} would start at byte ${m.to.offset}`, m.to.offset);
    if (m.to.size % to !== 0) throw misfit(`partition ${m.index} is ${m.to.size} bytes long, which`, m.to.size);
    if (m.to.table !== undefined && m.to.table % to !== 0) throw misfit(`the EBR of partition ${m.index}`, m.to.table);
  }
  if (extended && (extended.offset % to !== 0 || extended.size % to !== 0)) throw misfit('the extended partition', extended.offset);
  const rewritten: number[] = [];
  for (const m of moves) {
    const volume = partitionDevice(reader.device(), m.from.offset, m.from.size, `${reader.path} partition ${m.index}`);
    try {
      const change = await planSectorSizeChange(volume, to);
      if (change.writes.length > 0) rewritten.push(m.index);
    } catch (e) {
      if (!(e instanceof SectorSizeRefusedError)) throw e;
      const meta = partitions.find((p) => p.index === m.index);
      if (e.data.reason === 'unsupported-filesystem' && meta?.storedBytes === 0) continue;
      throw new RestoreRefusedError(`partition ${m.index}: ${e.message}`, { partition: m.index, ...e.data });
    }
  }
  return { from, to, partitions: rewritten };
}

const sectorSizeWarning = (c: { from: number; to: number; partitions: number[] }): string =>
  `the target has ${c.to}-byte sectors, the image ${c.from}-byte ones: ` +
  (c.partitions.length > 0 ? `the volumes of partition(s) ${c.partitions.join(', ')} are rewritten for ${c.to}-byte sectors` : 'no volume needs rewriting');

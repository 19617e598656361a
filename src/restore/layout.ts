/**
 * Where each partition goes on the target (the restore issue's planner cases): partitions
 * before the Windows volume keep their offsets, partitions after it (Recovery, logical data
 * partitions, …) move to the end of the disk in order, 1 MiB aligned, and the Windows volume
 * takes the space between — growing on a larger disk, shrinking on a smaller one when its data
 * ends early enough. On request, partitions that do not start on a 1 MiB boundary (the
 * 63-sector layouts of Windows XP and older partitioners) move up to the next one.
 *
 * Logical partitions move with the EBR in front of them (same distance as before), and the
 * extended partition is recomputed to span them.
 */
import { gptBackupBytes, type DiskLayout, type Partition } from '../partition/disk-layout.ts';
import { RestoreRefusedError } from './plan-errors.ts';

export const ALIGNMENT = 1 << 20;

export interface PartitionMove {
  index: number;
  from: { offset: number; size: number };
  /** `table`: byte offset of the EBR describing a logical partition. */
  to: { offset: number; size: number; table?: number };
  resize?: 'grow' | 'shrink';
}

export interface FitInput {
  layout: DiskLayout;
  /** Image metadata per partition: the filesystem decides which volume may be resized. */
  filesystems: ReadonlyMap<number, { filesystem: string }>;
  sourceSize: number;
  targetSize: number;
  /** false: keep every size (and offset, unless realigning); a larger disk's extra space stays free. */
  resize: boolean;
  /** Move partitions that do not start on a 1 MiB boundary up to the next one. */
  realign: boolean;
  /** The smallest size the resizable partition may shrink to (its volume's data end); absent: it cannot shrink. */
  minimumSize?: number;
}

export interface FittedLayout {
  moves: PartitionMove[];
  /** MBR: the extended partition as it must be written (absent when the disk has none). */
  extended?: { index: number; offset: number; size: number };
}

const alignDown = (x: number) => Math.floor(x / ALIGNMENT) * ALIGNMENT;
const alignUp = (x: number) => Math.ceil(x / ALIGNMENT) * ALIGNMENT;
const end = (p: { offset: number; size: number }) => p.offset + p.size;

/** The partition that grows or shrinks: the largest NTFS volume (Windows' own, in practice). */
export function resizablePartition(layout: DiskLayout, filesystems: FitInput['filesystems']): Partition | undefined {
  const ntfs = layout.partitions.filter((p) => filesystems.get(p.index)?.filesystem === 'ntfs');
  return ntfs.sort((a, b) => b.size - a.size)[0];
}

export function isMisaligned(layout: DiskLayout): boolean {
  return layout.partitions.some((p) => p.offset % ALIGNMENT !== 0);
}

/**
 * Room a partition needs in front of it: a logical partition's EBR sits that far before it
 * (the first one's distance is counted from the extended partition's start).
 */
function leadOf(layout: DiskLayout, p: Partition): number {
  if (!p.logical) return 0;
  const first = layout.partitions.filter((q) => q.logical).sort((a, b) => a.offset - b.offset)[0];
  if (p === first && layout.extended) return p.offset - layout.extended.offset;
  return p.offset - (p.tableOffset ?? p.offset);
}

export function fitLayout(input: FitInput): FittedLayout {
  const { layout, targetSize } = input;
  const ordered = [...layout.partitions].sort((a, b) => a.offset - b.offset);
  const tail = gptBackupBytes(layout);
  const lastEnd = Math.max(0, ...ordered.map(end), layout.extended ? end(layout.extended) : 0);
  const asIs = lastEnd + tail;
  const realign = input.realign && isMisaligned(layout);
  const identity: FittedLayout = {
    moves: layout.partitions.map((p) => ({
      index: p.index, from: { offset: p.offset, size: p.size },
      to: { offset: p.offset, size: p.size, ...(p.logical && p.tableOffset !== undefined ? { table: p.tableOffset } : {}) },
    })),
    ...(layout.extended ? { extended: layout.extended } : {}),
  };
  if (!realign && (targetSize === input.sourceSize || (!input.resize && asIs <= targetSize))) return identity;

  const usableEnd = targetSize - tail;
  const windows = input.resize ? resizablePartition(layout, input.filesystems) : undefined;
  const placed = new Map<number, { offset: number; size: number }>();
  // Forward: everything up to the Windows partition (all of them when nothing is resized).
  const wAt = windows ? ordered.indexOf(windows) : ordered.length - 1;
  let cursor = 0;
  for (const p of ordered.slice(0, wAt + 1)) {
    let offset = Math.max(p.offset, cursor + leadOf(layout, p));
    if (realign) offset = alignUp(offset);
    placed.set(p.index, { offset, size: p.size });
    cursor = offset + p.size;
  }
  if (windows) {
    // Backward from the end: the partitions after Windows, packed against the end in order.
    let limit = alignDown(usableEnd);
    for (const p of ordered.slice(wAt + 1).toReversed()) {
      const offset = alignDown(limit - p.size);
      placed.set(p.index, { offset, size: p.size });
      limit = offset - leadOf(layout, p);
    }
    const start = placed.get(windows.index)!.offset;
    const size = limit - start;
    if (size < windows.size) checkShrink(input, windows, size);
    placed.set(windows.index, { offset: start, size });
  }
  const newEnd = Math.max(0, ...[...placed.values()].map(end));
  if (newEnd > usableEnd) {
    const needed = newEnd + tail;
    throw new RestoreRefusedError(`the target is too small: the image needs ${needed} bytes, the target has ${targetSize}` +
      (windows ? '' : input.resize ? ' (no NTFS volume to shrink)' : ' (partitions keep their sizes)'), { needed, available: targetSize });
  }
  const moves = layout.partitions.map((p): PartitionMove => {
    const to = placed.get(p.index)!;
    const resize = to.size > p.size ? 'grow' as const : to.size < p.size ? 'shrink' as const : undefined;
    const table = p.logical && p.tableOffset !== undefined ? { table: to.offset - (p.offset - p.tableOffset) } : {};
    return { index: p.index, from: { offset: p.offset, size: p.size }, to: { ...to, ...table }, ...(resize ? { resize } : {}) };
  });
  const extended = placeExtended(layout, moves, ordered, usableEnd);
  return { moves, ...(extended ? { extended } : {}) };
}

/** A shrink the volume cannot make is refused with the partition and the bytes the target lacks. */
function checkShrink(input: FitInput, windows: Partition, size: number): void {
  const { targetSize } = input;
  const fs = input.filesystems.get(windows.index)?.filesystem ?? 'unknown';
  if (input.minimumSize === undefined) {
    const short = windows.size - size;
    throw new RestoreRefusedError(`the target is too small: partition ${windows.index} (${fs}, ${windows.size} bytes) would have to shrink to ${Math.max(0, size)} bytes, ` +
      `and its volume cannot be shrunk; the target has ${targetSize} bytes and needs ${short} more (${targetSize + short} in all)`,
    { partition: windows.index, needed: targetSize + short, available: targetSize });
  }
  if (size < input.minimumSize) {
    const short = input.minimumSize - size;
    throw new RestoreRefusedError(`partition ${windows.index} (${fs}) cannot shrink to ${Math.max(0, size)} bytes: its volume's data needs ${input.minimumSize} bytes; ` +
      `the target has ${targetSize} bytes and needs ${short} more (${targetSize + short} in all)`, { partition: windows.index, needed: targetSize + short, available: targetSize });
  }
}

/**
 * The extended partition around the moved logical partitions: from the first one's EBR
 * (keeping the old distance to the container's start) to the last one's end, keeping any
 * free space the old container had after it while that does not reach the next partition.
 */
function placeExtended(layout: DiskLayout, moves: PartitionMove[], ordered: Partition[], usableEnd: number): FittedLayout['extended'] {
  const ext = layout.extended;
  if (!ext) return undefined;
  const logical = ordered.filter((p) => p.logical);
  const first = logical[0];
  const last = logical.at(-1);
  if (!first || !last) {
    const clash = moves.some((m) => m.to.offset < end(ext) && ext.offset < end(m.to));
    if (end(ext) > usableEnd || clash) {
      throw new RestoreRefusedError(`the empty extended partition ${ext.index} does not fit the new layout; remove it from the source or restore with --keep-layout`, { partition: ext.index });
    }
    return ext;
  }
  const to = (p: Partition) => moves.find((m) => m.index === p.index)!.to;
  const offset = to(first).offset - (first.offset - ext.offset);
  const lastEnd = end(to(last));
  const next = Math.min(usableEnd, ...moves.filter((m) => m.to.offset >= lastEnd).map((m) => m.to.offset));
  const slack = Math.max(0, end(ext) - end(last));
  return { index: ext.index, offset, size: Math.min(lastEnd + slack, next) - offset };
}

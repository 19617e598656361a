/**
 * Where each partition goes on a target of another size (the restore issue's planner cases):
 * partitions before the Windows volume keep their offsets, partitions after it (Recovery, …)
 * move to the end of the disk in order, 1 MiB aligned, and the Windows volume takes the space
 * between — growing on a larger disk, shrinking on a smaller one when its data still fits.
 */
import { ExtentList } from '../fs/extents.ts';
import { gptBackupBytes, type DiskLayout, type Partition } from '../partition/disk-layout.ts';
import { RestoreRefusedError } from './plan-errors.ts';

export const ALIGNMENT = 1 << 20;

export interface PartitionMove {
  index: number;
  from: { offset: number; size: number };
  to: { offset: number; size: number };
  resize?: 'grow' | 'shrink';
}

export interface FitInput {
  layout: DiskLayout;
  /** Image metadata per partition: the filesystem decides which volume may be resized. */
  filesystems: ReadonlyMap<number, { filesystem: string; clusterSize?: number }>;
  /** What the image holds (source disk offsets). */
  stored: ExtentList;
  sourceSize: number;
  targetSize: number;
  /** false: keep every offset and size (leave a larger disk's extra space free). */
  resize: boolean;
  /** Whether the Windows volume may shrink (needs an NTFS shrinker; refused while there is none). */
  canShrink: boolean;
}

const alignDown = (x: number) => Math.floor(x / ALIGNMENT) * ALIGNMENT;


const unchanged = (p: Partition): PartitionMove => ({
  index: p.index, from: { offset: p.offset, size: p.size }, to: { offset: p.offset, size: p.size },
});

/** The partition that grows or shrinks: the largest NTFS volume (Windows' own, in practice). */
function windowsPartition(input: FitInput): Partition | undefined {
  const ntfs = input.layout.partitions.filter((p) => !p.logical && input.filesystems.get(p.index)?.filesystem === 'ntfs');
  return ntfs.sort((a, b) => b.size - a.size)[0];
}

/** How far into partition `p` its stored data reaches, not counting the NTFS tail (backup boot sector). */
function dataEnd(p: Partition, input: FitInput): number {
  const cluster = input.filesystems.get(p.index)?.clusterSize ?? 0;
  const tail = cluster + input.layout.sectorSize; // the partial cluster and the backup boot sector
  const inside = input.stored.intersect(ExtentList.of([{ start: p.offset, length: Math.max(0, p.size - tail) }]));
  const last = inside.extents.at(-1);
  return last ? last.start + last.length - p.offset : 0;
}

export function fitLayout(input: FitInput): PartitionMove[] {
  const { layout, targetSize } = input;
  const identity = layout.partitions.map(unchanged);
  const lastEnd = Math.max(0, ...layout.partitions.map((p) => p.offset + p.size));
  const fitsAsIs = lastEnd + gptBackupBytes(layout) <= targetSize;
  if (targetSize === input.sourceSize || (!input.resize && fitsAsIs)) return identity;
  const windows = windowsPartition(input);
  const hasLogical = layout.partitions.some((p) => p.logical);
  if (!windows || hasLogical) {
    if (fitsAsIs) return identity;
    throw new RestoreRefusedError(`the target is too small: the image needs ${lastEnd + gptBackupBytes(layout)} bytes, the target has ${targetSize}` +
      (hasLogical ? ' (logical partitions are not moved)' : ' (no NTFS volume to shrink)'), { needed: lastEnd + gptBackupBytes(layout), available: targetSize });
  }
  const usableEnd = alignDown(targetSize - gptBackupBytes(layout));
  const trailing = layout.partitions.filter((p) => p.offset > windows.offset).sort((a, b) => a.offset - b.offset);
  const moves = new Map<number, PartitionMove>(layout.partitions.map((p) => [p.index, unchanged(p)]));
  let cursor = usableEnd;
  for (const p of trailing.toReversed()) {
    const start = alignDown(cursor - p.size);
    moves.set(p.index, { index: p.index, from: { offset: p.offset, size: p.size }, to: { offset: start, size: p.size } });
    cursor = start;
  }
  const size = cursor - windows.offset;
  if (size < windows.size && !input.canShrink) {
    const asIs = lastEnd + gptBackupBytes(layout);
    throw new RestoreRefusedError(`the target is too small: the image needs ${asIs} bytes, the target has ${targetSize} ` +
      `(partition ${windows.index} would have to shrink, which is not supported yet)`, { needed: asIs, available: targetSize });
  }
  const needed = dataEnd(windows, input);
  if (size < needed + ALIGNMENT) {
    const short = needed + ALIGNMENT - size;
    throw new RestoreRefusedError(`partition ${windows.index} (ntfs) cannot shrink to ${size} bytes: its data reaches ${needed} bytes into it; ` +
      `the target needs ${short} bytes more (${targetSize + short} in all)`, { partition: windows.index, needed: targetSize + short, available: targetSize });
  }
  if (size !== windows.size) {
    moves.set(windows.index, {
      index: windows.index, from: { offset: windows.offset, size: windows.size }, to: { offset: windows.offset, size },
      resize: size > windows.size ? 'grow' : 'shrink',
    });
  }
  return layout.partitions.map((p) => moves.get(p.index)!);
}

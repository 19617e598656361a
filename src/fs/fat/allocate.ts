/**
 * Choosing free clusters for a write. One pass over the active FAT counts the free clusters
 * and, in search order (from the FSInfo next-free hint to the last cluster, then from cluster
 * 2), finds the first free run long enough for the file and the first free clusters for
 * everything else. Memory is bounded by the clusters asked for, not the volume.
 */
import type { FatTable } from './fat-table.ts';

export interface Allocation {
  /** Free clusters on the volume before the write (FAT entries equal to 0). */
  free: number;
  /** The file's clusters in chain order: one run when a free run is long enough. */
  file: number[];
  /** The other clusters asked for, in search order. */
  others: number[];
}

interface Segment {
  from: number;
  to: number;
  firstFree: number[];
  runStart: number;
  runLength: number;
  /** Start of the first free run of `fileClusters`, or 0. */
  found: number;
}

/**
 * `fileClusters` for the file (contiguous when a run allows) and `otherClusters` more. `free`
 * is reported even when it is too small; the caller refuses then.
 */
export async function allocateClusters(fat: FatTable, hint: number, fileClusters: number, otherClusters: number): Promise<Allocation> {
  const last = fat.clusterCount + 1;
  const start = hint >= 2 && hint <= last ? hint : 2;
  const demand = fileClusters + otherClusters;
  const segment = (from: number, to: number): Segment => ({ from, to, firstFree: [], runStart: 0, runLength: 0, found: 0 });
  const segments = [segment(start, last), segment(2, start - 1)];
  let free = 0;
  await fat.scan((n, value) => {
    const s = n >= start ? segments[0]! : segments[1]!;
    if (value !== 0) {
      s.runLength = 0;
      return;
    }
    free++;
    if (s.firstFree.length < demand) s.firstFree.push(n);
    if (s.runLength === 0) s.runStart = n;
    s.runLength++;
    if (fileClusters > 0 && s.found === 0 && s.runLength >= fileClusters) s.found = s.runStart;
  });
  const inOrder = [...segments[0]!.firstFree, ...segments[1]!.firstFree];
  const runStart = segments[0]!.found || segments[1]!.found;
  let file: number[];
  if (runStart) file = Array.from({ length: fileClusters }, (_, i) => runStart + i);
  else file = inOrder.slice(0, fileClusters);
  const taken = new Set(file);
  const others = inOrder.filter((n) => !taken.has(n)).slice(0, otherClusters);
  return { free, file, others };
}

/** Cluster runs as byte ranges of the volume, and reading them (FAT and exFAT alike). */
import type { ReadableDevice } from '../../device/block-device.ts';
import { ExtentList } from '../extents.ts';
import type { ClusterRun } from './chain.ts';
import type { FileRun } from '../volume.ts';

/** Where the data clusters lie: cluster 2 starts at byte `start`. */
export interface ClusterHeap {
  start: number;
  clusterSize: number;
}

/** One device read at most this long, so a big file does not ask for one huge read. */
const MAX_READ = 16 * 1024 * 1024;

export function runsToExtents(runs: readonly ClusterRun[], heap: ClusterHeap): ExtentList {
  return ExtentList.of(runs.map((r) => ({
    start: heap.start + (r.first - 2) * heap.clusterSize,
    length: r.count * heap.clusterSize,
  })));
}

/** The runs in file order as volume byte ranges. */
export function runsToFileRuns(runs: readonly ClusterRun[], heap: ClusterHeap): FileRun[] {
  let fileOffset = 0;
  return runs.map((r) => {
    const run = { fileOffset, volumeOffset: heap.start + (r.first - 2) * heap.clusterSize, length: r.count * heap.clusterSize };
    fileOffset += run.length;
    return run;
  });
}

/** The first `length` bytes held by `runs`; the caller has checked the runs hold that many. */
export async function readRuns(device: ReadableDevice, runs: readonly ClusterRun[], heap: ClusterHeap, length: number): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  let done = 0;
  for (const r of runs) {
    let at = heap.start + (r.first - 2) * heap.clusterSize;
    let left = Math.min(r.count * heap.clusterSize, length - done);
    while (left > 0) {
      const n = Math.min(left, MAX_READ);
      out.set(await device.read(at, n), done);
      done += n;
      at += n;
      left -= n;
    }
    if (done >= length) break;
  }
  return out;
}

/** Volume offset of byte `at` of the data held by `runs` (for messages about an entry). */
export function offsetInRuns(runs: readonly ClusterRun[], heap: ClusterHeap, at: number): number {
  let skipped = 0;
  for (const r of runs) {
    const bytes = r.count * heap.clusterSize;
    if (at < skipped + bytes) return heap.start + (r.first - 2) * heap.clusterSize + (at - skipped);
    skipped += bytes;
  }
  return -1;
}

/** Cluster lists for the FAT writer: runs, writing data over clusters, linking chains. */
import type { WritableDevice } from '../../device/block-device.ts';
import type { ClusterRun } from './chain.ts';
import type { ClusterHeap } from './clusters.ts';
import type { FatPatch } from './fat-patch.ts';

/** One device write at most this long. */
const MAX_WRITE = 16 * 1024 * 1024;

export function clustersToRuns(clusters: readonly number[]): ClusterRun[] {
  const runs: ClusterRun[] = [];
  for (const n of clusters) {
    const last = runs[runs.length - 1];
    if (last && last.first + last.count === n) last.count++;
    else runs.push({ first: n, count: 1 });
  }
  return runs;
}

export function runsToClusters(runs: readonly ClusterRun[]): number[] {
  const out: number[] = [];
  for (const r of runs) for (let i = 0; i < r.count; i++) out.push(r.first + i);
  return out;
}

/** Write `bytes` over `clusters` in order, zero-padding the last cluster. */
export async function writeClusters(volume: WritableDevice, heap: ClusterHeap, clusters: readonly number[], bytes: Uint8Array): Promise<void> {
  let done = 0;
  for (const run of clustersToRuns(clusters)) {
    const runBytes = run.count * heap.clusterSize;
    let at = heap.start + (run.first - 2) * heap.clusterSize;
    for (let left = runBytes; left > 0;) {
      const n = Math.min(left, MAX_WRITE);
      const chunk = new Uint8Array(n);
      chunk.set(bytes.subarray(done, Math.min(done + n, bytes.length)));
      await volume.write(at, chunk);
      at += n;
      done += n;
      left -= n;
    }
  }
}

/** Set a chain through `clusters`, ending with the end-of-chain marker. */
export function linkChain(patch: FatPatch, clusters: readonly number[], eoc: number): void {
  clusters.forEach((n, i) => patch.set(n, i + 1 < clusters.length ? clusters[i + 1]! : eoc));
}

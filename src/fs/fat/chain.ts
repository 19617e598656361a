/**
 * Following a cluster chain through a FAT, as runs of consecutive clusters. Every link is
 * checked: it must name a data cluster (2 .. clusterCount + 1), not a free or bad one, and
 * the chain may not come back to itself. Shared by the FAT and exFAT readers.
 */
import { CorruptStructureError } from '../../errors.ts';
import type { FatTable } from './fat-table.ts';

/** `count` consecutive clusters from `first`. */
export interface ClusterRun {
  first: number;
  count: number;
}

export function runClusters(runs: readonly ClusterRun[]): number {
  let n = 0;
  for (const r of runs) n += r.count;
  return n;
}

/**
 * The runs of the chain starting at `first`. `owner` (a path) names the file in errors and
 * `entryOffset` the volume offset of the directory entry that gave `first` (`entryStructure`
 * names that entry, "directory entry" unless told). `maxClusters` caps directories (which
 * have no size to check against): longer is an error. `stopAfter` ends the walk once that
 * many clusters are found (exFAT needs only the clusters DataLength covers).
 *
 * Cycle detection without a bitmap of the whole volume: a cycle must contain a step that is
 * not "+1" (steps of +1 only go forward), and every such step's target is remembered; landing
 * on a remembered target again is a cycle. A valid chain never revisits a cluster, so this
 * costs one Set entry per fragment. The cluster count bounds the walk as well.
 */
export async function followChain(fat: FatTable, first: number, owner: string,
  options: { entryOffset: number; entryStructure?: string; maxClusters?: number; stopAfter?: number }): Promise<ClusterRun[]> {
  const last = fat.clusterCount + 1;
  const maxClusters = options.maxClusters ?? fat.clusterCount;
  if (first < 2 || first > last) {
    throw new CorruptStructureError(options.entryStructure ?? 'directory entry', options.entryOffset,
      `${owner} starts at cluster ${first}, outside clusters 2..${last}`, { cluster: first, file: owner });
  }
  const runs: ClusterRun[] = [{ first, count: 1 }];
  const jumpTargets = new Set<number>([first]);
  let cluster = first;
  let length = 1;
  for (;;) {
    if (length === options.stopAfter) return runs;
    const next = await fat.entry(cluster);
    if (next >= fat.format.endOfChain) return runs;
    const at = fat.entryOffset(cluster);
    const fail = (problem: string): never => {
      throw new CorruptStructureError('FAT', at, `cluster ${cluster} of ${owner} ${problem}`, { cluster, next, file: owner });
    };
    if (next === fat.format.bad) fail('links to a cluster marked bad');
    if (next === 0) fail('links to a free cluster (0)');
    if (next < 2 || next > last) fail(`links to cluster ${next}, outside clusters 2..${last}`);
    if (++length > maxClusters) fail(`makes the chain longer than ${maxClusters} clusters`);
    const run = runs[runs.length - 1]!;
    if (next === cluster + 1) {
      run.count++;
    } else {
      if (jumpTargets.has(next)) fail(`links back to cluster ${next} (a cycle)`);
      jumpTargets.add(next);
      runs.push({ first: next, count: 1 });
    }
    cluster = next;
  }
}

/**
 * `count` clusters from `first` without the FAT (exFAT's NoFatChain files), checked against
 * the cluster range.
 */
export function contiguousRun(first: number, count: number, clusterCount: number, owner: string,
  entry: { offset: number; structure: string }): ClusterRun[] {
  if (count === 0) return [];
  if (first < 2 || first + count - 1 > clusterCount + 1) {
    throw new CorruptStructureError(entry.structure, entry.offset,
      `${owner} claims clusters ${first}..${first + count - 1}, outside clusters 2..${clusterCount + 1}`, { cluster: first, file: owner });
  }
  return [{ first, count }];
}

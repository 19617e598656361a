/**
 * A directory as the writer sees it: its bytes, where each byte lies on the volume, its live
 * entries, and where a set of new entries fits (free slots: deleted 0xE5 entries and every
 * slot from the first 0x00 end marker on).
 */
import type { ReadableDevice } from '../../device/block-device.ts';
import type { FatGeometry } from './boot-sector.ts';
import { followChain, runClusters, type ClusterRun } from './chain.ts';
import { offsetInRuns, readRuns, type ClusterHeap } from './clusters.ts';
import { ATTR_LONG_NAME, DIR_ENTRY_SIZE, parseFatDirectory, type FatDirItem } from './directory.ts';
import type { FatTable } from './fat-table.ts';
import { upcaseUnits } from './names.ts';

/** The FAT specification caps a directory at 65536 entries. */
export const MAX_DIRECTORY_ENTRIES = 65536;

export interface DirRegion {
  /** The directory's first cluster; 0 for the FAT12/16 fixed root. */
  firstCluster: number;
  /** True for the root directory (its `..` children point to cluster 0). */
  isRoot: boolean;
  /** Its clusters in order; empty for the FAT12/16 fixed root. */
  runs: ClusterRun[];
  /** Volume offset of the fixed root; 0 otherwise. */
  fixedStart: number;
  data: Uint8Array;
  items: FatDirItem[];
}

/** Read the root directory (`item` undefined) or the directory `item`, found at `entryOffset`. */
export async function readDirRegion(device: ReadableDevice, g: FatGeometry, fat: FatTable, heap: ClusterHeap,
  shown: string, item?: FatDirItem, entryOffset = 0): Promise<DirRegion> {
  if (!item && g.kind !== 'fat32') {
    const fixedStart = g.rootDirSector * g.bytesPerSector;
    const data = await device.read(fixedStart, g.rootDirSectors * g.bytesPerSector);
    return { firstCluster: 0, isRoot: true, runs: [], fixedStart, data, items: parseFatDirectory(data, false).items };
  }
  const first = item ? item.firstCluster : g.rootCluster;
  const runs = await followChain(fat, first, shown, {
    entryOffset, maxClusters: Math.ceil((MAX_DIRECTORY_ENTRIES * DIR_ENTRY_SIZE) / g.clusterSize),
  });
  const data = await readRuns(device, runs, heap, runClusters(runs) * g.clusterSize);
  return { firstCluster: first, isRoot: !item, runs, fixedStart: 0, data, items: parseFatDirectory(data, g.kind === 'fat32').items };
}

/** Volume offset of byte `at` of the directory's data. */
export function regionOffset(dir: DirRegion, heap: ClusterHeap, at: number): number {
  return dir.runs.length === 0 ? dir.fixedStart + at : offsetInRuns(dir.runs, heap, at);
}

/** The entry named `name` (long or 8.3, case-insensitively, as the reader looks names up). */
export function findItem(items: readonly FatDirItem[], name: string): FatDirItem | undefined {
  const wanted = upcaseUnits(name);
  return items.find((i) => upcaseUnits(i.name) === wanted || upcaseUnits(i.shortName) === wanted);
}

/** Index of the first slot with 0x00 in its first byte (the end marker), or the slot count. */
export function endSlot(data: Uint8Array): number {
  const slots = data.length / DIR_ENTRY_SIZE;
  for (let i = 0; i < slots; i++) if (data[i * DIR_ENTRY_SIZE] === 0) return i;
  return slots;
}

/**
 * Where `count` consecutive free slots start: `{ slot, extraSlots: 0 }` inside the directory,
 * or the free slots at its end plus `extraSlots` more that a longer chain must provide.
 */
export function findFreeSlots(data: Uint8Array, count: number): { slot: number; extraSlots: number } {
  const slots = data.length / DIR_ENTRY_SIZE;
  const end = endSlot(data);
  let run = 0;
  for (let i = 0; i < slots; i++) {
    const free = i >= end || data[i * DIR_ENTRY_SIZE] === 0xe5;
    run = free ? run + 1 : 0;
    if (run === count) return { slot: i - count + 1, extraSlots: 0 };
  }
  return { slot: slots - run, extraSlots: count - run };
}

/** The 8.3 names in use (11-byte keys), deleted and long-name entries left out. */
export function takenShortNames(data: Uint8Array): Set<string> {
  const taken = new Set<string>();
  const end = endSlot(data);
  for (let i = 0; i < end; i++) {
    const at = i * DIR_ENTRY_SIZE;
    if (data[at] === 0xe5 || (data[at + 0x0b]! & 0x3f) === ATTR_LONG_NAME) continue;
    taken.add(String.fromCharCode(...data.subarray(at, at + 11)));
  }
  return taken;
}

/**
 * Writing one file onto a FAT12/16/32 volume (docs/formats/fat-exfat.md "Writing files"):
 * boot repair uses it to put `\EFI\Boot\bootx64.efi` on an ESP. Everything is planned and
 * every refusal raised before the first write; then the writes go in an order that leaves a
 * volume fsck.fat can mend without losing files: data clusters (and new directories, whole),
 * FAT chains in every copy, the one directory entry that makes it all reachable, the release
 * of a replaced chain, FSInfo. The file is read back through `openFat` at the end.
 */
import type { WritableDevice } from '../../device/block-device.ts';
import { decodeFatBootSector, Fat32Ebpb, type FatGeometry } from './boot-sector.ts';
import { followChain } from './chain.ts';
import type { ClusterHeap } from './clusters.ts';
import { endSlot, findFreeSlots, findItem, MAX_DIRECTORY_ENTRIES, readDirRegion, regionOffset, takenShortNames, type DirRegion } from './dir-region.ts';
import { ATTR_ARCHIVE, ATTR_DIRECTORY, DIR_ENTRY_SIZE, FatDirEntry } from './directory.ts';
import { openFat } from './fat-reader.ts';
import { FAT_FORMATS, FatTable } from './fat-table.ts';
import { allocateClusters } from './allocate.ts';
import { FatPatch } from './fat-patch.ts';
import { FsInfo, FSINFO_UNKNOWN, isFsInfo } from './fsinfo.ts';
import { showPath, splitPath } from './path.ts';
import { longNameProblem } from './short-names.ts';
import { encodeDosDateTime } from './timestamps.ts';
import { clustersToRuns, linkChain, runsToClusters, writeClusters } from './write-clusters.ts';
import { asName11, DOT, DOTDOT, namedEntries, shortEntry, wallClockNow } from './write-entries.ts';
import { FatWriteRefusedError, FatWriteVerifyError, type FatWriteRefusal } from './write-errors.ts';
import type { ErrorData } from '../../errors.ts';

export interface WriteFatFileResult {
  /** False when an existing file's content was replaced. */
  created: boolean;
  /** Directories made on the way, as `\EFI\Boot`, outermost first. */
  directoriesCreated: string[];
  /** Clusters the file's data occupies. */
  clusters: number;
}

const END_OF_CHAIN = { fat12: 0xfff, fat16: 0xffff, fat32: 0x0fffffff } as const;

interface NewDirectory {
  shown: string;
  name: string;
  clusters: number[];
}

/**
 * Create the file `path` (with any missing parent directories) or replace an existing file's
 * content with `data`. `modified` (default: now) is taken as wall-clock time from the Date's
 * UTC fields, as `FatReader` returns times. Refusals are `FatWriteRefusedError`s raised before
 * any write; a file that does not read back is a `FatWriteVerifyError`.
 */
export async function writeFatFile(volume: WritableDevice, path: string, data: Uint8Array,
  options: { modified?: Date } = {}): Promise<WriteFatFileResult> {
  const parts = splitPath(path);
  const shown = showPath(parts);
  const refuse = (reason: FatWriteRefusal, problem: string, extra: ErrorData = {}) =>
    new FatWriteRefusedError(reason, `cannot write ${shown} on ${volume.name}: ${problem}`, { path: shown, volume: volume.name, ...extra });
  if (!volume.writable) throw refuse('read-only', 'the device is read-only');
  if (parts.length === 0) throw refuse('invalid-name', 'the path names the root directory');
  for (const part of parts) {
    const problem = longNameProblem(part);
    if (problem) throw refuse('invalid-name', `"${part}" is not a valid FAT name: ${problem}`, { name: part });
  }

  if (data.length > 0xffffffff) throw refuse('too-large', `${data.length} bytes, a FAT file holds at most 4 GiB − 1`, { size: data.length });

  const boot = await volume.read(0, 512);
  const g = decodeFatBootSector(boot, volume.size);
  const bps = g.bytesPerSector;
  const heap: ClusterHeap = { start: g.firstDataSector * bps, clusterSize: g.clusterSize };
  const format = FAT_FORMATS[g.kind];
  const fat = new FatTable(volume, (g.reservedSectors + g.activeFat * g.fatSectors) * bps, g.fatSectors * bps, format, g.clusterCount);
  const mirroringOff = g.kind === 'fat32' && (Fat32Ebpb.decode(boot).extFlags & 0x80) !== 0;
  const copies = mirroringOff ? [g.activeFat] : Array.from({ length: g.numberOfFats }, (_, i) => i);
  const eoc = END_OF_CHAIN[g.kind];
  const when = options.modified ?? wallClockNow();

  // Walk the existing directories.
  let parent = await readDirRegion(volume, g, fat, heap, '\\');
  let depth = 0;
  let parentEntryOffset = 0;
  for (; depth < parts.length - 1; depth++) {
    const item = findItem(parent.items, parts[depth]!);
    if (!item) break;
    const here = showPath(parts.slice(0, depth + 1));
    if (!(item.attributes & ATTR_DIRECTORY)) throw refuse('not-a-directory', `${here} is a file, not a directory`, { component: here });
    parentEntryOffset = regionOffset(parent, heap, item.offset);
    parent = await readDirRegion(volume, g, fat, heap, here, item, parentEntryOffset);
  }
  const missing = parts.slice(depth, parts.length - 1);
  const fileName = parts[parts.length - 1]!;
  const existing = missing.length === 0 ? findItem(parent.items, fileName) : undefined;
  if (existing && existing.attributes & ATTR_DIRECTORY) throw refuse('is-a-directory', `${shown} is a directory`);

  // Clusters: the file's, the old chain's, new directories', a longer parent directory.
  const fileClusterCount = Math.ceil(data.length / g.clusterSize);
  let oldClusters: number[] = [];
  if (existing && existing.firstCluster !== 0) {
    oldClusters = runsToClusters(await followChain(fat, existing.firstCluster, shown, { entryOffset: regionOffset(parent, heap, existing.offset) }));
  }
  const reuse = existing !== undefined && fileClusterCount <= oldClusters.length;

  // The entries of new directories, innermost first, so each knows its child's entry count.
  const childEntryCount = (name: string, isDir: boolean) =>
    namedEntries(name, new Set([DOT, DOTDOT]), isDir ? ATTR_DIRECTORY : ATTR_ARCHIVE, 0, 0, when).length / DIR_ENTRY_SIZE;
  const newDirs: NewDirectory[] = missing.map((name, i) => {
    const child = i + 1 < missing.length ? missing[i + 1]! : fileName;
    const entries = 2 + childEntryCount(child, i + 1 < missing.length);
    return { shown: showPath(parts.slice(0, depth + i + 1)), name, clusters: new Array<number>(Math.ceil((entries * DIR_ENTRY_SIZE) / g.clusterSize)) };
  });

  // Where the new entry goes in the existing parent (not for a replacement).
  const topName = missing[0] ?? fileName;
  const taken = takenShortNames(parent.data);
  const topEntries = existing ? undefined
    : namedEntries(topName, taken, missing.length ? ATTR_DIRECTORY : ATTR_ARCHIVE, 0, 0, when);
  let slot = -1;
  let extensionCount = 0;
  if (topEntries) {
    const free = findFreeSlots(parent.data, topEntries.length / DIR_ENTRY_SIZE);
    slot = free.slot;
    if (free.extraSlots > 0) {
      const dirShown = showPath(parts.slice(0, depth));
      if (parent.runs.length === 0) {
        throw refuse('root-full', `the ${g.kind.toUpperCase()} root directory (${parent.data.length / DIR_ENTRY_SIZE} entries) has no room for ${topEntries.length / DIR_ENTRY_SIZE} more`, { directory: dirShown });
      }
      extensionCount = Math.ceil((free.extraSlots * DIR_ENTRY_SIZE) / g.clusterSize);
      const entriesAfter = parent.data.length / DIR_ENTRY_SIZE + (extensionCount * g.clusterSize) / DIR_ENTRY_SIZE;
      if (entriesAfter > MAX_DIRECTORY_ENTRIES) {
        throw refuse('directory-full', `${dirShown} would pass ${MAX_DIRECTORY_ENTRIES} entries`, { directory: dirShown });
      }
    }
  }

  // Allocation from the FSInfo hint on.
  let fsInfo: { offset: number; sector: Uint8Array } | undefined;
  if (g.kind === 'fat32') {
    const offset = Fat32Ebpb.decode(boot).fsInfoSector * bps;
    if (offset > 0 && offset < g.reservedSectors * bps) {
      const sector = await volume.read(offset, 512);
      if (isFsInfo(sector)) fsInfo = { offset, sector };
    }
  }
  const hint = fsInfo ? FsInfo.decode(fsInfo.sector).nextFree : 2;
  const newFileCount = reuse ? 0 : fileClusterCount;
  const otherCount = newDirs.reduce((n, d) => n + d.clusters.length, 0) + extensionCount;
  const allocation = await allocateClusters(fat, hint, newFileCount, otherCount);
  const needed = newFileCount + otherCount;
  if (allocation.free < needed) {
    throw refuse('no-space', `needs ${needed} free clusters of ${g.clusterSize} bytes, the volume has ${allocation.free}`, { needed, free: allocation.free });
  }
  const fileClusters = reuse ? oldClusters.slice(0, fileClusterCount) : allocation.file;
  const released = reuse ? oldClusters.slice(fileClusterCount) : oldClusters;
  let next = 0;
  for (const d of newDirs) for (let i = 0; i < d.clusters.length; i++) d.clusters[i] = allocation.others[next++]!;
  const extension = allocation.others.slice(next, next + extensionCount);
  const parentLast = parent.runs.length ? runsToClusters(parent.runs).at(-1)! : 0;

  // The FAT copies must agree wherever the write changes an entry.
  const touched = [...fileClusters, ...released, ...newDirs.flatMap((d) => d.clusters), ...extension];
  if (extension.length) touched.push(parentLast);
  const patch = await FatPatch.load(volume, g, copies, touched);
  const disagree: string[] = [];
  for (const n of touched) {
    for (let i = 1; i < copies.length; i++) {
      if (patch.entry(n, i) !== patch.entry(n, 0)) disagree.push(`cluster ${n}: FAT ${copies[0]} has ${patch.entry(n, 0)}, FAT ${copies[i]} has ${patch.entry(n, i)}`);
    }
  }
  if (disagree.length) {
    throw refuse('fats-disagree', `the FAT copies disagree (${disagree.slice(0, 4).join('; ')}${disagree.length > 4 ? `; ${disagree.length - 4} more` : ''}); run fsck.fat first`,
      { clusters: disagree.length });
  }

  // The bytes of new directories, innermost first: `.`, `..`, then the child's entries.
  const dirBytes: Uint8Array[] = [];
  const firstFile = fileClusters[0] ?? 0;
  for (let i = newDirs.length - 1; i >= 0; i--) {
    const d = newDirs[i]!;
    const bytes = new Uint8Array(d.clusters.length * g.clusterSize);
    const parentCluster = i > 0 ? newDirs[i - 1]!.clusters[0]! : parent.isRoot ? 0 : parent.firstCluster;
    bytes.set(shortEntry(asName11(DOT), ATTR_DIRECTORY, d.clusters[0]!, 0, when), 0);
    bytes.set(shortEntry(asName11(DOTDOT), ATTR_DIRECTORY, parentCluster, 0, when), DIR_ENTRY_SIZE);
    const child = i + 1 < newDirs.length
      ? namedEntries(newDirs[i + 1]!.name, new Set([DOT, DOTDOT]), ATTR_DIRECTORY, newDirs[i + 1]!.clusters[0]!, 0, when)
      : namedEntries(fileName, new Set([DOT, DOTDOT]), ATTR_ARCHIVE, firstFile, data.length, when);
    bytes.set(child, 2 * DIR_ENTRY_SIZE);
    dirBytes[i] = bytes;
  }

  // The existing parent's new bytes: the new entries, or the replaced file's entry updated.
  const updated = new Uint8Array(parent.data.length + extension.length * g.clusterSize);
  updated.set(parent.data);
  if (existing) {
    const e = FatDirEntry.decode(updated, existing.offset);
    const t = encodeDosDateTime(when);
    FatDirEntry.encodeInto({ ...e, attributes: e.attributes | ATTR_ARCHIVE, firstClusterHigh: firstFile >>> 16, firstClusterLow: firstFile & 0xffff,
      fileSize: data.length, writeDate: t.date, writeTime: t.time, lastAccessDate: t.date }, updated, existing.offset);
  } else {
    const top = newDirs.length
      ? namedEntries(topName, taken, ATTR_DIRECTORY, newDirs[0]!.clusters[0]!, 0, when)
      : namedEntries(topName, taken, ATTR_ARCHIVE, firstFile, data.length, when);
    updated.set(top, slot * DIR_ENTRY_SIZE);
    // Entries written over the end marker: the slot after them must end the directory again
    // (slots past the marker should be zero, but only the marker is promised).
    const after = slot * DIR_ENTRY_SIZE + top.length;
    if (after < updated.length && slot + top.length / DIR_ENTRY_SIZE > endSlot(parent.data)) updated[after] = 0;
  }
  const parentAfter: DirRegion = { ...parent, runs: [...parent.runs, ...clustersToRuns(extension)], data: updated };

  // 1. Data: the file, the new directories, zeroed clusters for a longer parent.
  await writeClusters(volume, heap, fileClusters, data);
  for (let i = 0; i < newDirs.length; i++) await writeClusters(volume, heap, newDirs[i]!.clusters, dirBytes[i]!);
  if (extension.length) await writeClusters(volume, heap, extension, new Uint8Array(0));
  // 2. FAT chains, every copy.
  if (!reuse) linkChain(patch, fileClusters, eoc);
  for (const d of newDirs) linkChain(patch, d.clusters, eoc);
  if (extension.length) linkChain(patch, [parentLast, ...extension], eoc);
  await patch.flush(volume);
  // 3. The directory entry (the sectors of the parent that changed).
  for (let at = 0; at < updated.length; at += bps) {
    const after = updated.subarray(at, at + bps);
    if (at < parent.data.length && Buffer.compare(after, parent.data.subarray(at, at + bps)) === 0) continue;
    if (at >= parent.data.length && after.every((b) => b === 0)) continue; // written zeroed in step 1
    await volume.write(regionOffset(parentAfter, heap, at), after);
  }
  // 4. The replaced chain (or its unused tail) is released.
  if (reuse && released.length && fileClusters.length) patch.set(fileClusters[fileClusters.length - 1]!, eoc);
  for (const n of released) patch.set(n, 0);
  await patch.flush(volume);
  // 5. FSInfo hints, where known.
  const allocated = needed;
  if (fsInfo) {
    const f = FsInfo.decode(fsInfo.sector);
    const newest = [...allocation.file.slice(0, newFileCount), ...allocation.others].reduce((a, b) => Math.max(a, b), 0);
    const freeCount = f.freeCount === FSINFO_UNKNOWN ? f.freeCount : allocation.free - allocated + released.length;
    const nextFree = f.nextFree === FSINFO_UNKNOWN || newest === 0 ? f.nextFree : newest + 1 > g.clusterCount + 1 ? 2 : newest + 1;
    if (freeCount !== f.freeCount || nextFree !== f.nextFree) {
      const sector = fsInfo.sector.slice();
      FsInfo.encodeInto({ ...f, freeCount, nextFree }, sector);
      await volume.write(fsInfo.offset, sector);
    }
  }
  await volume.flush();

  await verify(volume, g, shown, data);
  return { created: !existing, directoriesCreated: newDirs.map((d) => d.shown), clusters: fileClusterCount };
}

/** STYLE #7: open the volume again with the reader and compare the file. */
async function verify(volume: WritableDevice, g: FatGeometry, shown: string, data: Uint8Array): Promise<void> {
  const reader = await openFat(volume);
  const back = await reader.readFile(shown);
  if (back.length !== data.length || Buffer.compare(back, data) !== 0) {
    throw new FatWriteVerifyError(`${shown} on ${volume.name} (${g.kind.toUpperCase()}) reads back as ${back.length} bytes that differ from the ${data.length} written`,
      { path: shown, volume: volume.name });
  }
}

/**
 * Growing an NTFS volume in place to fill a larger partition, as ntfsresize does when enlarging
 * (docs/formats/ntfs.md, "Growing"). Three things depend on the volume's size: the boot sector's
 * number of sectors, `$Bitmap` (one bit per cluster, grow-bitmap.ts) and `$BadClus:$Bad` (a
 * sparse stream as long as the volume). `planNtfsGrow` reads and checks everything and builds
 * the new records and boot sector in memory without writing; `growNtfs` writes them in an order
 * where an interruption before the last write leaves the old size, then opens the volume again
 * and compares.
 */
import type { ReadableDevice, WritableDevice } from '../../device/block-device.ts';
import { CorruptStructureError, LifeboatError } from '../../errors.ts';
import { decodeNtfsBootSector, NtfsBootSector } from './boot-sector.ts';
import { DataStream } from './data-stream.ts';
import { bitmapChunk, planBitmap, type BitmapPlacement, type BitmapWrite } from './grow-bitmap.ts';
import { cannotGrow, dataAttribute, loadMetadataRecord, rewriteDataAttribute, type RecordChange } from './metadata-record.ts';
import { openNtfs, type NtfsVolume } from './ntfs-volume.ts';
import { readThroughRuns, writeField, writeThroughRuns } from './record-write.ts';
import { ATTR } from './record.ts';
import { joinAdjacentRuns } from './runlist-encode.ts';
import type { Run } from './runlist.ts';
import { readVolumeState } from './volume-state.ts';

const RECORD = { mftMirr: 1, bitmap: 6, badClus: 8 } as const;
/** Windows addresses clusters with 32 bits; mkntfs keeps to the same limit. */
const MAX_CLUSTERS = 2 ** 32 - 1;
/** The rewritten part of $Bitmap is built, written and read back this many bytes at a time. */
const BITMAP_CHUNK = 1 << 20;

export interface GrowResult {
  bytesPerSector: number;
  clusterSize: number;
  oldNumberOfSectors: number;
  newNumberOfSectors: number;
  oldClusters: number;
  newClusters: number;
  addedClusters: number;
  bitmap: {
    oldSize: number;
    newSize: number;
    runs: Run[];
    /** Clusters newly given to $Bitmap, and where they were found. */
    allocated?: { lcn: number; length: number };
    placement: BitmapPlacement;
  };
  /** Used clusters per $Bitmap: after = before + the clusters newly given to $Bitmap. */
  usedClustersBefore: number;
  usedClustersAfter: number;
  /** Byte offset of the backup boot sector on the device (the new last sector). */
  backupBootSectorOffset: number;
  /** MFT records written, and those of them also written to $MFTMirr. */
  recordsWritten: number[];
  mirroredRecords: number[];
  /** Things the user should hear about (e.g. clusters free in $Bitmap but used by a file). */
  warnings: string[];
}

interface PlannedRecord extends RecordChange {
  alsoInMirror: boolean;
}

/** Everything growNtfs writes, computed and checked without writing. */
export interface NtfsGrowPlan {
  result: GrowResult;
  records: PlannedRecord[];
  bootSector: Uint8Array;
  bitmapWrite: BitmapWrite;
  /** Runs of $MFT and $MFTMirr, to write records through. */
  mftRuns: Run[];
  mirrorRuns: Run[];
  mftRecordSize: number;
}

/** Read-only: check the volume on `volume` and build its metadata for `newSize` bytes. */
export async function planNtfsGrow(volume: ReadableDevice, newSize: number): Promise<NtfsGrowPlan> {
  if (!Number.isSafeInteger(newSize) || newSize <= 0) throw cannotGrow('bad-size', `new size ${newSize} is not a positive whole number of bytes`);
  if (newSize > volume.size) {
    throw cannotGrow('beyond-device', `new size ${newSize} bytes is larger than ${volume.name} (${volume.size} bytes)`, { newSize, deviceSize: volume.size });
  }
  const vol = await openNtfs(volume);
  const g = vol.geometry;
  const spc = g.clusterSize / g.bytesPerSector;
  const newNumberOfSectors = Math.floor(newSize / g.bytesPerSector) - 1; // the last sector holds the backup boot sector
  const newClusters = Math.floor(newNumberOfSectors / spc);
  const oldBytes = (g.numberOfSectors + 1) * g.bytesPerSector;
  if (newNumberOfSectors < g.numberOfSectors) {
    throw cannotGrow('smaller', `new size ${newSize} bytes is smaller than the volume (${oldBytes} bytes with its backup boot sector); shrinkNtfs makes a volume smaller`,
      { newSize, volumeBytes: oldBytes });
  }
  if (newClusters <= g.clusters) {
    const needed = ((g.clusters + 1) * spc + 1) * g.bytesPerSector;
    throw cannotGrow('no-room', `${newSize} bytes hold no cluster more than the volume's ${g.clusters}; growing by one ${g.clusterSize}-byte cluster needs at least ${needed} bytes`,
      { newSize, neededBytes: needed });
  }
  if (newClusters > MAX_CLUSTERS) throw cannotGrow('too-many-clusters', `${newClusters} clusters of ${g.clusterSize} bytes exceed NTFS's ${MAX_CLUSTERS}`);

  const state = await readVolumeState(vol.mft);
  if (state.refusals.length > 0) throw cannotGrow('volume-state', state.refusals.join('; '), { flags: state.flags, log: state.log.state });

  const usedClustersBefore = await vol.usedClusters();
  const mirror = await mirrorShape(vol);
  const bitmap = await planBitmap(vol, newClusters);
  const badClus = await planBadClus(vol, newClusters);
  // $Bitmap first: its record makes the old volume's view whole again (the clusters it takes
  // are already marked used); $BadClus's longer hole is the one thing the old size cannot read.
  const records = [bitmap.record, badClus].map((r) => ({ ...r, alsoInMirror: r.recordNumber < mirror.records }));

  const oldBoot = await volume.read(0, g.bytesPerSector);
  const bootSector = oldBoot.slice();
  writeField(NtfsBootSector.fields.numberOfSectors, bootSector, 0, BigInt(newNumberOfSectors));
  checkBootSector(oldBoot, bootSector, newSize, newClusters);

  const allocated = bitmap.write.allocated;
  return {
    result: {
      bytesPerSector: g.bytesPerSector, clusterSize: g.clusterSize,
      oldNumberOfSectors: g.numberOfSectors, newNumberOfSectors,
      oldClusters: g.clusters, newClusters, addedClusters: newClusters - g.clusters,
      bitmap: {
        oldSize: bitmap.oldSize, newSize: bitmap.write.to, runs: bitmap.write.runs, placement: bitmap.placement,
        ...(allocated ? { allocated } : {}),
      },
      usedClustersBefore, usedClustersAfter: usedClustersBefore + (allocated?.length ?? 0),
      backupBootSectorOffset: newNumberOfSectors * g.bytesPerSector,
      recordsWritten: records.map((r) => r.recordNumber),
      mirroredRecords: records.filter((r) => r.alsoInMirror).map((r) => r.recordNumber),
      warnings: bitmap.warnings,
    },
    records, bootSector, bitmapWrite: bitmap.write,
    mftRuns: vol.mft.stream.shape.runs, mirrorRuns: mirror.runs, mftRecordSize: g.mftRecordSize,
  };
}

/** The new boot sector may differ from the old one only in its number of sectors. */
export function checkBootSector(oldBoot: Uint8Array, bootSector: Uint8Array, newSize: number, newClusters: number): void {
  const f = NtfsBootSector.fields.numberOfSectors;
  for (let i = 0; i < bootSector.length; i++) {
    if ((i < f.offset || i >= f.offset + f.size) && bootSector[i] !== oldBoot[i]) {
      throw new CorruptStructureError('NTFS boot sector', i, 'the new boot sector differs from the old one outside its number of sectors');
    }
  }
  const geometry = decodeNtfsBootSector(bootSector, newSize);
  if (geometry.clusters !== newClusters) {
    throw new CorruptStructureError('NTFS boot sector', f.offset, `the new boot sector decodes to ${geometry.clusters} clusters, not ${newClusters}`);
  }
}

/** $MFTMirr mirrors as many records as its data holds (4, or a whole cluster of them). */
export async function mirrorShape(vol: NtfsVolume): Promise<{ records: number; runs: Run[] }> {
  const stream = vol.mft.openStream(await vol.mft.file(RECORD.mftMirr), ATTR.data, '');
  if (!(stream instanceof DataStream)) throw new CorruptStructureError('$MFTMirr', vol.mft.recordOffset(RECORD.mftMirr), 'has no non-resident $DATA');
  return { records: Math.floor(stream.shape.initializedSize / vol.geometry.mftRecordSize), runs: stream.shape.runs };
}

/** Runs cut to the first `clusters` VCNs. */
export function truncateRuns(runs: readonly Run[], clusters: number): Run[] {
  return runs.filter((r) => r.vcn < clusters).map((r) => ({ ...r, length: Math.min(r.length, clusters - r.vcn) }));
}

/**
 * `$BadClus:$Bad` spans the volume: its allocated runs are the bad clusters, the rest is one
 * hole. It grows by a hole over the added clusters. A stream already longer than the volume
 * (an interrupted grow) is accepted when the excess is a hole.
 */
async function planBadClus(vol: NtfsVolume, newClusters: number): Promise<RecordChange> {
  const g = vol.geometry;
  const cs = g.clusterSize;
  const rec = await loadMetadataRecord(vol, RECORD.badClus, '$BadClus', newClusters);
  const attr = dataAttribute(rec, '$BadClus', '$Bad');
  const covered = attr.runs.reduce((s, r) => s + r.length, 0);
  const outside = attr.runs.find((r) => r.lcn !== null && r.lcn + r.length > g.clusters);
  if (outside) throw new CorruptStructureError('$BadClus:$Bad', attr.offset, `names bad clusters ${outside.lcn}.. past the volume's ${g.clusters} clusters`);
  if (covered < g.clusters || covered > newClusters || attr.dataSize !== covered * cs || attr.allocatedSize !== covered * cs) {
    throw new CorruptStructureError('$BadClus:$Bad', attr.offset,
      `spans ${covered} clusters (data size ${attr.dataSize}, allocated ${attr.allocatedSize}) on a volume of ${g.clusters}: run chkdsk /f on Windows first`);
  }
  const runs = joinAdjacentRuns([...truncateRuns(attr.runs, g.clusters), { vcn: g.clusters, lcn: null, length: newClusters - g.clusters }]);
  return rewriteDataAttribute(rec, '$Bad', { runs, allocatedSize: newClusters * cs, dataSize: newClusters * cs, initializedSize: attr.initializedSize }, newClusters);
}

type Step = 'bitmap' | 'records' | 'backup boot sector' | 'boot sector';

/**
 * Grow the NTFS volume on `volume` (a partition window, or a file holding just the volume) to
 * fill `newSize` bytes. Refuses before writing anything what it cannot do safely: UsageError
 * with `data.reason` (read-only device, size not larger by a cluster, dirty volume, journal
 * to replay, attribute lists, …) or CorruptStructureError. Writes $Bitmap's added bytes as the
 * old size reads them, records 6 and 8 (and their $MFTMirr copies), the final $Bitmap bytes,
 * the backup boot sector at the new end, and sector 0 last. A failure while writing is a LifeboatError NTFS_GROW_INTERRUPTED naming the step and
 * what state the volume is in; a mismatch when reading back is NTFS_GROW_VERIFY.
 */
export async function growNtfs(volume: WritableDevice, newSize: number): Promise<GrowResult> {
  if ((volume as ReadableDevice).writable !== true || typeof volume.write !== 'function') {
    throw cannotGrow('read-only', `${volume.name} was opened read-only`);
  }
  const plan = await planNtfsGrow(volume, newSize);
  const cs = plan.result.clusterSize;
  let step: Step = 'bitmap';
  const w = plan.bitmapWrite;
  const writeBitmap = async (padFrom: number) => {
    for (let at = w.from; at < w.to; at += BITMAP_CHUNK) {
      await writeThroughRuns(volume, w.runs, cs, at, bitmapChunk(w, at, Math.min(BITMAP_CHUNK, w.to - at), padFrom), '$Bitmap');
    }
    await volume.flush();
  };
  try {
    // 1. The longer bitmap as the old size reads it (every bit past its clusters set), and the
    //    bits of the clusters $Bitmap takes from the old volume.
    await writeBitmap(w.oldClusters);
    if (w.patch) await writeThroughRuns(volume, w.runs, cs, w.patch.at, w.patch.bytes, '$Bitmap');
    await volume.flush();
    // 2. The records, each flushed before the next.
    step = 'records';
    for (const r of plan.records) {
      await writeThroughRuns(volume, plan.mftRuns, cs, r.recordNumber * plan.mftRecordSize, r.raw, '$MFT');
      if (r.alsoInMirror) await writeThroughRuns(volume, plan.mirrorRuns, cs, r.recordNumber * plan.mftRecordSize, r.raw, '$MFTMirr');
      await volume.flush();
    }
    // 3. The added clusters become free, then the boot sectors give the volume its new size.
    step = 'bitmap';
    await writeBitmap(w.newClusters);
    step = 'backup boot sector';
    await volume.write(plan.result.backupBootSectorOffset, plan.bootSector);
    await volume.flush();
    step = 'boot sector';
    await volume.write(0, plan.bootSector);
    await volume.flush();
  } catch (e) {
    const state = step === 'boot sector'
      ? 'the boot sector may be half written; the backup boot sector at the new end already holds the new one (ntfsfix can copy it back)'
      : 'the boot sector was not written, so the volume keeps its old size and its files; chkdsk /f may find clusters marked used that no file owns or $BadClus longer than the volume, and running the grow again finishes it';
    const err = new LifeboatError('NTFS_GROW_INTERRUPTED',
      `growing the NTFS volume on ${volume.name} stopped while writing the ${step}: ${e instanceof Error ? e.message : String(e)}; ${state}`,
      { device: volume.name, step, oldSizeKept: step !== 'boot sector' });
    err.cause = e;
    throw err;
  }
  await verifyGrow(volume, plan);
  return plan.result;
}

/** What a grow or a shrink plan says the resized volume must read back as. */
export interface ResizedShape {
  result: { newClusters: number; newNumberOfSectors: number; backupBootSectorOffset: number; bytesPerSector: number; clusterSize: number; bitmap: { newSize: number } };
  bootSector: Uint8Array;
  records: ReadonlyArray<{ recordNumber: number; raw: Uint8Array; alsoInMirror: boolean }>;
  mftRuns: Run[];
  mirrorRuns: Run[];
  mftRecordSize: number;
}

/**
 * Open a grown or shrunk volume afresh and check what both resizes write (STYLE #7): its size,
 * the backup boot sector, the rewritten records in $MFT and $MFTMirr, and the lengths of
 * $BadClus:$Bad and $Bitmap. Returns the volume and its $Bitmap stream for the caller's own checks.
 */
export async function verifyResized(device: WritableDevice, plan: ResizedShape, fail: (what: string) => LifeboatError): Promise<{ vol: NtfsVolume; bitmap: DataStream }> {
  const r = plan.result;
  const vol = await openNtfs(device);
  if (vol.geometry.clusters !== r.newClusters || vol.geometry.numberOfSectors !== r.newNumberOfSectors) {
    throw fail(`it has ${vol.geometry.clusters} clusters and ${vol.geometry.numberOfSectors} sectors`);
  }
  if (!Buffer.from(await device.read(r.backupBootSectorOffset, r.bytesPerSector)).equals(plan.bootSector)) throw fail('the backup boot sector differs from sector 0');
  for (const rec of plan.records) {
    const places: Array<[string, Run[]]> = [['$MFT', plan.mftRuns]];
    if (rec.alsoInMirror) places.push(['$MFTMirr', plan.mirrorRuns]);
    for (const [label, runs] of places) {
      const back = await readThroughRuns(device, runs, r.clusterSize, rec.recordNumber * plan.mftRecordSize, plan.mftRecordSize, label);
      if (!Buffer.from(back).equals(rec.raw)) throw fail(`MFT record ${rec.recordNumber} in ${label} differs`);
    }
  }
  const bad = vol.mft.openStream(await vol.mft.file(RECORD.badClus), ATTR.data, '$Bad');
  if (!(bad instanceof DataStream) || bad.size !== r.newClusters * r.clusterSize) throw fail('$BadClus:$Bad does not span the new volume');
  const bitmap = vol.mft.openStream(await vol.mft.file(RECORD.bitmap), ATTR.data, '');
  if (!(bitmap instanceof DataStream) || bitmap.size !== r.bitmap.newSize) throw fail(`$Bitmap is not ${r.bitmap.newSize} bytes`);
  return { vol, bitmap };
}

/** Open the grown volume afresh and compare with the plan. */
async function verifyGrow(volume: WritableDevice, plan: NtfsGrowPlan): Promise<void> {
  const r = plan.result;
  const fail = (what: string) => new LifeboatError('NTFS_GROW_VERIFY',
    `the NTFS volume on ${volume.name} was grown but does not read back as planned: ${what}`, { device: volume.name, what });
  const { vol, bitmap } = await verifyResized(volume, plan, fail);
  const w = plan.bitmapWrite;
  for (let at = w.from; at < w.to; at += BITMAP_CHUNK) {
    const n = Math.min(BITMAP_CHUNK, w.to - at);
    if (!Buffer.from(await bitmap.read(at, n)).equals(bitmapChunk(w, at, n))) throw fail(`$Bitmap bytes from ${at} differ`);
  }
  if (w.patch && !Buffer.from(await bitmap.read(w.patch.at, w.patch.bytes.length)).equals(w.patch.bytes)) throw fail(`$Bitmap bytes at ${w.patch.at} differ`);
  const used = await vol.usedClusters();
  if (used !== r.usedClustersAfter) throw fail(`$Bitmap marks ${used} clusters used, ${r.usedClustersAfter} expected`);
}

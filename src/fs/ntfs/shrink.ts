/**
 * Shrinking an NTFS volume whose allocated clusters all lie below the new end, as ntfsresize
 * does when no data has to move (docs/formats/ntfs.md, "Shrinking"). The same three things as in
 * growing depend on the size: the boot sector's number of sectors, `$Bitmap` (cut to the new
 * cluster count, padding bits set, the clusters it no longer needs freed) and `$BadClus:$Bad`
 * (cut to the new end). `planNtfsShrink` reads and checks everything on the old volume — which
 * may be an image's view of the source partition — and builds the new records, `$Bitmap` bytes
 * and boot sector; `applyNtfsShrink` writes them to a device holding the same bytes below the
 * new end (a restored copy, or the volume itself), the boot sector last, then opens it afresh
 * and compares. `ntfsShrinkLimit` says how far a volume can shrink and whose data is in the way.
 */
import type { ReadableDevice, WritableDevice } from '../../device/block-device.ts';
import { CorruptStructureError, LifeboatError } from '../../errors.ts';
import { NtfsBootSector } from './boot-sector.ts';
import { clusterOwners, recordPath, type ClusterRange } from './cluster-owners.ts';
import { checkBootSector, mirrorShape, truncateRuns, verifyResized } from './grow.ts';
import { cannotShrink, dataAttribute, loadMetadataRecord, rewriteDataAttribute, type MetadataRecord, type RecordChange, type Refusal } from './metadata-record.ts';
import { openNtfs, type NtfsVolume } from './ntfs-volume.ts';
import { readThroughRuns, writeField, writeThroughRuns } from './record-write.ts';
import type { NonResidentAttr } from './record.ts';
import { joinAdjacentRuns } from './runlist-encode.ts';
import type { Run } from './runlist.ts';
import { planShrunkBitmap, type BitmapEdit } from './shrink-bitmap.ts';
import { readVolumeState } from './volume-state.ts';

const RECORD = { bitmap: 6, badClus: 8 } as const;

export interface NtfsShrinkLimit {
  clusterSize: number;
  bytesPerSector: number;
  clusters: number;
  /** The highest cluster $Bitmap marks used (-1 if none). */
  lastUsedCluster: number;
  /**
   * Smallest partition size in bytes the volume can shrink to: (lastUsedCluster + 1) clusters
   * and the backup boot sector (whole sectors, since clusters are).
   */
  minimumSize: number;
  /**
   * Who owns the last used cluster: a path like `\pagefile.sys` from the owning record's
   * `$FILE_NAME` and its parents', else "MFT record N"; absent if no in-use record claims it.
   */
  owner?: string;
}

export interface ShrinkResult {
  bytesPerSector: number;
  clusterSize: number;
  oldNumberOfSectors: number;
  newNumberOfSectors: number;
  oldClusters: number;
  newClusters: number;
  removedClusters: number;
  bitmap: {
    oldSize: number;
    newSize: number;
    runs: Run[];
    /** Clusters $Bitmap held and no longer needs (now free). */
    freed: ClusterRange[];
  };
  /** Used clusters per $Bitmap: after = before − the freed $Bitmap clusters. */
  usedClustersBefore: number;
  usedClustersAfter: number;
  /** Byte offset of the backup boot sector on the device (the new last sector). */
  backupBootSectorOffset: number;
  /** MFT records written, in that order, and those of them also written to $MFTMirr. */
  recordsWritten: number[];
  mirroredRecords: number[];
  warnings: string[];
}

interface PlannedRecord extends RecordChange {
  /** The bytes the record replaces, to recognise the volume on the target. */
  oldRaw: Uint8Array;
  alsoInMirror: boolean;
}

/** Everything applyNtfsShrink writes, computed and checked on the old volume. */
export interface NtfsShrinkPlan {
  result: ShrinkResult;
  /** The device the plan was read from, and the size asked for. */
  source: string;
  newSize: number;
  oldBootSector: Uint8Array;
  bootSector: Uint8Array;
  /** Record 8 ($BadClus), then record 6 ($Bitmap). */
  records: PlannedRecord[];
  bitmapEdits: {
    /** The last byte(s) of the new $Bitmap: bits past the new last cluster set. */
    padding?: BitmapEdit;
    /** The bits of the clusters $Bitmap gives up, cleared. */
    freed: BitmapEdit[];
  };
  /** Runs of $MFT and $MFTMirr, to write records through (all below the new end). */
  mftRuns: Run[];
  mirrorRuns: Run[];
  mftRecordSize: number;
}

const refusalFor = (device: string, newSize: number): Refusal => (reason, message, data = {}) =>
  cannotShrink(reason, message, { device, newSize, ...data });

/** How far the NTFS volume on `volume` can shrink without moving data (read-only). */
export async function ntfsShrinkLimit(volume: ReadableDevice): Promise<NtfsShrinkLimit> {
  const vol = await openNtfs(volume);
  const lastUsedCluster = await lastUsed(vol);
  const owner = lastUsedCluster >= 0 ? await ownerOf(vol, lastUsedCluster) : undefined;
  return { ...limitOf(vol, lastUsedCluster), ...(owner ? { owner: owner.name } : {}) };
}

function limitOf(vol: NtfsVolume, lastUsedCluster: number): NtfsShrinkLimit {
  const g = vol.geometry;
  return {
    clusterSize: g.clusterSize, bytesPerSector: g.bytesPerSector, clusters: g.clusters, lastUsedCluster,
    minimumSize: (lastUsedCluster + 1) * g.clusterSize + g.bytesPerSector,
  };
}

async function lastUsed(vol: NtfsVolume): Promise<number> {
  const last = (await vol.bitmapExtents()).extents.extents.at(-1);
  return last ? (last.start + last.length) / vol.geometry.clusterSize - 1 : -1;
}

/** The in-use record using cluster `lcn`, and its path for messages. */
async function ownerOf(vol: NtfsVolume, lcn: number): Promise<{ record: number; name: string } | undefined> {
  const [record = -1] = await clusterOwners(vol, [{ lcn, length: 1 }]);
  return record < 0 ? undefined : { record, name: await nameOf(vol, record) };
}

const nameOf = async (vol: NtfsVolume, record: number) => (await recordPath(vol, record)) ?? `MFT record ${record}`;

/**
 * Read-only: check that the volume on `volume` (the whole old volume; it may be an image's view
 * of the source partition) can shrink to `newSize` bytes without moving data, and build the new
 * metadata. Refusals are UsageErrors with `data.reason`: 'bad-size', 'not-smaller',
 * 'volume-state', 'attribute-list', 'bitmap-flags', 'bitmap-initialized',
 * 'bad-cluster-beyond-end', 'data-beyond-end', 'missing-cluster'.
 */
export async function planNtfsShrink(volume: ReadableDevice, newSize: number): Promise<NtfsShrinkPlan> {
  const refuse = refusalFor(volume.name, newSize);
  if (!Number.isSafeInteger(newSize) || newSize <= 0) throw refuse('bad-size', `${newSize} is not a positive whole number of bytes`);
  const vol = await openNtfs(volume);
  const g = vol.geometry;
  const spc = g.clusterSize / g.bytesPerSector;
  const newNumberOfSectors = Math.floor(newSize / g.bytesPerSector) - 1; // the last sector holds the backup boot sector
  const oldBytes = (g.numberOfSectors + 1) * g.bytesPerSector;
  if (newNumberOfSectors >= g.numberOfSectors) {
    throw refuse('not-smaller', `the volume is ${oldBytes} bytes with its backup boot sector, no larger than the new size (growNtfs makes a volume larger)`, { volumeBytes: oldBytes });
  }
  const newClusters = Math.max(0, Math.floor(newNumberOfSectors / spc));

  const state = await readVolumeState(vol.mft);
  if (state.refusals.length > 0) throw refuse('volume-state', state.refusals.join('; '), { flags: state.flags, log: state.log.state });

  const lastUsedCluster = await lastUsed(vol);
  const neededBytes = limitOf(vol, lastUsedCluster).minimumSize;
  const badClus = await loadBadClus(vol, newClusters, neededBytes, refuse);
  await checkNothingPastEnd(vol, newClusters, lastUsedCluster, neededBytes, refuse);

  const usedClustersBefore = await vol.usedClusters();
  const mirror = await mirrorShape(vol);
  const bitmap = await planShrunkBitmap(vol, newClusters, refuse);
  const size = g.mftRecordSize;
  const records: PlannedRecord[] = [];
  for (const change of [cutBadClus(badClus, newClusters, g.clusterSize), bitmap.record]) {
    records.push({ ...change, oldRaw: await vol.mft.stream.read(change.recordNumber * size, size), alsoInMirror: change.recordNumber < mirror.records });
  }

  const oldBootSector = await volume.read(0, g.bytesPerSector);
  const bootSector = oldBootSector.slice();
  writeField(NtfsBootSector.fields.numberOfSectors, bootSector, 0, BigInt(newNumberOfSectors));
  checkBootSector(oldBootSector, bootSector, newSize, newClusters);

  return {
    result: {
      bytesPerSector: g.bytesPerSector, clusterSize: g.clusterSize,
      oldNumberOfSectors: g.numberOfSectors, newNumberOfSectors,
      oldClusters: g.clusters, newClusters, removedClusters: g.clusters - newClusters,
      bitmap: { oldSize: bitmap.oldSize, newSize: bitmap.newSize, runs: bitmap.runs, freed: bitmap.freed },
      usedClustersBefore, usedClustersAfter: usedClustersBefore - bitmap.cleared,
      backupBootSectorOffset: newNumberOfSectors * g.bytesPerSector,
      recordsWritten: records.map((r) => r.recordNumber),
      mirroredRecords: records.filter((r) => r.alsoInMirror).map((r) => r.recordNumber),
      warnings: bitmap.warnings,
    },
    source: volume.name, newSize, oldBootSector, bootSector, records,
    bitmapEdits: { ...(bitmap.padding ? { padding: bitmap.padding } : {}), freed: bitmap.freedEdits },
    mftRuns: vol.mft.stream.shape.runs, mirrorRuns: mirror.runs, mftRecordSize: size,
  };
}

/**
 * No cluster at or past the new end may be in use: neither per $Bitmap (the last used cluster,
 * named by its owner) nor per any in-use record whose runs reach there although $Bitmap says
 * free ("missing" bits, filesystems.md 3.3 — only chkdsk can tell which is right).
 */
async function checkNothingPastEnd(vol: NtfsVolume, newClusters: number, lastUsedCluster: number, neededBytes: number, refuse: Refusal): Promise<void> {
  if (lastUsedCluster >= newClusters) {
    const owner = await ownerOf(vol, lastUsedCluster);
    const who = owner ? `owned by ${owner.name}` : 'marked used in $Bitmap but owned by no file';
    throw refuse('data-beyond-end', `cluster ${lastUsedCluster} (${who}) lies past the new end (the volume would have ${newClusters} clusters); the volume needs at least ${neededBytes} bytes`,
      { neededBytes, lastUsedCluster, newClusters, owner: owner?.name, ownerRecord: owner?.record });
  }
  const cut = vol.geometry.clusters - newClusters;
  if (cut <= 0) return;
  const [record = -1] = await clusterOwners(vol, [{ lcn: newClusters, length: cut }]);
  if (record < 0) return;
  const file = await vol.mft.record(record);
  const cluster = Math.min(...(file?.attributes ?? []).flatMap((a) => (a.resident ? [] : a.runs))
    .flatMap((r) => (r.lcn !== null && r.lcn + r.length > newClusters ? [Math.max(r.lcn, newClusters)] : [])));
  const owner = await nameOf(vol, record);
  throw refuse('missing-cluster', `${owner} (MFT record ${record}) uses cluster ${cluster}, past the new end, although $Bitmap marks it free: the volume is inconsistent; run chkdsk /f on Windows first`,
    { record, cluster, owner, newClusters });
}

/**
 * `$BadClus:$Bad` spans the volume: its allocated runs are the bad clusters, the rest a hole. A
 * bad cluster past the new end is refused (the list of bad clusters would lose it). A `$Bad`
 * already cut to the new end (an interrupted shrink) or longer than the volume is accepted.
 */
async function loadBadClus(vol: NtfsVolume, newClusters: number, neededBytes: number, refuse: Refusal): Promise<{ rec: MetadataRecord; attr: NonResidentAttr }> {
  const g = vol.geometry;
  const cs = g.clusterSize;
  const rec = await loadMetadataRecord(vol, RECORD.badClus, '$BadClus', g.clusters, refuse);
  const attr = dataAttribute(rec, '$BadClus', '$Bad');
  const past = attr.runs.filter((r) => r.lcn !== null && r.lcn + r.length > newClusters);
  if (past.length > 0) {
    const cluster = Math.max(past[0]!.lcn!, newClusters);
    const lastBad = Math.max(...past.map((r) => r.lcn! + r.length - 1));
    const needed = Math.max(neededBytes, (lastBad + 1) * cs + g.bytesPerSector); // $Bitmap normally marks bad clusters used anyway
    throw refuse('bad-cluster-beyond-end', `$BadClus lists cluster ${cluster} as bad, past the new end (the volume would have ${newClusters} clusters); the volume needs at least ${needed} bytes`,
      { cluster, newClusters, neededBytes: needed });
  }
  const covered = attr.runs.reduce((s, r) => s + r.length, 0);
  if (covered < newClusters || attr.dataSize !== covered * cs || attr.allocatedSize !== covered * cs) {
    throw new CorruptStructureError('$BadClus:$Bad', attr.offset,
      `spans ${covered} clusters (data size ${attr.dataSize}, allocated ${attr.allocatedSize}) on a volume of ${g.clusters}: run chkdsk /f on Windows first`);
  }
  return { rec, attr };
}

function cutBadClus({ rec, attr }: { rec: MetadataRecord; attr: NonResidentAttr }, newClusters: number, cs: number): RecordChange {
  const runs = joinAdjacentRuns(truncateRuns(attr.runs, newClusters));
  const bytes = newClusters * cs;
  return rewriteDataAttribute(rec, '$Bad', { runs, allocatedSize: bytes, dataSize: bytes, initializedSize: Math.min(attr.initializedSize, bytes) }, newClusters);
}

type Step = 'bitmap padding' | 'records' | 'freed $Bitmap clusters' | 'backup boot sector' | 'boot sector';

/**
 * Write `plan` to `target`: a writable device of the new partition size (or larger) holding the
 * same volume bytes as the planned volume below the new end — a restored copy, or the same
 * device. The target is recognised by its boot sector and records 6 and 8 (old or already new
 * bytes, so a plan cut off while writing can be applied again), and is not opened as a volume
 * until its boot sector has been rewritten (a smaller target could not hold the old size). Writes
 * $Bitmap's padding bits, record 8 then record 6 (and their $MFTMirr copies), the freed $Bitmap
 * clusters' bits, the backup boot sector at the new last sector, and sector 0 last; then opens
 * the target afresh and compares (NTFS_SHRINK_VERIFY). A failure while writing is
 * NTFS_SHRINK_INTERRUPTED naming the step.
 */
export async function applyNtfsShrink(target: WritableDevice, plan: NtfsShrinkPlan): Promise<ShrinkResult> {
  const r = plan.result;
  const refuse = refusalFor(target.name, plan.newSize);
  if ((target as ReadableDevice).writable !== true || typeof target.write !== 'function') throw refuse('read-only', `${target.name} was opened read-only`);
  const needed = r.backupBootSectorOffset + r.bytesPerSector;
  if (target.size < needed) {
    throw refuse('target-too-small', `${target.name} is ${target.size} bytes; the volume with its backup boot sector needs ${needed}`, { deviceSize: target.size, neededBytes: needed });
  }
  await checkTarget(target, plan, refuse);

  const cs = r.clusterSize;
  const size = plan.mftRecordSize;
  const edits = plan.bitmapEdits;
  let step: Step = 'bitmap padding';
  try {
    // 1. The padding bits: the old size sees its clusters past the new end marked used by no file.
    if (edits.padding) await writeThroughRuns(target, r.bitmap.runs, cs, edits.padding.at, edits.padding.bytes, '$Bitmap');
    await target.flush();
    // 2. $BadClus, then $Bitmap: from here the old size's $Bitmap no longer covers its clusters.
    step = 'records';
    for (const rec of plan.records) {
      await writeThroughRuns(target, plan.mftRuns, cs, rec.recordNumber * size, rec.raw, '$MFT');
      if (rec.alsoInMirror) await writeThroughRuns(target, plan.mirrorRuns, cs, rec.recordNumber * size, rec.raw, '$MFTMirr');
      await target.flush();
    }
    // 3. The clusters $Bitmap gave up become free (no record names them any more).
    step = 'freed $Bitmap clusters';
    for (const e of edits.freed) await writeThroughRuns(target, r.bitmap.runs, cs, e.at, e.bytes, '$Bitmap');
    await target.flush();
    // 4. The boot sectors give the volume its new size.
    step = 'backup boot sector';
    await target.write(r.backupBootSectorOffset, plan.bootSector);
    await target.flush();
    step = 'boot sector';
    await target.write(0, plan.bootSector);
    await target.flush();
  } catch (e) {
    const state = step === 'boot sector'
      ? 'the boot sector may be half written; the backup boot sector at the new end already holds the new one (ntfsfix can copy it back)'
      : 'the boot sector was not written, so the volume still claims its old size while its $Bitmap and $BadClus may already be cut; applying the same plan again finishes the shrink';
    const err = new LifeboatError('NTFS_SHRINK_INTERRUPTED',
      `shrinking the NTFS volume on ${target.name} stopped while writing the ${step}: ${e instanceof Error ? e.message : String(e)}; ${state}`,
      { device: target.name, step, newSize: plan.newSize });
    err.cause = e;
    throw err;
  }
  await verifyShrink(target, plan);
  return r;
}

/** The target holds the planned volume: its boot sector and records 6 and 8, old or new. */
async function checkTarget(target: WritableDevice, plan: NtfsShrinkPlan, refuse: Refusal): Promise<void> {
  const same = (a: Uint8Array, b: Uint8Array) => Buffer.from(a).equals(b);
  const boot = await target.read(0, plan.result.bytesPerSector);
  if (!same(boot, plan.oldBootSector) && !same(boot, plan.bootSector)) {
    throw refuse('target-mismatch', `${target.name} does not hold the volume planned on ${plan.source}: its boot sector differs`, { source: plan.source });
  }
  for (const rec of plan.records) {
    const now = await readThroughRuns(target, plan.mftRuns, plan.result.clusterSize, rec.recordNumber * plan.mftRecordSize, plan.mftRecordSize, '$MFT');
    if (!same(now, rec.oldRaw) && !same(now, rec.raw)) {
      throw refuse('target-mismatch', `${target.name} does not hold the volume planned on ${plan.source}: its MFT record ${rec.recordNumber} differs`, { source: plan.source, record: rec.recordNumber });
    }
  }
}

/** Open the shrunk volume afresh and compare with the plan. */
async function verifyShrink(target: WritableDevice, plan: NtfsShrinkPlan): Promise<void> {
  const r = plan.result;
  const fail = (what: string) => new LifeboatError('NTFS_SHRINK_VERIFY',
    `the NTFS volume on ${target.name} was shrunk but does not read back as planned: ${what}`, { device: target.name, what });
  const { vol, bitmap } = await verifyResized(target, plan, fail);
  for (const e of [...(plan.bitmapEdits.padding ? [plan.bitmapEdits.padding] : []), ...plan.bitmapEdits.freed]) {
    if (!Buffer.from(await bitmap.read(e.at, e.bytes.length)).equals(e.bytes)) throw fail(`$Bitmap bytes at ${e.at} differ`);
  }
  const used = await vol.usedClusters();
  if (used !== r.usedClustersAfter) throw fail(`$Bitmap marks ${used} clusters used, ${r.usedClustersAfter} expected`);
}

/** Plan on `volume` and apply to it: the volume shrinks in place to `newSize` bytes. */
export async function shrinkNtfs(volume: WritableDevice, newSize: number): Promise<ShrinkResult> {
  if ((volume as ReadableDevice).writable !== true || typeof volume.write !== 'function') {
    throw refusalFor(volume.name, newSize)('read-only', `${volume.name} was opened read-only`);
  }
  return applyNtfsShrink(volume, await planNtfsShrink(volume, newSize));
}

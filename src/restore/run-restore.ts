/**
 * Carries out a restore plan in the order that keeps a half-finished restore from looking like
 * a good disk (DESIGN.md, Restore and safety rules): old signatures cleared first, data, then
 * the volumes' boot sectors and their placement fix-ups, then the partition table, last.
 */
import type { WritableDevice } from '../device/block-device.ts';
import { partitionDevice } from '../device/partition-device.ts';
import { CorruptStructureError, LifeboatError } from '../errors.ts';
import type { BackupEvent } from '../events.ts';
import { ExtentList, type Extent } from '../fs/extents.ts';
import { openFilesystem } from '../fs/open-filesystem.ts';
import { probeFilesystem } from '../fs/probe.ts';
import type { ImageReader } from '../image/reader.ts';
import { RECORD_TYPE } from '../image/format.ts';
import { RecordPool } from '../image/record-pool.ts';
import { randomBytes, randomUUID } from 'node:crypto';
import { decodeMbr, encodeMbr, readMbrLayout, type Mbr } from '../partition/mbr.ts';
import { writeAndVerify } from '../partition/table-write.ts';
import { GPT_ENTRY_SIZE, readGpt } from '../partition/gpt.ts';
import { encodeGpt, gptSpec, writeGpt, type GptSpec } from '../partition/gpt-encode.ts';
import { encodeProtectiveMbr, mbrLayoutSpec, writeMbrLayout } from '../partition/mbr-encode.ts';
import { readDiskLayout } from '../partition/disk-layout.ts';
import { fixVolumePlacement } from './fixups.ts';
import { growNtfs } from '../fs/ntfs/grow.ts';
import { applyNtfsShrink, planNtfsShrink } from '../fs/ntfs/shrink.ts';
import { applySectorSizeChange, planSectorSizeChange } from '../fs/sector-size.ts';
import { identityMappingFromRestore, planBootRepair, runBootRepair } from '../boot/repair.ts';
import { needsMbrCode, patchMbr } from '../boot/fix-boot.ts';
import { RestoreRefusedError, type RestorePlan } from './plan.ts';

export interface RunRestoreOptions {
  /** Must equal the target's name: the front end's proof that the user confirmed this disk. */
  confirmTarget: string;
  threads?: number;
  signal?: AbortSignal;
  onEvent?: (event: BackupEvent) => void;
  /**
   * After a whole-disk restore that moved partitions or changed the disk's identity, rewrite the
   * BCD stores and MountedDevices to name the restored partitions (src/boot/repair.ts); on an
   * MBR disk whose boot code area is empty, write Lifeboat's MBR code.
   */
  repairBoot?: boolean;
}

/** Old and new identities of a restored disk given a new one (boot repair rewrites BCD and MountedDevices from it). */
export interface DiskIdentityChange {
  scheme: 'mbr' | 'gpt';
  oldDiskId: string;
  newDiskId: string;
  partitions: Array<{ index: number; oldGuid: string; newGuid: string }>;
}

export interface RestoreResult {
  identity?: DiskIdentityChange;
  bytesWritten: number;
  seconds: number;
  fixedPlacement: number[];
  /** Partitions whose NTFS volume was grown into a larger partition, or shrunk into a smaller one. */
  grown: number[];
  shrunk: number[];
  /** Partitions whose volumes were rewritten for the target's logical sector size. */
  converted: number[];
  /** Boot repair (with `repairBoot`): hives rewritten, values left alone that need a look, or why it could not run. */
  bootRepair?: { rewritten: Array<{ partition: number; path: string; edits: number }>; attention: string[]; failed?: string; mbrCodeWritten?: boolean };
  zeroedExcluded: string[];
}

/** Boot sectors (and NTFS's $Boot) are held back so a cut restore leaves no valid volume start. */
const VOLUME_HEAD = 8192;
const STEP = 4 << 20;

export async function runRestore(reader: ImageReader, target: WritableDevice, plan: RestorePlan, options: RunRestoreOptions): Promise<RestoreResult> {
  if (options.confirmTarget !== target.name || plan.target.name !== target.name) {
    throw new RestoreRefusedError(`the restore to ${target.name} was not confirmed for that disk`, { target: target.name });
  }
  const started = performance.now();
  const emit = options.onEvent ?? (() => {});
  const heads = ExtentList.of(plan.partitions.map((p) => ({ start: p.to.offset, length: Math.min(VOLUME_HEAD, p.to.size) })));
  const deferred = plan.tableExtents.union(heads);
  const inPartitions = plan.partitions.reduce((acc, p) => acc.union(p.extents), ExtentList.empty);
  let written = 0;
  const total = plan.dataExtents.bytes + (plan.zeroFree ? zeroFreeExtents(plan).bytes : 0);
  let last = 0;

  const progress = () => {
    if (performance.now() - last < 250) return;
    last = performance.now();
    const seconds = (last - started) / 1000;
    emit({ type: 'progress', phase: 'copy', bytesDone: written, bytesTotal: total, rate: written / seconds,
      etaSeconds: written > 0 ? (total - written) / (written / seconds) : undefined });
  };
  /** Zeros over `extents` (--zero-free). */
  const writeZeros = async (extents: readonly Extent[]) => {
    const zeros = new Uint8Array(STEP);
    for (const e of extents) {
      for (let at = e.start; at < e.start + e.length; at += STEP) {
        checkAbort(options.signal, target.name);
        const n = Math.min(STEP, e.start + e.length - at);
        await target.write(at, zeros.subarray(0, n));
        written += n;
        progress();
      }
    }
  };

  emit({ type: 'phase', phase: 'copy', message: `clearing the old signatures on ${target.name}` });
  for (const e of deferred.extents) await target.write(e.start, new Uint8Array(e.length));
  await target.flush();

  emit({ type: 'phase', phase: 'copy', message: `restoring ${plan.dataExtents.bytes} bytes to ${target.name}` });
  const pool = new RecordPool(options.threads ? { threads: options.threads } : {});
  try {
    const onBytes = (n: number) => {
      written += n;
      progress();
    };
    // Each partition's bytes move by its own shift; anything outside partitions stays in place.
    const pieces = [
      ...plan.partitions.map((p) => ({ extents: p.extents, shift: p.to.offset - p.from.offset })),
      { extents: plan.dataExtents.subtract(inPartitions), shift: 0 },
    ];
    for (const piece of pieces) await copyChunks(reader, target, piece.extents.subtract(deferred), piece.shift, pool, onBytes, options.signal);
    if (plan.zeroFree) await writeZeros(zeroFreeExtents(plan).subtract(deferred).extents);
    for (const piece of pieces) await copyChunks(reader, target, piece.extents.intersect(heads), piece.shift, pool, onBytes, options.signal);
  } finally {
    await pool.close();
  }

  const fixedPlacement: number[] = [];
  const grown: number[] = [];
  const zeroedExcluded: string[] = [];
  const shrunk: number[] = [];
  const converted: number[] = [];
  const sizeChange = plan.sectorSizeChange;
  for (const p of plan.partitions) {
    const volume = partitionDevice(target, p.to.offset, p.to.size, `${target.name} partition ${p.to.index}`);
    const source = partitionDevice(reader.device(), p.from.offset, p.from.size, `${reader.path} partition ${p.index}`);
    if (sizeChange?.partitions.includes(p.index)) {
      // Before any resize: the grower opens the volume in the target's sector size.
      emit({ type: 'phase', phase: 'finish', message: `rewriting partition ${p.to.index}'s volume for ${sizeChange.to}-byte sectors` });
      await applySectorSizeChange(volume, await planSectorSizeChange(source, sizeChange.to));
      converted.push(p.to.index);
    }
    // Resize first: the shrinker's boot sector comes from the image, so the placement fix-up
    // below must come after it, and it then finds the backup boot sector at the volume's new end.
    if (p.resize === 'grow') {
      emit({ type: 'phase', phase: 'finish', message: `growing the NTFS volume of partition ${p.to.index} to ${p.to.size} bytes` });
      await growNtfs(volume, p.to.size);
      grown.push(p.to.index);
    } else if (p.resize === 'shrink') {
      emit({ type: 'phase', phase: 'finish', message: `shrinking the NTFS volume of partition ${p.to.index} to ${p.to.size} bytes` });
      await applyNtfsShrink(volume, await planNtfsShrink(source, p.to.size));
      shrunk.push(p.to.index);
    }
    const placementChanged = p.to.offset !== p.from.offset || sizeChange !== undefined;
    if (placementChanged && (await fixVolumePlacement(volume, p.to.offset / target.sectorSize))) fixedPlacement.push(p.to.index);
    if (p.excludedFiles.length > 0) zeroedExcluded.push(...await zeroExcludedHeads(volume, p.excludedFiles));
  }

  let identity: DiskIdentityChange | undefined;
  if (plan.kind === 'disk') {
    emit({ type: 'phase', phase: 'finish', message: 'writing the partition table' });
    identity = await writeTables(reader, target, plan);
  }
  await target.flush();
  if (plan.kind === 'disk') await checkLayout(target, plan);
  const result: RestoreResult = {
    ...(identity ? { identity } : {}), bytesWritten: written, seconds: (performance.now() - started) / 1000, fixedPlacement, grown, shrunk, converted, zeroedExcluded,
  };
  if (options.repairBoot && plan.kind === 'disk') {
    const identitiesChanged = plan.relayout || plan.newDiskId;
    if (identitiesChanged) {
      emit({ type: 'phase', phase: 'finish', message: 'rewriting the BCD stores and MountedDevices for the restored disk' });
      result.bootRepair = await repairAfterRestore(target, plan, result, emit);
    }
    // The image's own boot code is kept; an MBR disk whose code area is empty gets Lifeboat's.
    if (plan.image.scheme === 'mbr' && (await needsMbrCode(target))) {
      await patchMbr(target, { code: true });
      result.bootRepair = { rewritten: [], attention: [], ...result.bootRepair, mbrCodeWritten: true };
    }
  }
  return result;
}

/**
 * The restore itself is complete when this runs: a boot repair that cannot be done (a dirty
 * hive without its logs, a store for the other partition style) is reported in the result and
 * as a warning, and `lifeboat fix-boot` can be run once the cause is dealt with.
 */
async function repairAfterRestore(target: WritableDevice, plan: RestorePlan, result: RestoreResult, emit: (e: BackupEvent) => void): Promise<NonNullable<RestoreResult['bootRepair']>> {
  try {
    const mapping = identityMappingFromRestore(plan, result, await readDiskLayout(target));
    const repair = await planBootRepair(target, mapping);
    const done = await runBootRepair(target, repair);
    const attention = repair.hives.flatMap((h) => h.untouched.filter((u) => u.attention).map((u) => `${h.file.path}: ${u.description}`));
    for (const a of attention) emit({ type: 'warning', message: `boot repair left alone ${a}` });
    return { rewritten: done.rewritten, attention };
  } catch (e) {
    if (!(e instanceof LifeboatError)) throw e;
    const message = `the restore is complete, but its boot configuration was not rewritten: ${e.message}`;
    emit({ type: 'warning', message });
    return { rewritten: [], attention: [], failed: message };
  }
}

function checkAbort(signal: AbortSignal | undefined, target: string): void {
  if (signal?.aborted) throw new LifeboatError('ABORTED', `the restore to ${target} was cancelled; the disk is left without a partition table`);
}

/**
 * Write the image bytes of `extents` (target offsets; the image holds them at offset − shift):
 * records are read in order, decoded by the worker pool with a bounded read-ahead, and each
 * chunk is checked (CRCs, tag, size) before any of its bytes reach the target.
 */
async function copyChunks(reader: ImageReader, target: WritableDevice, extents: ExtentList, shift: number, pool: RecordPool,
  onBytes: (n: number) => void, signal: AbortSignal | undefined): Promise<void> {
  const cs = reader.chunkSize;
  const source = extents.shift(-shift).extents;
  const queue: Array<{ n: number; data: Promise<Uint8Array> }> = [];
  const flush = async () => {
    const { n, data } = queue.shift()!;
    const bytes = await data;
    for (const e of source) {
      const from = Math.max(e.start, n * cs);
      const to = Math.min(e.start + e.length, n * cs + bytes.length);
      if (e.start >= n * cs + cs) break;
      if (from >= to) continue;
      await target.write(from + shift, bytes.subarray(from - n * cs, to - n * cs));
      onBytes(to - from);
    }
  };
  let previous = -1;
  for (const e of source) {
    for (let n = Math.max(Math.floor(e.start / cs), previous + 1); n * cs < e.start + e.length; n++) {
      checkAbort(signal, target.name);
      previous = n;
      const loc = reader.chunks.get(n);
      if (!loc) throw new CorruptStructureError(`image ${reader.path}`, n * cs, 'the index has no chunk for bytes the image claims to hold');
      const ctx = reader.context;
      const data = loc.place
        ? reader.readRawRecord(loc.place, RECORD_TYPE.chunk).then(({ head, payload }) =>
          pool.decode({ head, payload, place: loc.place!, imageId: ctx.imageId, ...(ctx.key ? { key: ctx.key } : {}) }))
        : Promise.resolve(new Uint8Array(loc.sourceLength));
      data.catch(() => {}); // awaited in order by flush; this only keeps an early rejection from going unhandled
      queue.push({ n, data });
      if (queue.length >= pool.capacity) await flush();
    }
  }
  while (queue.length > 0) await flush();
}

/** Inside the restored partitions, what the image does not hold. */
function zeroFreeExtents(plan: RestorePlan): ExtentList {
  return ExtentList.of(plan.partitions.map((p) => ({ start: p.to.offset, length: p.to.size }))).subtract(plan.dataExtents);
}

/**
 * Excluded page/hibernation/swap files keep their records, but their clusters hold whatever the
 * target had. Zero each one's first cluster so an old hibernation header cannot be resumed.
 */
async function zeroExcludedHeads(volume: WritableDevice, paths: string[]): Promise<string[]> {
  const fs = await openFilesystem(volume, await probeFilesystem(volume));
  if (!fs) return [];
  const done: string[] = [];
  for (const path of paths) {
    // The header is at the start of the file, which need not be its lowest cluster on disk.
    const first = (await fs.fileLayout(path)).runs.find((r) => r.fileOffset === 0);
    if (!first || first.volumeOffset === null) continue;
    await volume.write(first.volumeOffset, new Uint8Array(Math.min(fs.clusterSize, first.length)));
    done.push(path);
  }
  return done;
}

function newSignature(old: number): number {
  let v = 0;
  while (v === 0 || v === old) v = randomBytes(4).readUInt32LE(0);
  return v;
}

async function writeTables(reader: ImageReader, target: WritableDevice, plan: RestorePlan): Promise<DiskIdentityChange | undefined> {
  const s = target.sectorSize;
  const sameSize = plan.target.size === plan.image.sourceSize;
  const mbr = decodeMbr(await reader.read(0, 512));
  if (plan.relayout) return writeNewLayout(reader, target, plan, mbr);
  if (plan.image.scheme !== 'gpt' || (sameSize && !plan.newDiskId)) {
    for (const e of plan.tableExtents.extents) {
      if (e.start + e.length <= plan.image.sourceSize) await target.write(e.start, await reader.read(e.start, e.length));
    }
    if (plan.image.scheme !== 'mbr' || !plan.newDiskId) return undefined;
    const signature = newSignature(mbr.diskSignature);
    const lba0 = encodeMbr({ ...mbr, diskSignature: signature });
    await writeAndVerify(target, [{ offset: 0, bytes: lba0, what: 'MBR with a new disk signature' }]);
    const hex = (v: number) => v.toString(16).padStart(8, '0');
    return { scheme: 'mbr', oldDiskId: hex(mbr.diskSignature), newDiskId: hex(signature), partitions: [] };
  }
  // GPT on a disk of another size, or with a new identity: the first MiB as it was (boot code,
  // gap), then the tables re-encoded so the backup header and entries sit at the new end.
  const head = plan.tableExtents.extents[0]!;
  await target.write(head.start, await reader.read(head.start, head.length));
  const gpt = await readGpt(reader.device());
  const spec = gptSpec(gpt);
  const renamed = plan.newDiskId ? spec.partitions.map((p) => ({ ...p, uniqueGuid: randomUUID() })) : spec.partitions;
  const diskGuid = plan.newDiskId ? randomUUID() : spec.diskGuid;
  const encoded = encodeGpt({ ...spec, diskGuid, partitions: renamed }, { sectorSize: s, diskSectors: Math.floor(target.size / s) });
  await writeGpt(target, encoded, encodeProtectiveMbr(Math.floor(target.size / s), { bootCode: mbr.bootCode, diskSignature: mbr.diskSignature }));
  if (!plan.newDiskId) return undefined;
  return {
    scheme: 'gpt', oldDiskId: spec.diskGuid, newDiskId: diskGuid,
    partitions: spec.partitions.map((p, i) => ({ index: p.index, oldGuid: p.uniqueGuid, newGuid: renamed[i]!.uniqueGuid })),
  };
}

/**
 * Partitions moved or resized: the boot code and gap as they were, then the table encoded anew
 * with the planned positions (a GPT also gets its backup at the target's end).
 */
async function writeNewLayout(reader: ImageReader, target: WritableDevice, plan: RestorePlan, mbr: Mbr): Promise<DiskIdentityChange | undefined> {
  const s = target.sectorSize;
  const head = plan.tableExtents.extents[0]!;
  // Boot code and the gap before the first partition; where that partition moved up
  // (realigned), the rest of the new gap stays zero rather than holding its old first sectors.
  const sourceFirst = Math.min(plan.image.sourceSize, ...plan.partitions.map((p) => p.from.offset));
  // In another sector size the old gap holds tables at the wrong places: the new ones are encoded below.
  if (!plan.sectorSizeChange) await target.write(head.start, await reader.read(head.start, Math.min(head.length, sourceFirst)));
  const to = new Map(plan.partitions.map((p) => [p.index, p.to]));
  if (plan.image.scheme === 'gpt') {
    const spec = gptSpec(await readGpt(reader.device()));
    if (plan.sectorSizeChange) spec.firstUsableLba = firstUsableIn(spec, plan.image.sectorSize, s);
    const partitions = spec.partitions.map((p) => {
      const t = to.get(p.index)!;
      return { ...p, startLba: t.offset / s, endLba: (t.offset + t.size) / s - 1, ...(plan.newDiskId ? { uniqueGuid: randomUUID() } : {}) };
    });
    const diskGuid = plan.newDiskId ? randomUUID() : spec.diskGuid;
    const encoded = encodeGpt({ ...spec, diskGuid, partitions }, { sectorSize: s, diskSectors: Math.floor(target.size / s) });
    await writeGpt(target, encoded, encodeProtectiveMbr(Math.floor(target.size / s), { bootCode: mbr.bootCode, diskSignature: mbr.diskSignature }));
    return plan.newDiskId ? {
      scheme: 'gpt', oldDiskId: spec.diskGuid, newDiskId: diskGuid,
      partitions: spec.partitions.map((p, i) => ({ index: p.index, oldGuid: p.uniqueGuid, newGuid: partitions[i]!.uniqueGuid })),
    } : undefined;
  }
  const layout = await readMbrLayout(reader.device());
  const spec = mbrLayoutSpec(layout, s, Math.floor(target.size / s));
  const ext = plan.extended;
  const primary = layout.mbr.entries.map((_, slot) => {
    const base = spec.primary[slot];
    const t = ext?.index === slot + 1 ? ext : to.get(slot + 1);
    return base && t ? { ...base, startLba: t.offset / s, sectorCount: t.size / s } : base;
  });
  const logical = (spec.logical ?? []).map((l, k) => {
    const t = to.get(5 + k);
    if (!t || t.table === undefined) throw new LifeboatError('PLAN_MISMATCH', `the plan has no place for logical partition ${5 + k}`, { partition: 5 + k });
    return { ...l, startLba: t.offset / s, sectorCount: t.size / s, ebrLba: t.table / s };
  });
  const signature = plan.newDiskId ? newSignature(mbr.diskSignature) : mbr.diskSignature;
  await writeMbrLayout(target, { ...spec, primary, logical, diskSignature: signature });
  const hex = (v: number) => v.toString(16).padStart(8, '0');
  return plan.newDiskId ? { scheme: 'mbr', oldDiskId: hex(mbr.diskSignature), newDiskId: hex(signature), partitions: [] } : undefined;
}

/**
 * The GPT's first usable LBA in another sector size: the same byte offset rounded up, and never
 * inside the primary header and entry array.
 */
function firstUsableIn(spec: GptSpec, from: number, to: number): number {
  const arraySectors = Math.ceil((spec.numberOfPartitionEntries ?? 128) * GPT_ENTRY_SIZE / to);
  return Math.max(Math.ceil(spec.firstUsableLba * from / to), 2 + arraySectors);
}

/** Read the written table back: the partitions must be where the plan put them. */
async function checkLayout(target: WritableDevice, plan: RestorePlan): Promise<void> {
  const layout = await readDiskLayout(target);
  for (const p of plan.partitions) {
    const found = layout.partitions.find((q) => q.index === p.to.index);
    if (!found || found.offset !== p.to.offset || found.size !== p.to.size) {
      throw new LifeboatError('WRITE_VERIFY', `after the restore, partition ${p.to.index} of ${target.name} does not read back where it was written`, { partition: p.to.index });
    }
  }
}

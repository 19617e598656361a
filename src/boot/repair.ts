/**
 * Boot repair after a restore that moved partitions or gave the disk a new identity: every BCD
 * store and SYSTEM hive on the disk is found, the device elements and MountedDevices values
 * naming source partitions are rewritten to name their restored counterparts, and each hive is
 * written back in place. `planBootRepair` reads and decides (shown before anything changes);
 * `runBootRepair` carries out exactly that plan.
 */
import type { ReadableDevice, WritableDevice } from '../device/block-device.ts';
import { LifeboatError, UsageError } from '../errors.ts';
import type { DiskLayout } from '../partition/disk-layout.ts';
import type { RestorePlan } from '../restore/plan.ts';
import type { RestoreResult } from '../restore/run-restore.ts';
import { openHive, openHiveForEdit, type HiveLogs } from '../registry/index.ts';
import { readBcd } from './bcd.ts';
import { planBcdIdentityEdits, planMountedDevicesEdits, type HiveEdit, type IdentityMapping, type LeftAlone } from './boot-identity-plan.ts';
import { findBootFiles, openBootFileVolume, rewriteFileInPlace, type BootFile } from './boot-files.ts';

export interface HiveRepair {
  file: BootFile;
  edits: HiveEdit[];
  untouched: LeftAlone[];
  /** The hive was dirty and its transaction logs are replayed before the edits. */
  replaysLogs: boolean;
}

export interface BootRepairPlan {
  hives: HiveRepair[];
}

export interface BootRepairResult {
  /** Hives written back, with how many values each had changed. */
  rewritten: Array<{ partition: number; path: string; edits: number }>;
}

/** The transaction logs found beside a hive, by their Windows names. */
async function readLogs(fs: Awaited<ReturnType<typeof openBootFileVolume>>['fs'], file: BootFile): Promise<HiveLogs> {
  const logs: HiveLogs = {};
  for (const path of file.logs) {
    const bytes = await fs.readFile(path);
    if (bytes.length === 0) continue; // an empty log holds nothing to replay
    if (/\.LOG2$/i.test(path)) logs.log2 = bytes;
    else logs.log1 = bytes; // .LOG (old format) or .LOG1
  }
  return logs;
}

async function loadHive(disk: ReadableDevice, file: BootFile) {
  const { fs } = await openBootFileVolume(disk, file);
  const bytes = await fs.readFile(file.path);
  const name = `partition ${file.partition} \\${file.path}`;
  const logs = await readLogs(fs, file);
  // Replays a dirty hive's logs, or refuses it (HiveDirtyError) rather than dropping their data.
  const editor = openHiveForEdit(bytes, name, logs);
  return { bytes, name, logs, editor, replaysLogs: editor.replayed !== undefined };
}

export async function planBootRepair(disk: ReadableDevice, mapping: IdentityMapping): Promise<BootRepairPlan> {
  const hives: HiveRepair[] = [];
  for (const file of await findBootFiles(disk)) {
    const { editor, replaysLogs } = await loadHive(disk, file);
    const hive = openHive(editor.bytes, editor.name);
    const plan = file.kind === 'bcd' ? planBcdIdentityEdits(readBcd(hive), mapping) : planMountedDevicesEdits(hive, mapping);
    hives.push({ file, ...plan, replaysLogs });
  }
  return { hives };
}

export async function runBootRepair(disk: WritableDevice, plan: BootRepairPlan): Promise<BootRepairResult> {
  const rewritten: BootRepairResult['rewritten'] = [];
  for (const h of plan.hives) {
    if (h.edits.length === 0 && !h.replaysLogs) continue;
    const { editor, name } = await loadHive(disk, h.file);
    for (const e of h.edits) {
      const current = editor.hive.key(e.keyPath)?.value(e.valueName)?.data;
      if (!current || !Buffer.from(current).equals(e.oldData)) {
        throw new LifeboatError('BOOT_REPAIR_STALE', `${name}: ${e.keyPath}\\${e.valueName} changed since the repair was planned; plan again`, { path: h.file.path, key: e.keyPath });
      }
      editor.setValueData(e.keyPath, e.valueName, e.registryType, e.newData);
    }
    const { volume, fs } = await openBootFileVolume(disk, h.file);
    // In place: the hive file keeps its size (an edit needing a new hbin is refused there).
    await rewriteFileInPlace(volume, fs, h.file.path, editor.bytes);
    rewritten.push({ partition: h.file.partition, path: h.file.path, edits: h.edits.length });
  }
  return { rewritten };
}

/**
 * What a whole-disk restore did to partition identities, as boot repair needs it: MBR — old
 * and new disk signature, each partition's old and new byte offset; GPT — old and new disk
 * GUID and partition GUIDs (offsets do not matter there). `target` is the restored disk's
 * layout, read back after the restore.
 */
export function identityMappingFromRestore(plan: RestorePlan, result: RestoreResult, target: DiskLayout): IdentityMapping {
  if (plan.kind !== 'disk') throw new UsageError('boot repair after a restore needs a whole-disk restore; run fix-boot on the disk instead');
  if (target.scheme === 'mbr') {
    const current = Number.parseInt(target.diskId ?? '0', 16);
    const old = result.identity ? Number.parseInt(result.identity.oldDiskId, 16) : current;
    return { scheme: 'mbr', oldSignature: old, newSignature: current, partitions: plan.partitions.map((p) => ({ oldOffset: p.from.offset, newOffset: p.to.offset })) };
  }
  if (target.scheme === 'gpt') {
    const renamed = new Map(result.identity?.partitions.map((p) => [p.index, p]) ?? []);
    return {
      scheme: 'gpt', oldDiskGuid: result.identity?.oldDiskId ?? target.diskId!, newDiskGuid: target.diskId!,
      partitions: target.partitions.map((p) => ({ oldGuid: renamed.get(p.index)?.oldGuid ?? p.guid!, newGuid: p.guid! })),
    };
  }
  throw new UsageError(`a disk without a partition table (${target.scheme}) has no partition identities to repair`);
}

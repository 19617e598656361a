/**
 * Lifeboat's engine: the public API the front ends (tui/) call. Everything here runs under
 * plain Node against BlockDevices; it never prints, never imports blessed or koffi, and
 * reports failures as the typed errors of ./errors.ts.
 */
export * from './errors.ts';
export type { BlockDevice, ReadableDevice, WritableDevice } from './device/block-device.ts';
export { MemoryDevice } from './device/memory-device.ts';
export { openFileDevice } from './device/file-device.ts';
export { partitionDevice } from './device/partition-device.ts';
export { readDiskLayout, type DiskLayout, type Partition, type PartitionScheme } from './partition/disk-layout.ts';
export { probeFilesystem, type FilesystemKind } from './fs/probe.ts';
export { openFilesystem } from './fs/open-filesystem.ts';
export { ExtentList, type Extent } from './fs/extents.ts';
export type { DirEntry, FilesystemReader } from './fs/volume.ts';
export { openDiskImage } from './inspect/open-image.ts';
export { detectSectorSize } from './partition/sector-size.ts';
export { inspectDisk, type DiskReport, type VolumeReport } from './inspect/inspect-disk.ts';
export { planBackup, BACKUP_MODES, type BackupMode, type BackupPlan, type PartitionPlan } from './backup/plan.ts';
export { runBackup, AbortedError, DEFAULT_CHUNK, DEFAULT_LEVEL, type BackupOptions, type BackupResult, type HashName } from './backup/run-backup.ts';
export { ImageReader, type ImageMetadata } from './image/reader.ts';
export type { BackupEvent, Phase } from './events.ts';
export { verifyImage, type VerifyReport, type VerifyProblem, type VerifyOptions } from './image/verify.ts';
export { planRestore, RestoreRefusedError, type RestorePlan, type RestoreOptions, type RestorePartitionPlan } from './restore/plan.ts';
export { runRestore, type RestoreResult, type RunRestoreOptions } from './restore/run-restore.ts';
export { buildAcquisitionLog, formatAcquisitionLog, SSD_REMARK, type AcquisitionLog, type LogVerification } from './backup/acquisition-log.ts';
export { PassphraseNeededError, WrongPassphraseError } from './codec/cipher.ts';
export { planFixBoot, runFixBoot, type FixBootPlan, type FixBootResult } from './boot/fix-boot.ts';

/** What `lifeboat inspect` reports: the layout and, for each partition, what it holds. */
import type { ReadableDevice } from '../device/block-device.ts';
import { partitionDevice } from '../device/partition-device.ts';
import { LifeboatError } from '../errors.ts';
import { containerKind, readDiskLayout, type DiskLayout, type Partition } from '../partition/disk-layout.ts';
import { probeFilesystem, type FilesystemKind } from '../fs/probe.ts';
import { openFilesystem } from '../fs/open-filesystem.ts';
import { diffAreaFiles, excludedFiles, type SpecialFile } from '../fs/windows-files.ts';

export interface VolumeReport {
  partition: Partition;
  filesystem: FilesystemKind | 'ldm' | 'storage-spaces';
  /** Present when the filesystem could be read. */
  label?: string;
  clusterSize?: number;
  usedBytes?: number;
  excludedFiles?: SpecialFile[];
  diffArea?: { files: SpecialFile[]; bytes: number };
  /** Why the filesystem could not be read (damage): the volume is still listed. */
  error?: { code: string; message: string };
}

export interface DiskReport {
  device: { name: string; size: number; sectorSize: number };
  layout: DiskLayout;
  volumes: VolumeReport[];
}

export async function inspectVolume(volume: ReadableDevice, partition: Partition): Promise<VolumeReport> {
  const container = containerKind(partition);
  if (container) return { partition, filesystem: container };
  const filesystem = await probeFilesystem(volume);
  const report: VolumeReport = { partition, filesystem };
  try {
    const fs = await openFilesystem(volume, filesystem);
    if (!fs) return report;
    report.label = fs.label;
    report.clusterSize = fs.clusterSize;
    report.usedBytes = (await fs.usedClusters()) * fs.clusterSize;
    report.excludedFiles = await excludedFiles(fs);
    const diff = await diffAreaFiles(fs);
    report.diffArea = { files: diff, bytes: diff.reduce((s, f) => s + f.size, 0) };
  } catch (e) {
    // A damaged filesystem is a finding about this volume, not a reason to stop inspecting the disk.
    if (!(e instanceof LifeboatError)) throw e;
    report.error = { code: e.code, message: e.message };
  }
  return report;
}

export async function inspectDisk(device: ReadableDevice): Promise<DiskReport> {
  const layout = await readDiskLayout(device);
  const volumes: VolumeReport[] = [];
  for (const partition of layout.partitions) {
    const volume = partitionDevice(device, partition.offset, partition.size, `${device.name} partition ${partition.index}`);
    volumes.push(await inspectVolume(volume, partition));
  }
  return { device: { name: device.name, size: device.size, sectorSize: device.sectorSize }, layout, volumes };
}

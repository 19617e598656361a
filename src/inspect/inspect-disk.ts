/** What `lifeboat inspect` reports: the layout and, for each partition, what it holds. */
import type { ReadableDevice } from '../device/block-device.ts';
import { partitionDevice } from '../device/partition-device.ts';
import { containerKind, readDiskLayout, type DiskLayout, type Partition } from '../partition/disk-layout.ts';
import { probeFilesystem, type FilesystemKind } from '../fs/probe.ts';

export interface VolumeReport {
  partition: Partition;
  filesystem: FilesystemKind | 'ldm' | 'storage-spaces';
}

export interface DiskReport {
  device: { name: string; size: number; sectorSize: number };
  layout: DiskLayout;
  volumes: VolumeReport[];
}

export async function inspectDisk(device: ReadableDevice): Promise<DiskReport> {
  const layout = await readDiskLayout(device);
  const volumes: VolumeReport[] = [];
  for (const partition of layout.partitions) {
    const container = containerKind(partition);
    if (container) {
      volumes.push({ partition, filesystem: container });
      continue;
    }
    const volume = partitionDevice(device, partition.offset, partition.size, `${device.name} partition ${partition.index}`);
    volumes.push({ partition, filesystem: await probeFilesystem(volume) });
  }
  return { device: { name: device.name, size: device.size, sectorSize: device.sectorSize }, layout, volumes };
}

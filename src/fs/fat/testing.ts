/** Test support for the FAT and exFAT suites: fixture partitions as devices, files and bytes. */
import { createHash } from 'node:crypto';
import { join } from 'node:path';
import { fixture, type FixtureName, type ManifestPartition } from '../../../test/helpers/fixtures.ts';
import { extractRange } from '../../../test/helpers/tools.ts';
import type { ReadableDevice } from '../../device/block-device.ts';
import { openFileDevice } from '../../device/file-device.ts';
import { partitionDevice } from '../../device/partition-device.ts';
import type { ExtentList } from '../extents.ts';

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export interface FixtureVolume {
  partition: ManifestPartition;
  image: string;
  offset: number;
  size: number;
  volume: ReadableDevice;
  close(): Promise<void>;
}

export async function fixtureVolume(name: FixtureName, index: number): Promise<FixtureVolume> {
  const { image, manifest } = fixture(name);
  const partition = manifest.partitions.find((p) => p.index === index);
  if (!partition) throw new Error(`${name} has no partition ${index}`);
  const disk = await openFileDevice(image, { sectorSize: manifest.sectorSize });
  const offset = partition.startLba * manifest.sectorSize;
  const size = partition.sizeLba * manifest.sectorSize;
  return { partition, image, offset, size, volume: partitionDevice(disk, offset, size), close: () => disk.close() };
}

/** The partition's bytes in memory, to corrupt a copy. */
export async function fixtureBytes(name: FixtureName, index: number): Promise<Uint8Array> {
  const v = await fixtureVolume(name, index);
  try {
    return await v.volume.read(0, v.size);
  } finally {
    await v.close();
  }
}

/** The partition as its own file (for mtools, fsck.fat, dump.exfat). */
export function extractPartition(v: FixtureVolume, dir: string): string {
  return extractRange(v.image, v.offset, v.size, join(dir, `p${v.partition.index}.img`));
}

/** Concatenated bytes of `extents`, cut to `size`. */
export async function readExtents(volume: ReadableDevice, extents: ExtentList, size: number): Promise<Uint8Array> {
  const parts = await Promise.all(extents.extents.map((e) => volume.read(e.start, e.length)));
  return Buffer.concat(parts).subarray(0, size);
}

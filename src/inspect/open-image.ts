/** Open a disk image file read-only with the sector size its partition table implies. */
import { openFileDevice } from '../device/file-device.ts';
import { withSectorSize } from '../device/sector-view.ts';
import type { ReadableDevice } from '../device/block-device.ts';
import { detectSectorSize } from '../partition/sector-size.ts';

export async function openDiskImage(path: string): Promise<ReadableDevice> {
  const device = await openFileDevice(path);
  const size = await detectSectorSize(device);
  return size === device.sectorSize ? device : withSectorSize(device, size);
}

/** Open the reader for a probed filesystem kind; kinds without a reader give undefined. */
import type { ReadableDevice } from '../device/block-device.ts';
import type { FilesystemKind } from './probe.ts';
import type { FilesystemReader } from './volume.ts';
import { openNtfs } from './ntfs/ntfs-volume.ts';
import { openFat } from './fat/fat-reader.ts';
import { openExfat } from './exfat/exfat-reader.ts';

export async function openFilesystem(volume: ReadableDevice, kind: FilesystemKind): Promise<FilesystemReader | undefined> {
  switch (kind) {
    case 'ntfs':
      return openNtfs(volume);
    case 'fat12':
    case 'fat16':
    case 'fat32':
      return openFat(volume);
    case 'exfat':
      return openExfat(volume);
    default:
      return undefined;
  }
}

/**
 * The logical sector size of a disk image. A real disk reports it; an image file does not, and
 * every LBA in its tables depends on it. GPT says so directly (its header sits in LBA 1); for
 * MBR, the size under which the partitions' first sectors look like boot sectors wins.
 */
import type { ReadableDevice } from '../device/block-device.ts';
import { decodeMbr, hasBootSignature, isEmptyEntry } from './mbr.ts';

export const SECTOR_SIZES = [512, 4096] as const;
export type SectorSize = (typeof SECTOR_SIZES)[number];

const isAt = (b: Uint8Array, at: number, text: string) =>
  b.length >= at + text.length && String.fromCharCode(...b.subarray(at, at + text.length)) === text;

export async function detectSectorSize(device: ReadableDevice): Promise<SectorSize> {
  const head = await device.read(0, Math.min(8192, device.size));
  if (!hasBootSignature(head)) return 512;
  if (isAt(head, 512, 'EFI PART')) return 512;
  if (isAt(head, 4096, 'EFI PART')) return 4096;
  let mbr;
  try {
    mbr = decodeMbr(head);
  } catch {
    return 512; // not ours to judge here: readDiskLayout reports the damaged table
  }
  const score = async (size: number) => {
    let hits = 0;
    for (const e of mbr.entries) {
      if (isEmptyEntry(e) || (e.firstLba + 1) * size > device.size) continue;
      if (hasBootSignature(await device.read(e.firstLba * size, 512))) hits++;
    }
    return hits;
  };
  return (await score(4096)) > (await score(512)) ? 4096 : 512;
}

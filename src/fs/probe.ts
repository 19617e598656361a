/**
 * Which filesystem a volume holds, from its first sectors alone (filesystems.md 7 and 8.1).
 * Signatures are checked most specific first: BitLocker reuses an NTFS-like boot sector, and
 * a FAT BPB is only believed when its geometry is self-consistent.
 */
import type { ReadableDevice } from '../device/block-device.ts';
import { checkFatBootSector, isFatBootProblem, type FatKind } from './fat/boot-sector.ts';

export type FilesystemKind =
  | 'ntfs' | 'fat12' | 'fat16' | 'fat32' | 'exfat' | 'refs' | 'bitlocker' | 'ext' | 'swap' | 'unknown';

const PROBE_BYTES = 8192;

function oem(b: Uint8Array): string {
  return String.fromCharCode(...b.subarray(3, 11));
}

/** FAT variant by cluster count, or undefined when the BPB is not a self-consistent FAT one. */
export function fatKind(sector: Uint8Array): FatKind | undefined {
  const g = checkFatBootSector(sector);
  return isFatBootProblem(g) ? undefined : g.kind;
}

/** Decide from the first bytes of a volume (at least 8 KiB, or all of a smaller volume). */
export function probeBytes(b: Uint8Array): FilesystemKind {
  if (b.length >= 512) {
    const id = oem(b);
    if (id === '-FVE-FS-') return 'bitlocker';
    if (id === 'NTFS    ') return 'ntfs';
    if (id === 'EXFAT   ') return 'exfat';
    if (id === 'ReFS\0\0\0\0' && String.fromCharCode(...b.subarray(16, 20)) === 'FSRS') return 'refs';
    // BitLocker To Go keeps a FAT32 BPB but carries the BitLocker GUID at 0x1a8.
    if (id === 'MSWIN4.1' && isBitlockerGuid(b.subarray(0x1a8, 0x1b8))) return 'bitlocker';
    const fat = fatKind(b);
    if (fat) return fat;
  }
  if (b.length >= 1024 + 58 && b[1024 + 56] === 0x53 && b[1024 + 57] === 0xef) return 'ext';
  if (b.length >= 4096 && String.fromCharCode(...b.subarray(4086, 4096)) === 'SWAPSPACE2') return 'swap';
  return 'unknown';
}

// 4967d63b-2e29-4ad8-8399-f6a339e3d001, as stored (mixed-endian).
const BITLOCKER_GUID = Uint8Array.from([0x3b, 0xd6, 0x67, 0x49, 0x29, 0x2e, 0xd8, 0x4a, 0x83, 0x99, 0xf6, 0xa3, 0x39, 0xe3, 0xd0, 0x01]);
function isBitlockerGuid(b: Uint8Array): boolean {
  return b.length === 16 && b.every((x, i) => x === BITLOCKER_GUID[i]);
}

export async function probeFilesystem(volume: ReadableDevice): Promise<FilesystemKind> {
  return probeBytes(await volume.read(0, Math.min(PROBE_BYTES, volume.size)));
}

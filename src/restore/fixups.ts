/**
 * Placement fields of volume boot sectors (boot-and-bcd.md section 3): a volume restored at
 * another disk offset (or in another sector size) must say where it now starts, in its main
 * and backup boot sectors, or BIOS boot code looks for itself in the wrong place. Fields come
 * from the filesystems' own declarations.
 */
import type { WritableDevice } from '../device/block-device.ts';
import { BOOT_REGION_SECTORS, bootChecksum, ExfatBootSector } from '../fs/exfat/boot-region.ts';
import { FatBpb, Fat32Ebpb } from '../fs/fat/boot-sector.ts';
import { NtfsBootSector } from '../fs/ntfs/boot-sector.ts';
import { writeField } from '../fs/ntfs/record-write.ts';
import { probeBytes, type FilesystemKind } from '../fs/probe.ts';

/** NTFS and FAT declare BPB_HiddSec at the same offset; the FAT declaration serves both. */
async function patchHiddenSectors(volume: WritableDevice, at: number, value: number): Promise<void> {
  const sector = await volume.read(at, 512);
  writeField(FatBpb.fields.hiddenSectors, sector, 0, value);
  await volume.write(at, sector);
}

async function patchExfat(volume: WritableDevice, startSector: number): Promise<void> {
  const s = volume.sectorSize;
  for (const base of [0, BOOT_REGION_SECTORS * s]) {
    const region = await volume.read(base, BOOT_REGION_SECTORS * s);
    writeField(ExfatBootSector.fields.partitionOffset, region, 0, BigInt(startSector));
    const sum = bootChecksum(region, s);
    const view = new DataView(region.buffer, region.byteOffset);
    for (let i = 0; i < s; i += 4) view.setUint32(11 * s + i, sum, true); // sector 11: the checksum repeated
    await volume.write(base, region);
  }
}

/**
 * Point the volume's boot sectors at its new start (in sectors of the disk). Returns what was
 * patched, for the restore report; volumes of other kinds are left untouched.
 */
export async function fixVolumePlacement(volume: WritableDevice, startSector: number): Promise<FilesystemKind | undefined> {
  const head = await volume.read(0, Math.min(8192, volume.size));
  const kind = probeBytes(head);
  if (kind === 'ntfs') {
    const boot = NtfsBootSector.decode(head);
    await patchHiddenSectors(volume, 0, startSector);
    // The backup boot sector follows the last sector the boot sector counts (filesystems.md 1.4).
    const backup = Number(boot.numberOfSectors) * boot.bytesPerSector;
    if (backup + 512 <= volume.size) await patchHiddenSectors(volume, backup, startSector);
  } else if (kind === 'fat12' || kind === 'fat16' || kind === 'fat32') {
    await patchHiddenSectors(volume, 0, startSector);
    if (kind === 'fat32') {
      const bpb = FatBpb.decode(head);
      const backup = Fat32Ebpb.decode(head).backupBootSector;
      // The backup lies in the reserved area (sector 6 usually; 48 after a 4096 → 512 conversion).
      if (backup > 0 && backup < bpb.reservedSectors) await patchHiddenSectors(volume, backup * bpb.bytesPerSector, startSector);
    }
  } else if (kind === 'exfat') {
    await patchExfat(volume, startSector);
  } else {
    return undefined;
  }
  return kind;
}

/**
 * Placement fields of volume boot sectors (boot-and-bcd.md section 3): a volume restored at
 * another disk offset must say where it now starts, in its main and backup boot sectors, or
 * BIOS boot code looks for itself in the wrong place. Each patch re-reads what it wrote.
 */
import type { WritableDevice } from '../device/block-device.ts';
import { probeBytes, type FilesystemKind } from '../fs/probe.ts';

const HIDDEN_SECTORS = 0x1c; // u32 in NTFS and FAT boot sectors
const FAT32_BACKUP_BOOT = 0x32; // u16 BPB_BkBootSec
const EXFAT_PARTITION_OFFSET = 0x40; // u64, in sectors
const EXFAT_BOOT_REGION_SECTORS = 12;

async function patchU32(volume: WritableDevice, at: number, value: number): Promise<void> {
  const sector = await volume.read(at, 512);
  new DataView(sector.buffer, sector.byteOffset).setUint32(HIDDEN_SECTORS, value, true);
  await volume.write(at, sector);
}

/** The exFAT boot checksum over sectors 0–10, skipping VolumeFlags and PercentInUse. */
export function exfatBootChecksum(region: Uint8Array, sectorSize: number): number {
  let sum = 0;
  for (let i = 0; i < 11 * sectorSize; i++) {
    if (i === 106 || i === 107 || i === 112) continue;
    sum = (((sum & 1) ? 0x80000000 : 0) + (sum >>> 1) + region[i]!) >>> 0;
  }
  return sum;
}

async function patchExfat(volume: WritableDevice, startSector: number): Promise<void> {
  const s = volume.sectorSize;
  for (const base of [0, EXFAT_BOOT_REGION_SECTORS * s]) {
    const region = await volume.read(base, EXFAT_BOOT_REGION_SECTORS * s);
    new DataView(region.buffer, region.byteOffset).setBigUint64(EXFAT_PARTITION_OFFSET, BigInt(startSector), true);
    const sum = exfatBootChecksum(region, s);
    const view = new DataView(region.buffer, region.byteOffset);
    for (let i = 0; i < s; i += 4) view.setUint32(11 * s + i, sum, true);
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
  const view = new DataView(head.buffer, head.byteOffset);
  if (kind === 'ntfs') {
    const bps = view.getUint16(0x0b, true);
    const numberOfSectors = Number(view.getBigUint64(0x28, true));
    await patchU32(volume, 0, startSector);
    const backup = numberOfSectors * bps;
    // The backup boot sector follows the last sector the boot sector counts (filesystems.md 1.4).
    if (backup + 512 <= volume.size) await patchU32(volume, backup, startSector);
  } else if (kind === 'fat12' || kind === 'fat16' || kind === 'fat32') {
    await patchU32(volume, 0, startSector);
    if (kind === 'fat32') {
      const bps = view.getUint16(0x0b, true);
      const backup = view.getUint16(FAT32_BACKUP_BOOT, true);
      if (backup > 0 && backup < 32) await patchU32(volume, backup * bps, startSector);
    }
  } else if (kind === 'exfat') {
    await patchExfat(volume, startSector);
  } else {
    return undefined;
  }
  return kind;
}

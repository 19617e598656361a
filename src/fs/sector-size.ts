/**
 * Re-expressing a volume in another logical sector size (512 ↔ 4096), in place: the volume's
 * bytes stay at the same byte offsets and only boot and metadata sectors change
 * (docs/formats/sector-size.md). `planSectorSizeChange` reads and decides — the writes, or a
 * SectorSizeRefusedError saying why not and what to do instead; `applySectorSizeChange`
 * writes, flushes and reads back. Per-filesystem rules: ntfs/, fat/ and exfat/sector-size.ts.
 *
 * Placement fields (hidden sectors, exFAT PartitionOffset) keep their old values: the restore's
 * placement fix-up rewrites them afterwards, in the new sector size.
 */
import type { ReadableDevice, WritableDevice } from '../device/block-device.ts';
import { LifeboatError, UsageError } from '../errors.ts';
import { planExfatSectorSize } from './exfat/sector-size.ts';
import { planFatSectorSize } from './fat/sector-size.ts';
import { planNtfsSectorSize } from './ntfs/sector-size.ts';
import { probeBytes, probeFilesystem, type FilesystemKind } from './probe.ts';
import { filesystemName, isSectorSize, restoreAdvice, SectorSizeRefusedError, type SectorSizeChange } from './sector-size-common.ts';

export { SectorSizeRefusedError, type SectorSizeChange, type SectorSizeRefusal, type SectorSizeWrite } from './sector-size-common.ts';

const WHY_NOT: Partial<Record<FilesystemKind, string>> = {
  bitlocker: 'its contents are encrypted, so Lifeboat cannot rewrite its boot sector and metadata',
  refs: 'Lifeboat does not know how to rewrite ReFS metadata',
  ext: 'Lifeboat does not rewrite Linux filesystems',
  swap: 'Lifeboat does not rewrite Linux swap areas',
};

/**
 * Read-only: how to make `volume` (the volume's partition as stored) declare `toSectorSize`-byte
 * sectors. Returns `writes: []` when it already does; throws SectorSizeRefusedError when it
 * cannot be expressed (volumes of unknown kind included, unless the device already has that
 * sector size).
 */
export async function planSectorSizeChange(volume: ReadableDevice, toSectorSize: number): Promise<SectorSizeChange> {
  if (!isSectorSize(toSectorSize)) throw new UsageError(`sector size ${toSectorSize} is not a power of two in 512..4096`, { toSectorSize });
  const to = toSectorSize;
  const kind = await probeFilesystem(volume);
  switch (kind) {
    case 'ntfs':
      return { kind, to, ...await planNtfsSectorSize(volume, to) };
    case 'fat12': case 'fat16': case 'fat32':
      return { kind, to, ...await planFatSectorSize(volume, to, kind) };
    case 'exfat':
      return { kind, to, ...await planExfatSectorSize(volume, to) };
    default: {
      const from = volume.sectorSize;
      if (from === to) return { kind, from, to, writes: [] };
      const why = WHY_NOT[kind] ?? 'it holds no filesystem Lifeboat recognises, so nothing tells which of its sectors to rewrite';
      const name = kind === 'unknown' ? 'A volume with no recognised filesystem' : `The ${filesystemName(kind)} volume`;
      throw new SectorSizeRefusedError(`${name} cannot be converted from ${from}-byte to ${to}-byte sectors: ${why}. ${restoreAdvice(from)}`,
        { filesystem: kind, reason: 'unsupported-filesystem', from, to });
    }
  }
}

/** The field a volume's boot sector declares its sector size in, per kind (for the apply check). */
function declaredSectorSize(kind: FilesystemKind, sector: Uint8Array): number {
  const view = new DataView(sector.buffer, sector.byteOffset, sector.length);
  if (kind === 'exfat') return 1 << view.getUint8(0x6c); // BytesPerSectorShift
  return view.getUint16(0x0b, true); // BPB_BytsPerSec / NTFS bytes per sector
}

/**
 * Write `change` to `volume` (the restored volume, not a source), flush, and read every write
 * back. Refuses a device whose volume is not the one planned for (other kind, or declaring
 * neither `from` nor `to`). Writing it twice is harmless.
 */
export async function applySectorSizeChange(volume: WritableDevice, change: SectorSizeChange): Promise<void> {
  if (!volume.writable) throw new UsageError(`${volume.name} is not writable`, { device: volume.name });
  if (change.writes.length === 0) return;
  const head = await volume.read(0, Math.min(volume.size, 8192));
  const kind = probeBytes(head);
  const declared = kind === change.kind ? declaredSectorSize(kind, head) : 0;
  if (declared !== change.from && declared !== change.to) {
    throw new UsageError(`${volume.name} does not hold the ${filesystemName(change.kind)} volume with ${change.from}-byte sectors this change was planned for (found ${filesystemName(kind)})`,
      { device: volume.name, expected: change.kind, found: kind });
  }
  for (const w of change.writes) {
    if (w.offset < 0 || w.offset + w.bytes.length > volume.size) {
      throw new UsageError(`${w.what}: ${w.bytes.length} bytes at ${w.offset} lie outside ${volume.name} (${volume.size} bytes)`, { device: volume.name, offset: w.offset });
    }
  }
  for (const w of change.writes) await volume.write(w.offset, w.bytes);
  await volume.flush();
  for (const w of change.writes) {
    const back = await volume.read(w.offset, w.bytes.length);
    const at = back.findIndex((b, i) => b !== w.bytes[i]);
    if (at >= 0) {
      throw new LifeboatError('SECTOR_SIZE_VERIFY', `${w.what}: byte ${w.offset + at} of ${volume.name} reads back differently from what was written`,
        { device: volume.name, offset: w.offset + at, what: w.what });
    }
  }
}

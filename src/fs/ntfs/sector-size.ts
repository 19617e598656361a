/**
 * NTFS in another logical sector size (docs/formats/sector-size.md, "NTFS"). Clusters, MFT
 * records, index blocks and fixup strides are sized in bytes or clusters, never in sectors, so
 * only the boot sector changes: bytes per sector, the sectors-per-cluster code and the number
 * of sectors, and the backup boot sector moves to the new last sector.
 */
import type { ReadableDevice } from '../../device/block-device.ts';
import { decodeNtfsBootSector, NtfsBootSector, type NtfsGeometry } from './boot-sector.ts';
import { writeField } from './record-write.ts';
import { checkAlignment, log2, planBug, refuse, type SectorSizeRefusal, type SectorSizeWrite } from '../sector-size-common.ts';

/** The sectors-per-cluster byte: 1..128 literal, larger counts as 256 − log2 (0xF8 = 256 … 0xF4 = 4096). */
export function sectorsPerClusterCode(sectorsPerCluster: number): number {
  return sectorsPerCluster <= 0x80 ? sectorsPerCluster : 256 - log2(sectorsPerCluster);
}

/**
 * The writes that make the NTFS volume on `volume` declare `to`-byte sectors, or a refusal.
 * Read-only. `from` is the volume's own bytes per sector; an empty list when it equals `to`.
 */
export async function planNtfsSectorSize(volume: ReadableDevice, to: number): Promise<{ from: number; writes: SectorSizeWrite[] }> {
  const first = await volume.read(0, Math.min(volume.size, 512));
  let from = volume.sectorSize;
  const no = (reason: SectorSizeRefusal, why: string, extra = {}) => refuse('ntfs', from, to, reason, why, extra);
  let g: NtfsGeometry;
  try {
    g = decodeNtfsBootSector(first, volume.size);
  } catch (e) {
    throw no('unreadable', `its boot sector is not valid (${(e as Error).message})`);
  }
  from = g.bytesPerSector;
  if (from === to) return { from, writes: [] };

  // The volume proper plus its backup boot sector: the clusters and the tail keep their bytes.
  const extent = (g.numberOfSectors + 1) * from;
  if (extent > volume.size) {
    throw no('no-backup-sector', `its partition (${volume.size} bytes) ends before the backup boot sector at byte ${extent - from}`, { extent, volumeSize: volume.size });
  }
  if (extent % to !== 0) {
    throw no('size-not-multiple', `the volume is ${extent} bytes, not a whole number of ${to}-byte sectors`, { extent });
  }
  if (g.clusterSize < to) {
    throw no('cluster-too-small', `its clusters are ${g.clusterSize} bytes, smaller than one ${to}-byte sector`, { clusterSize: g.clusterSize });
  }
  if (g.mftRecordSize < to) {
    throw no('mft-record-too-small', `it was formatted for ${from}-byte sectors with ${g.mftRecordSize}-byte MFT records, `
      + `and a disk with ${to}-byte sectors cannot hold records smaller than a sector (Windows formats such disks with ${to}-byte records and sees this volume as RAW)`,
    { mftRecordSize: g.mftRecordSize });
  }
  if (g.indexBlockSize < to) {
    throw no('index-block-too-small', `its directory index blocks are ${g.indexBlockSize} bytes, smaller than one ${to}-byte sector`, { indexBlockSize: g.indexBlockSize });
  }

  const boot = await volume.read(0, Math.max(from, to));
  const fields = NtfsBootSector.fields;
  const newSector = boot.slice(0, to);
  writeField(fields.bytesPerSector, newSector, 0, to);
  writeField(fields.sectorsPerCluster, newSector, 0, sectorsPerClusterCode(g.clusterSize / to));
  writeField(fields.numberOfSectors, newSector, 0, BigInt(extent / to - 1));
  // Clusters per MFT record / index block: positive codes count clusters, negative ones give
  // bytes; neither unit changes, so both bytes stay. Hidden sectors stay for the placement fix-up.
  checkSameVolume(g, newSector, extent, volume.size);

  // The backup first, sector 0 last: until the last write the old boot sector still rules.
  const writes: SectorSizeWrite[] = [];
  if (to > from) {
    writes.push({ offset: extent - to, bytes: newSector, what: `backup boot sector (last ${to}-byte sector; it covers the old ${from}-byte backup)` });
    writes.push({ offset: 0, bytes: newSector, what: `boot sector (first ${to}-byte sector of $Boot)` });
  } else {
    const tail = new Uint8Array(from);
    tail.set(newSector, from - to);
    writes.push({ offset: extent - from, bytes: tail, what: `old ${from}-byte backup boot sector cleared, new backup boot sector in its last ${to} bytes` });
    const primary = boot.slice(0, from);
    primary.set(newSector, 0);
    writes.push({ offset: 0, bytes: primary, what: `boot sector (first ${to} bytes; the rest of the old ${from}-byte sector is $Boot and stays)` });
  }
  checkAlignment('ntfs', writes, from, to);
  return { from, writes };
}

/** The new boot sector must describe the same volume in bytes: same clusters, records, `$MFT`. */
function checkSameVolume(old: NtfsGeometry, sector: Uint8Array, extent: number, volumeSize: number): void {
  const g = decodeNtfsBootSector(sector, volumeSize);
  const same = g.clusterSize === old.clusterSize && g.clusters === old.clusters && g.mftRecordSize === old.mftRecordSize
    && g.indexBlockSize === old.indexBlockSize && g.mftLcn === old.mftLcn && g.mftMirrLcn === old.mftMirrLcn
    && (g.numberOfSectors + 1) * g.bytesPerSector === extent;
  if (!same) throw planBug('ntfs', `new boot sector gives ${JSON.stringify(g, (_, v) => (typeof v === 'bigint' ? String(v) : v))}`);
}

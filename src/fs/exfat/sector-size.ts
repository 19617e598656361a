/**
 * exFAT in another logical sector size (docs/formats/sector-size.md, "exFAT"). FatOffset,
 * FatLength, ClusterHeapOffset and VolumeLength count sectors and are rescaled; the cluster
 * size stays (SectorsPerClusterShift moves the other way). The boot region is 12 sectors of
 * the sector size, main at sector 0 and backup at sector 12, so both are rebuilt sector by
 * sector in the new size and the boot checksum is computed again.
 */
import type { ReadableDevice } from '../../device/block-device.ts';
import { writeField } from '../ntfs/record-write.ts';
import { checkAlignment, log2, planBug, refuse, type SectorSizeRefusal, type SectorSizeWrite } from '../sector-size-common.ts';
import { BOOT_REGION_SECTORS, bootChecksum, decodeExfatBootRegion, ExfatBootSector, type ExfatGeometry } from './boot-region.ts';

const U32 = 0xffffffff;
const OEM_PARAMETERS = 9;
const CHECKSUM_SECTOR = 11;
/** Extended boot sectors (1–8) end with ExtendedBootSignature, 4 bytes. */
const EXTENDED_SIGNATURE_BYTES = 4;

export async function planExfatSectorSize(volume: ReadableDevice, to: number): Promise<{ from: number; writes: SectorSizeWrite[] }> {
  let from = volume.sectorSize;
  const no = (reason: SectorSizeRefusal, why: string, extra = {}) => refuse('exfat', from, to, reason, why, extra);
  let g: ExfatGeometry;
  let old: Uint8Array;
  try {
    const shift = ExfatBootSector.decode(await volume.read(0, Math.min(volume.size, 512))).bytesPerSectorShift;
    from = shift >= 9 && shift <= 12 ? 1 << shift : from;
    old = await volume.read(0, Math.min(volume.size, BOOT_REGION_SECTORS * from));
    g = decodeExfatBootRegion(old, volume.size);
  } catch (e) {
    throw no('unreadable', `its boot region is not valid (${(e as Error).message})`);
  }
  from = g.bytesPerSector;
  if (from === to) return { from, writes: [] };

  const b = ExfatBootSector.decode(old);
  const rescale = (value: number, field: string, floor = false): number => {
    if (to < from) {
      const v = value * (from / to);
      if (v > U32 && field !== 'VolumeLength') throw no('field-overflow', `${field} would be ${v} sectors, more than 32 bits hold`, { field, value: v });
      return v;
    }
    const k = to / from;
    if (value % k !== 0 && !floor) {
      throw no('misaligned', `${field} is ${value} sectors of ${from} bytes, which is not on a ${to}-byte sector boundary`, { field, value });
    }
    return Math.floor(value / k);
  };
  const spcShift = b.sectorsPerClusterShift + log2(from) - log2(to);
  if (spcShift < 0) throw no('cluster-too-small', `its clusters are ${g.clusterSize} bytes, smaller than one ${to}-byte sector`, { clusterSize: g.clusterSize });
  const fatOffset = rescale(g.fatOffset, 'FatOffset');
  if (fatOffset < 2 * BOOT_REGION_SECTORS) {
    throw no('boot-region-too-small', `its FAT starts at byte ${g.fatOffset * from}, inside the ${2 * BOOT_REGION_SECTORS * to} bytes the two boot regions take in ${to}-byte sectors`,
      { fatOffset: g.fatOffset });
  }
  const fatLength = rescale(g.fatLength, 'FatLength');
  const heap = rescale(g.clusterHeapOffset, 'ClusterHeapOffset');
  // Sectors after the cluster heap hold nothing, so a remainder is dropped when sectors grow.
  const volumeLength = rescale(g.volumeLength, 'VolumeLength', true);

  const region = new Uint8Array(BOOT_REGION_SECTORS * to);
  const common = Math.min(from, to);
  for (let s = 0; s < CHECKSUM_SECTOR; s++) {
    const src = old.subarray(s * from, (s + 1) * from);
    const dst = region.subarray(s * to, (s + 1) * to);
    if (s >= 1 && s <= 8) {
      // Extended boot code, then ExtendedBootSignature at the end of the sector, whatever its size.
      dst.set(src.subarray(0, common - EXTENDED_SIGNATURE_BYTES), 0);
      dst.set(src.subarray(from - EXTENDED_SIGNATURE_BYTES), to - EXTENDED_SIGNATURE_BYTES);
    } else {
      dst.set(src.subarray(0, common), 0);
      // OEM parameters and the reserved sector: mkfs.exfat fills an unused one with a single
      // value (0xFF), so a larger sector is filled the same way; otherwise with zeros.
      if (s >= OEM_PARAMETERS && to > from && src.every((x) => x === src[0])) dst.fill(src[0]!, from);
    }
  }
  const f = ExfatBootSector.fields;
  writeField(f.bytesPerSectorShift, region, 0, log2(to));
  writeField(f.sectorsPerClusterShift, region, 0, spcShift);
  writeField(f.fatOffset, region, 0, fatOffset);
  writeField(f.fatLength, region, 0, fatLength);
  writeField(f.clusterHeapOffset, region, 0, heap);
  writeField(f.volumeLength, region, 0, BigInt(volumeLength));
  // PartitionOffset keeps its old value: the restore's placement fix-up rewrites it afterwards.
  const sum = bootChecksum(region, to);
  const view = new DataView(region.buffer, region.byteOffset + CHECKSUM_SECTOR * to, to);
  for (let i = 0; i < to; i += 4) view.setUint32(i, sum, true);
  checkSameVolume(g, region, to, volume.size);

  const size = BOOT_REGION_SECTORS * to;
  const writes: SectorSizeWrite[] = [];
  if (to > from) {
    // The new backup lies in the gap before the old FAT: written first, the old volume still intact.
    writes.push({ offset: size, bytes: region, what: `backup boot region (${to}-byte sectors 12–23)` });
    writes.push({ offset: 0, bytes: region, what: `main boot region (${to}-byte sectors 0–11; covers both old boot regions)` });
  } else {
    const both = new Uint8Array(2 * size);
    both.set(region, 0);
    both.set(region, size);
    writes.push({ offset: 0, bytes: both, what: `main and backup boot regions (${to}-byte sectors 0–23)` });
    writes.push({ offset: 2 * size, bytes: new Uint8Array(2 * BOOT_REGION_SECTORS * (from - to)),
      what: `rest of the old ${from}-byte boot regions zeroed (now the gap before the FAT)` });
  }
  checkAlignment('exfat', writes, from, to);
  return { from, writes };
}

/** The new boot region must describe the same volume in bytes. */
function checkSameVolume(old: ExfatGeometry, region: Uint8Array, to: number, volumeSize: number): void {
  const g = decodeExfatBootRegion(region, volumeSize);
  const bytes = (x: ExfatGeometry) => [x.clusterSize, x.clusterCount, x.rootCluster, x.numberOfFats, x.volumeFlags,
    x.fatOffset * x.bytesPerSector, x.fatLength * x.bytesPerSector, x.clusterHeapOffset * x.bytesPerSector].join();
  if (g.bytesPerSector !== to || bytes(g) !== bytes(old)) throw planBug('exfat', `new boot region gives ${bytes(g)}, the old one ${bytes(old)}`);
}

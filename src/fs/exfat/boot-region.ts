/**
 * The exFAT main boot region: boot sector, extended boot sectors, OEM parameters and the
 * checksum sector (filesystems.md 8.2; Microsoft "exFAT file system specification" 3.1–3.4,
 * whose field names appear in our messages). Checks run in a fixed order, first failure
 * reported with the byte offset of the field concerned.
 */
import { ascii, bytes, layout, u16le, u32le, u64le, u8 } from '../../binary/layout.ts';
import { CorruptStructureError } from '../../errors.ts';
import { checksum32 } from './checksums.ts';

export const ExfatBootSector = layout('ExfatBootSector', 512, {
  jumpBoot: bytes(0x00, 3), // EB 76 90
  fileSystemName: ascii(0x03, 8), // "EXFAT   "
  mustBeZero: bytes(0x0b, 53), // where a FAT BPB would be, so FAT drivers refuse the volume
  partitionOffset: u64le(0x40), // sectors; informational
  volumeLength: u64le(0x48), // sectors
  fatOffset: u32le(0x50), // sectors
  fatLength: u32le(0x54), // sectors, per FAT
  clusterHeapOffset: u32le(0x58), // sectors
  clusterCount: u32le(0x5c),
  firstClusterOfRootDirectory: u32le(0x60),
  volumeSerialNumber: u32le(0x64),
  fileSystemRevision: u16le(0x68), // high byte major (1), low byte minor
  volumeFlags: u16le(0x6a), // bit 0 ActiveFat, 1 VolumeDirty, 2 MediaFailure, 3 ClearToZero
  bytesPerSectorShift: u8(0x6c), // 9..12
  sectorsPerClusterShift: u8(0x6d), // cluster at most 32 MiB
  numberOfFats: u8(0x6e), // 1, or 2 with TexFAT
  driveSelect: u8(0x6f),
  percentInUse: u8(0x70),
  reserved: bytes(0x71, 7),
  bootCode: bytes(0x78, 390),
  bootSignature: u16le(0x1fe), // 0xAA55
});

/** Sectors 0–11 hold the main boot region, 12–23 its backup. */
export const BOOT_REGION_SECTORS = 12;
/** VolumeFlags and PercentInUse change while mounted, so the checksum leaves them out. */
const CHECKSUM_SKIPPED = new Set([0x6a, 0x6b, 0x70]);
const MAX_CLUSTER_COUNT = 0xfffffff5; // 2^32 − 11
const MIN_VOLUME_BYTES = 1 << 20;

export interface ExfatGeometry {
  bytesPerSector: number;
  clusterSize: number;
  /** Sectors, as the boot sector gives them. */
  volumeLength: number;
  fatOffset: number;
  fatLength: number;
  numberOfFats: number;
  /** The FAT and allocation bitmap in use: VolumeFlags bit 0 when there are two. */
  activeFat: number;
  clusterHeapOffset: number;
  /** Data clusters, numbered 2 .. clusterCount + 1. */
  clusterCount: number;
  rootCluster: number;
  volumeFlags: number;
}

/** The boot checksum over sectors 0–10. */
export function bootChecksum(region: Uint8Array, bytesPerSector: number): number {
  return checksum32(region, 11 * bytesPerSector, CHECKSUM_SKIPPED);
}

const hex = (x: number) => `0x${x.toString(16)}`;

function corrupt(offset: number, problem: string, data = {}): CorruptStructureError {
  return new CorruptStructureError('exFAT boot sector', offset, problem, data);
}

/** Sector 0 in, the bytes per sector it declares out (needed to read the rest of the region). */
export function exfatSectorSize(sector: Uint8Array): number {
  const b = ExfatBootSector.decode(sector);
  if (b.fileSystemName !== 'EXFAT') throw corrupt(0x03, `FileSystemName is "${b.fileSystemName}", not "EXFAT   "`);
  if (b.jumpBoot[0] !== 0xeb || b.jumpBoot[1] !== 0x76 || b.jumpBoot[2] !== 0x90) {
    throw corrupt(0x00, `JumpBoot is ${Buffer.from(b.jumpBoot).toString('hex')}, not eb7690`);
  }
  const nonZero = b.mustBeZero.findIndex((x) => x !== 0);
  if (nonZero >= 0) throw corrupt(0x0b + nonZero, `MustBeZero holds ${hex(b.mustBeZero[nonZero]!)}`);
  if (b.bootSignature !== 0xaa55) throw corrupt(0x1fe, `BootSignature is ${hex(b.bootSignature)}, not 0xaa55`);
  if (b.bytesPerSectorShift < 9 || b.bytesPerSectorShift > 12) {
    throw corrupt(0x6c, `BytesPerSectorShift is ${b.bytesPerSectorShift} (9..12 expected)`);
  }
  return 1 << b.bytesPerSectorShift;
}

/**
 * The main boot region (12 sectors) in, the geometry out, checked in this order: sector 0 as
 * in `exfatSectorSize`, the boot checksum against sector 11, FileSystemRevision,
 * SectorsPerClusterShift, NumberOfFats, VolumeLength (against the volume too), the FAT
 * position and length, the cluster heap and ClusterCount, FirstClusterOfRootDirectory.
 */
export function decodeExfatBootRegion(region: Uint8Array, volumeSize: number): ExfatGeometry {
  const bps = exfatSectorSize(region);
  if (region.length < BOOT_REGION_SECTORS * bps) {
    throw corrupt(0, `the boot region needs ${BOOT_REGION_SECTORS * bps} bytes, only ${region.length} available`);
  }
  const sum = bootChecksum(region, bps);
  const view = new DataView(region.buffer, region.byteOffset + 11 * bps, bps);
  for (let i = 0; i < bps; i += 4) {
    const stored = view.getUint32(i, true);
    if (stored !== sum) {
      throw new CorruptStructureError('exFAT boot checksum', 11 * bps + i,
        `stored ${hex(stored)}, sectors 0–10 give ${hex(sum)}`, { stored, computed: sum });
    }
  }
  const b = ExfatBootSector.decode(region);
  if (b.fileSystemRevision >>> 8 !== 1) throw corrupt(0x68, `FileSystemRevision is ${hex(b.fileSystemRevision)} (major version 1 expected)`);
  if (b.sectorsPerClusterShift > 25 - b.bytesPerSectorShift) {
    throw corrupt(0x6d, `SectorsPerClusterShift ${b.sectorsPerClusterShift} makes clusters larger than 32 MiB`);
  }
  if (b.numberOfFats !== 1 && b.numberOfFats !== 2) throw corrupt(0x6e, `NumberOfFats is ${b.numberOfFats} (1 or 2 expected)`);
  const volumeSectors = Math.floor(volumeSize / bps);
  if (b.volumeLength > BigInt(volumeSectors)) {
    throw corrupt(0x48, `VolumeLength is ${b.volumeLength} sectors, the volume has ${volumeSectors}`,
      { claimed: Number(b.volumeLength) * bps, volumeSize });
  }
  const volumeLength = Number(b.volumeLength);
  if (volumeLength * bps < MIN_VOLUME_BYTES) throw corrupt(0x48, `VolumeLength is ${volumeLength} sectors, less than 1 MiB`);
  const fatEnd = b.fatOffset + b.fatLength * b.numberOfFats;
  if (b.fatOffset < 2 * BOOT_REGION_SECTORS) throw corrupt(0x50, `FatOffset is ${b.fatOffset}, inside the boot regions`);
  if (b.fatLength * bps < (b.clusterCount + 2) * 4) {
    throw corrupt(0x54, `FatLength of ${b.fatLength} sectors cannot hold the ${b.clusterCount + 2} entries of ${b.clusterCount} clusters`);
  }
  if (fatEnd > b.clusterHeapOffset) {
    throw corrupt(0x58, `ClusterHeapOffset ${b.clusterHeapOffset} lies inside the FAT(s), which end at sector ${fatEnd}`);
  }
  const spcShift = b.sectorsPerClusterShift;
  if (b.clusterCount === 0 || b.clusterCount > MAX_CLUSTER_COUNT) throw corrupt(0x5c, `ClusterCount is ${b.clusterCount}`);
  const heapEnd = b.clusterHeapOffset + b.clusterCount * 2 ** spcShift;
  if (heapEnd > volumeLength) {
    throw corrupt(0x5c, `ClusterCount ${b.clusterCount} from sector ${b.clusterHeapOffset} ends at sector ${heapEnd}, past VolumeLength ${volumeLength}`);
  }
  const root = b.firstClusterOfRootDirectory;
  if (root < 2 || root > b.clusterCount + 1) {
    throw corrupt(0x60, `FirstClusterOfRootDirectory is ${root}, outside clusters 2..${b.clusterCount + 1}`);
  }
  return {
    bytesPerSector: bps,
    clusterSize: bps * 2 ** spcShift,
    volumeLength,
    fatOffset: b.fatOffset,
    fatLength: b.fatLength,
    numberOfFats: b.numberOfFats,
    activeFat: b.numberOfFats === 2 ? b.volumeFlags & 1 : 0,
    clusterHeapOffset: b.clusterHeapOffset,
    clusterCount: b.clusterCount,
    rootCluster: root,
    volumeFlags: b.volumeFlags,
  };
}

/**
 * The FAT12/16/32 boot sector (BIOS parameter block) and the geometry it implies
 * (filesystems.md 8.1; Microsoft "FAT: General Overview of On-Disk Format", whose field names
 * appear in our messages). Checks run in a fixed order and the first failure is reported with
 * the byte offset of the field concerned.
 */
import { ascii, bytes, layout, u16le, u32le, u8 } from '../../binary/layout.ts';
import { CorruptStructureError } from '../../errors.ts';

/** Fields shared by FAT12/16/32, 0x00–0x23, and the signature word. */
export const FatBpb = layout('FatBootSector', 512, {
  jumpBoot: bytes(0x00, 3), // BS_jmpBoot: EB xx 90 or E9 xx xx (boot code only; not checked)
  oemName: ascii(0x03, 8), // BS_OEMName: informational
  bytesPerSector: u16le(0x0b), // BPB_BytsPerSec
  sectorsPerCluster: u8(0x0d), // BPB_SecPerClus
  reservedSectors: u16le(0x0e), // BPB_RsvdSecCnt
  numberOfFats: u8(0x10), // BPB_NumFATs
  rootEntryCount: u16le(0x11), // BPB_RootEntCnt: 0 on FAT32
  totalSectors16: u16le(0x13), // BPB_TotSec16: 0 → BPB_TotSec32
  media: u8(0x15), // BPB_Media
  fatSize16: u16le(0x16), // BPB_FATSz16: 0 on FAT32
  sectorsPerTrack: u16le(0x18), // BPB_SecPerTrk
  numberOfHeads: u16le(0x1a), // BPB_NumHeads
  hiddenSectors: u32le(0x1c), // BPB_HiddSec
  totalSectors32: u32le(0x20), // BPB_TotSec32
  signatureWord: u16le(0x1fe), // 0xAA55
});

/** FAT12/16 extended BPB at 0x24. */
export const Fat16Ebpb = layout('Fat16ExtendedBpb', 512, {
  driveNumber: u8(0x24), // BS_DrvNum
  reserved1: u8(0x25), // BS_Reserved1: bit 0 = dirty (Windows NT)
  bootSignature: u8(0x26), // BS_BootSig: 0x29 when the next three fields are valid
  volumeId: u32le(0x27), // BS_VolID
  volumeLabel: ascii(0x2b, 11), // BS_VolLab
  fileSystemType: ascii(0x36, 8), // BS_FilSysType: informational only
});

/** FAT32 extended BPB at 0x24. */
export const Fat32Ebpb = layout('Fat32ExtendedBpb', 512, {
  fatSize32: u32le(0x24), // BPB_FATSz32
  extFlags: u16le(0x28), // BPB_ExtFlags: bit 7 = mirroring off, bits 0–3 = active FAT
  fsVersion: u16le(0x2a), // BPB_FSVer
  rootCluster: u32le(0x2c), // BPB_RootClus
  fsInfoSector: u16le(0x30), // BPB_FSInfo
  backupBootSector: u16le(0x32), // BPB_BkBootSec
  driveNumber: u8(0x40), // BS_DrvNum
  reserved1: u8(0x41), // BS_Reserved1: bit 0 = dirty
  bootSignature: u8(0x42), // BS_BootSig
  volumeId: u32le(0x43), // BS_VolID
  volumeLabel: ascii(0x47, 11), // BS_VolLab
  fileSystemType: ascii(0x52, 8), // BS_FilSysType
});

export type FatKind = 'fat12' | 'fat16' | 'fat32';

/** Everything the reader derives from the boot sector; sector counts unless named bytes. */
export interface FatGeometry {
  kind: FatKind;
  bytesPerSector: number;
  sectorsPerCluster: number;
  clusterSize: number;
  reservedSectors: number;
  numberOfFats: number;
  /** Sectors of one FAT copy. */
  fatSectors: number;
  /** The FAT copy to read: 0, or the active one when FAT32 mirroring is off. */
  activeFat: number;
  /** FAT12/16 fixed root directory; 0 on FAT32. */
  rootDirSector: number;
  rootDirSectors: number;
  /** FAT32 root directory's first cluster; 0 on FAT12/16. */
  rootCluster: number;
  totalSectors: number;
  firstDataSector: number;
  /** Data clusters, numbered 2 .. clusterCount + 1. */
  clusterCount: number;
  /** BS_VolLab when BS_BootSig says it is valid, else ''. */
  bpbLabel: string;
}

export const SECTOR_SIZES = [512, 1024, 2048, 4096];
/** FAT type by cluster count (Microsoft's rule; the BS_FilSysType string is ignored). */
export const MAX_FAT12_CLUSTERS = 4084;
export const MAX_FAT16_CLUSTERS = 65524;
/** FAT32 entries have 28 bits; 0x0FFFFFF7 and above are markers. */
export const MAX_FAT32_CLUSTERS = 0x0ffffff5;

export interface FatBootProblem {
  offset: number;
  problem: string;
}

const hex = (x: number) => `0x${x.toString(16)}`;

/**
 * Geometry of a FAT boot sector, or the first problem in this order: length, signature word,
 * BPB_BytsPerSec, BPB_SecPerClus, BPB_RsvdSecCnt, BPB_NumFATs, BPB_Media, total sectors, FAT
 * size, a non-empty data region, the FAT12/16 vs FAT32 shape against the cluster count, the
 * FAT32 root cluster and active FAT, and a FAT large enough for every cluster. Pure; the
 * volume size is checked separately (`checkFatFitsVolume`).
 */
export function checkFatBootSector(sector: Uint8Array): FatGeometry | FatBootProblem {
  if (sector.length < 512) return { offset: 0, problem: `only ${sector.length} bytes, a boot sector needs 512` };
  const bpb = FatBpb.decode(sector);
  if (bpb.signatureWord !== 0xaa55) return { offset: 0x1fe, problem: `signature word is ${hex(bpb.signatureWord)}, not 0xaa55` };
  if (!SECTOR_SIZES.includes(bpb.bytesPerSector)) {
    return { offset: 0x0b, problem: `BPB_BytsPerSec is ${bpb.bytesPerSector} (512, 1024, 2048 or 4096 expected)` };
  }
  const spc = bpb.sectorsPerCluster;
  if (spc === 0 || (spc & (spc - 1)) !== 0) return { offset: 0x0d, problem: `BPB_SecPerClus is ${spc}, not a power of two` };
  if (bpb.reservedSectors === 0) return { offset: 0x0e, problem: 'BPB_RsvdSecCnt is 0' };
  if (bpb.numberOfFats === 0) return { offset: 0x10, problem: 'BPB_NumFATs is 0' };
  if (bpb.media !== 0xf0 && bpb.media < 0xf8) return { offset: 0x15, problem: `BPB_Media is ${hex(bpb.media)}` };
  const totalSectors = bpb.totalSectors16 || bpb.totalSectors32;
  if (totalSectors === 0) return { offset: 0x13, problem: 'BPB_TotSec16 and BPB_TotSec32 are both 0' };
  const ext32 = Fat32Ebpb.decode(sector);
  const fatSectors = bpb.fatSize16 || ext32.fatSize32;
  if (fatSectors === 0) return { offset: 0x16, problem: 'BPB_FATSz16 and BPB_FATSz32 are both 0' };

  const bps = bpb.bytesPerSector;
  const rootDirSectors = Math.ceil((bpb.rootEntryCount * 32) / bps);
  const rootDirSector = bpb.reservedSectors + bpb.numberOfFats * fatSectors;
  const firstDataSector = rootDirSector + rootDirSectors;
  if (firstDataSector >= totalSectors) {
    return { offset: totalSectors === bpb.totalSectors16 ? 0x13 : 0x20,
      problem: `${totalSectors} sectors leave no data region after ${firstDataSector} sectors of reserved area, FATs and root directory` };
  }
  const clusterCount = Math.floor((totalSectors - firstDataSector) / spc);
  if (clusterCount === 0) return { offset: 0x0d, problem: 'the data region holds no whole cluster' };
  const kind: FatKind = clusterCount <= MAX_FAT12_CLUSTERS ? 'fat12' : clusterCount <= MAX_FAT16_CLUSTERS ? 'fat16' : 'fat32';

  // A BPB shaped for the other family than its cluster count says is refused, as Windows does
  // (Linux and dosfstools take FATSz16 = 0 to mean FAT32 whatever the count).
  let rootCluster = 0;
  let activeFat = 0;
  let label: { bootSignature: number; volumeLabel: string };
  if (kind === 'fat32') {
    if (clusterCount > MAX_FAT32_CLUSTERS) return { offset: 0x20, problem: `${clusterCount} clusters exceed FAT32's limit` };
    if (bpb.fatSize16 !== 0) return { offset: 0x16, problem: `BPB_FATSz16 is ${bpb.fatSize16} on a volume of ${clusterCount} clusters (FAT32 needs 0)` };
    if (bpb.rootEntryCount !== 0) return { offset: 0x11, problem: `BPB_RootEntCnt is ${bpb.rootEntryCount} on FAT32 (0 expected)` };
    if (ext32.rootCluster < 2 || ext32.rootCluster > clusterCount + 1) {
      return { offset: 0x2c, problem: `BPB_RootClus is ${ext32.rootCluster}, outside clusters 2..${clusterCount + 1}` };
    }
    rootCluster = ext32.rootCluster;
    if (ext32.extFlags & 0x80) {
      activeFat = ext32.extFlags & 0x0f;
      if (activeFat >= bpb.numberOfFats) {
        return { offset: 0x28, problem: `BPB_ExtFlags names FAT ${activeFat} active but BPB_NumFATs is ${bpb.numberOfFats}` };
      }
    }
    label = ext32;
  } else {
    if (bpb.rootEntryCount === 0) return { offset: 0x11, problem: `BPB_RootEntCnt is 0 on a ${kind.toUpperCase()} volume of ${clusterCount} clusters` };
    if (bpb.fatSize16 === 0) return { offset: 0x16, problem: `BPB_FATSz16 is 0 on a ${kind.toUpperCase()} volume of ${clusterCount} clusters` };
    label = Fat16Ebpb.decode(sector);
  }
  const entriesBytes = kind === 'fat12' ? Math.ceil(((clusterCount + 2) * 3) / 2) : (clusterCount + 2) * (kind === 'fat16' ? 2 : 4);
  if (fatSectors * bps < entriesBytes) {
    return { offset: kind === 'fat32' ? 0x24 : 0x16,
      problem: `a FAT of ${fatSectors} sectors cannot hold the ${clusterCount + 2} entries of ${clusterCount} clusters` };
  }
  return {
    kind,
    bytesPerSector: bps,
    sectorsPerCluster: spc,
    clusterSize: bps * spc,
    reservedSectors: bpb.reservedSectors,
    numberOfFats: bpb.numberOfFats,
    fatSectors,
    activeFat,
    rootDirSector: kind === 'fat32' ? 0 : rootDirSector,
    rootDirSectors,
    rootCluster,
    totalSectors,
    firstDataSector,
    clusterCount,
    bpbLabel: label.bootSignature === 0x29 && label.volumeLabel !== 'NO NAME' ? label.volumeLabel : '',
  };
}

export function isFatBootProblem(x: FatGeometry | FatBootProblem): x is FatBootProblem {
  return 'problem' in x;
}

/** `checkFatBootSector` that throws, then the claimed size against the volume's. */
export function decodeFatBootSector(sector: Uint8Array, volumeSize: number): FatGeometry {
  const g = checkFatBootSector(sector);
  if (isFatBootProblem(g)) throw new CorruptStructureError('FAT boot sector', g.offset, g.problem);
  const claimed = g.totalSectors * g.bytesPerSector;
  if (claimed > volumeSize) {
    const field = FatBpb.decode(sector).totalSectors16 !== 0 ? 'BPB_TotSec16' : 'BPB_TotSec32';
    throw new CorruptStructureError('FAT boot sector', field === 'BPB_TotSec16' ? 0x13 : 0x20,
      `${field} = ${g.totalSectors} sectors (${claimed} bytes) is more than the volume's ${volumeSize} bytes`,
      { claimed, volumeSize });
  }
  return g;
}

/** Byte offset of cluster `n` (2 ≤ n ≤ clusterCount + 1) on the volume. */
export function clusterOffset(g: FatGeometry, n: number): number {
  return (g.firstDataSector + (n - 2) * g.sectorsPerCluster) * g.bytesPerSector;
}

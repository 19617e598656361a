/**
 * The NTFS boot sector ($Boot, sector 0 of the volume) and the geometry derived from it
 * (filesystems.md 1.1–1.3). Validation follows ntfs-3g's order; every failure names the field.
 */
import { ascii, bytes, i8, layout, u16le, u32le, u64le, u8, type Decoded } from '../../binary/layout.ts';
import { CorruptStructureError } from '../../errors.ts';

export const NtfsBootSector = layout('NtfsBootSector', 512, {
  jump: bytes(0x00, 3),
  oemId: ascii(0x03, 8), // "NTFS    "
  bytesPerSector: u16le(0x0b),
  sectorsPerCluster: u8(0x0d), // > 0x80: 2^(256 - value)
  reservedSectors: u16le(0x0e), // must be 0
  numberOfFats: u8(0x10), // must be 0
  rootEntries: u16le(0x11), // must be 0
  totalSectors16: u16le(0x13), // must be 0
  mediaDescriptor: u8(0x15),
  sectorsPerFat: u16le(0x16), // must be 0
  sectorsPerTrack: u16le(0x18),
  heads: u16le(0x1a),
  hiddenSectors: u32le(0x1c),
  totalSectors32: u32le(0x20), // must be 0
  numberOfSectors: u64le(0x28), // excludes the backup boot sector
  mftLcn: u64le(0x30),
  mftMirrLcn: u64le(0x38),
  clustersPerMftRecord: i8(0x40), // negative n: 2^-n bytes
  clustersPerIndexBlock: i8(0x44),
  serialNumber: u64le(0x48),
  endMarker: u16le(0x1fe), // 0xaa55
});
export type NtfsBootSector = Decoded<typeof NtfsBootSector.fields>;

export const MAX_CLUSTER_SIZE = 2 * 1024 * 1024;

export interface NtfsGeometry {
  bytesPerSector: number;
  clusterSize: number;
  /** Clusters described by $Bitmap: floor(numberOfSectors / sectorsPerCluster). */
  clusters: number;
  /** Sectors of the volume proper; the backup boot sector is the next one. */
  numberOfSectors: number;
  mftRecordSize: number;
  indexBlockSize: number;
  mftLcn: number;
  mftMirrLcn: number;
  serialNumber: bigint;
  hiddenSectors: number;
}

function sizeFromSignedCode(code: number, clusterSize: number): number {
  return code > 0 ? code * clusterSize : 2 ** -code;
}

/** Validate and derive the geometry; `volumeSize` bounds the sector count (0 skips that check). */
export function decodeNtfsBootSector(sector: Uint8Array, volumeSize: number): NtfsGeometry {
  const fail = (problem: string) => new CorruptStructureError('NTFS boot sector', 0, problem);
  const b = NtfsBootSector.decode(sector);
  if (b.oemId !== 'NTFS') throw fail(`OEM id is ${JSON.stringify(b.oemId)}, not "NTFS    "`);
  const bps = b.bytesPerSector;
  if (bps < 256 || bps > 4096 || (bps & (bps - 1)) !== 0) throw fail(`bytes per sector ${bps} is not a power of two in 256..4096`);
  const spcCode = b.sectorsPerCluster;
  let spc: number;
  if (spcCode >= 1 && spcCode <= 0x80 && (spcCode & (spcCode - 1)) === 0) spc = spcCode;
  else if (spcCode >= 0xe0 && spcCode <= 0xff) spc = 2 ** (256 - spcCode);
  else throw fail(`sectors-per-cluster code 0x${spcCode.toString(16)} is not valid`);
  const clusterSize = bps * spc;
  if (clusterSize > MAX_CLUSTER_SIZE) throw fail(`cluster size ${clusterSize} exceeds 2 MiB`);
  if (b.reservedSectors || b.numberOfFats || b.rootEntries || b.totalSectors16 || b.sectorsPerFat || b.totalSectors32) {
    throw fail('a BPB field that NTFS requires to be zero is not zero');
  }
  const codeOk = (c: number) => (c >= -31 && c <= -9) || (c > 0 && c <= 0x40 && (c & (c - 1)) === 0);
  if (!codeOk(b.clustersPerMftRecord)) throw fail(`MFT record size code ${b.clustersPerMftRecord} is not valid`);
  if (!codeOk(b.clustersPerIndexBlock)) throw fail(`index block size code ${b.clustersPerIndexBlock} is not valid`);
  const mftRecordSize = sizeFromSignedCode(b.clustersPerMftRecord, clusterSize);
  const indexBlockSize = sizeFromSignedCode(b.clustersPerIndexBlock, clusterSize);
  if (mftRecordSize < 512 || mftRecordSize > 65536) throw fail(`MFT record size ${mftRecordSize} is outside 512..65536`);
  if (indexBlockSize < 512 || indexBlockSize > 65536 * 4) throw fail(`index block size ${indexBlockSize} is not plausible`);
  if (b.numberOfSectors > BigInt(Number.MAX_SAFE_INTEGER)) throw fail(`number of sectors ${b.numberOfSectors} is beyond any real volume`);
  const numberOfSectors = Number(b.numberOfSectors);
  if (volumeSize > 0 && numberOfSectors * bps > volumeSize) {
    throw fail(`the volume claims ${numberOfSectors * bps} bytes but its partition holds ${volumeSize}`);
  }
  const clusters = Math.floor(numberOfSectors / spc);
  if (clusters === 0) throw fail('the volume has no clusters');
  const mftLcn = Number(b.mftLcn);
  const mftMirrLcn = Number(b.mftMirrLcn);
  if (b.mftLcn === 0n || b.mftLcn >= BigInt(clusters)) throw fail(`$MFT LCN ${b.mftLcn} is outside 1..${clusters - 1}`);
  if (b.mftMirrLcn === 0n || b.mftMirrLcn >= BigInt(clusters)) throw fail(`$MFTMirr LCN ${b.mftMirrLcn} is outside 1..${clusters - 1}`);
  return {
    bytesPerSector: bps, clusterSize, clusters, numberOfSectors, mftRecordSize, indexBlockSize,
    mftLcn, mftMirrLcn, serialNumber: b.serialNumber, hiddenSectors: b.hiddenSectors,
  };
}

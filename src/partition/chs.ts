/**
 * Cylinder/head/sector addresses in MBR and EBR entries (shared/reference/boot-and-bcd.md 1.3).
 * Three bytes: head, sector (bits 0–5) with cylinder bits 8–9 (bits 6–7), cylinder bits 0–7.
 * Only old BIOS boot code reads them; they are written because such code exists.
 */
import { layout, u8, type Decoded } from '../binary/layout.ts';
import { UsageError } from '../errors.ts';

export const ChsAddress = layout('CHS address', 3, {
  head: u8(0x0),
  sectorAndCylinderHigh: u8(0x1), // sector 1..63 in bits 0–5, cylinder bits 8–9 in bits 6–7
  cylinderLow: u8(0x2),
});
export type ChsAddress = Decoded<typeof ChsAddress.fields>;

export interface ChsGeometry {
  heads: number;
  sectorsPerTrack: number;
}

/** What sfdisk, sgdisk and Windows use for disks of any size today. */
export const DEFAULT_GEOMETRY: ChsGeometry = { heads: 255, sectorsPerTrack: 63 };
/** Ten bits of cylinder. */
export const MAX_CYLINDER = 1023;

export interface Chs {
  cylinder: number;
  head: number;
  /** 1-based. */
  sector: number;
}

function checkGeometry(g: ChsGeometry): void {
  if (!Number.isInteger(g.heads) || g.heads < 1 || g.heads > 256
      || !Number.isInteger(g.sectorsPerTrack) || g.sectorsPerTrack < 1 || g.sectorsPerTrack > 63) {
    throw new UsageError(`CHS geometry ${g.heads} heads × ${g.sectorsPerTrack} sectors is not representable (1..256 × 1..63)`,
      { heads: g.heads, sectorsPerTrack: g.sectorsPerTrack });
  }
}

/**
 * The CHS address of `lba`. When the cylinder exceeds 1023 the value cannot be stored and the
 * largest address of the geometry is returned instead (1023/254/63, bytes `FE FF FF`, for the
 * default geometry), as sfdisk and sgdisk write it.
 */
export function lbaToChs(lba: number, geometry: ChsGeometry = DEFAULT_GEOMETRY): Chs {
  checkGeometry(geometry);
  if (!Number.isSafeInteger(lba) || lba < 0) throw new UsageError(`LBA ${lba} has no CHS address`, { lba });
  const { heads, sectorsPerTrack: spt } = geometry;
  const cylinder = Math.floor(lba / (heads * spt));
  if (cylinder > MAX_CYLINDER) return { cylinder: MAX_CYLINDER, head: heads - 1, sector: spt };
  return { cylinder, head: Math.floor(lba / spt) % heads, sector: (lba % spt) + 1 };
}

/** Whether `lba` has a CHS address of its own (cylinder ≤ 1023) in this geometry. */
export function isChsRepresentable(lba: number, geometry: ChsGeometry = DEFAULT_GEOMETRY): boolean {
  checkGeometry(geometry);
  return Math.floor(lba / (geometry.heads * geometry.sectorsPerTrack)) <= MAX_CYLINDER;
}

export function chsToLba(chs: Chs, geometry: ChsGeometry = DEFAULT_GEOMETRY): number {
  checkGeometry(geometry);
  return (chs.cylinder * geometry.heads + chs.head) * geometry.sectorsPerTrack + chs.sector - 1;
}

/** Pack a CHS address into the 3-byte field. */
export function packChs(chs: Chs): Uint8Array {
  if (chs.cylinder < 0 || chs.cylinder > MAX_CYLINDER || chs.head < 0 || chs.head > 255 || chs.sector < 0 || chs.sector > 63) {
    throw new UsageError(`CHS ${chs.cylinder}/${chs.head}/${chs.sector} does not fit the 3-byte field`, { ...chs });
  }
  return ChsAddress.encode({
    head: chs.head,
    sectorAndCylinderHigh: chs.sector | ((chs.cylinder >> 8) << 6),
    cylinderLow: chs.cylinder & 0xff,
  });
}

/** Unpack the 3-byte field at `at` (no geometry needed: the fields are explicit). */
export function decodeChs(field: Uint8Array, at = 0): Chs {
  const f = ChsAddress.decode(field, at);
  return { head: f.head, sector: f.sectorAndCylinderHigh & 0x3f, cylinder: ((f.sectorAndCylinderHigh & 0xc0) << 2) | f.cylinderLow };
}

/** The 3 bytes an MBR or EBR entry stores for `lba`. */
export const encodeChs = (lba: number, geometry: ChsGeometry = DEFAULT_GEOMETRY): Uint8Array => packChs(lbaToChs(lba, geometry));

/** `FF FF FF`: what UEFI asks a protective MBR to store when the last LBA has no CHS address. */
export const CHS_UNREPRESENTABLE = Uint8Array.of(0xff, 0xff, 0xff);

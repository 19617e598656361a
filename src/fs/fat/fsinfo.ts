/**
 * The FAT32 FSInfo sector (filesystems.md 8.1): free-cluster count and next-free hint. Both are
 * hints; 0xFFFFFFFF means unknown and is left so. A sector without its three signatures is
 * not FSInfo and is never written.
 */
import { layout, u32le } from '../../binary/layout.ts';

export const FsInfo = layout('FatFsInfo', 512, {
  leadSignature: u32le(0x000), // FSI_LeadSig: 0x41615252
  structSignature: u32le(0x1e4), // FSI_StrucSig: 0x61417272
  freeCount: u32le(0x1e8), // FSI_Free_Count: 0xFFFFFFFF unknown
  nextFree: u32le(0x1ec), // FSI_Nxt_Free: 0xFFFFFFFF unknown
  trailSignature: u32le(0x1fc), // FSI_TrailSig: 0xAA550000
});

export const FSINFO_UNKNOWN = 0xffffffff;

export function isFsInfo(sector: Uint8Array): boolean {
  if (sector.length < 512) return false;
  const f = FsInfo.decode(sector);
  return f.leadSignature === 0x41615252 && f.structSignature === 0x61417272 && f.trailSignature === 0xaa550000;
}

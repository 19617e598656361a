/**
 * Shared pieces of the sector-size conversion (docs/formats/sector-size.md): the description of
 * a planned change, the refusal error, and helpers the per-filesystem planners use. Kept apart
 * from sector-size.ts so the planners can import them without an import cycle.
 */
import { LifeboatError, type ErrorData } from '../errors.ts';
import type { FilesystemKind } from './probe.ts';

/** Bytes to write at `offset` (relative to the volume's first byte); `what` says which structure. */
export interface SectorSizeWrite {
  offset: number;
  bytes: Uint8Array;
  what: string;
}

export interface SectorSizeChange {
  kind: FilesystemKind;
  /** Bytes per sector the volume declares now, and after the writes. */
  from: number;
  to: number;
  /** In the order they are to be written; empty when the volume already uses `to`. */
  writes: SectorSizeWrite[];
}

/** Stable `data.reason` values of SectorSizeRefusedError. */
export type SectorSizeRefusal =
  | 'unsupported-filesystem' // no filesystem, BitLocker, ReFS, ext, swap or unrecognised
  | 'unreadable' // the boot sector or boot region fails validation
  | 'cluster-too-small' // a cluster would be less than one sector
  | 'cluster-too-large' // FAT: more than 128 sectors per cluster
  | 'mft-record-too-small' // NTFS: MFT records smaller than a sector
  | 'index-block-too-small' // NTFS: index blocks smaller than a sector
  | 'size-not-multiple' // NTFS: the volume is not a whole number of new sectors
  | 'misaligned' // a region does not start or end on a new sector boundary
  | 'no-room' // FAT32: no free reserved sectors for FSInfo and the backup boot sector
  | 'boot-region-too-small' // exFAT: the FAT starts inside the new 24-sector boot regions
  | 'field-overflow' // a count does not fit its field in the new unit
  | 'no-backup-sector'; // NTFS: the partition ends before the backup boot sector

/**
 * The volume cannot be expressed in the requested sector size. Raised by planning, before any
 * write; the message says what, why and what to do instead.
 */
export class SectorSizeRefusedError extends LifeboatError {
  constructor(message: string, data: ErrorData & { filesystem: string; reason: SectorSizeRefusal; from: number; to: number }) {
    super('SECTOR_SIZE_REFUSED', message, data);
  }
}

const FS_NAMES: Partial<Record<FilesystemKind, string>> = {
  ntfs: 'NTFS', fat12: 'FAT12', fat16: 'FAT16', fat32: 'FAT32', exfat: 'exFAT', refs: 'ReFS', bitlocker: 'BitLocker',
  ext: 'ext2/3/4', swap: 'Linux swap',
};

export function filesystemName(kind: FilesystemKind): string {
  return FS_NAMES[kind] ?? 'unrecognised';
}

/** The advice every refusal ends with: a disk of the volume's own sector size takes it as it is. */
export function restoreAdvice(from: number): string {
  return from === 512
    ? 'Restore it to a disk with 512-byte sectors (512n or 512e), or copy its files instead.'
    : `Restore it to a disk with ${from}-byte sectors (4Kn), or copy its files instead.`;
}

/** A refusal with the standard message shape: "<what>: <why>. <advice>". */
export function refuse(kind: FilesystemKind, from: number, to: number, reason: SectorSizeRefusal, why: string, extra: ErrorData = {}): SectorSizeRefusedError {
  const what = `The ${filesystemName(kind)} volume cannot be converted from ${from}-byte to ${to}-byte sectors`;
  return new SectorSizeRefusedError(`${what}: ${why}. ${restoreAdvice(from)}`,
    { ...extra, filesystem: kind, reason, from, to });
}

/** A planner's own result failed its check: a bug, never the volume's fault. */
export function planBug(kind: FilesystemKind, problem: string): LifeboatError {
  return new LifeboatError('SECTOR_SIZE_PLAN', `sector-size plan for ${filesystemName(kind)} is inconsistent: ${problem}`, { filesystem: kind });
}

export const log2 = (x: number): number => Math.round(Math.log2(x));

export const isSectorSize = (x: number): boolean => Number.isInteger(x) && x >= 512 && x <= 4096 && (x & (x - 1)) === 0;

/** Every write must start and end on a boundary of both sector sizes (Windows' unbuffered I/O rule). */
export function checkAlignment(kind: FilesystemKind, writes: readonly SectorSizeWrite[], from: number, to: number): void {
  const unit = Math.max(from, to);
  for (const w of writes) {
    if (w.offset % unit !== 0 || w.bytes.length % unit !== 0) {
      throw planBug(kind, `${w.what}: ${w.bytes.length} bytes at ${w.offset} are not whole ${unit}-byte sectors`);
    }
  }
}

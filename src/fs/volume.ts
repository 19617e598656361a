/**
 * What every filesystem reader offers the rest of the engine (inspect, intelligent backup,
 * browse/extract, restore fix-ups). Paths use `\` or `/`, are relative to the volume root,
 * and are matched as the filesystem does (case-insensitively on NTFS/FAT/exFAT).
 */
import type { ExtentList } from './extents.ts';

export interface DirEntry {
  /** Name as stored (long name where the filesystem has one). */
  name: string;
  isDirectory: boolean;
  /** Bytes of the (unnamed) data; 0 for directories. */
  size: number;
  /** Times as Date where the filesystem records them. */
  created?: Date;
  modified?: Date;
  accessed?: Date;
  /** Filesystem attribute bits (FAT/NTFS/exFAT FILE_ATTRIBUTE_* values). */
  attributes: number;
  /** Filesystem's own id: NTFS MFT record number, FAT/exFAT first cluster. */
  id: number;
  /** NTFS: named data streams with their sizes. */
  streams?: Array<{ name: string; size: number }>;
}

/** A stretch of a file's data, in file order: `volumeOffset` null where the file is sparse. */
export interface FileRun {
  fileOffset: number;
  volumeOffset: number | null;
  length: number;
}

/** Where a file's data lies, in file order (what writing a file in place needs). */
export interface FileLayout {
  /** Bytes of the data. */
  size: number;
  /** Whole clusters; together they cover at least `size` bytes. */
  runs: FileRun[];
  /**
   * The clusters hold the file's bytes as they are: not compressed, not resident in a
   * metadata record, valid up to `size`. Only then may the file be rewritten in place.
   */
  plain: boolean;
}

export interface FilesystemReader {
  readonly kind: 'ntfs' | 'fat12' | 'fat16' | 'fat32' | 'exfat';
  readonly label: string;
  /** Bytes per cluster. */
  readonly clusterSize: number;
  /** Bytes of the volume (the partition or device it was opened on). */
  readonly volumeSize: number;
  /** Clusters the filesystem's own allocation records as in use (its bitmap or FAT). */
  usedClusters(): Promise<number>;
  /**
   * What intelligent copy must read: used clusters plus everything the filesystem needs outside
   * them (boot sectors and backups, FATs, reserved regions), clipped to the volume.
   */
  allocationMap(): Promise<ExtentList>;
  list(path: string): Promise<DirEntry[]>;
  stat(path: string): Promise<DirEntry>;
  /** Whole content of a file's (named) data stream. */
  readFile(path: string, stream?: string): Promise<Uint8Array>;
  /** Where a file's data lies on the volume (allocated clusters; sparse holes excluded). */
  fileExtents(path: string, stream?: string): Promise<ExtentList>;
  /** The same clusters in file order, with whether they hold the bytes plainly. */
  fileLayout(path: string, stream?: string): Promise<FileLayout>;
}

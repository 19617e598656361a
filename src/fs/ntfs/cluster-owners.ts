/**
 * Which of some cluster ranges are referenced by any in-use MFT record: the walk ntfsclone and
 * ntfsresize make (filesystems.md 3.2), here only to make sure clusters `$Bitmap` marks free
 * really are free before metadata is put there ("missing" bits exist in the wild). Records are
 * read from `$MFT` a chunk at a time; records not in use are skipped without decoding.
 */
import { RECORD_IN_USE, decodeRecord, FileRecordHeader } from './record.ts';
import type { NtfsVolume } from './ntfs-volume.ts';

/** Records read per chunk of the walk. */
const RECORDS_PER_READ = 1024;

export interface ClusterRange {
  lcn: number;
  length: number;
}

/** For each range: the number of the first in-use record found using a cluster of it, or -1. */
export async function clusterOwners(vol: NtfsVolume, ranges: readonly ClusterRange[]): Promise<number[]> {
  const owners = ranges.map(() => -1);
  if (ranges.length === 0) return owners;
  const { mftRecordSize: size, clusters } = vol.geometry;
  const count = vol.mft.recordCount;
  for (let first = 0; first < count; first += RECORDS_PER_READ) {
    const n = Math.min(RECORDS_PER_READ, count - first);
    const chunk = await vol.mft.stream.read(first * size, n * size);
    for (let i = 0; i < n; i++) {
      const raw = chunk.subarray(i * size, (i + 1) * size);
      const h = FileRecordHeader.decode(raw);
      if ((h.flags & RECORD_IN_USE) === 0) continue; // a torn (BAAD) record in use throws below
      const record = decodeRecord(raw.slice(), first + i, vol.mft.recordOffset(first + i), clusters);
      for (const a of record?.attributes ?? []) {
        if (a.resident) continue;
        for (const r of a.runs) {
          if (r.lcn === null) continue;
          for (const [k, range] of ranges.entries()) {
            if (owners[k] === -1 && r.lcn < range.lcn + range.length && range.lcn < r.lcn + r.length) owners[k] = first + i;
          }
        }
      }
    }
  }
  return owners;
}

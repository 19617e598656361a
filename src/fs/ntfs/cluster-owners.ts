/**
 * Which of some cluster ranges are referenced by any in-use MFT record: the walk ntfsclone and
 * ntfsresize make (filesystems.md 3.2), here only to make sure clusters `$Bitmap` marks free
 * really are free before metadata is put there, or before a shrink cuts them off ("missing"
 * bits exist in the wild). Records are read from `$MFT` a chunk at a time; records not in use
 * are skipped without decoding. `recordPath` names the file a record belongs to.
 */
import { FileNameValue, NAMESPACE_DOS } from './directory-index.ts';
import { ATTR, RECORD_IN_USE, decodeRecord, FileRecordHeader } from './record.ts';
import type { NtfsVolume } from './ntfs-volume.ts';

/** Records read per chunk of the walk. */
const RECORDS_PER_READ = 1024;
const ROOT_RECORD = 5;

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

/** Deeper than this is not a real directory tree. */
const MAX_PATH_DEPTH = 256;

/**
 * The path of the file whose record `n` is (an extension record stands for its base), as
 * `\dir\name` from its `$FILE_NAME` (the Win32 or POSIX name rather than the DOS alias) and its
 * parents'; undefined when the names do not lead to the root (a name missing, a parent not in
 * use or reused, a loop). For messages: who owns a cluster.
 */
export async function recordPath(vol: NtfsVolume, n: number): Promise<string | undefined> {
  const record = await vol.mft.record(n);
  let at = record && record.baseRecord !== 0 ? record.baseRecord : n;
  let sequence: number | undefined;
  const names: string[] = [];
  const seen = new Set<number>();
  while (at !== ROOT_RECORD) {
    if (seen.has(at) || seen.size >= MAX_PATH_DEPTH || at >= vol.mft.recordCount) return undefined;
    seen.add(at);
    const rec = await vol.mft.record(at);
    if (!rec || (rec.flags & RECORD_IN_USE) === 0 || rec.baseRecord !== 0) return undefined;
    if (sequence !== undefined && sequence !== 0 && rec.sequenceNumber !== sequence) return undefined; // a reused parent slot
    const file = await vol.mft.file(at);
    const candidates = file.attributes.flatMap((a) => (a.type === ATTR.fileName && a.resident && a.value.length >= FileNameValue.size ? [a.value] : []))
      .map((v) => ({ v, h: FileNameValue.decode(v) }))
      .filter(({ v, h }) => FileNameValue.size + 2 * h.nameLength <= v.length);
    const best = candidates.find((c) => c.h.namespace !== NAMESPACE_DOS) ?? candidates[0];
    if (!best) return undefined;
    names.unshift(Buffer.from(best.v.buffer, best.v.byteOffset + FileNameValue.size, 2 * best.h.nameLength).toString('utf16le'));
    at = Number(best.h.parentReference & 0xffffffffffffn);
    sequence = Number(best.h.parentReference >> 48n);
  }
  return `\\${names.join('\\')}`;
}

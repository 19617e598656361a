/**
 * `$Bitmap` for a shrunk volume (filesystems.md 3.1): as long as the new cluster count needs,
 * its runs cut to the clusters that length needs, the clusters it gives up freed, and the padding
 * bits past the new last cluster set as mkntfs sets them. Only a few bytes change, so they are
 * planned in memory: at most 8 of padding, and one bit per cluster given up.
 */
import { CorruptStructureError } from '../../errors.ts';
import type { ClusterRange } from './cluster-owners.ts';
import { DataStream } from './data-stream.ts';
import { bitmapSizeFor, loadBitmapAttribute, setBits } from './grow-bitmap.ts';
import { truncateRuns } from './grow.ts';
import { rewriteDataAttribute, type RecordChange, type Refusal } from './metadata-record.ts';
import type { NtfsVolume } from './ntfs-volume.ts';
import { ATTR } from './record.ts';
import type { Run } from './runlist.ts';

const BITMAP_RECORD = 6;

/** Bytes of $Bitmap's data at `at`, written through its new runs. */
export interface BitmapEdit {
  at: number;
  bytes: Uint8Array;
}

export interface ShrunkBitmap {
  record: RecordChange;
  oldSize: number;
  newSize: number;
  runs: Run[];
  /** Clusters $Bitmap held and gives up. */
  freed: ClusterRange[];
  /** The last byte(s) of the new $Bitmap, padding bits set (none when the clusters fill it). */
  padding?: BitmapEdit;
  /** Old bytes holding the freed clusters' bits (below the padding), those bits cleared. */
  freedEdits: BitmapEdit[];
  /** How many of the freed clusters were marked used: used clusters fall by this much. */
  cleared: number;
  warnings: string[];
}

/** Set bits [from, to) cleared in `out` (bitmap bytes from `startByte`); returns how many were set. */
function clearBits(out: Uint8Array, startByte: number, from: number, to: number): number {
  let cleared = 0;
  for (let c = Math.max(from, startByte * 8); c < Math.min(to, (startByte + out.length) * 8); c++) {
    const i = Math.floor(c / 8) - startByte;
    const bit = 1 << (c % 8);
    if (out[i]! & bit) cleared++;
    out[i]! &= ~bit;
  }
  return cleared;
}

/**
 * bitmapSizeFor(new clusters) bytes (never more than $Bitmap has allocated), its runs cut to the
 * clusters that needs, the bits of the clusters it gives up cleared, the padding bits set.
 */
export async function planShrunkBitmap(vol: NtfsVolume, newClusters: number, refuse: Refusal): Promise<ShrunkBitmap> {
  const cs = vol.geometry.clusterSize;
  const { rec, attr } = await loadBitmapAttribute(vol, refuse);
  const newSize = Math.min(bitmapSizeFor(newClusters), attr.allocatedSize);
  const keep = Math.ceil(newSize / cs);
  const runs = truncateRuns(attr.runs, keep);
  const freed: ClusterRange[] = attr.runs.filter((r) => r.vcn + r.length > keep).map((r) => {
    const skip = Math.max(0, keep - r.vcn);
    return { lcn: r.lcn! + skip, length: r.length - skip };
  });
  const record = rewriteDataAttribute(rec, '', { runs, allocatedSize: keep * cs, dataSize: newSize, initializedSize: newSize }, newClusters);

  const stream = vol.mft.openStream(await vol.mft.file(BITMAP_RECORD), ATTR.data, '');
  if (!(stream instanceof DataStream)) throw new CorruptStructureError('$Bitmap', attr.offset, 'is not a non-resident stream');
  /** Old bitmap bytes (zeros past its data size, which a new size may exceed within its allocation). */
  const read = async (at: number, n: number) => {
    const out = new Uint8Array(n);
    const have = Math.min(n, attr.dataSize - at);
    if (have > 0) out.set(await stream.read(at, have));
    return out;
  };
  const from = Math.floor(newClusters / 8);
  let cleared = 0;
  let padding: BitmapEdit | undefined;
  if (from < newSize) {
    const bytes = await read(from, newSize - from);
    for (const f of freed) cleared += clearBits(bytes, from, f.lcn, f.lcn + f.length);
    setBits(bytes, from, newClusters, newSize * 8);
    padding = { at: from, bytes };
  }
  // Byte ranges holding the freed clusters' bits (below the padding bytes), merged so that no
  // byte is written twice from its old value.
  const spans = freed.map((f) => [Math.floor(f.lcn / 8), Math.min(from, Math.ceil((f.lcn + f.length) / 8))] as const)
    .filter(([lo, hi]) => lo < hi).sort((a, b) => a[0] - b[0]);
  const merged: Array<[number, number]> = [];
  for (const [lo, hi] of spans) {
    const last = merged.at(-1);
    if (last && lo <= last[1]) last[1] = Math.max(last[1], hi);
    else merged.push([lo, hi]);
  }
  const freedEdits: BitmapEdit[] = [];
  for (const [lo, hi] of merged) {
    const bytes = await read(lo, hi - lo);
    for (const f of freed) cleared += clearBits(bytes, lo, f.lcn, f.lcn + f.length);
    freedEdits.push({ at: lo, bytes });
  }
  const freedCount = freed.reduce((s, f) => s + f.length, 0);
  const warnings = cleared < freedCount
    ? [`${freedCount - cleared} of the ${freedCount} clusters $Bitmap gives up were already marked free in it`]
    : [];
  return { record, oldSize: attr.dataSize, newSize, runs, freed, ...(padding ? { padding } : {}), freedEdits, cleared, warnings };
}

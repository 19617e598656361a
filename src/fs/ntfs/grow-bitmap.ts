/**
 * `$Bitmap` for a grown volume (filesystems.md 3.1): ceil(clusters / 8) bytes rounded up to a
 * multiple of 8, new clusters free, the padding bits past the last cluster set as mkntfs sets
 * them. When the larger bitmap needs more clusters they are taken from the old volume's free
 * space — right after the bitmap's last run if free, else the first free gap big enough —
 * after an MFT walk confirms no file uses them; only if there is none, from the added space.
 * Clusters inside the old volume keep an interrupted grow consistent: the rewritten record
 * never names a cluster the old size does not have.
 */
import { DataStream } from './data-stream.ts';
import { clusterOwners, type ClusterRange } from './cluster-owners.ts';
import { cannotGrow, dataAttribute, loadMetadataRecord, rewriteDataAttribute, type MetadataRecord, type RecordChange, type Refusal } from './metadata-record.ts';
import type { NtfsVolume } from './ntfs-volume.ts';
import { CorruptStructureError } from '../../errors.ts';
import { ATTR, type NonResidentAttr } from './record.ts';
import { joinAdjacentRuns } from './runlist-encode.ts';
import type { Run } from './runlist.ts';

const BITMAP_RECORD = 6;
/** Attribute flags under which $Bitmap cannot be rewritten in place. */
const COMPRESSED_ENCRYPTED_SPARSE = 0x00ff | 0x4000 | 0x8000;
/** Free gaps of the old volume tried (checked against the MFT in one walk). */
const MAX_CANDIDATES = 8;

/** Bytes of the bitmap for `clusters`: whole bytes, rounded up to 8 as mkntfs does. */
export const bitmapSizeFor = (clusters: number): number => Math.ceil(Math.ceil(clusters / 8) / 8) * 8;

export type BitmapPlacement = 'unchanged' | 'after-last-run' | 'free-gap' | 'added-space';

/** The $Bitmap bytes growNtfs rewrites; everything else keeps its bits. */
export interface BitmapWrite {
  /** Byte range [from, to) holding bits from the old last cluster on, written through `runs`. */
  from: number;
  to: number;
  runs: Run[];
  oldClusters: number;
  newClusters: number;
  /** The byte at `from` as it was: its bits below oldClusters are kept. */
  firstByte: number;
  /** Clusters newly given to $Bitmap; their bits are set wherever they lie. */
  allocated?: ClusterRange;
  /** Old bitmap bytes [at, at + bytes.length) with the bits of `allocated` set (only when it lies below `from`). */
  patch?: { at: number; bytes: Uint8Array };
}

export interface BitmapPlan {
  record: RecordChange;
  write: BitmapWrite;
  oldSize: number;
  placement: BitmapPlacement;
  warnings: string[];
}

/** Free cluster ranges of the old volume: gaps between $Bitmap's used extents. */
async function freeGaps(vol: NtfsVolume): Promise<ClusterRange[]> {
  const cs = vol.geometry.clusterSize;
  const { extents } = await vol.bitmapExtents();
  const gaps: ClusterRange[] = [];
  let next = 0;
  for (const e of extents.extents) {
    const lcn = e.start / cs;
    if (lcn > next) gaps.push({ lcn: next, length: lcn - next });
    next = (e.start + e.length) / cs;
  }
  if (next < vol.geometry.clusters) gaps.push({ lcn: next, length: vol.geometry.clusters - next });
  return gaps;
}

async function place(vol: NtfsVolume, afterLast: number, extra: number, newClusters: number): Promise<{ range: ClusterRange; placement: BitmapPlacement; warnings: string[] }> {
  const g = vol.geometry;
  const gaps = (await freeGaps(vol)).filter((gap) => gap.length >= extra);
  const candidates: Array<{ range: ClusterRange; placement: BitmapPlacement }> = [];
  if (gaps.some((gap) => gap.lcn <= afterLast && afterLast + extra <= gap.lcn + gap.length)) {
    candidates.push({ range: { lcn: afterLast, length: extra }, placement: 'after-last-run' });
  }
  for (const gap of [...gaps.filter((x) => x.lcn >= afterLast), ...gaps.filter((x) => x.lcn < afterLast)]) {
    if (candidates.length >= MAX_CANDIDATES) break;
    if (!candidates.some((c) => c.range.lcn === gap.lcn)) candidates.push({ range: { lcn: gap.lcn, length: extra }, placement: 'free-gap' });
  }
  const owners = await clusterOwners(vol, candidates.map((c) => c.range));
  const warnings = candidates.flatMap((c, i) => (owners[i]! >= 0
    ? [`clusters ${c.range.lcn}..${c.range.lcn + extra - 1} are free in $Bitmap but used by MFT record ${owners[i]}: run chkdsk /f on Windows`]
    : []));
  const chosen = candidates.find((_, i) => owners[i] === -1);
  if (chosen) return { ...chosen, warnings };
  // The added space: no file can own it. Skip the cluster holding the old backup boot sector.
  const pastOldBackup = Math.ceil((g.numberOfSectors + 1) * g.bytesPerSector / g.clusterSize);
  const lcn = [pastOldBackup, g.clusters].find((s) => s + extra <= newClusters);
  if (lcn === undefined) throw cannotGrow('no-room-for-bitmap', `$Bitmap needs ${extra} more clusters; the old volume has no free run that long and only ${newClusters - g.clusters} clusters are added`);
  warnings.push(`the old volume has no free run of ${extra} clusters for $Bitmap, so it grows into the added space: until the boot sector is written, $Bitmap names clusters past the old end`);
  return { range: { lcn, length: extra }, placement: 'added-space', warnings };
}

/**
 * $Bitmap's record and its `$DATA`, checked to be one that can be rewritten in place: not
 * compressed, encrypted or sparse, allocated size matching its runs, data size covering every
 * cluster, fully initialized. Refusals go through `refuse` (growNtfs's or shrinkNtfs's wording).
 */
export async function loadBitmapAttribute(vol: NtfsVolume, refuse: Refusal = cannotGrow): Promise<{ rec: MetadataRecord; attr: NonResidentAttr; allocatedClusters: number }> {
  const g = vol.geometry;
  const rec = await loadMetadataRecord(vol, BITMAP_RECORD, '$Bitmap', g.clusters, refuse);
  const attr = dataAttribute(rec, '$Bitmap', '');
  const where = (why: string) => new CorruptStructureError('$Bitmap', attr.offset, why);
  if (attr.flags & COMPRESSED_ENCRYPTED_SPARSE) throw refuse('bitmap-flags', `$Bitmap's $DATA has flags 0x${attr.flags.toString(16)} (compressed, encrypted or sparse)`);
  if (attr.runs.some((r) => r.lcn === null)) throw where('has a sparse run');
  const allocatedClusters = attr.runs.reduce((s, r) => s + r.length, 0);
  if (attr.allocatedSize !== allocatedClusters * g.clusterSize) throw where(`allocated size ${attr.allocatedSize} differs from its ${allocatedClusters} clusters`);
  if (attr.dataSize < Math.ceil(g.clusters / 8) || attr.dataSize > attr.allocatedSize) {
    throw where(`data size ${attr.dataSize} does not fit ${g.clusters} clusters and ${attr.allocatedSize} allocated bytes`);
  }
  if (attr.initializedSize !== attr.dataSize) throw refuse('bitmap-initialized', `$Bitmap's initialized size ${attr.initializedSize} differs from its data size ${attr.dataSize}`);
  return { rec, attr, allocatedClusters };
}

export async function planBitmap(vol: NtfsVolume, newClusters: number): Promise<BitmapPlan> {
  const g = vol.geometry;
  const cs = g.clusterSize;
  const { rec, attr, allocatedClusters } = await loadBitmapAttribute(vol);
  const where = (why: string) => new CorruptStructureError('$Bitmap', attr.offset, why);

  const newSize = Math.max(attr.dataSize, bitmapSizeFor(newClusters));
  const extra = Math.ceil(newSize / cs) - allocatedClusters;
  let runs = attr.runs;
  let placed: Awaited<ReturnType<typeof place>> | undefined;
  if (extra > 0) {
    const last = attr.runs.at(-1)!;
    placed = await place(vol, last.lcn! + last.length, extra, newClusters);
    runs = joinAdjacentRuns([...attr.runs, { vcn: allocatedClusters, lcn: placed.range.lcn, length: extra }]);
  }
  const allocatedSize = runs.reduce((s, r) => s + r.length, 0) * cs;
  const record = rewriteDataAttribute(rec, '', { runs, allocatedSize, dataSize: newSize, initializedSize: newSize }, newClusters);

  const from = Math.floor(g.clusters / 8);
  const stream = vol.mft.openStream(await vol.mft.file(BITMAP_RECORD), ATTR.data, '');
  if (!(stream instanceof DataStream)) throw where('is not a non-resident stream');
  const firstByte = (await stream.read(from, 1))[0] ?? 0;
  const write: BitmapWrite = { from, to: newSize, runs, oldClusters: g.clusters, newClusters, firstByte };
  if (placed) {
    write.allocated = placed.range;
    const lo = Math.floor(placed.range.lcn / 8);
    const hi = Math.min(from, Math.ceil((placed.range.lcn + extra) / 8));
    if (lo < hi) {
      const bytes = await stream.read(lo, hi - lo);
      setBits(bytes, lo, placed.range.lcn, placed.range.lcn + extra);
      write.patch = { at: lo, bytes };
    }
  }
  return { record, write, oldSize: attr.dataSize, placement: placed?.placement ?? 'unchanged', warnings: placed?.warnings ?? [] };
}

/** Set bits [from, to) (cluster numbers) in `out`, which holds bitmap bytes from `startByte`. */
export function setBits(out: Uint8Array, startByte: number, from: number, to: number): void {
  const lo = Math.max(from, startByte * 8);
  const hi = Math.min(to, (startByte + out.length) * 8);
  let c = lo;
  for (; c < hi && c % 8 !== 0; c++) out[Math.floor(c / 8) - startByte]! |= 1 << (c % 8);
  const wholeEnd = hi - (hi % 8);
  if (c < wholeEnd) {
    out.fill(0xff, c / 8 - startByte, wholeEnd / 8 - startByte);
    c = wholeEnd;
  }
  for (; c < hi; c++) out[Math.floor(c / 8) - startByte]! |= 1 << (c % 8);
}

/**
 * $Bitmap bytes [start, start + length) of the rewritten range [from, to): the old bits below
 * the old cluster count, the bits of every cluster $Bitmap itself occupies from there on (also
 * after an interrupted grow), padding bits from `padFrom` on, all else free. With `padFrom` =
 * the new cluster count this is the final bitmap; with the old one, the same bytes as the old
 * volume must see them (every bit past its clusters set) until the boot sector changes.
 */
export function bitmapChunk(w: BitmapWrite, start: number, length: number, padFrom = w.newClusters): Uint8Array {
  const out = new Uint8Array(length);
  setBits(out, start, padFrom, (start + length) * 8);
  for (const r of w.runs) if (r.lcn !== null) setBits(out, start, Math.max(r.lcn, w.oldClusters), r.lcn + r.length);
  if (w.allocated) setBits(out, start, w.allocated.lcn, w.allocated.lcn + w.allocated.length);
  if (w.from >= start && w.from < start + length) out[w.from - start]! |= w.firstByte & ((1 << (w.oldClusters % 8)) - 1);
  return out;
}

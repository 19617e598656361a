/**
 * FAT12/16/32 in another logical sector size (docs/formats/sector-size.md, "FAT"). Every BPB
 * count is in sectors, so each is rescaled so that the reserved area, the FATs, the FAT12/16
 * root directory and the clusters keep their byte offsets; directory entries and FAT entries
 * count clusters and do not change. FAT32's FSInfo and backup boot sector are sector numbers
 * too: going to larger sectors they may have to move (into free reserved sectors).
 */
import type { ReadableDevice } from '../../device/block-device.ts';
import { writeField } from '../ntfs/record-write.ts';
import { checkAlignment, planBug, refuse, type SectorSizeRefusal, type SectorSizeWrite } from '../sector-size-common.ts';
import { checkFatBootSector, Fat32Ebpb, FatBpb, isFatBootProblem, type FatGeometry, type FatKind } from './boot-sector.ts';

const U16 = 0xffff;
const U32 = 0xffffffff;
/** BPB_SecPerClus is at most 128 (Microsoft's FAT specification). */
const MAX_SECTORS_PER_CLUSTER = 128;
/** Microsoft recommends the backup boot sector at 6. */
const USUAL_BACKUP_BOOT_SECTOR = 6;

const present = (sector: number) => sector !== 0 && sector !== U16;

interface Plan {
  g: FatGeometry;
  from: number;
  to: number;
  /** Old sector 0, `max(from, to)` bytes. */
  boot: Uint8Array;
  no: (reason: SectorSizeRefusal, why: string, extra?: Record<string, number | string>) => Error;
}

/**
 * The writes that make the FAT volume on `volume` declare `to`-byte sectors, or a refusal.
 * Read-only; `kind` (from probeFilesystem) names the volume in messages.
 */
export async function planFatSectorSize(volume: ReadableDevice, to: number, kind: FatKind): Promise<{ from: number; writes: SectorSizeWrite[] }> {
  const first = await volume.read(0, Math.min(volume.size, 512));
  const checked = checkFatBootSector(first);
  let from = volume.sectorSize;
  const no = (reason: SectorSizeRefusal, why: string, extra = {}) => refuse(kind, from, to, reason, why, extra);
  if (isFatBootProblem(checked)) throw no('unreadable', `its boot sector is not valid (byte ${checked.offset}: ${checked.problem})`);
  const g = checked;
  from = g.bytesPerSector;
  if (g.totalSectors * from > volume.size) throw no('unreadable', `its boot sector claims ${g.totalSectors * from} bytes, its partition holds ${volume.size}`);
  if (from === to) return { from, writes: [] };
  const p: Plan = { g, from, to, boot: await volume.read(0, Math.max(from, to)), no };

  const sector0 = p.boot.slice(0, Math.max(from, to));
  const extra: SectorSizeWrite[] = [];
  setBpb(p, sector0);
  if (g.kind !== 'fat32') extra.push(...await rootDirectory(p, volume, sector0));
  const writes = g.kind === 'fat32' ? await fat32Sectors(p, volume, sector0) : [];
  writes.push(...extra);
  if (to < from) writes.push({ offset: 0, bytes: sector0, what: `boot sector (first ${to} bytes; the rest of the old ${from}-byte sector stays)` });
  else writes.push({ offset: 0, bytes: sector0.subarray(0, to), what: `boot sector (first ${to}-byte sector)` });
  checkSameVolume(p, sector0, volume.size);
  checkAlignment(g.kind, writes, from, to);
  return { from, writes };
}

/** A count of old sectors in new sectors: exact (or refused) unless `floor` allows dropping a remainder. */
function rescale(p: Plan, value: number, field: string, max: number, floor = false): number {
  const { from, to } = p;
  if (to < from) {
    const v = value * (from / to);
    if (v > max) throw p.no('field-overflow', `${field} would be ${v}, more than its field holds (${max})`, { field, value: v });
    return v;
  }
  const k = to / from;
  if (value % k !== 0 && !floor) {
    throw p.no('misaligned', `${field} is ${value} sectors of ${from} bytes, which does not end on a ${to}-byte sector boundary`, { field, value });
  }
  return Math.floor(value / k);
}

/** Rewrite the BPB fields of `sector` (old sector 0) in the new unit; FSInfo and backup are set by fat32Sectors. */
function setBpb(p: Plan, sector: Uint8Array): void {
  const { g, from, to } = p;
  const f = FatBpb.fields;
  const spc = to < from ? g.sectorsPerCluster * (from / to) : g.sectorsPerCluster / (to / from);
  if (spc > MAX_SECTORS_PER_CLUSTER) {
    throw p.no('cluster-too-large', `its ${g.clusterSize}-byte clusters would need ${spc} sectors each, and FAT allows at most ${MAX_SECTORS_PER_CLUSTER}`, { clusterSize: g.clusterSize });
  }
  if (!Number.isInteger(spc)) throw p.no('cluster-too-small', `its clusters are ${g.clusterSize} bytes, smaller than one ${to}-byte sector`, { clusterSize: g.clusterSize });
  writeField(f.bytesPerSector, sector, 0, to);
  writeField(f.sectorsPerCluster, sector, 0, spc);
  writeField(f.reservedSectors, sector, 0, rescale(p, g.reservedSectors, 'BPB_RsvdSecCnt', U16));
  if (g.kind === 'fat32') writeField(Fat32Ebpb.fields.fatSize32, sector, 0, rescale(p, g.fatSectors, 'BPB_FATSz32', U32));
  else writeField(f.fatSize16, sector, 0, rescale(p, g.fatSectors, 'BPB_FATSz16', U16));
  // Sectors past the last cluster hold nothing, so a remainder is dropped when sectors grow.
  // FAT12/16 keep a count that fits in BPB_TotSec16 there, as mkfs.fat and Windows do.
  const total = rescale(p, g.totalSectors, 'the total sector count', U32, true);
  if (g.kind !== 'fat32' && total <= U16) {
    writeField(f.totalSectors16, sector, 0, total);
    writeField(f.totalSectors32, sector, 0, 0);
  } else {
    writeField(f.totalSectors16, sector, 0, 0);
    writeField(f.totalSectors32, sector, 0, total);
  }
}

/**
 * The FAT12/16 root directory is BPB_RootEntCnt × 32 bytes rounded up to whole sectors. Going
 * to larger sectors the region must be whole new sectors; going to smaller ones the count grows
 * to fill the old last sector (the entries it adds must read as free: zeros).
 */
async function rootDirectory(p: Plan, volume: ReadableDevice, sector: Uint8Array): Promise<SectorSizeWrite[]> {
  const { g, from, to } = p;
  const start = g.rootDirSector * from;
  const bytes = g.rootDirSectors * from;
  const entries = FatBpb.decode(sector).rootEntryCount;
  if (to > from) {
    if (bytes % to !== 0) {
      throw p.no('misaligned', `its root directory (BPB_RootEntCnt ${entries}) takes ${g.rootDirSectors} sectors of ${from} bytes, not whole ${to}-byte sectors`, { field: 'BPB_RootEntCnt', value: entries });
    }
    return [];
  }
  if (Math.ceil((entries * 32) / to) * to === bytes) return [];
  const newEntries = bytes / 32;
  if (newEntries > U16) throw p.no('field-overflow', `BPB_RootEntCnt would be ${newEntries}`, { field: 'BPB_RootEntCnt', value: newEntries });
  writeField(FatBpb.fields.rootEntryCount, sector, 0, newEntries);
  const lastSector = start + bytes - from;
  const last = await volume.read(lastSector, from);
  const used = entries * 32 - (lastSector - start);
  if (last.subarray(used).every((b) => b === 0)) return [];
  last.fill(0, used);
  return [{ offset: lastSector, bytes: last, what: `root directory's last sector: entries ${entries}..${newEntries - 1} (old padding) zeroed` }];
}

/**
 * FAT32: BPB_FSInfo and BPB_BkBootSec in the new unit, and the writes of the backup boot
 * sector (and, when they move, of FSInfo and its backup). Sets the fields in `sector`.
 */
async function fat32Sectors(p: Plan, volume: ReadableDevice, sector: Uint8Array): Promise<SectorSizeWrite[]> {
  const { g, from, to } = p;
  const e = Fat32Ebpb.decode(sector);
  const fsInfo = e.fsInfoSector;
  const backup = e.backupBootSector;
  const reserved = FatBpb.decode(sector).reservedSectors; // already in the new unit
  const fields = Fat32Ebpb.fields;
  const set = (newFsInfo: number, newBackup: number) => {
    writeField(fields.fsInfoSector, sector, 0, newFsInfo);
    writeField(fields.backupBootSector, sector, 0, newBackup);
  };

  if (to < from) {
    const k = from / to;
    const f = present(fsInfo) ? fsInfo * k : fsInfo;
    const b = present(backup) ? backup * k : backup;
    set(f, b);
    if (!present(backup)) return [];
    // The backup's bytes stay where they are: its first `to` bytes become the new backup.
    const old = await volume.read(backup * from, from);
    old.set(sector.subarray(0, to), 0);
    return [{ offset: backup * from, bytes: old, what: `backup boot sector (${to}-byte sector ${b}; the rest of the old ${from}-byte sector stays)` }];
  }

  const k = to / from;
  const fits = (s: number) => !present(s) || s % k === 0;
  if (fits(fsInfo) && fits(backup)) {
    const f = present(fsInfo) ? fsInfo / k : fsInfo;
    const b = present(backup) ? backup / k : backup;
    set(f, b);
    if (!present(backup)) return [];
    const old = await volume.read(backup * from, to);
    old.set(sector.subarray(0, 512), 0);
    return [{ offset: b * to, bytes: old, what: `backup boot sector (${to}-byte sector ${b})` }];
  }
  return relocate(p, volume, sector, fsInfo, backup, reserved, set);
}

/**
 * FSInfo or the backup boot sector lies inside a new sector with other structures (mkfs.fat and
 * Windows put FSInfo at 512-byte sector 1, inside 4096-byte sector 0): give each its own new
 * sector in the reserved area — FSInfo at 1, the backup at 6 (or the first free one after 1) and
 * the backup FSInfo after it, as mkfs.fat lays out a 4096-byte volume. The old copies are zeroed.
 */
async function relocate(p: Plan, volume: ReadableDevice, sector: Uint8Array, fsInfo: number, backup: number, reserved: number,
  set: (f: number, b: number) => void): Promise<SectorSizeWrite[]> {
  const { from, to } = p;
  const f = present(fsInfo) ? 1 : fsInfo;
  const step = present(fsInfo) ? f : 0;
  let b = backup;
  if (present(backup)) {
    const candidates = [USUAL_BACKUP_BOOT_SECTOR, ...Array.from({ length: Math.max(0, reserved) }, (_, i) => i + 1)];
    const found = candidates.find((c) => c !== f && c + step < reserved && c + step !== f);
    if (found === undefined) {
      throw p.no('no-room', `FSInfo (sector ${fsInfo}) and the backup boot sector (sector ${backup}) fall inside one ${to}-byte sector with the boot sector, `
        + `and its reserved area of ${reserved} ${to}-byte sectors has no room to give each its own`, { reservedSectors: reserved });
    }
    b = found;
  } else if (present(fsInfo) && f >= reserved) {
    throw p.no('no-room', `its reserved area of ${reserved} ${to}-byte sectors has no room for FSInfo`, { reservedSectors: reserved });
  }
  set(f, b);

  const info = present(fsInfo) ? await volume.read(fsInfo * from, from) : undefined;
  const newSector = (content: Uint8Array | undefined) => {
    const s = new Uint8Array(to);
    if (content) s.set(content.subarray(0, Math.min(content.length, to)), 0);
    return s;
  };
  // Old FSInfo, backup boot sector and backup FSInfo: zeroed wherever they are not overwritten.
  const stale = [fsInfo, backup, present(fsInfo) && present(backup) ? backup + fsInfo : 0].filter(present);
  const writes: SectorSizeWrite[] = [];
  const targets = new Map<number, { bytes: Uint8Array; what: string }>();
  if (info) targets.set(f, { bytes: newSector(info), what: `FSInfo moved to ${to}-byte sector ${f}` });
  if (present(backup)) {
    targets.set(b, { bytes: sector.subarray(0, to), what: `backup boot sector moved to ${to}-byte sector ${b}` });
    if (info) targets.set(b + f, { bytes: newSector(info), what: `backup FSInfo at ${to}-byte sector ${b + f}` });
  }
  for (const old of stale) {
    const at = old * from;
    const index = Math.floor(at / to);
    if (index === 0) {
      sector.fill(0, at, at + from);
    } else if (!targets.has(index)) {
      const region = await volume.read(index * to, to);
      region.fill(0, at - index * to, at - index * to + from);
      writes.push({ offset: index * to, bytes: region, what: `old ${from}-byte copy at sector ${old} zeroed` });
    }
  }
  for (const [index, t] of targets) writes.push({ offset: index * to, bytes: t.bytes, what: t.what });
  return writes;
}

/** The new boot sector must give the same volume in bytes: FAT type, clusters, every region's offset. */
function checkSameVolume(p: Plan, sector: Uint8Array, volumeSize: number): void {
  const g = checkFatBootSector(sector.subarray(0, 512));
  if (isFatBootProblem(g)) throw planBug(p.g.kind, `new boot sector fails at byte ${g.offset}: ${g.problem}`);
  const o = p.g;
  const bytes = (x: FatGeometry) => [x.kind, x.clusterSize, x.clusterCount, x.numberOfFats, x.rootCluster, x.reservedSectors * x.bytesPerSector,
    x.fatSectors * x.bytesPerSector, x.rootDirSector * x.bytesPerSector, x.rootDirSectors * x.bytesPerSector, x.firstDataSector * x.bytesPerSector].join();
  if (bytes(g) !== bytes(o) || g.bytesPerSector !== p.to || g.totalSectors * g.bytesPerSector > volumeSize) {
    throw planBug(o.kind, `new boot sector gives ${bytes(g)}, the old one ${bytes(o)}`);
  }
}

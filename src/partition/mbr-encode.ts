/**
 * Writing MBR partition tables: the MBR sector, the EBR chain of an extended partition laid out
 * as sfdisk lays it out, and the protective MBR of a GPT disk (boot-and-bcd.md 1.3–1.5).
 * Every result is read back through `readMbrLayout`/`decodeMbr` before it is returned.
 */
import { CorruptStructureError, UsageError } from '../errors.ts';
import type { WritableDevice } from '../device/block-device.ts';
import { CHS_UNREPRESENTABLE, DEFAULT_GEOMETRY, encodeChs, isChsRepresentable, type ChsGeometry } from './chs.ts';
import {
  decodeMbr, encodeMbr, isEmptyEntry, readMbrLayout, TYPE_EXTENDED, TYPE_PROTECTIVE_GPT,
  type MbrLayout, type MbrPartition, type MbrPartitionEntry,
} from './mbr.ts';
import { sparseDevice, writeAndVerify, type SectorWrite } from './table-write.ts';

export interface MbrEntrySpec {
  startLba: number;
  sectorCount: number;
  /** Partition type byte; 0x05/0x0f/0x85 makes a primary slot the extended partition. */
  type: number;
  active?: boolean;
}

export interface LogicalPartitionSpec extends MbrEntrySpec {
  /**
   * The LBA of the EBR describing this partition. Default as sfdisk: the first sector of the
   * extended partition for the first logical partition; one alignment grain (1 MiB) before the
   * partition for the others, or the sector after the previous logical partition if that is closer.
   */
  ebrLba?: number;
}

export interface MbrLayoutSpec {
  diskSignature: number;
  /** Bytes 0–439 of the MBR; zeros when absent. */
  bootCode?: Uint8Array;
  /** Slots 1–4 in order; `undefined` leaves a slot empty. */
  primary: ReadonlyArray<MbrEntrySpec | undefined>;
  /** In chain order (ascending on disk), numbered 5, 6, … */
  logical?: readonly LogicalPartitionSpec[];
  /** Default 512. LBAs are in these units; it also sets the default EBR grain. */
  sectorSize?: number;
  /** When given, every partition must end inside the disk. */
  diskSectors?: number;
  geometry?: ChsGeometry;
}

export interface EncodedEbr {
  lba: number;
  /** The 512-byte EBR (the rest of a larger sector is left as it is on disk). */
  sector: Uint8Array;
  /** The logical partition it describes (5, 6, …). */
  partition: number;
}

export interface EncodedMbrLayout {
  sectorSize: number;
  mbr: Uint8Array;
  /** In chain order. */
  ebrs: EncodedEbr[];
}

/** The type sfdisk (and Windows) give every EBR link entry, whatever the extended partition's type. */
export const EBR_LINK_TYPE = 0x05;
const U32_MAX = 0xffffffff;
const MIB = 1 << 20;

const emptyEntry = (): MbrPartitionEntry => ({
  status: 0, chsFirst: new Uint8Array(3), type: 0, chsLast: new Uint8Array(3), firstLba: 0, sectorCount: 0,
});

/** An entry for the absolute range `start`..`start+count-1`, its start stored relative to `base`. */
function makeEntry(start: number, count: number, type: number, active: boolean, base: number, g: ChsGeometry): MbrPartitionEntry {
  return {
    status: active ? 0x80 : 0, chsFirst: encodeChs(start, g), type, chsLast: encodeChs(start + count - 1, g),
    firstLba: start - base, sectorCount: count,
  };
}

function checkEntry(e: MbrEntrySpec, n: number, diskSectors: number | undefined): void {
  const bad = (why: string) => new UsageError(`partition ${n}: ${why}`, { partition: n });
  if (!Number.isSafeInteger(e.startLba) || e.startLba < 1 || e.startLba > U32_MAX) throw bad(`start LBA ${e.startLba} is outside 1..${U32_MAX}`);
  if (!Number.isSafeInteger(e.sectorCount) || e.sectorCount < 1 || e.sectorCount > U32_MAX) throw bad(`${e.sectorCount} sectors is outside 1..${U32_MAX}`);
  if (!Number.isInteger(e.type) || e.type < 1 || e.type > 0xff) throw bad(`type ${e.type} is not a byte other than 0`);
  if (diskSectors !== undefined && e.startLba + e.sectorCount > diskSectors) {
    throw bad(`ends at LBA ${e.startLba + e.sectorCount - 1}, past the disk's last LBA ${diskSectors - 1}`);
  }
}

interface PlacedLogical extends LogicalPartitionSpec { ebrLba: number; n: number }

function placeLogical(spec: MbrLayoutSpec, ext: MbrEntrySpec, sectorSize: number): PlacedLogical[] {
  const grain = Math.max(1, MIB / sectorSize);
  const extEnd = ext.startLba + ext.sectorCount - 1;
  const out: PlacedLogical[] = [];
  let previousEnd = -1;
  (spec.logical ?? []).forEach((l, k) => {
    const n = 5 + k;
    checkEntry(l, n, spec.diskSectors);
    if (TYPE_EXTENDED.has(l.type)) throw new UsageError(`partition ${n}: a logical partition cannot be extended (type 0x${l.type.toString(16)})`, { partition: n });
    let ebrLba = l.ebrLba;
    if (ebrLba === undefined) {
      if (k === 0) ebrLba = ext.startLba;
      else ebrLba = l.startLba - grain > previousEnd ? l.startLba - grain : previousEnd + 1;
    }
    if (k === 0 && ebrLba !== ext.startLba) {
      throw new UsageError(`partition ${n}: the first EBR must be the extended partition's first sector ${ext.startLba}, not ${ebrLba}`, { partition: n });
    }
    const end = l.startLba + l.sectorCount - 1;
    if (!Number.isSafeInteger(ebrLba) || ebrLba <= previousEnd || ebrLba >= l.startLba || ebrLba < ext.startLba || end > extEnd) {
      throw new UsageError(
        `partition ${n}: EBR at LBA ${ebrLba} and data ${l.startLba}..${end} must follow the previous logical partition `
        + `(ends at ${previousEnd}), in that order, inside the extended partition ${ext.startLba}..${extEnd}`, { partition: n });
    }
    out.push({ ...l, ebrLba, n });
    previousEnd = end;
  });
  return out;
}

interface Resolved { ext?: { slot: number; e: MbrEntrySpec } | undefined; logical: PlacedLogical[] }

/** Check a spec and work out where each EBR goes; throws UsageError naming the partition. */
function resolve(spec: MbrLayoutSpec): Resolved {
  const sectorSize = spec.sectorSize ?? 512;
  if (spec.primary.length > 4) throw new UsageError(`an MBR has 4 primary slots, ${spec.primary.length} given`);
  if (spec.bootCode && spec.bootCode.length !== 440) throw new UsageError(`boot code is ${spec.bootCode.length} bytes, not 440`);
  if (!Number.isInteger(spec.diskSignature) || spec.diskSignature < 0 || spec.diskSignature > U32_MAX) {
    throw new UsageError(`disk signature ${spec.diskSignature} is not a 32-bit value`);
  }
  let ext: { slot: number; e: MbrEntrySpec } | undefined;
  const used: Array<{ n: number; e: MbrEntrySpec }> = [];
  spec.primary.forEach((e, i) => {
    if (!e) return;
    checkEntry(e, i + 1, spec.diskSectors);
    if (TYPE_EXTENDED.has(e.type)) {
      if (ext) throw new UsageError(`partitions ${ext.slot} and ${i + 1} are both extended`, { partition: i + 1 });
      ext = { slot: i + 1, e };
    }
    for (const u of used) {
      if (e.startLba < u.e.startLba + u.e.sectorCount && u.e.startLba < e.startLba + e.sectorCount) {
        throw new UsageError(`partitions ${u.n} and ${i + 1} overlap`, { partition: i + 1 });
      }
    }
    used.push({ n: i + 1, e });
  });
  if (!ext) {
    if (spec.logical?.length) throw new UsageError('logical partitions need an extended partition');
    return { logical: [] };
  }
  return { ext, logical: placeLogical(spec, ext.e, sectorSize) };
}

/**
 * Encode the MBR and the EBR chain. In each EBR, entry 1 is the logical partition (start
 * relative to that EBR), entry 2 the link to the next EBR (type 0x05, start relative to the
 * extended partition, size from the next EBR through the end of its logical partition). CHS
 * fields are computed from absolute LBAs. Before returning, the sectors are read back through
 * `readMbrLayout` and must give exactly the partitions asked for (STYLE.md #7).
 */
export async function encodeMbrLayout(spec: MbrLayoutSpec): Promise<EncodedMbrLayout> {
  const { ext, logical } = resolve(spec);
  const g = spec.geometry ?? DEFAULT_GEOMETRY;
  const sectorSize = spec.sectorSize ?? 512;
  const entries = [0, 1, 2, 3].map((i) => {
    const e = spec.primary[i];
    return e ? makeEntry(e.startLba, e.sectorCount, e.type, e.active ?? false, 0, g) : emptyEntry();
  });
  const mbr = encodeMbr({ bootCode: spec.bootCode ?? new Uint8Array(440), diskSignature: spec.diskSignature, entries });
  const ebrs = logical.map((l, k): EncodedEbr => {
    const next = logical[k + 1];
    const link = next
      ? makeEntry(next.ebrLba, next.startLba + next.sectorCount - next.ebrLba, EBR_LINK_TYPE, false, ext!.e.startLba, g)
      : emptyEntry();
    const sector = encodeMbr({
      bootCode: new Uint8Array(440), diskSignature: 0,
      entries: [makeEntry(l.startLba, l.sectorCount, l.type, l.active ?? false, l.ebrLba, g), link, emptyEntry(), emptyEntry()],
    });
    return { lba: l.ebrLba, sector, partition: l.n };
  });
  const encoded = { sectorSize, mbr, ebrs };
  await verify(spec, encoded, ext, logical);
  return encoded;
}

async function verify(spec: MbrLayoutSpec, encoded: EncodedMbrLayout, ext: Resolved['ext'], logical: PlacedLogical[]): Promise<void> {
  const s = encoded.sectorSize;
  const ends = [...spec.primary.map((e) => (e ? e.startLba + e.sectorCount : 0)), 1];
  const size = (spec.diskSectors ?? Math.max(...ends)) * s;
  const sectors = new Map<number, Uint8Array>([[0, encoded.mbr], ...encoded.ebrs.map((e) => [e.lba * s, e.sector] as [number, Uint8Array])]);
  const layout = await readMbrLayout(sparseDevice(size, s, sectors));
  const expected: MbrPartition[] = [
    ...spec.primary.flatMap((e, i) => (e && !TYPE_EXTENDED.has(e.type)
      ? [{ index: i + 1, startLba: e.startLba, sectorCount: e.sectorCount, type: e.type, active: e.active ?? false, logical: false, tableOffset: 0 }]
      : [])),
    ...logical.map((l) => ({ index: l.n, startLba: l.startLba, sectorCount: l.sectorCount, type: l.type, active: l.active ?? false,
      logical: true, tableOffset: l.ebrLba * s })),
  ];
  const key = (p: MbrPartition) => [p.index, p.startLba, p.sectorCount, p.type, p.active, p.logical, p.tableOffset].join(' ');
  const got = layout.partitions.map(key).join(', ');
  const want = expected.map(key).join(', ');
  const extKey = (x: MbrLayout['extended']) => (x ? `${x.index} ${x.startLba} ${x.sectorCount}` : 'none');
  const gotExt = extKey(layout.extended);
  const wantExt = extKey(ext && { index: ext.slot, startLba: ext.e.startLba, sectorCount: ext.e.sectorCount });
  if (got !== want || gotExt !== wantExt) {
    throw new CorruptStructureError('MBR (as encoded)', 0, `reads back as [${got}] (extended ${gotExt}), not [${want}] (extended ${wantExt})`);
  }
}

/** The spec that re-encodes a decoded layout: same slots, same EBR positions, same boot code. */
export function mbrLayoutSpec(layout: MbrLayout, sectorSize: number, diskSectors?: number): MbrLayoutSpec {
  const spec: MbrLayoutSpec = {
    diskSignature: layout.mbr.diskSignature,
    bootCode: layout.mbr.bootCode,
    primary: layout.mbr.entries.map((e) => (isEmptyEntry(e) ? undefined
      : { startLba: e.firstLba, sectorCount: e.sectorCount, type: e.type, active: e.status === 0x80 })),
    logical: layout.partitions.filter((p) => p.logical).map((p) => ({
      startLba: p.startLba, sectorCount: p.sectorCount, type: p.type, active: p.active, ebrLba: p.tableOffset / sectorSize,
    })),
    sectorSize,
  };
  return diskSectors === undefined ? spec : { ...spec, diskSectors };
}

/** Encode (verified), write (last EBR first, MBR last), flush and read back. */
export async function writeMbrLayout(device: WritableDevice, spec: MbrLayoutSpec): Promise<EncodedMbrLayout> {
  const diskSectors = Math.floor(device.size / device.sectorSize);
  if ((spec.sectorSize ?? 512) !== device.sectorSize) {
    throw new UsageError(`layout is in ${spec.sectorSize ?? 512}-byte sectors, ${device.name} has ${device.sectorSize}`);
  }
  const full = { ...spec, diskSectors: spec.diskSectors ?? diskSectors };
  if (full.diskSectors > diskSectors) throw new UsageError(`layout is for ${full.diskSectors} sectors, ${device.name} has ${diskSectors}`);
  const encoded = await encodeMbrLayout(full);
  const writes: SectorWrite[] = [
    ...encoded.ebrs.toReversed().map((e) => ({ offset: e.lba * device.sectorSize, bytes: e.sector, what: `EBR of partition ${e.partition}` })),
    { offset: 0, bytes: encoded.mbr, what: 'MBR' },
  ];
  await writeAndVerify(device, writes);
  return encoded;
}

/**
 * The protective MBR of a GPT disk (UEFI; boot-and-bcd.md 1.5): one entry, status 0, start CHS
 * `00 02 00`, type 0xEE, end CHS of the last LBA (`FF FF FF` when it has none), start LBA 1,
 * size min(disk sectors − 1, 0xFFFFFFFF). Boot code and signature are unused; zeros by default.
 */
export function encodeProtectiveMbr(diskSectors: number, options: { bootCode?: Uint8Array; diskSignature?: number; geometry?: ChsGeometry } = {}): Uint8Array {
  if (!Number.isSafeInteger(diskSectors) || diskSectors < 2) throw new UsageError(`a GPT disk of ${diskSectors} sectors is impossible`);
  const g = options.geometry ?? DEFAULT_GEOMETRY;
  const last = diskSectors - 1;
  const entry: MbrPartitionEntry = {
    status: 0, chsFirst: Uint8Array.of(0x00, 0x02, 0x00), type: TYPE_PROTECTIVE_GPT,
    chsLast: isChsRepresentable(last, g) ? encodeChs(last, g) : CHS_UNREPRESENTABLE.slice(),
    firstLba: 1, sectorCount: Math.min(last, U32_MAX),
  };
  const sector = encodeMbr({
    bootCode: options.bootCode ?? new Uint8Array(440), diskSignature: options.diskSignature ?? 0,
    entries: [entry, emptyEntry(), emptyEntry(), emptyEntry()],
  });
  const back = decodeMbr(sector);
  const e = back.entries[0]!;
  if (e.type !== TYPE_PROTECTIVE_GPT || e.firstLba !== 1 || e.sectorCount !== entry.sectorCount || back.entries.slice(1).some((x) => !isEmptyEntry(x))) {
    throw new CorruptStructureError('protective MBR (as encoded)', 0x1be, 'does not read back as one 0xEE entry from LBA 1');
  }
  return sector;
}

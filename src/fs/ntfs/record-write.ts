/**
 * Writing MFT records back (the few changes `growNtfs` makes): the inverse of `applyFixups`
 * (filesystems.md 2.2), locating attributes in a record's bytes, replacing a non-resident
 * attribute's runlist and sizes (moving the attributes after it when the runlist grows), and
 * mapping byte ranges of a stream — `$MFT`, `$MFTMirr`, `$Bitmap` — to the volume through its runs.
 * Records here are "clean": fixups applied, as `applyFixups` leaves them.
 */
import type { Field } from '../../binary/layout.ts';
import type { ReadableDevice, WritableDevice } from '../../device/block-device.ts';
import { CorruptStructureError, UsageError } from '../../errors.ts';
import { applyFixups, FIXUP_STRIDE } from './fixup.ts';
import { ATTR, AttributeHeader, FileRecordHeader, NonResidentAttribute } from './record.ts';
import { encodeRunlist } from './runlist-encode.ts';
import type { Run } from './runlist.ts';

/** Mirrors `applyFixups`: a copy of `raw` with the update sequence array undone. */
export function withFixupsApplied(raw: Uint8Array, structure: string, offset: number): Uint8Array {
  const clean = raw.slice();
  applyFixups(clean, structure, offset);
  return clean;
}

/**
 * The bytes to put on disk for a clean record: the update sequence number is incremented
 * (skipping 0 and 0xFFFF, as ntfs-3g does), each 512-byte stride's last word is saved in the
 * array and replaced by the number. `clean` is not modified.
 */
export function encodeFixups(clean: Uint8Array, structure: string, offset: number): Uint8Array {
  const out = clean.slice();
  const view = new DataView(out.buffer, out.byteOffset, out.byteLength);
  const usaOffset = view.getUint16(4, true);
  const usaCount = view.getUint16(6, true);
  const strides = out.length / FIXUP_STRIDE;
  if (!Number.isInteger(strides) || usaCount !== strides + 1 || usaOffset % 2 !== 0 || usaOffset + 2 * usaCount > FIXUP_STRIDE - 2) {
    throw new CorruptStructureError(structure, offset,
      `update sequence array (offset ${usaOffset}, count ${usaCount}) does not fit a ${out.length}-byte record`);
  }
  let usn = (view.getUint16(usaOffset, true) + 1) & 0xffff;
  if (usn === 0 || usn === 0xffff) usn = 1;
  view.setUint16(usaOffset, usn, true);
  for (let i = 1; i <= strides; i++) {
    const end = i * FIXUP_STRIDE - 2;
    view.setUint16(usaOffset + 2 * i, view.getUint16(end, true), true);
    view.setUint16(end, usn, true);
  }
  return out;
}

/** Write one field of a structure that starts at byte `at` of `buf`, leaving every other byte. */
export function writeField<T>(field: Field<T>, buf: Uint8Array, at: number, value: T): void {
  if (at < 0 || at + field.offset + field.size > buf.length) throw new RangeError(`field at ${at + field.offset} lies outside ${buf.length} bytes`);
  field.write(new DataView(buf.buffer, buf.byteOffset + at), field.offset, value);
}

export interface AttributeSlot {
  /** Byte offset of the attribute record inside the MFT record. */
  offset: number;
  length: number;
  type: number;
  name: string;
  nonResident: boolean;
}

/** Where each attribute of a clean record sits (bounds-checked like `decodeRecord`). */
export function attributeSlots(clean: Uint8Array, structure: string, offset: number): AttributeSlot[] {
  const h = FileRecordHeader.decode(clean);
  if (h.bytesInUse > clean.length || h.firstAttributeOffset < 0x2a || h.firstAttributeOffset >= h.bytesInUse) {
    throw new CorruptStructureError(structure, offset, `header says ${h.bytesInUse} bytes in use, first attribute at ${h.firstAttributeOffset}`);
  }
  const view = new DataView(clean.buffer, clean.byteOffset, clean.byteLength);
  const slots: AttributeSlot[] = [];
  for (let pos = h.firstAttributeOffset; ;) {
    if (pos + 4 > h.bytesInUse) throw new CorruptStructureError(structure, offset + pos, 'attributes run past the bytes in use without an end marker');
    if (view.getUint32(pos, true) === ATTR.end) return slots;
    if (slots.length >= 1024 || pos + 0x10 > h.bytesInUse) throw new CorruptStructureError(structure, offset + pos, 'attribute list of the record does not end');
    const a = AttributeHeader.decode(clean, pos);
    if (a.length < 0x18 || a.length % 8 !== 0 || pos + a.length > h.bytesInUse || a.nameOffset + 2 * a.nameLength > a.length) {
      throw new CorruptStructureError(structure, offset + pos, `attribute of length ${a.length} does not fit the record`);
    }
    const name = Buffer.from(clean.buffer, clean.byteOffset + pos + a.nameOffset, 2 * a.nameLength).toString('utf16le');
    slots.push({ offset: pos, length: a.length, type: a.type, name, nonResident: a.nonResident !== 0 });
    pos += a.length;
  }
}

export interface NonResidentChange {
  runs: Run[];
  allocatedSize: number;
  dataSize: number;
  initializedSize: number;
}

/**
 * A new clean record in which the non-resident attribute at byte `attrOffset` has `change`'s
 * runs (from its lowest VCN) and sizes. The attribute keeps its length if the new runlist fits,
 * else it grows (8-byte aligned) and the attributes after it move; the record's bytes in use
 * follow. Throws UsageError when the record has no room left.
 */
export function rewriteNonResident(clean: Uint8Array, attrOffset: number, change: NonResidentChange, structure: string, offset: number): Uint8Array {
  const h = FileRecordHeader.decode(clean);
  const a = AttributeHeader.decode(clean, attrOffset);
  if (a.nonResident === 0 || a.length < 0x40) throw new UsageError(`${structure}: attribute at byte ${attrOffset} is not non-resident`);
  const n = NonResidentAttribute.decode(clean, attrOffset);
  const lowestVcn = Number(n.lowestVcn);
  if (change.runs.length === 0 || change.runs[0]!.vcn !== lowestVcn) {
    throw new UsageError(`${structure}: the new runs must start at the attribute's lowest VCN ${lowestVcn}`);
  }
  const pairs = encodeRunlist(change.runs);
  const length = Math.max(a.length, Math.ceil((n.mappingPairsOffset + pairs.length) / 8) * 8);
  const delta = length - a.length;
  const bytesInUse = h.bytesInUse + delta;
  if (bytesInUse > h.bytesAllocated || bytesInUse > clean.length) {
    throw new UsageError(`${structure}: the runlist needs ${delta} more bytes but the record has only ${Math.min(h.bytesAllocated, clean.length) - h.bytesInUse} free`,
      { structure, offset, needed: delta });
  }
  const out = new Uint8Array(clean.length);
  out.set(clean.subarray(0, attrOffset + n.mappingPairsOffset));
  out.set(pairs, attrOffset + n.mappingPairsOffset);
  out.set(clean.subarray(attrOffset + a.length, h.bytesInUse), attrOffset + length);
  const clusters = change.runs.reduce((s, r) => s + r.length, 0);
  const nr = NonResidentAttribute.fields;
  writeField(AttributeHeader.fields.length, out, attrOffset, length);
  writeField(nr.highestVcn, out, attrOffset, BigInt(lowestVcn + clusters - 1));
  writeField(nr.allocatedSize, out, attrOffset, BigInt(change.allocatedSize));
  writeField(nr.dataSize, out, attrOffset, BigInt(change.dataSize));
  writeField(nr.initializedSize, out, attrOffset, BigInt(change.initializedSize));
  writeField(FileRecordHeader.fields.bytesInUse, out, 0, bytesInUse);
  return out;
}

export interface VolumeRange {
  /** Byte offset in the stream, and where those bytes sit on the volume. */
  streamOffset: number;
  volumeOffset: number;
  length: number;
}

/** Volume byte ranges holding bytes [offset, offset + length) of a stream with these runs. */
export function streamRanges(runs: readonly Run[], clusterSize: number, offset: number, length: number, label: string): VolumeRange[] {
  const out: VolumeRange[] = [];
  const end = offset + length;
  let covered = offset;
  for (const r of runs) {
    const runStart = r.vcn * clusterSize;
    const runEnd = runStart + r.length * clusterSize;
    const from = Math.max(offset, runStart);
    const to = Math.min(end, runEnd);
    if (from >= to) continue;
    if (r.lcn === null) throw new UsageError(`${label}: bytes ${from}..${to} lie in a sparse run and cannot be written in place`);
    if (from !== covered) break;
    out.push({ streamOffset: from, volumeOffset: r.lcn * clusterSize + (from - runStart), length: to - from });
    covered = to;
  }
  if (covered !== end) throw new UsageError(`${label}: bytes ${covered}..${end} are not mapped by its runs`);
  return out;
}

/** Write `data` at stream byte `offset` through the stream's runs. */
export async function writeThroughRuns(device: WritableDevice, runs: readonly Run[], clusterSize: number, offset: number, data: Uint8Array, label: string): Promise<void> {
  for (const r of streamRanges(runs, clusterSize, offset, data.length, label)) {
    await device.write(r.volumeOffset, data.subarray(r.streamOffset - offset, r.streamOffset - offset + r.length));
  }
}

/** Read stream bytes [offset, offset + length) straight from the volume through the runs. */
export async function readThroughRuns(device: ReadableDevice, runs: readonly Run[], clusterSize: number, offset: number, length: number, label: string): Promise<Uint8Array> {
  const out = new Uint8Array(length);
  for (const r of streamRanges(runs, clusterSize, offset, length, label)) {
    out.set(await device.read(r.volumeOffset, r.length), r.streamOffset - offset);
  }
  return out;
}

/**
 * MFT FILE records and the attribute records inside them (filesystems.md 2.1, 2.3, 2.4).
 * `decodeRecord` takes the raw record bytes (fixups not yet applied) and returns the header and
 * every attribute, each bounds-checked against the record.
 */
import { ascii, layout, u16le, u32le, u64le, u8 } from '../../binary/layout.ts';
import { CorruptStructureError } from '../../errors.ts';
import { applyFixups } from './fixup.ts';
import { decodeRunlist, type Run } from './runlist.ts';

export const FileRecordHeader = layout('FileRecordHeader', 0x30, {
  signature: ascii(0x00, 4), // "FILE"
  usaOffset: u16le(0x04),
  usaCount: u16le(0x06),
  logFileSequenceNumber: u64le(0x08),
  sequenceNumber: u16le(0x10),
  hardLinkCount: u16le(0x12),
  firstAttributeOffset: u16le(0x14),
  flags: u16le(0x16), // 0x1 in use, 0x2 directory
  bytesInUse: u32le(0x18),
  bytesAllocated: u32le(0x1c),
  baseRecordReference: u64le(0x20),
  nextAttributeId: u16le(0x28),
  recordNumber: u32le(0x2c), // NTFS 3.1
});

export const AttributeHeader = layout('AttributeHeader', 0x10, {
  type: u32le(0x00),
  length: u32le(0x04),
  nonResident: u8(0x08),
  nameLength: u8(0x09),
  nameOffset: u16le(0x0a),
  flags: u16le(0x0c), // 0x00ff compression method, 0x4000 encrypted, 0x8000 sparse
  instance: u16le(0x0e),
});

export const ResidentAttribute = layout('ResidentAttribute', 0x18, {
  valueLength: u32le(0x10),
  valueOffset: u16le(0x14),
  residentFlags: u8(0x16),
});

export const NonResidentAttribute = layout('NonResidentAttribute', 0x40, {
  lowestVcn: u64le(0x10),
  highestVcn: u64le(0x18),
  mappingPairsOffset: u16le(0x20),
  compressionUnit: u8(0x22),
  allocatedSize: u64le(0x28),
  dataSize: u64le(0x30),
  initializedSize: u64le(0x38),
});

export const ATTR = {
  standardInformation: 0x10,
  attributeList: 0x20,
  fileName: 0x30,
  volumeName: 0x60,
  volumeInformation: 0x70,
  data: 0x80,
  indexRoot: 0x90,
  indexAllocation: 0xa0,
  bitmap: 0xb0,
  reparsePoint: 0xc0,
  end: 0xffffffff,
} as const;

export const RECORD_IN_USE = 0x0001;
export const RECORD_IS_DIRECTORY = 0x0002;
/** Real records hold a few dozen attributes; this bounds a corrupt chain. */
const MAX_ATTRIBUTES_PER_RECORD = 1024;

interface AttributeCommon {
  type: number;
  name: string;
  flags: number;
  instance: number;
  /** MFT record holding this attribute, and the attribute's byte offset on the volume. */
  recordNumber: number;
  offset: number;
}

export interface ResidentAttr extends AttributeCommon {
  resident: true;
  value: Uint8Array;
}

export interface NonResidentAttr extends AttributeCommon {
  resident: false;
  lowestVcn: number;
  highestVcn: number;
  runs: Run[];
  compressionUnit: number;
  /** Valid only in the segment whose lowestVcn is 0. */
  allocatedSize: number;
  dataSize: number;
  initializedSize: number;
}

export type Attribute = ResidentAttr | NonResidentAttr;

export interface FileRecord {
  recordNumber: number;
  sequenceNumber: number;
  flags: number;
  hardLinkCount: number;
  /** Record number of the base record, 0 for a base record itself. */
  baseRecord: number;
  attributes: Attribute[];
}

const utf16 = (b: Uint8Array, at: number, chars: number) => Buffer.from(b.buffer, b.byteOffset + at, chars * 2).toString('utf16le');

function safe(v: bigint, what: string, offset: number): number {
  if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new CorruptStructureError('NTFS attribute', offset, `${what} ${v} is beyond any real volume`);
  return Number(v);
}

/**
 * Decode record `recordNumber` whose raw bytes (a private copy: fixups are applied in place)
 * were read from volume byte `offset`. Returns null for a record never used (all zero).
 */
export function decodeRecord(raw: Uint8Array, recordNumber: number, offset: number, clusters: number): FileRecord | null {
  const h = FileRecordHeader.decode(raw);
  if (h.signature === '' && h.usaOffset === 0) return null;
  if (h.signature !== 'FILE') {
    throw new CorruptStructureError(`MFT record ${recordNumber}`, offset, `signature is ${JSON.stringify(h.signature)}, not "FILE"`);
  }
  applyFixups(raw, `MFT record ${recordNumber}`, offset);
  if (h.bytesInUse > raw.length || h.firstAttributeOffset < 0x2a || h.firstAttributeOffset >= h.bytesInUse) {
    throw new CorruptStructureError(`MFT record ${recordNumber}`, offset,
      `header says ${h.bytesInUse} bytes in use, first attribute at ${h.firstAttributeOffset}, in a ${raw.length}-byte record`);
  }
  const attributes: Attribute[] = [];
  let pos = h.firstAttributeOffset;
  while (true) {
    if (pos + 4 > h.bytesInUse) throw new CorruptStructureError(`MFT record ${recordNumber}`, offset + pos, 'attributes run past the bytes in use without an end marker');
    const type = new DataView(raw.buffer, raw.byteOffset + pos, 4).getUint32(0, true);
    if (type === ATTR.end) break;
    if (attributes.length >= MAX_ATTRIBUTES_PER_RECORD) throw new CorruptStructureError(`MFT record ${recordNumber}`, offset + pos, 'too many attributes');
    attributes.push(decodeAttribute(raw, pos, h.bytesInUse, recordNumber, offset, clusters));
    pos += AttributeHeader.decode(raw, pos).length; // validated >= 0x18 by decodeAttribute
  }
  return {
    recordNumber, sequenceNumber: h.sequenceNumber, flags: h.flags, hardLinkCount: h.hardLinkCount,
    baseRecord: Number(h.baseRecordReference & 0xffffffffffffn), attributes,
  };
}

function decodeAttribute(raw: Uint8Array, pos: number, limit: number, recordNumber: number, recordOffset: number, clusters: number): Attribute {
  const at = recordOffset + pos;
  const where = `attribute at byte ${pos} of MFT record ${recordNumber}`;
  if (pos + 0x10 > limit) throw new CorruptStructureError('NTFS attribute', at, `${where} is cut off`);
  const a = AttributeHeader.decode(raw, pos);
  if (a.length < 0x18 || a.length % 8 !== 0 || pos + a.length > limit) {
    throw new CorruptStructureError('NTFS attribute', at, `${where} has length ${a.length}, outside the record`);
  }
  const body = raw.subarray(pos, pos + a.length);
  if (a.nameLength > 0 && a.nameOffset + 2 * a.nameLength > a.length) {
    throw new CorruptStructureError('NTFS attribute', at, `${where}: name runs past the attribute`);
  }
  const common = {
    type: a.type, name: a.nameLength ? utf16(body, a.nameOffset, a.nameLength) : '', flags: a.flags,
    instance: a.instance, recordNumber, offset: at,
  };
  if (a.nonResident === 0) {
    const r = ResidentAttribute.decode(body);
    if (r.valueOffset + r.valueLength > a.length) {
      throw new CorruptStructureError('NTFS attribute', at, `${where}: value of ${r.valueLength} bytes at ${r.valueOffset} runs past the attribute`);
    }
    return { ...common, resident: true, value: body.slice(r.valueOffset, r.valueOffset + r.valueLength) };
  }
  if (a.length < 0x40) throw new CorruptStructureError('NTFS attribute', at, `${where}: non-resident header cut off`);
  const n = NonResidentAttribute.decode(body);
  if (n.mappingPairsOffset < 0x40 || n.mappingPairsOffset > a.length) {
    throw new CorruptStructureError('NTFS attribute', at, `${where}: runlist offset ${n.mappingPairsOffset} is outside the attribute`);
  }
  const lowestVcn = safe(n.lowestVcn, 'lowest VCN', at);
  // Highest VCN is -1 (all ones) for an empty attribute.
  const highestVcn = n.highestVcn === 0xffffffffffffffffn ? -1 : safe(n.highestVcn, 'highest VCN', at);
  const runs = decodeRunlist(body.subarray(n.mappingPairsOffset), lowestVcn, clusters, at + n.mappingPairsOffset);
  const covered = runs.reduce((s, r) => s + r.length, 0);
  if (highestVcn >= 0 && covered !== highestVcn - lowestVcn + 1) {
    throw new CorruptStructureError('NTFS runlist', at + n.mappingPairsOffset,
      `${where}: runs cover ${covered} clusters but VCNs ${lowestVcn}..${highestVcn} need ${highestVcn - lowestVcn + 1}`);
  }
  return {
    ...common, resident: false, lowestVcn, highestVcn, runs, compressionUnit: n.compressionUnit,
    allocatedSize: safe(n.allocatedSize, 'allocated size', at), dataSize: safe(n.dataSize, 'data size', at),
    initializedSize: safe(n.initializedSize, 'initialized size', at),
  };
}

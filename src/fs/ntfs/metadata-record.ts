/**
 * Changing one non-resident attribute of a metadata file's record ($Bitmap, $BadClus) for
 * `growNtfs` and `shrinkNtfs`: load the record (which must hold all its attributes itself), rewrite the
 * attribute's runs and sizes, encode the fixups, and decode the result again to check that the
 * attribute reads as intended and nothing else in the record changed (STYLE #7).
 */
import { CorruptStructureError, UsageError, type ErrorData } from '../../errors.ts';
import type { NtfsVolume } from './ntfs-volume.ts';
import { attributeSlots, encodeFixups, rewriteNonResident, withFixupsApplied, type NonResidentChange } from './record-write.ts';
import { ATTR, decodeRecord, type Attribute, type FileRecord, type NonResidentAttr } from './record.ts';

/** A refusal made before anything is written; `data.reason` names it for callers. */
export type Refusal = (reason: string, message: string, data?: ErrorData) => UsageError;

/** A refusal of growNtfs, before anything is written; `data.reason` names it for callers. */
export const cannotGrow: Refusal = (reason, message, data = {}) =>
  new UsageError(`cannot grow the NTFS volume: ${message}`, { reason, ...data });

/**
 * A refusal of shrinkNtfs, before anything is written. The message names the device and the
 * new size when `data` carries them (`device`, `newSize`).
 */
export const cannotShrink: Refusal = (reason, message, data = {}) => {
  const on = typeof data.device === 'string' ? ` on ${data.device}` : '';
  const to = typeof data.newSize === 'number' ? ` to ${data.newSize} bytes` : '';
  return new UsageError(`cannot shrink the NTFS volume${on}${to}: ${message}`, { reason, ...data });
};

export interface MetadataRecord {
  recordNumber: number;
  /** Volume byte offset, for messages. */
  offset: number;
  clean: Uint8Array;
  decoded: FileRecord;
}

export interface RecordChange {
  recordNumber: number;
  /** The bytes that go to disk (fixups encoded). */
  raw: Uint8Array;
}

/**
 * Record `n` of metadata file `file`, its runs checked against `clusterBound` clusters (the
 * volume's own count, or the count it is being grown to when resuming an interrupted grow).
 * An `$ATTRIBUTE_LIST` is refused through `refuse` (growNtfs's or shrinkNtfs's wording).
 */
export async function loadMetadataRecord(vol: NtfsVolume, n: number, file: string, clusterBound = vol.geometry.clusters, refuse: Refusal = cannotGrow): Promise<MetadataRecord> {
  const size = vol.geometry.mftRecordSize;
  const offset = vol.mft.recordOffset(n);
  const raw = await vol.mft.stream.read(n * size, size);
  const decoded = decodeRecord(raw.slice(), n, offset, clusterBound);
  if (!decoded || decoded.baseRecord !== 0) throw new CorruptStructureError(`MFT record ${n}`, offset, `is not the base record of ${file}`);
  if (decoded.attributes.some((a) => a.type === ATTR.attributeList)) {
    throw refuse('attribute-list', `${file} (MFT record ${n}) has an $ATTRIBUTE_LIST: its attributes span several records, which this tool does not rewrite`, { record: n });
  }
  return { recordNumber: n, offset, clean: withFixupsApplied(raw, `MFT record ${n}`, offset), decoded };
}

/** The record's one non-resident `$DATA` named `name` (must start at VCN 0). */
export function dataAttribute(rec: MetadataRecord, file: string, name: string): NonResidentAttr {
  const attrs = rec.decoded.attributes.filter((a) => a.type === ATTR.data && a.name === name);
  const label = `${file}${name ? `:${name}` : ''}`;
  const attr = attrs[0];
  if (attrs.length !== 1 || !attr) throw new CorruptStructureError(`MFT record ${rec.recordNumber}`, rec.offset, `${label} has ${attrs.length} $DATA attributes, not one`);
  if (attr.resident) throw new CorruptStructureError(`MFT record ${rec.recordNumber}`, attr.offset, `${label} is resident`);
  if (attr.lowestVcn !== 0) throw new CorruptStructureError(`MFT record ${rec.recordNumber}`, attr.offset, `${label} starts at VCN ${attr.lowestVcn}, not 0`);
  return attr;
}

const comparable = (a: Attribute) => JSON.stringify({ ...a, offset: 0 },
  (_k, v: unknown) => (typeof v === 'bigint' ? v.toString() : v instanceof Uint8Array ? Buffer.from(v).toString('hex') : v));

/**
 * The record with its `$DATA` `name` given `change`'s runs and sizes, as bytes for the disk.
 * `clusters` is the cluster count the new runs are checked against.
 */
export function rewriteDataAttribute(rec: MetadataRecord, name: string, change: NonResidentChange, clusters: number): RecordChange {
  const n = rec.recordNumber;
  const structure = `MFT record ${n}`;
  const slots = attributeSlots(rec.clean, structure, rec.offset).filter((s) => s.type === ATTR.data && s.name === name);
  if (slots.length !== 1) throw new CorruptStructureError(structure, rec.offset, `has ${slots.length} $DATA "${name}" attributes, not one`);
  const clean = rewriteNonResident(rec.clean, slots[0]!.offset, change, structure, rec.offset);
  const raw = encodeFixups(clean, structure, rec.offset);

  const fail = (why: string) => new CorruptStructureError(structure, rec.offset, `the rewritten record does not decode as intended: ${why}`);
  const again = decodeRecord(raw.slice(), n, rec.offset, clusters);
  if (!again) throw fail('it reads as empty');
  if (again.sequenceNumber !== rec.decoded.sequenceNumber || again.flags !== rec.decoded.flags || again.baseRecord !== 0) throw fail('its header changed');
  const changed = (a: Attribute) => a.type === ATTR.data && a.name === name;
  const others = (r: FileRecord) => r.attributes.filter((a) => !changed(a)).map(comparable).join('\n');
  if (others(again) !== others(rec.decoded)) throw fail('another attribute changed');
  const attr = again.attributes.find(changed);
  if (!attr || attr.resident) throw fail('the attribute is gone');
  const clustersMapped = change.runs.reduce((s, r) => s + r.length, 0);
  if (JSON.stringify(attr.runs) !== JSON.stringify(change.runs) || attr.highestVcn !== attr.lowestVcn + clustersMapped - 1
      || attr.allocatedSize !== change.allocatedSize || attr.dataSize !== change.dataSize || attr.initializedSize !== change.initializedSize) {
    throw fail('its runs or sizes differ');
  }
  return { recordNumber: n, raw };
}

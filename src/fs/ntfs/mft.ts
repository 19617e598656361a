/**
 * The Master File Table: bootstrapping `$MFT` from record 0 (whose data may be fragmented and
 * partly described in extension records, filesystems.md 2.8), reading records by number, and
 * assembling a file's attributes across its `$ATTRIBUTE_LIST` (2.7).
 */
import type { ReadableDevice } from '../../device/block-device.ts';
import { CorruptStructureError } from '../../errors.ts';
import { layout, u16le, u32le, u64le, u8 } from '../../binary/layout.ts';
import type { NtfsGeometry } from './boot-sector.ts';
import { DataStream } from './data-stream.ts';
import { ATTR, decodeRecord, RECORD_IN_USE, type Attribute, type FileRecord, type NonResidentAttr } from './record.ts';
import type { Run } from './runlist.ts';

export const AttributeListEntry = layout('AttributeListEntry', 0x1a, {
  type: u32le(0x00),
  length: u16le(0x04),
  nameLength: u8(0x06),
  nameOffset: u8(0x07),
  lowestVcn: u64le(0x08),
  segmentReference: u64le(0x10),
  instance: u16le(0x18),
});

export const MFT_RECORD = { mft: 0, volume: 3, root: 5, bitmap: 6, upcase: 10 } as const;
/** More extension records than this for one file is corruption, not a real file. */
const MAX_EXTENSION_RECORDS = 65536;
const RECORD_CACHE_SIZE = 4096;

/** A file as its base record plus extension records describe it. */
export interface NtfsFile {
  recordNumber: number;
  sequenceNumber: number;
  flags: number;
  hardLinkCount: number;
  attributes: Attribute[];
}

export const isInUse = (f: { flags: number }) => (f.flags & RECORD_IN_USE) !== 0;

export class Mft {
  readonly volume: ReadableDevice;
  readonly geometry: NtfsGeometry;
  /** $MFT's own data, once bootstrapped. */
  #stream!: DataStream;
  readonly #cache = new Map<number, FileRecord | null>();

  private constructor(volume: ReadableDevice, geometry: NtfsGeometry) {
    this.volume = volume;
    this.geometry = geometry;
  }

  static async open(volume: ReadableDevice, geometry: NtfsGeometry): Promise<Mft> {
    const mft = new Mft(volume, geometry);
    await mft.#bootstrap();
    return mft;
  }

  /** Number of record slots in $MFT's initialized data. */
  get recordCount(): number {
    return Math.floor(this.#stream.shape.initializedSize / this.geometry.mftRecordSize);
  }

  get stream(): DataStream {
    return this.#stream;
  }

  async #bootstrap(): Promise<void> {
    const g = this.geometry;
    const offset = g.mftLcn * g.clusterSize;
    if (offset + g.mftRecordSize > this.volume.size) {
      throw new CorruptStructureError('$MFT', offset, 'record 0 lies past the end of the volume');
    }
    const record0 = decodeRecord(await this.volume.read(offset, g.mftRecordSize), 0, offset, g.clusters);
    if (!record0 || record0.baseRecord !== 0) throw new CorruptStructureError('MFT record 0', offset, 'is not the base record of $MFT');
    // Start with the runs record 0 itself holds, then pull in further $DATA segments named by the
    // attribute list: each newly known run may make the next extension record readable.
    let segments = record0.attributes.filter((a): a is NonResidentAttr => a.type === ATTR.data && a.name === '' && !a.resident);
    const first = segments.find((s) => s.lowestVcn === 0);
    if (!first) throw new CorruptStructureError('MFT record 0', offset, '$MFT has no non-resident $DATA starting at VCN 0');
    const shapeFrom = (segs: NonResidentAttr[]) => ({
      runs: mergeRuns(segs, `$MFT`), dataSize: first.dataSize, initializedSize: first.initializedSize,
      compressionUnit: 0, compressed: false,
    });
    this.#stream = new DataStream(this.volume, g.clusterSize, shapeFrom(segments), '$MFT');
    const list = record0.attributes.find((a) => a.type === ATTR.attributeList);
    if (list) {
      const entries = decodeAttributeList(await this.#attributeValue(list), list.offset);
      const pending = entries.filter((e) => e.type === ATTR.data && e.name === '' && e.recordNumber !== 0);
      for (let rounds = 0; pending.length > 0; rounds++) {
        const mapped = this.#stream.shape.runs.reduce((s, r) => s + r.length, 0) * g.clusterSize;
        const ready = pending.filter((e) => (e.recordNumber + 1) * g.mftRecordSize <= mapped);
        if (ready.length === 0 || rounds > MAX_EXTENSION_RECORDS) {
          throw new CorruptStructureError('$MFT', offset, `$DATA segment in record ${pending[0]!.recordNumber} lies outside the part of $MFT mapped so far`);
        }
        for (const e of ready) {
          pending.splice(pending.indexOf(e), 1);
          const ext = await this.record(e.recordNumber);
          if (!ext || ext.baseRecord !== 0) throw new CorruptStructureError(`MFT record ${e.recordNumber}`, offset, 'named by $MFT\'s attribute list but not an extension of record 0');
          segments = segments.concat(ext.attributes.filter((a): a is NonResidentAttr => a.type === ATTR.data && a.name === '' && !a.resident));
        }
        this.#stream = new DataStream(this.volume, g.clusterSize, shapeFrom(segments), '$MFT');
      }
    }
    if (this.#stream.shape.initializedSize > this.#stream.shape.runs.reduce((s, r) => s + r.length, 0) * g.clusterSize) {
      throw new CorruptStructureError('$MFT', offset, `initialized size ${this.#stream.shape.initializedSize} exceeds the clusters its runs map`);
    }
  }

  /** Volume byte offset of a record (for messages), or -1 if unmapped. */
  recordOffset(n: number): number {
    const cs = this.geometry.clusterSize;
    const pos = n * this.geometry.mftRecordSize;
    for (const r of this.#stream.shape.runs) {
      if (pos >= r.vcn * cs && pos < (r.vcn + r.length) * cs) return r.lcn === null ? -1 : r.lcn * cs + (pos - r.vcn * cs);
    }
    return -1;
  }

  /** Decoded record `n`, or null if the slot was never used. Cached. */
  async record(n: number): Promise<FileRecord | null> {
    if (this.#cache.has(n)) return this.#cache.get(n)!;
    const size = this.geometry.mftRecordSize;
    if (!Number.isSafeInteger(n) || n < 0 || (n + 1) * size > this.#stream.shape.initializedSize) {
      throw new CorruptStructureError('$MFT', this.geometry.mftLcn * this.geometry.clusterSize,
        `record ${n} is outside the ${this.recordCount} records of $MFT`);
    }
    const raw = await this.#stream.read(n * size, size);
    const record = decodeRecord(raw, n, this.recordOffset(n), this.geometry.clusters);
    if (this.#cache.size >= RECORD_CACHE_SIZE) this.#cache.delete(this.#cache.keys().next().value!);
    this.#cache.set(n, record);
    return record;
  }

  /** The file whose base record is `n`, with attributes from its extension records. */
  async file(n: number): Promise<NtfsFile> {
    const base = await this.record(n);
    const at = this.recordOffset(n);
    if (!base || !isInUse(base)) throw new CorruptStructureError(`MFT record ${n}`, at, 'is not in use');
    if (base.baseRecord !== 0) throw new CorruptStructureError(`MFT record ${n}`, at, `is an extension of record ${base.baseRecord}, not a file`);
    const list = base.attributes.find((a) => a.type === ATTR.attributeList);
    if (!list) return { ...base, attributes: base.attributes };
    const entries = decodeAttributeList(await this.#attributeValue(list), list.offset);
    const extensions = [...new Set(entries.map((e) => e.recordNumber))].filter((r) => r !== n);
    if (extensions.length > MAX_EXTENSION_RECORDS) throw new CorruptStructureError(`MFT record ${n}`, at, 'attribute list names too many records');
    let attributes = base.attributes.filter((a) => a.type !== ATTR.attributeList);
    for (const r of extensions) {
      const ext = await this.record(r);
      if (!ext || !isInUse(ext) || ext.baseRecord !== n) {
        throw new CorruptStructureError(`MFT record ${r}`, this.recordOffset(r), `named by the attribute list of record ${n} but not its extension record`);
      }
      attributes = attributes.concat(ext.attributes);
    }
    return { ...base, attributes };
  }

  /** The bytes of a resident attribute, or of a small non-resident one (attribute lists). */
  async #attributeValue(a: Attribute): Promise<Uint8Array> {
    if (a.resident) return a.value;
    return new DataStream(this.volume, this.geometry.clusterSize, {
      runs: a.runs, dataSize: a.dataSize, initializedSize: a.initializedSize, compressionUnit: 0, compressed: false,
    }, 'attribute list').readAll();
  }

  /** All segments of one attribute (type + name) merged into a readable stream. */
  openStream(file: NtfsFile, type: number, name: string): DataStream | Uint8Array | undefined {
    const parts = file.attributes.filter((a) => a.type === type && a.name === name);
    if (parts.length === 0) return undefined;
    const resident = parts.find((a) => a.resident);
    if (resident?.resident) return resident.value;
    const segments = parts as NonResidentAttr[];
    const first = segments.find((s) => s.lowestVcn === 0);
    if (!first) throw new CorruptStructureError(`MFT record ${file.recordNumber}`, segments[0]!.offset, `attribute 0x${type.toString(16)} "${name}" has no segment at VCN 0`);
    const compressed = (first.flags & 0x00ff) !== 0;
    const label = `record ${file.recordNumber} attribute 0x${type.toString(16)}${name ? ` "${name}"` : ''}`;
    return new DataStream(this.volume, this.geometry.clusterSize, {
      runs: mergeRuns(segments, label), dataSize: first.dataSize, initializedSize: first.initializedSize,
      compressionUnit: compressed ? first.compressionUnit : 0, compressed,
    }, label);
  }
}

interface ListEntry {
  type: number;
  name: string;
  lowestVcn: number;
  recordNumber: number;
}

export function decodeAttributeList(value: Uint8Array, offset: number): ListEntry[] {
  const out: ListEntry[] = [];
  let pos = 0;
  while (pos + 0x1a <= value.length) {
    const e = AttributeListEntry.decode(value, pos);
    if (e.length < 0x1a || pos + e.length > value.length || e.nameOffset + 2 * e.nameLength > e.length) {
      throw new CorruptStructureError('$ATTRIBUTE_LIST entry', offset + pos, `entry length ${e.length} does not fit the list`);
    }
    out.push({
      type: e.type,
      name: Buffer.from(value.buffer, value.byteOffset + pos + e.nameOffset, 2 * e.nameLength).toString('utf16le'),
      lowestVcn: Number(e.lowestVcn),
      recordNumber: Number(e.segmentReference & 0xffffffffffffn),
    });
    pos += e.length;
  }
  return out;
}

/** Order segments by VCN and check they join up without gaps or overlaps. */
function mergeRuns(segments: NonResidentAttr[], label: string): Run[] {
  const sorted = [...segments].sort((a, b) => a.lowestVcn - b.lowestVcn);
  const runs: Run[] = [];
  let next = 0;
  for (const s of sorted) {
    if (s.highestVcn < 0) continue;
    if (s.lowestVcn !== next) {
      throw new CorruptStructureError('NTFS attribute', s.offset, `${label}: segment starts at VCN ${s.lowestVcn}, expected ${next}`);
    }
    runs.push(...s.runs);
    next = s.highestVcn + 1;
  }
  return runs;
}

/**
 * A read-only view of a registry hive held in memory: keys, values and their data, decoded on
 * demand from the cells. Every record keeps its cell offset so a later writer can patch it.
 * Hostile input gives CorruptStructureError (structure, file offset), never a crash or a hang:
 * index lists may not nest or repeat, each child must name its parent, and walk() refuses a key
 * met twice.
 */
import { CorruptStructureError, UsageError } from '../errors.ts';
import { decodeBaseBlock, filetimeToDate, HIVE_BINS_START, type BaseBlockInfo } from './base-block.ts';
import { HiveBins, type Cell } from './cells.ts';
import {
  ascii2, BIG_DATA_SEGMENT, BigData, DATA_INLINE, decodeName, INDEX_ELEMENTS_OFFSET, IndexHeader, KEY_FLAGS,
  KEY_NAME_OFFSET, KeyNode, KeyValue, MAX_INLINE_DATA, upcaseName, VALUE_COMP_NAME, VALUE_NAME_OFFSET,
} from './records.ts';

/** Registry value types; others are kept as their number with raw data. */
export const REG = {
  NONE: 0,
  SZ: 1,
  EXPAND_SZ: 2,
  BINARY: 3,
  DWORD: 4,
  DWORD_BIG_ENDIAN: 5,
  LINK: 6,
  MULTI_SZ: 7,
  RESOURCE_LIST: 8,
  FULL_RESOURCE_DESCRIPTOR: 9,
  RESOURCE_REQUIREMENTS_LIST: 10,
  QWORD: 11,
} as const;

const TYPE_NAMES: Record<number, string> = Object.fromEntries(Object.entries(REG).map(([k, v]) => [v, `REG_${k}`]));
export const regTypeName = (type: number): string => TYPE_NAMES[type] ?? `type ${type}`;

/** Deepest key nesting walk() follows (Windows limits hives to 512 levels). */
export const MAX_KEY_DEPTH = 512;

/** Where a value's data lives, for an in-place writer. Offsets are cell offsets (file offset - 4096). */
export type ValueStorage =
  | { kind: 'inline'; vkOffset: number } // in the vk's data offset field (vk cell body + 0x08)
  | { kind: 'empty' } // size 0, not inline: no data cell
  | { kind: 'cell'; cellOffset: number }
  | { kind: 'big'; dbOffset: number; segmentsListOffset: number; segments: number[] };

export function openHive(bytes: Uint8Array, name: string): Hive {
  return new Hive(bytes, name);
}

export class Hive {
  readonly name: string;
  readonly base: BaseBlockInfo;
  readonly bins: HiveBins;
  readonly root: Key;

  constructor(bytes: Uint8Array, name: string) {
    this.name = name;
    this.base = decodeBaseBlock(bytes);
    this.bins = new HiveBins(bytes, this.base.hiveBinsDataSize);
    this.root = new Key(this, this.base.rootCellOffset, undefined);
    if (!(this.root.node.flags & KEY_FLAGS.hiveEntry)) {
      throw new CorruptStructureError('nk', HIVE_BINS_START + this.root.cellOffset, 'the root key lacks the HIVE_ENTRY flag (0x0004)');
    }
  }

  /** Primary and secondary sequence numbers differ. Reading goes on; whether to trust it is the caller's call. */
  get dirty(): boolean {
    return this.base.dirty;
  }

  get minorVersion(): number {
    return this.base.minorVersion;
  }

  /** The key at a backslash-separated path below the root (case-insensitive), or undefined. */
  key(path: string): Key | undefined {
    let key: Key | undefined = this.root;
    for (const part of path.split('\\')) {
      if (part === '') continue;
      key = key.subkey(part);
      if (!key) return undefined;
    }
    return key;
  }

  /** Every key depth-first in list order, with its path ('' for the root); a key met twice is corrupt. */
  *walk(): Generator<{ path: string; key: Key }> {
    const seen = new Set<number>();
    const stack: Array<{ path: string; key: Key; depth: number }> = [{ path: '', key: this.root, depth: 0 }];
    while (stack.length > 0) {
      const { path, key, depth } = stack.pop()!;
      if (seen.has(key.cellOffset)) {
        throw new CorruptStructureError('nk', HIVE_BINS_START + key.cellOffset, 'key reached twice: the key tree has a cycle or a shared subkey');
      }
      seen.add(key.cellOffset);
      yield { path, key };
      const children = key.subkeys();
      if (children.length > 0 && depth + 1 > MAX_KEY_DEPTH) {
        throw new CorruptStructureError('nk', HIVE_BINS_START + key.cellOffset, `keys nest deeper than ${MAX_KEY_DEPTH} levels`);
      }
      for (let i = children.length - 1; i >= 0; i--) {
        const child = children[i]!;
        stack.push({ path: path === '' ? child.name : `${path}\\${child.name}`, key: child, depth: depth + 1 });
      }
    }
  }
}

export class Key {
  readonly hive: Hive;
  /** Cell offset of the nk (relative to the hive bins; file offset = 4096 + this). */
  readonly cellOffset: number;
  readonly node: KeyNode;
  readonly name: string;
  #subkeys: Key[] | undefined;
  #values: Value[] | undefined;

  /** `parent` is the cell offset the nk must name as its parent (undefined for the root). */
  constructor(hive: Hive, cellOffset: number, parent: number | undefined) {
    this.hive = hive;
    this.cellOffset = cellOffset;
    const cell = hive.bins.cell(cellOffset, 'nk', KEY_NAME_OFFSET);
    const fileOffset = HIVE_BINS_START + cellOffset;
    const fail = (problem: string) => new CorruptStructureError('nk', fileOffset, problem, { cellOffset });
    this.node = KeyNode.decode(cell.data);
    if (ascii2(this.node.signature) !== 'nk') throw fail(`signature is ${JSON.stringify(ascii2(this.node.signature))}, not "nk"`);
    if (parent !== undefined && this.node.parent !== parent) {
      throw fail(`names ${this.node.parent} as its parent, but is listed under the key at ${parent}`);
    }
    const nameEnd = KEY_NAME_OFFSET + this.node.keyNameLength;
    if (nameEnd > cell.data.length) throw fail(`key name of ${this.node.keyNameLength} bytes runs past its cell`);
    this.name = decodeName(cell.data.subarray(KEY_NAME_OFFSET, nameEnd), (this.node.flags & KEY_FLAGS.compName) !== 0);
  }

  get lastWritten(): Date {
    return filetimeToDate(this.node.lastWrittenTimestamp);
  }

  /** Subkeys in index order (sorted by upper-cased name in a valid hive), through lf, lh, li and ri lists. */
  subkeys(): Key[] {
    this.#subkeys ??= this.#readSubkeys();
    return this.#subkeys;
  }

  /** The subkey named `name`, compared case-insensitively as Windows does, or undefined. */
  subkey(name: string): Key | undefined {
    const wanted = upcaseName(name);
    return this.subkeys().find((k) => upcaseName(k.name) === wanted);
  }

  values(): Value[] {
    this.#values ??= this.#readValues();
    return this.#values;
  }

  /** The value named `name` ('' for the default value), case-insensitively, or undefined. */
  value(name: string): Value | undefined {
    const wanted = upcaseName(name);
    return this.values().find((v) => upcaseName(v.name) === wanted);
  }

  #readSubkeys(): Key[] {
    const count = this.node.numberOfSubkeys;
    if (count === 0) return [];
    const bins = this.hive.bins;
    const fileOffset = HIVE_BINS_START + this.cellOffset;
    const nkOffsets: number[] = [];
    // Element by element, before any nk is decoded, so an oversized list fails before work is done.
    const add = (offsets: number[]) => {
      for (const o of offsets) {
        if (nkOffsets.length >= count) {
          throw new CorruptStructureError('nk', fileOffset, `subkey lists hold more than the ${count} subkeys the key declares`);
        }
        nkOffsets.push(o);
      }
    };
    const top = readIndex(bins, this.node.subkeysListOffset);
    if (top.kind === 'ri') {
      const seenLeaves = new Set<number>();
      for (const leafOffset of top.offsets) {
        if (seenLeaves.has(leafOffset)) throw indexError(top.cell, `names the leaf at ${leafOffset} twice`);
        seenLeaves.add(leafOffset);
        const leaf = readIndex(bins, leafOffset);
        if (leaf.kind === 'ri') throw indexError(leaf.cell, 'an ri list inside an ri list (they never nest)');
        add(leaf.offsets);
      }
    } else {
      add(top.offsets);
    }
    if (nkOffsets.length !== count) {
      throw new CorruptStructureError('nk', fileOffset, `declares ${count} subkeys, its lists hold ${nkOffsets.length}`);
    }
    const seen = new Set<number>([this.cellOffset]);
    return nkOffsets.map((o) => {
      if (seen.has(o)) throw new CorruptStructureError('subkeys list', fileOffset, `lists the key at ${o} twice, or the key itself`);
      seen.add(o);
      return new Key(this.hive, o, this.cellOffset);
    });
  }

  #readValues(): Value[] {
    const count = this.node.numberOfKeyValues;
    if (count === 0) return [];
    const list = this.hive.bins.cell(this.node.keyValuesListOffset, 'values list', count * 4);
    const view = new DataView(list.data.buffer, list.data.byteOffset, count * 4);
    const seen = new Set<number>();
    const out: Value[] = [];
    for (let i = 0; i < count; i++) {
      const o = view.getUint32(i * 4, true);
      if (seen.has(o)) throw new CorruptStructureError('values list', HIVE_BINS_START + list.offset, `lists the value at ${o} twice`);
      seen.add(o);
      out.push(new Value(this.hive, o));
    }
    return out;
  }
}

interface Index {
  kind: 'li' | 'lf' | 'lh' | 'ri';
  cell: Cell;
  offsets: number[];
}

const indexError = (cell: Cell, problem: string) =>
  new CorruptStructureError('subkeys list', HIVE_BINS_START + cell.offset, problem, { cellOffset: cell.offset });

function readIndex(bins: HiveBins, offset: number): Index {
  const cell = bins.cell(offset, 'subkeys list', IndexHeader.size);
  const h = IndexHeader.decode(cell.data);
  const kind = ascii2(h.signature);
  if (kind !== 'li' && kind !== 'lf' && kind !== 'lh' && kind !== 'ri') {
    throw indexError(cell, `signature is ${JSON.stringify(kind)}, not li, lf, lh or ri`);
  }
  const step = kind === 'lf' || kind === 'lh' ? 8 : 4;
  const n = h.numberOfElements;
  if (INDEX_ELEMENTS_OFFSET + n * step > cell.data.length) {
    throw indexError(cell, `${n} elements of ${step} bytes do not fit in a cell of ${cell.data.length} bytes`);
  }
  const view = new DataView(cell.data.buffer, cell.data.byteOffset, cell.data.length);
  const offsets: number[] = [];
  for (let i = 0; i < n; i++) offsets.push(view.getUint32(INDEX_ELEMENTS_OFFSET + i * step, true));
  return { kind, cell, offsets };
}

export class Value {
  readonly hive: Hive;
  /** Cell offset of the vk (relative to the hive bins; file offset = 4096 + this). */
  readonly cellOffset: number;
  readonly record: KeyValue;
  /** '' for the key's default value. */
  readonly name: string;
  #data: { data: Uint8Array; storage: ValueStorage } | undefined;

  constructor(hive: Hive, cellOffset: number) {
    this.hive = hive;
    this.cellOffset = cellOffset;
    const cell = hive.bins.cell(cellOffset, 'vk', VALUE_NAME_OFFSET);
    this.record = KeyValue.decode(cell.data);
    if (ascii2(this.record.signature) !== 'vk') throw this.#fail(`signature is ${JSON.stringify(ascii2(this.record.signature))}, not "vk"`);
    const nameEnd = VALUE_NAME_OFFSET + this.record.nameLength;
    if (nameEnd > cell.data.length) throw this.#fail(`value name of ${this.record.nameLength} bytes runs past its cell`);
    this.name = decodeName(cell.data.subarray(VALUE_NAME_OFFSET, nameEnd), (this.record.flags & VALUE_COMP_NAME) !== 0);
  }

  get type(): number {
    return this.record.dataType;
  }

  /** The data bytes (a view into the hive for inline and single-cell data). Decoded on first use. */
  get data(): Uint8Array {
    this.#data ??= this.#readData();
    return this.#data.data;
  }

  /** Where the data lives: inline in the vk, one data cell, or db big data segments. */
  get storage(): ValueStorage {
    this.#data ??= this.#readData();
    return this.#data.storage;
  }

  /** Cell offset of the data cell (or of the db record); undefined when the data is inline or empty. */
  get dataCellOffset(): number | undefined {
    const s = this.storage;
    return s.kind === 'cell' ? s.cellOffset : s.kind === 'big' ? s.dbOffset : undefined;
  }

  /** REG_SZ / REG_EXPAND_SZ as text: UTF-16LE up to the first NUL. */
  asString(): string {
    this.#expect([REG.SZ, REG.EXPAND_SZ]);
    const s = decodeName(this.data, false);
    const nul = s.indexOf('\0');
    return nul < 0 ? s : s.slice(0, nul);
  }

  /** REG_MULTI_SZ: the NUL-separated strings up to the first empty one (the list terminator). */
  asMultiString(): string[] {
    this.#expect([REG.MULTI_SZ]);
    const out: string[] = [];
    for (const s of decodeName(this.data, false).split('\0')) {
      if (s === '') break;
      out.push(s);
    }
    return out;
  }

  /** REG_DWORD, REG_DWORD_BIG_ENDIAN, or a REG_QWORD below 2^53 (asBigInt for any REG_QWORD). */
  asNumber(): number {
    this.#expect([REG.DWORD, REG.DWORD_BIG_ENDIAN, REG.QWORD]);
    if (this.type === REG.QWORD) {
      const q = this.asBigInt();
      if (q > BigInt(Number.MAX_SAFE_INTEGER)) throw new UsageError(`${this.#label()} holds ${q}, beyond a safe number: use asBigInt()`);
      return Number(q);
    }
    const d = this.data;
    if (d.length !== 4) throw this.#fail(`${regTypeName(this.type)} with ${d.length} bytes of data, not 4`);
    return new DataView(d.buffer, d.byteOffset, 4).getUint32(0, this.type === REG.DWORD);
  }

  asBigInt(): bigint {
    this.#expect([REG.QWORD]);
    const d = this.data;
    if (d.length !== 8) throw this.#fail(`REG_QWORD with ${d.length} bytes of data, not 8`);
    return new DataView(d.buffer, d.byteOffset, 8).getBigUint64(0, true);
  }

  #label(): string {
    return `value ${JSON.stringify(this.name)} of hive ${this.hive.name}`;
  }

  #expect(types: number[]): void {
    if (!types.includes(this.type)) {
      throw new UsageError(`${this.#label()} is ${regTypeName(this.type)}, not ${types.map(regTypeName).join(' or ')}`,
        { hive: this.hive.name, value: this.name, type: this.type });
    }
  }

  #fail(problem: string): CorruptStructureError {
    return new CorruptStructureError('vk', HIVE_BINS_START + this.cellOffset, problem, { cellOffset: this.cellOffset });
  }

  #readData(): { data: Uint8Array; storage: ValueStorage } {
    const { dataSize, dataOffset } = this.record;
    const bins = this.hive.bins;
    if (dataSize & DATA_INLINE) {
      const length = dataSize & ~DATA_INLINE;
      if (length > MAX_INLINE_DATA) throw this.#fail(`inline data of ${length} bytes (at most ${MAX_INLINE_DATA} fit)`);
      const vk = bins.cell(this.cellOffset, 'vk', VALUE_NAME_OFFSET);
      return { data: vk.data.subarray(0x08, 0x08 + length), storage: { kind: 'inline', vkOffset: this.cellOffset } };
    }
    const length = dataSize;
    if (length === 0) return { data: new Uint8Array(0), storage: { kind: 'empty' } };
    if (length > bins.size) throw this.#fail(`data size ${length} exceeds the ${bins.size} bytes of hive bins`);
    const cell = bins.cell(dataOffset, 'value data', 0);
    if (cell.data.length >= length) return { data: cell.data.subarray(0, length), storage: { kind: 'cell', cellOffset: dataOffset } };
    // Too small for the data: big data (hive 1.4+) when it is a db record. hivex writes large
    // values as one plain cell, so "large" alone does not mean db.
    if (this.hive.minorVersion < 4 || length <= BIG_DATA_SEGMENT || cell.data.length < BigData.size
      || ascii2(cell.data) !== 'db') {
      throw new CorruptStructureError('value data', HIVE_BINS_START + dataOffset,
        `cell holds ${cell.data.length} bytes, the value at ${this.cellOffset} declares ${length}`, { cellOffset: dataOffset });
    }
    return this.#readBigData(cell, length);
  }

  #readBigData(db: Cell, length: number): { data: Uint8Array; storage: ValueStorage } {
    const bins = this.hive.bins;
    const h = BigData.decode(db.data);
    const needed = Math.ceil(length / BIG_DATA_SEGMENT);
    if (h.numberOfSegments < needed) {
      throw new CorruptStructureError('db', HIVE_BINS_START + db.offset,
        `${h.numberOfSegments} segments cannot hold ${length} bytes (${needed} needed)`, { cellOffset: db.offset });
    }
    const list = bins.cell(h.segmentsListOffset, 'db segments list', h.numberOfSegments * 4);
    const view = new DataView(list.data.buffer, list.data.byteOffset, list.data.length);
    const data = new Uint8Array(length);
    const segments: number[] = [];
    for (let i = 0; i < needed; i++) {
      const o = view.getUint32(i * 4, true);
      const take = Math.min(BIG_DATA_SEGMENT, length - i * BIG_DATA_SEGMENT);
      const seg = bins.cell(o, 'db segment', take);
      data.set(seg.data.subarray(0, take), i * BIG_DATA_SEGMENT);
      segments.push(o);
    }
    return { data, storage: { kind: 'big', dbOffset: db.offset, segmentsListOffset: h.segmentsListOffset, segments } };
  }
}

/**
 * Editing a hive in memory (docs/formats/registry.md, "Writing"): value data patched in place
 * when the size allows, otherwise moved to a reused, split or newly appended cell (db big data
 * over 16344 bytes); new values and new keys (their index insertion: subkey-index.ts). Every
 * edit re-reads the hive with the reader and checks what it wrote, then leaves the base block
 * clean: both sequence numbers = the opened primary + 1, last-written time, checksum. Dirty
 * hives have their logs replayed first (log-replay.ts) or are refused (dirty.ts). Records are
 * reached through the reader's layouts; nothing here redeclares offsets.
 */
import { CorruptStructureError, LifeboatError, NotFoundError, UsageError } from '../errors.ts';
import { HIVE_BINS_START, RegfBaseBlock, regfChecksum } from './base-block.ts';
import { CellSpace, type ByteRange } from './cell-space.ts';
import { NO_CELL } from './cells.ts';
import { HiveDirtyError, type HiveLogs } from './dirty.ts';
import { Hive, Key, openHive, regTypeName, type Value } from './hive.ts';
import { replayTransactionLogs, type ReplayResult } from './log-replay.ts';
import { insertSubkey } from './subkey-index.ts';
import {
  BIG_DATA_SEGMENT, BigData, DATA_INLINE, KEY_FLAGS, KEY_NAME_OFFSET, KeyNode, KeyValue, MAX_INLINE_DATA, SecurityKey,
  VALUE_COMP_NAME, VALUE_NAME_OFFSET,
} from './records.ts';

/** Most value data the writer stores: a db record lists at most 65535 segments of 16344 bytes. */
export const MAX_WRITABLE_DATA = 0xffff * BIG_DATA_SEGMENT;

export interface EditOptions {
  /** Time written to the base block and to the nk of each edited key (default: now). */
  now?: Date;
}

/**
 * Open `bytes` (copied; the caller's array is never written) for editing. A dirty hive has its
 * transaction logs replayed first (`editor.replayed` says what was applied); without logs, or
 * with logs holding nothing applicable, it is refused with HiveDirtyError.
 */
export function openHiveForEdit(bytes: Uint8Array, name: string, logs?: HiveLogs, options: EditOptions = {}): HiveEditor {
  const hive = openHive(bytes, name);
  if (hive.dirty) {
    if (!logs || (!logs.log1 && !logs.log2)) {
      throw new HiveDirtyError(name, hive.base.primarySequenceNumber, hive.base.secondarySequenceNumber);
    }
    const replayed = replayTransactionLogs(bytes, name, logs);
    return new HiveEditor(replayed.bytes, name, options, replayed);
  }
  return new HiveEditor(new Uint8Array(bytes), name, options);
}

/** One-shot: open, set one value's data (adding the value if missing), return the new hive bytes. */
export function setValueData(bytes: Uint8Array, hiveName: string, keyPath: string, valueName: string, type: number,
  data: Uint8Array, options: EditOptions = {}): Uint8Array {
  const editor = openHiveForEdit(bytes, hiveName, undefined, options);
  editor.setValueData(keyPath, valueName, type, data);
  return editor.bytes;
}

const FILETIME_UNIX_EPOCH_100NS = 116444736000000000n;
const filetime = (d: Date): bigint => BigInt(d.getTime()) * 10000n + FILETIME_UNIX_EPOCH_100NS;

/** A name as stored: Latin-1 ("compressed") when every character fits a byte, as Windows does; else UTF-16LE. */
function encodeName(name: string): { bytes: Uint8Array; compressed: boolean } {
  const compressed = [...name].every((c) => c.length === 1 && c.charCodeAt(0) <= 0xff);
  if (compressed) return { bytes: Uint8Array.from(name, (c) => c.charCodeAt(0)), compressed };
  const b = new Uint8Array(name.length * 2);
  for (let i = 0; i < name.length; i++) {
    b[i * 2] = name.charCodeAt(i) & 0xff;
    b[i * 2 + 1] = name.charCodeAt(i) >> 8;
  }
  return { bytes: b, compressed };
}

const sig = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

export class HiveEditor {
  readonly name: string;
  /** Set when the hive was dirty and its transaction logs were replayed before editing. */
  readonly replayed: ReplayResult | undefined;
  readonly #space: CellSpace;
  readonly #sequence: number;
  readonly #now: Date | undefined;
  #hive: Hive;
  #failed: LifeboatError | undefined;

  constructor(bytes: Uint8Array, name: string, options: EditOptions = {}, replayed?: ReplayResult) {
    this.name = name;
    this.replayed = replayed;
    this.#space = new CellSpace(bytes);
    this.#hive = openHive(bytes, name);
    this.#now = options.now;
    if (this.#hive.dirty) {
      throw new HiveDirtyError(name, this.#hive.base.primarySequenceNumber, this.#hive.base.secondarySequenceNumber);
    }
    this.#sequence = (this.#hive.base.primarySequenceNumber + 1) >>> 0;
  }

  /** The hive as edited so far (a new array once an hbin was appended). */
  get bytes(): Uint8Array {
    this.#usable();
    return this.#space.bytes;
  }

  /** After an edit failed half-way the bytes are inconsistent: the editor refuses further use (STYLE 7). */
  #usable(): void {
    if (this.#failed) {
      throw new UsageError(`hive ${this.name}: an earlier edit failed after writing (${this.#failed.message}); the edited copy must not be used`,
        { hive: this.name, cause: this.#failed.code });
    }
  }

  /** Run one edit; an error after its first write poisons the editor. */
  #edit<T>(fn: () => T): T {
    this.#usable();
    const writes = this.#space.writeCount;
    try {
      return fn();
    } catch (e) {
      if (this.#space.writeCount !== writes) {
        this.#failed = e instanceof LifeboatError ? e : new LifeboatError('INTERNAL', String(e));
      }
      throw e;
    }
  }

  /** The reader's view of the edited hive. */
  get hive(): Hive {
    return this.#hive;
  }

  /** File ranges written so far (base block fields included), sorted and merged. */
  changedRanges(): ByteRange[] {
    return this.#space.changedRanges();
  }

  #key(path: string): Key {
    const key = this.#hive.key(path);
    if (!key) throw new NotFoundError(`key ${JSON.stringify(path)}`, `hive ${this.name}`);
    return key;
  }

  #timestamp(): bigint {
    return filetime(this.#now ?? new Date());
  }

  /** An nk field's file offset. */
  #nkField(key: Key | number, field: keyof typeof KeyNode.fields): number {
    const cell = typeof key === 'number' ? key : key.cellOffset;
    return HIVE_BINS_START + cell + 4 + KeyNode.fields[field].offset;
  }

  #vkField(vkOffset: number, field: keyof typeof KeyValue.fields): number {
    return HIVE_BINS_START + vkOffset + 4 + KeyValue.fields[field].offset;
  }

  /**
   * Set a value's type and data, adding the value when the key has none of that name. Same-size
   * data is patched where it lies (inline, cell or big data segments); other sizes go inline
   * (≤ 4 bytes), into the value's own cell when it is big enough, or into a new cell (the old one
   * freed). Data over 16344 bytes goes into db big data (hive 1.4+), never into a reused cell.
   */
  setValueData(keyPath: string, valueName: string, type: number, data: Uint8Array): void {
    this.#edit(() => this.#setValueData(keyPath, valueName, type, data));
  }

  #setValueData(keyPath: string, valueName: string, type: number, data: Uint8Array): void {
    const key = this.#key(keyPath);
    const value = key.value(valueName);
    if (!value) {
      this.#addValue(keyPath, valueName, type, data);
      return;
    }
    const old = value.data;
    const storage = value.storage;
    const vk = value.cellOffset;
    const s = this.#space;
    if (value.type !== type) s.setU32(this.#vkField(vk, 'dataType'), type);
    if (old.length === data.length && storage.kind !== 'empty') {
      if (storage.kind === 'inline') s.write(this.#vkField(vk, 'dataOffset'), data);
      else if (storage.kind === 'cell') s.write(HIVE_BINS_START + storage.cellOffset + 4, data);
      else {
        storage.segments.forEach((segment, i) => {
          s.write(HIVE_BINS_START + segment + 4, data.subarray(i * BIG_DATA_SEGMENT, (i + 1) * BIG_DATA_SEGMENT));
        });
      }
    } else {
      this.#checkWritableSize(value, data.length);
      const oldCells = this.#dataCells(value);
      if (data.length <= MAX_INLINE_DATA) {
        this.#writeInline(vk, data);
        oldCells.forEach((c) => s.free(c));
      } else if (storage.kind === 'cell' && !this.#needsBigData(data.length)
        && this.#hive.bins.cell(storage.cellOffset, 'value data').data.length >= data.length) {
        s.write(HIVE_BINS_START + storage.cellOffset + 4, data);
        s.setU32(this.#vkField(vk, 'dataSize'), data.length);
      } else {
        const cell = this.#storeData(data);
        s.setU32(this.#vkField(vk, 'dataSize'), data.length);
        s.setU32(this.#vkField(vk, 'dataOffset'), cell);
        oldCells.forEach((c) => s.free(c));
      }
    }
    this.#raiseLargest(key.cellOffset, 'largestValueDataSize', data.length);
    this.#touchKey(key.cellOffset);
    this.#commit(() => this.#verifyValue(keyPath, valueName, type, data));
  }

  /** Add a value the key does not have yet; its values list is extended in place or moved to a larger cell. */
  addValue(keyPath: string, name: string, type: number, data: Uint8Array): void {
    this.#edit(() => this.#addValue(keyPath, name, type, data));
  }

  #addValue(keyPath: string, name: string, type: number, data: Uint8Array): void {
    const key = this.#key(keyPath);
    if (key.value(name)) throw new UsageError(`key ${JSON.stringify(keyPath)} of hive ${this.name} already has a value ${JSON.stringify(name)}`);
    if (data.length > MAX_WRITABLE_DATA) this.#refuseBig(name, data.length);
    const encoded = encodeName(name);
    if (encoded.bytes.length > 0xffff) throw new UsageError(`value name of ${encoded.bytes.length} bytes is too long`);
    const count = key.node.numberOfKeyValues;
    const oldList = key.node.keyValuesListOffset;
    const oldElements = count > 0 ? this.#hive.bins.cell(oldList, 'values list', count * 4).data.slice(0, count * 4) : new Uint8Array(0);
    const listCapacity = count > 0 ? Math.floor((this.#hive.bins.cell(oldList, 'values list').data.length) / 4) : 0;
    const s = this.#space;

    const dataCell = data.length > MAX_INLINE_DATA ? this.#storeData(data) : undefined;
    const vk = s.allocate(VALUE_NAME_OFFSET + encoded.bytes.length);
    const record = new Uint8Array(VALUE_NAME_OFFSET + encoded.bytes.length);
    KeyValue.encodeInto({ signature: sig('vk'), nameLength: encoded.bytes.length, dataSize: 0, dataOffset: 0, dataType: type,
      flags: encoded.compressed ? VALUE_COMP_NAME : 0, spare: 0 }, record);
    record.set(encoded.bytes, VALUE_NAME_OFFSET);
    s.write(HIVE_BINS_START + vk + 4, record);
    if (dataCell === undefined) {
      this.#writeInline(vk, data);
    } else {
      s.setU32(this.#vkField(vk, 'dataSize'), data.length);
      s.setU32(this.#vkField(vk, 'dataOffset'), dataCell);
    }

    const vkRef = new Uint8Array(4);
    new DataView(vkRef.buffer).setUint32(0, vk, true);
    if (count < listCapacity) {
      s.write(HIVE_BINS_START + oldList + 4 + count * 4, vkRef);
    } else {
      const list = s.allocate((count + 1) * 4);
      s.write(HIVE_BINS_START + list + 4, oldElements);
      s.write(HIVE_BINS_START + list + 4 + count * 4, vkRef);
      s.setU32(this.#nkField(key, 'keyValuesListOffset'), list);
      if (count > 0) s.free(oldList);
    }
    s.setU32(this.#nkField(key, 'numberOfKeyValues'), count + 1);
    this.#raiseLargest(key.cellOffset, 'largestValueNameLength', name.length * 2);
    this.#raiseLargest(key.cellOffset, 'largestValueDataSize', data.length);
    this.#touchKey(key.cellOffset);
    this.#commit(() => this.#verifyValue(keyPath, name, type, data));
  }

  /**
   * Add a subkey `name` under `parentPath` and return its path. The nk shares the parent's
   * security cell (its reference count raised, as hivex and Windows do); the element goes into
   * the parent's index leaf at its sorted place (lh: name hash, lf: 4-character hint), through
   * the right leaf of an ri. A parent without subkeys gets an lh (lf before hive version 1.5).
   */
  addKey(parentPath: string, name: string): string {
    return this.#edit(() => this.#addKey(parentPath, name));
  }

  #addKey(parentPath: string, name: string): string {
    const parent = this.#key(parentPath);
    if (name === '' || name.includes('\\')) throw new UsageError(`key name ${JSON.stringify(name)} is empty or holds a backslash`);
    if (parent.subkey(name)) throw new UsageError(`key ${JSON.stringify(parentPath)} of hive ${this.name} already has a subkey ${JSON.stringify(name)}`);
    const encoded = encodeName(name);
    if (encoded.bytes.length > 0xffff) throw new UsageError(`key name of ${encoded.bytes.length} bytes is too long`);
    const s = this.#space;
    const security = parent.node.keySecurityOffset;
    const sk = this.#hive.bins.cell(security, 'sk', SecurityKey.size);
    if (String.fromCharCode(sk.data[0]!, sk.data[1]!) !== 'sk') {
      throw new CorruptStructureError('sk', HIVE_BINS_START + security, 'signature is not "sk"', { cellOffset: security });
    }
    const skRefs = SecurityKey.decode(sk.data).referenceCount;
    const siblings = parent.subkeys().map((k) => k.name); // read before any write moves cells

    const nk = s.allocate(KEY_NAME_OFFSET + encoded.bytes.length);
    const record = new Uint8Array(KEY_NAME_OFFSET + encoded.bytes.length);
    KeyNode.encodeInto({
      signature: sig('nk'), flags: encoded.compressed ? KEY_FLAGS.compName : 0, lastWrittenTimestamp: this.#timestamp(),
      accessBits: 0, parent: parent.cellOffset, numberOfSubkeys: 0, numberOfVolatileSubkeys: 0, subkeysListOffset: NO_CELL,
      volatileSubkeysListOffset: NO_CELL, numberOfKeyValues: 0, keyValuesListOffset: NO_CELL, keySecurityOffset: security,
      classNameOffset: NO_CELL, largestSubkeyNameLength: 0, largestSubkeyClassNameLength: 0, largestValueNameLength: 0,
      largestValueDataSize: 0, workVar: 0, keyNameLength: encoded.bytes.length, classNameLength: 0,
    }, record);
    record.set(encoded.bytes, KEY_NAME_OFFSET);
    s.write(HIVE_BINS_START + nk + 4, record);
    s.setU32(HIVE_BINS_START + security + 4 + SecurityKey.fields.referenceCount.offset, skRefs + 1);

    insertSubkey(this.#space, this.#hive, parent, siblings, nk, name, HIVE_BINS_START + parent.cellOffset + 4 + KeyNode.fields.subkeysListOffset.offset);
    s.setU32(this.#nkField(parent, 'numberOfSubkeys'), parent.node.numberOfSubkeys + 1);
    this.#raiseLargest(parent.cellOffset, 'largestSubkeyNameLength', name.length * 2, 0xffff);
    this.#touchKey(parent.cellOffset);
    const path = parentPath.split('\\').filter((p) => p !== '').concat(name).join('\\');
    this.#commit(() => {
      const added = this.#hive.key(path);
      if (!added || added.cellOffset !== nk || added.name !== name) {
        throw new LifeboatError('HIVE_WRITE_CHECK', `hive ${this.name}: key ${path} does not read back after it was added`, { hive: this.name, path });
      }
    });
    return path;
  }

  #writeInline(vk: number, data: Uint8Array): void {
    const field = new Uint8Array(4);
    field.set(data);
    this.#space.setU32(this.#vkField(vk, 'dataSize'), (DATA_INLINE | data.length) >>> 0);
    this.#space.write(this.#vkField(vk, 'dataOffset'), field);
  }

  /** The cells a value's data occupies (none when inline or empty): data cell, or db + list + segments. */
  #dataCells(value: Value): number[] {
    const st = value.storage;
    if (st.kind === 'cell') return [st.cellOffset];
    if (st.kind === 'big') return [st.dbOffset, st.segmentsListOffset, ...st.segments];
    return [];
  }

  /** Hives 1.4+ keep data over 16344 bytes as db big data ([MSR]); Windows reads it that way. */
  #needsBigData(length: number): boolean {
    return length > BIG_DATA_SEGMENT && this.#hive.minorVersion >= 4;
  }

  /**
   * New cells holding `data` (more than 4 bytes); returns what the vk's data offset names: one
   * data cell, or a db record whose segments list names segment cells of 16344 bytes (the last
   * holds the rest).
   */
  #storeData(data: Uint8Array): number {
    const s = this.#space;
    if (!this.#needsBigData(data.length)) {
      const cell = s.allocate(data.length);
      s.write(HIVE_BINS_START + cell + 4, data);
      return cell;
    }
    const count = Math.ceil(data.length / BIG_DATA_SEGMENT);
    const segments: number[] = [];
    for (let i = 0; i < count; i++) {
      const part = data.subarray(i * BIG_DATA_SEGMENT, (i + 1) * BIG_DATA_SEGMENT);
      // 4 spare bytes after each segment's data, as in Windows' full segments: hivex takes a
      // segment's cell size - 8 bytes, so a tight last segment would lose its tail there.
      const cell = s.allocate(part.length + 4);
      s.write(HIVE_BINS_START + cell + 4, part);
      segments.push(cell);
    }
    const list = s.allocate(count * 4);
    const listBytes = new Uint8Array(count * 4);
    segments.forEach((o, i) => new DataView(listBytes.buffer).setUint32(i * 4, o, true));
    s.write(HIVE_BINS_START + list + 4, listBytes);
    const db = s.allocate(BigData.size);
    s.write(HIVE_BINS_START + db + 4, BigData.encode({ signature: sig('db'), numberOfSegments: count, segmentsListOffset: list }));
    return db;
  }

  #checkWritableSize(value: Value, length: number): void {
    if (length > MAX_WRITABLE_DATA) this.#refuseBig(value.name, length);
  }

  #refuseBig(name: string, length: number): never {
    throw new UsageError(`value ${JSON.stringify(name)} of hive ${this.name}: ${length} bytes of data are more than `
      + `the ${MAX_WRITABLE_DATA} a db big data record can hold`, { hive: this.name, value: name, length });
  }

  /** Raise an nk "largest …" field to `length` if it is smaller (only the bits under `mask`: the rest are flags). */
  #raiseLargest(nk: number, field: 'largestValueDataSize' | 'largestValueNameLength' | 'largestSubkeyNameLength', length: number, mask = 0xffffffff): void {
    const at = this.#nkField(nk, field);
    const current = this.#space.u32(at);
    if ((current & mask) >>> 0 >= length) return;
    this.#space.setU32(at, ((current & ~mask) | (length & mask)) >>> 0);
  }

  #touchKey(nk: number): void {
    this.#space.setU64(this.#nkField(nk, 'lastWrittenTimestamp'), this.#timestamp());
  }

  /** Clean base block (both sequence numbers = opened primary + 1, time, checksum), re-read the hive, check the edit. */
  #commit(check: () => void): void {
    const s = this.#space;
    const f = RegfBaseBlock.fields;
    s.setU32(f.primarySequenceNumber.offset, this.#sequence);
    s.setU32(f.secondarySequenceNumber.offset, this.#sequence);
    s.setU64(f.lastWrittenTimestamp.offset, this.#timestamp());
    s.setU32(f.checksum.offset, regfChecksum(s.bytes));
    this.#hive = openHive(s.bytes, this.name);
    check();
  }

  #verifyValue(keyPath: string, name: string, type: number, data: Uint8Array): void {
    const v = this.#hive.key(keyPath)?.value(name);
    if (!v || v.type !== type || Buffer.compare(Buffer.from(v.data), Buffer.from(data)) !== 0) {
      throw new LifeboatError('HIVE_WRITE_CHECK',
        `hive ${this.name}: value ${JSON.stringify(name)} of ${keyPath} does not read back as the ${regTypeName(type)} just written`,
        { hive: this.name, key: keyPath, value: name });
    }
  }
}

/**
 * The writable bytes of a hive being edited and the space inside its bins (boot-and-bcd.md 5.2,
 * 5.3): every write goes through here and is recorded as a changed file range; cells are
 * allocated best-fit (the smallest free cell big enough, the first of equals) (split when the rest can hold a cell), or from a new hbin
 * of 4096·k bytes appended after the last one; freed cells become positive and merge with free
 * neighbours in their bin. Offsets taken and returned are cell offsets (relative to the bins).
 */
import { CorruptStructureError } from '../errors.ts';
import { HIVE_BINS_START, RegfBaseBlock } from './base-block.ts';
import { HBIN_HEADER_SIZE, HbinHeader } from './cells.ts';

/** Smallest cell: the size field plus 4 bytes. */
const MIN_CELL = 8;
const HBIN_UNIT = 4096;

export interface ByteRange {
  /** File offset. */
  offset: number;
  length: number;
}

/** Cell size (size field included, rounded up to 8) for a body of `body` bytes. */
export const cellSizeFor = (body: number): number => Math.max(MIN_CELL, (body + 4 + 7) & ~7);

export class CellSpace {
  #bytes: Uint8Array;
  #view: DataView;
  readonly #changes: ByteRange[] = [];

  constructor(bytes: Uint8Array) {
    this.#bytes = bytes;
    this.#view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  }

  /** The current hive bytes (a new array after an hbin was appended). */
  get bytes(): Uint8Array {
    return this.#bytes;
  }

  get hiveBinsDataSize(): number {
    return this.#view.getUint32(RegfBaseBlock.fields.hiveBinsDataSize.offset, true);
  }

  /** How many writes were made so far (an edit that fails after one leaves the hive half-written). */
  get writeCount(): number {
    return this.#changes.length;
  }

  /** Every file range written so far, sorted and merged. */
  changedRanges(): ByteRange[] {
    const sortedRanges = [...this.#changes].sort((a, b) => a.offset - b.offset);
    const out: ByteRange[] = [];
    for (const r of sortedRanges) {
      const last = out.at(-1);
      if (last && r.offset <= last.offset + last.length) {
        last.length = Math.max(last.length, r.offset + r.length - last.offset);
      } else {
        out.push({ ...r });
      }
    }
    return out;
  }

  write(fileOffset: number, data: Uint8Array): void {
    if (fileOffset < 0 || fileOffset + data.length > this.#bytes.length) {
      throw new RangeError(`hive write of ${data.length} bytes at ${fileOffset} outside ${this.#bytes.length} bytes`);
    }
    this.#bytes.set(data, fileOffset);
    if (data.length > 0) this.#changes.push({ offset: fileOffset, length: data.length });
  }

  u32(fileOffset: number): number {
    return this.#view.getUint32(fileOffset, true);
  }

  setU32(fileOffset: number, value: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setUint32(0, value >>> 0, true);
    this.write(fileOffset, b);
  }

  setU16(fileOffset: number, value: number): void {
    this.write(fileOffset, Uint8Array.of(value & 0xff, (value >> 8) & 0xff));
  }

  setU64(fileOffset: number, value: bigint): void {
    const b = new Uint8Array(8);
    new DataView(b.buffer).setBigUint64(0, value, true);
    this.write(fileOffset, b);
  }

  #setCellSize(cellOffset: number, signed: number): void {
    const b = new Uint8Array(4);
    new DataView(b.buffer).setInt32(0, signed, true);
    this.write(HIVE_BINS_START + cellOffset, b);
  }

  /** Bins in order, each header checked as the reader checks it. */
  *#bins(): Generator<{ start: number; end: number }> {
    const total = this.hiveBinsDataSize;
    let start = 0;
    while (start < total) {
      const fileOffset = HIVE_BINS_START + start;
      const h = HbinHeader.decode(this.#bytes, fileOffset);
      const fail = (problem: string) => new CorruptStructureError('hbin', fileOffset, problem);
      if (String.fromCharCode(...h.signature) !== 'hbin') throw fail('signature is not "hbin"');
      if (h.offset !== start) throw fail(`records its offset as ${h.offset}, not ${start}`);
      if (h.size < HBIN_UNIT || h.size % HBIN_UNIT !== 0 || start + h.size > total) {
        throw fail(`size ${h.size} is not a positive multiple of 4096 inside the ${total} bytes of hive bins`);
      }
      yield { start, end: start + h.size };
      start += h.size;
    }
  }

  /** The cells of one bin in order: offset, size, free. Sizes are checked so the walk cannot stall or leave the bin. */
  *#cells(bin: { start: number; end: number }): Generator<{ offset: number; size: number; free: boolean }> {
    let at = bin.start + HBIN_HEADER_SIZE;
    while (at < bin.end) {
      const raw = this.#view.getInt32(HIVE_BINS_START + at, true);
      const size = Math.abs(raw);
      if (size < MIN_CELL || size % 8 !== 0 || at + size > bin.end) {
        throw new CorruptStructureError('cell', HIVE_BINS_START + at,
          `size ${raw} is not a multiple of 8 of at least 8 ending inside its bin (ends at ${bin.end})`, { cellOffset: at });
      }
      yield { offset: at, size, free: raw > 0 };
      at += size;
    }
  }

  /**
   * A new allocated cell with a zeroed body of at least `body` bytes; returns its cell offset.
   * Best fit among free cells, split when the remainder can be a cell; else a new hbin.
   */
  allocate(body: number): number {
    const size = cellSizeFor(body);
    let best: { offset: number; size: number } | undefined;
    for (const bin of this.#bins()) {
      for (const c of this.#cells(bin)) {
        if (c.free && c.size >= size && (!best || c.size < best.size)) best = c;
      }
    }
    if (!best) return this.#appendBin(size);
    const rest = best.size - size;
    const taken = rest >= MIN_CELL ? size : best.size;
    this.#setCellSize(best.offset, -taken);
    this.write(HIVE_BINS_START + best.offset + 4, new Uint8Array(taken - 4));
    if (rest >= MIN_CELL) this.#setCellSize(best.offset + size, rest);
    return best.offset;
  }

  /** Append an hbin of 4096·k bytes holding a cell of `size` bytes (and a free cell after it). */
  #appendBin(size: number): number {
    const binsSize = this.hiveBinsDataSize;
    const binSize = Math.ceil((HBIN_HEADER_SIZE + size) / HBIN_UNIT) * HBIN_UNIT;
    const end = HIVE_BINS_START + binsSize + binSize;
    if (end > this.#bytes.length) {
      const grown = new Uint8Array(end);
      grown.set(this.#bytes);
      this.#bytes = grown;
      this.#view = new DataView(grown.buffer);
    }
    const header = new Uint8Array(HBIN_HEADER_SIZE);
    HbinHeader.encodeInto({ signature: Uint8Array.from('hbin', (c) => c.charCodeAt(0)), offset: binsSize, size: binSize,
      reserved: 0n, timestamp: 0n, spare: 0 }, header);
    const body = new Uint8Array(binSize);
    body.set(header);
    const cells = new DataView(body.buffer);
    cells.setInt32(HBIN_HEADER_SIZE, -size, true);
    const rest = binSize - HBIN_HEADER_SIZE - size;
    if (rest > 0) cells.setInt32(HBIN_HEADER_SIZE + size, rest, true);
    this.write(HIVE_BINS_START + binsSize, body);
    this.setU32(RegfBaseBlock.fields.hiveBinsDataSize.offset, binsSize + binSize);
    return binsSize + HBIN_HEADER_SIZE;
  }

  /** Mark an allocated cell free (positive size), merged with free cells directly before and after it in its bin. */
  free(cellOffset: number): void {
    for (const bin of this.#bins()) {
      if (cellOffset < bin.start || cellOffset >= bin.end) continue;
      let previousFree: { offset: number; size: number } | undefined;
      let target: { offset: number; size: number } | undefined;
      let next: { offset: number; size: number; free: boolean } | undefined;
      for (const c of this.#cells(bin)) {
        if (target) {
          next = c;
          break;
        }
        if (c.offset === cellOffset) {
          if (c.free) throw new CorruptStructureError('cell', HIVE_BINS_START + cellOffset, 'is already free', { cellOffset });
          target = c;
        } else {
          previousFree = c.free ? c : undefined;
        }
      }
      if (!target) break;
      const start = previousFree ? previousFree.offset : target.offset;
      const end = next?.free ? next.offset + next.size : target.offset + target.size;
      this.#setCellSize(start, end - start);
      return;
    }
    throw new CorruptStructureError('cell', HIVE_BINS_START + cellOffset, 'is not the start of a cell in any bin', { cellOffset });
  }
}

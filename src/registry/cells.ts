/**
 * Hive bins and cells (boot-and-bcd.md 5.2, 5.3). Bins are found lazily, walking the chain from
 * the first bin only as far as a requested cell needs; each bin header is checked (signature, its
 * own offset, size) before any cell inside it is trusted. A cell must lie wholly inside one bin.
 * Offsets here are "cell offsets" as the hive stores them: relative to the first bin.
 */
import { bytes, layout, u32le, u64le } from '../binary/layout.ts';
import { CorruptStructureError } from '../errors.ts';
import { HIVE_BINS_START } from './base-block.ts';

export const HBIN_HEADER_SIZE = 32;
/** Offset value meaning "no cell". */
export const NO_CELL = 0xffffffff;

export const HbinHeader = layout('hbin', HBIN_HEADER_SIZE, {
  signature: bytes(0x00, 4), // "hbin"
  offset: u32le(0x04), // of this bin from the start of the hive bins
  size: u32le(0x08), // multiple of 4096
  reserved: u64le(0x0c),
  timestamp: u64le(0x14), // FILETIME, first bin only
  spare: u32le(0x1c),
});

interface Bin {
  start: number;
  end: number;
}

/** One allocated cell: `data` is the cell body after the 4-byte size field. */
export interface Cell {
  /** Cell offset (of the size field), relative to the hive bins. */
  offset: number;
  /** Declared size including the size field (absolute value of the stored i32). */
  size: number;
  data: Uint8Array;
}

export class HiveBins {
  readonly #file: Uint8Array;
  readonly #size: number;
  readonly #bins: Bin[] = [];
  #scanned = 0;

  constructor(file: Uint8Array, hiveBinsDataSize: number) {
    this.#file = file;
    this.#size = hiveBinsDataSize;
  }

  get size(): number {
    return this.#size;
  }

  /** The bin holding cell offset `at`, reading bin headers up to it the first time. */
  binAt(at: number, what: string): Bin {
    if (at < 0 || at >= this.#size) {
      throw new CorruptStructureError(what, HIVE_BINS_START + at, `offset ${at} lies outside the ${this.#size} bytes of hive bins`);
    }
    while (this.#scanned <= at) {
      const start = this.#scanned;
      const fileOffset = HIVE_BINS_START + start;
      const h = HbinHeader.decode(this.#file, fileOffset);
      const fail = (problem: string) => new CorruptStructureError('hbin', fileOffset, problem);
      if (String.fromCharCode(...h.signature) !== 'hbin') throw fail('signature is not "hbin"');
      if (h.offset !== start) throw fail(`records its offset as ${h.offset}, not ${start}`);
      if (h.size < 4096 || h.size % 4096 !== 0) throw fail(`size ${h.size} is not a positive multiple of 4096`);
      if (start + h.size > this.#size) throw fail(`size ${h.size} goes past the ${this.#size} bytes of hive bins`);
      this.#bins.push({ start, end: start + h.size });
      this.#scanned = start + h.size;
    }
    // Bins are few and ordered: binary search.
    let lo = 0;
    let hi = this.#bins.length - 1;
    while (lo < hi) {
      const mid = (lo + hi + 1) >> 1;
      if (this.#bins[mid]!.start <= at) lo = mid;
      else hi = mid - 1;
    }
    return this.#bins[lo]!;
  }

  /**
   * The allocated cell at `offset`, for a record called `what`; `minData` bytes of body are
   * required. Free cells, misaligned offsets and cells crossing their bin are corrupt.
   */
  cell(offset: number, what: string, minData = 0): Cell {
    const fileOffset = HIVE_BINS_START + offset;
    const fail = (problem: string) => new CorruptStructureError(what, fileOffset, problem, { cellOffset: offset });
    if (offset === NO_CELL) throw fail('is required but the offset is 0xFFFFFFFF (none)');
    if (offset % 8 !== 0) throw fail(`cell offset ${offset} is not a multiple of 8`);
    const bin = this.binAt(offset, what);
    if (offset < bin.start + HBIN_HEADER_SIZE) throw fail(`cell offset ${offset} points into the header of the bin at ${bin.start}`);
    if (offset + 4 > bin.end) throw fail(`cell offset ${offset} leaves no room for a size field in its bin`);
    const raw = new DataView(this.#file.buffer, this.#file.byteOffset + fileOffset, 4).getInt32(0, true);
    if (raw >= 0) throw fail(`points at a free cell (size ${raw})`);
    const size = -raw;
    if (size < 8 || size % 8 !== 0) throw fail(`cell size ${size} is not a multiple of 8 of at least 8`);
    if (offset + size > bin.end) throw fail(`cell of ${size} bytes runs past its bin ending at ${bin.end}`);
    if (size - 4 < minData) throw fail(`cell holds ${size - 4} bytes, the record needs ${minData}`);
    return { offset, size, data: this.#file.subarray(fileOffset + 4, fileOffset + size) };
  }
}

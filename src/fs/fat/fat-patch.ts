/**
 * Changing FAT entries in every FAT copy: the sectors holding the entries a write touches are
 * read from each copy (so the copies can be compared before anything is written), patched in
 * memory and written back copy by copy. FAT12 entries may straddle two sectors; FAT32 entries
 * keep their top 4 reserved bits.
 */
import type { ReadableDevice, WritableDevice } from '../../device/block-device.ts';
import type { FatGeometry } from './boot-sector.ts';
import { FAT_FORMATS } from './fat-table.ts';

interface Copy {
  index: number;
  /** Byte offset of the copy on the volume. */
  start: number;
  sectors: Map<number, Uint8Array>;
  dirty: Set<number>;
}

export class FatPatch {
  readonly #g: FatGeometry;
  readonly #copies: Copy[];
  readonly #bits: 12 | 16 | 32;

  private constructor(g: FatGeometry, copies: Copy[]) {
    this.#g = g;
    this.#copies = copies;
    this.#bits = FAT_FORMATS[g.kind].bits;
  }

  /** Bytes [at, at + width) of the entry of cluster n inside a FAT copy. */
  #span(n: number): { at: number; width: number } {
    return this.#bits === 12 ? { at: n + (n >>> 1), width: 2 } : { at: n * (this.#bits / 8), width: this.#bits / 8 };
  }

  /**
   * Load the entries of `clusters` from the FAT copies numbered `copies` (all of them, or only
   * the active one when FAT32 mirroring is off).
   */
  static async load(device: ReadableDevice, g: FatGeometry, copies: readonly number[], clusters: Iterable<number>): Promise<FatPatch> {
    const patch = new FatPatch(g, copies.map((index) => ({
      index, start: (g.reservedSectors + index * g.fatSectors) * g.bytesPerSector, sectors: new Map(), dirty: new Set(),
    })));
    const bps = g.bytesPerSector;
    const wanted = new Set<number>();
    for (const n of clusters) {
      const { at, width } = patch.#span(n);
      for (let s = Math.floor(at / bps); s <= Math.floor((at + width - 1) / bps); s++) wanted.add(s);
    }
    const sorted = [...wanted].sort((a, b) => a - b);
    for (const copy of patch.#copies) {
      for (let i = 0; i < sorted.length;) {
        let j = i + 1;
        while (j < sorted.length && sorted[j] === sorted[j - 1]! + 1 && j - i < 256) j++;
        const data = await device.read(copy.start + sorted[i]! * bps, (j - i) * bps);
        for (let k = i; k < j; k++) copy.sectors.set(sorted[k]!, data.subarray((k - i) * bps, (k - i + 1) * bps));
        i = j;
      }
    }
    return patch;
  }

  #byte(copy: Copy, at: number): number {
    const bps = this.#g.bytesPerSector;
    const sector = copy.sectors.get(Math.floor(at / bps));
    if (!sector) throw new Error(`FatPatch: FAT byte ${at} was not loaded`);
    return sector[at % bps]!;
  }

  #setByte(copy: Copy, at: number, value: number): void {
    const bps = this.#g.bytesPerSector;
    const s = Math.floor(at / bps);
    const sector = copy.sectors.get(s);
    if (!sector) throw new Error(`FatPatch: FAT byte ${at} was not loaded`);
    if (sector[at % bps] !== value) {
      sector[at % bps] = value;
      copy.dirty.add(s);
    }
  }

  #raw(copy: Copy, n: number): number {
    const { at, width } = this.#span(n);
    let v = 0;
    for (let i = width - 1; i >= 0; i--) v = v * 256 + this.#byte(copy, at + i);
    return v;
  }

  /** Entry of cluster n (masked) in the `i`-th loaded copy. */
  entry(n: number, i = 0): number {
    const raw = this.#raw(this.#copies[i]!, n);
    if (this.#bits === 12) return n & 1 ? raw >>> 4 : raw & 0xfff;
    return this.#bits === 16 ? raw : raw % 0x10000000;
  }

  /** Byte offset on the volume of cluster n's entry in the `i`-th loaded copy (messages). */
  entryOffset(n: number, i = 0): number {
    return this.#copies[i]!.start + this.#span(n).at;
  }

  /** FAT copy numbers loaded, in order. */
  get copyNumbers(): number[] {
    return this.#copies.map((c) => c.index);
  }

  /** Set cluster n's entry in every loaded copy. */
  set(n: number, value: number): void {
    for (const copy of this.#copies) {
      const { at, width } = this.#span(n);
      let raw = this.#raw(copy, n);
      if (this.#bits === 12) raw = n & 1 ? (raw & 0x000f) | (value << 4) : (raw & 0xf000) | value;
      else if (this.#bits === 16) raw = value;
      else raw = Math.floor(raw / 0x10000000) * 0x10000000 + value; // keep the reserved top 4 bits
      for (let i = 0; i < width; i++) this.#setByte(copy, at + i, Math.floor(raw / 256 ** i) & 0xff);
    }
  }

  /** Write the changed sectors, FAT copy after FAT copy. */
  async flush(device: WritableDevice): Promise<void> {
    const bps = this.#g.bytesPerSector;
    for (const copy of this.#copies) {
      for (const s of [...copy.dirty].sort((a, b) => a - b)) await device.write(copy.start + s * bps, copy.sectors.get(s)!);
      copy.dirty.clear();
    }
  }
}

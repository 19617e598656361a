/**
 * One copy of a file allocation table, read through a chunk cache. The same code serves
 * FAT12/16/32 and exFAT; only the entry width and the marker values differ (filesystems.md
 * 8.1 "FAT entries", exFAT specification 4.1).
 */
import type { ReadableDevice } from '../../device/block-device.ts';
import { ChunkCache } from './chunk-cache.ts';

export interface FatFormat {
  readonly bits: 12 | 16 | 32;
  /** FAT32 keeps 4 reserved bits on top; they are not part of the cluster number. */
  readonly mask: number;
  /** The bad-cluster marker. */
  readonly bad: number;
  /** Values from this one up end a chain. */
  readonly endOfChain: number;
}

export const FAT_FORMATS = {
  fat12: { bits: 12, mask: 0xfff, bad: 0xff7, endOfChain: 0xff8 },
  fat16: { bits: 16, mask: 0xffff, bad: 0xfff7, endOfChain: 0xfff8 },
  fat32: { bits: 32, mask: 0x0fffffff, bad: 0x0ffffff7, endOfChain: 0x0ffffff8 },
  // exFAT defines only 0xFFFFFFFF as the end; like Linux we read F8..FE as an end too.
  exfat: { bits: 32, mask: 0xffffffff, bad: 0xfffffff7, endOfChain: 0xfffffff8 },
} as const satisfies Record<string, FatFormat>;

export class FatTable {
  readonly format: FatFormat;
  /** Data clusters, numbered 2 .. clusterCount + 1. */
  readonly clusterCount: number;
  /** Byte offset of this FAT copy on the volume. */
  readonly start: number;
  readonly #cache: ChunkCache;

  /** The caller has checked that the region lies inside the volume and holds every entry. */
  constructor(device: ReadableDevice, start: number, length: number, format: FatFormat, clusterCount: number) {
    this.format = format;
    this.clusterCount = clusterCount;
    this.start = start;
    this.#cache = new ChunkCache(device, start, length);
  }

  /** Offset of cluster n's entry inside the FAT. */
  #at(n: number): number {
    const bits = this.format.bits;
    return bits === 12 ? n + (n >>> 1) : n * (bits / 8);
  }

  /** Byte offset of cluster n's entry on the volume, for messages. */
  entryOffset(n: number): number {
    return this.start + this.#at(n);
  }

  #decode(n: number, at: number): number {
    const bits = this.format.bits;
    if (bits === 12) {
      const word = this.#cache.u16(at);
      return n & 1 ? word >>> 4 : word & 0xfff;
    }
    const raw = bits === 16 ? this.#cache.u16(at) : this.#cache.u32(at);
    return (raw & this.format.mask) >>> 0;
  }

  /** Entry of cluster n (0 ≤ n ≤ clusterCount + 1), masked. */
  async entry(n: number): Promise<number> {
    const at = this.#at(n);
    const width = this.format.bits === 32 ? 4 : 2;
    if (!this.#cache.has(at, width)) await this.#cache.load(at, width);
    return this.#decode(n, at);
  }

  /** Visit the entries of every data cluster in order; chunks load as the scan reaches them. */
  async scan(visit: (cluster: number, value: number) => void): Promise<void> {
    const width = this.format.bits === 32 ? 4 : 2;
    const last = this.clusterCount + 1;
    for (let n = 2; n <= last; n++) {
      const at = this.#at(n);
      if (!this.#cache.has(at, width)) await this.#cache.load(at, width);
      visit(n, this.#decode(n, at));
    }
  }
}

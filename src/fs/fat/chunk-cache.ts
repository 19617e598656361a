/**
 * A byte region of a device (a FAT, an allocation bitmap) read lazily in aligned chunks and
 * kept, so walking a chain costs one device read per chunk instead of one per entry. A FAT32
 * FAT on a large disk is tens of MiB; the cache holds at most `maxBytes` and drops the chunks
 * loaded first when full.
 */
import type { ReadableDevice } from '../../device/block-device.ts';

export const DEFAULT_CHUNK = 256 * 1024;
export const DEFAULT_CACHE_BYTES = 64 * 1024 * 1024;

export class ChunkCache {
  readonly #device: ReadableDevice;
  readonly #start: number;
  /** Bytes of the region. */
  readonly length: number;
  readonly #chunkSize: number;
  readonly #maxChunks: number;
  readonly #chunks = new Map<number, Uint8Array>();

  /** The caller has checked that [start, start + length) lies inside the device. */
  constructor(device: ReadableDevice, start: number, length: number,
    options: { chunkSize?: number; maxBytes?: number } = {}) {
    this.#device = device;
    this.#start = start;
    this.length = length;
    this.#chunkSize = options.chunkSize ?? DEFAULT_CHUNK;
    this.#maxChunks = Math.max(2, Math.floor((options.maxBytes ?? DEFAULT_CACHE_BYTES) / this.#chunkSize));
  }

  /** True when bytes [offset, offset + n) of the region are loaded, so `byte()` may be used. */
  has(offset: number, n: number): boolean {
    const first = Math.floor(offset / this.#chunkSize);
    const last = Math.floor((offset + n - 1) / this.#chunkSize);
    for (let c = first; c <= last; c++) if (!this.#chunks.has(c)) return false;
    return true;
  }

  /** Load the chunks covering [offset, offset + n) (inside the region). */
  async load(offset: number, n: number): Promise<void> {
    const first = Math.floor(offset / this.#chunkSize);
    const last = Math.floor((offset + n - 1) / this.#chunkSize);
    for (let c = first; c <= last; c++) {
      if (this.#chunks.has(c)) continue;
      const from = c * this.#chunkSize;
      const data = await this.#device.read(this.#start + from, Math.min(this.#chunkSize, this.length - from));
      // Evict the oldest chunks, but never one this call needs.
      for (const key of this.#chunks.keys()) {
        if (this.#chunks.size < this.#maxChunks) break;
        if (key < first || key > last) this.#chunks.delete(key);
      }
      this.#chunks.set(c, data);
    }
  }

  /** A loaded byte: call `has`/`load` first (an unloaded byte is a programming error). */
  byte(offset: number): number {
    const chunk = this.#chunks.get(Math.floor(offset / this.#chunkSize));
    const b = chunk?.[offset % this.#chunkSize];
    if (b === undefined) throw new Error(`ChunkCache: byte ${offset} read before it was loaded`);
    return b;
  }

  u16(offset: number): number {
    return this.byte(offset) | (this.byte(offset + 1) << 8);
  }

  u32(offset: number): number {
    return (this.byte(offset) | (this.byte(offset + 1) << 8) | (this.byte(offset + 2) << 16) | (this.byte(offset + 3) << 24)) >>> 0;
  }
}

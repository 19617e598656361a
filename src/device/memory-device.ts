/** A device held in memory: decoder tests, small fixtures, and scratch targets. */
import { checkRange, type ReadableDevice, type WritableDevice } from './block-device.ts';

export class MemoryDevice implements WritableDevice {
  readonly writable = true;
  readonly name: string;
  readonly sectorSize: number;
  readonly #bytes: Uint8Array;

  constructor(bytes: Uint8Array, options: { sectorSize?: number; name?: string } = {}) {
    this.#bytes = bytes;
    this.sectorSize = options.sectorSize ?? 512;
    this.name = options.name ?? 'memory';
  }

  get size(): number {
    return this.#bytes.length;
  }

  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange(this, offset, length);
    return this.#bytes.slice(offset, offset + length);
  }

  async write(offset: number, data: Uint8Array): Promise<void> {
    checkRange(this, offset, data.length);
    this.#bytes.set(data, offset);
  }

  async flush(): Promise<void> {}

  async close(): Promise<void> {}

  /** A read-only view of the same bytes, as a backup source would be. */
  readOnly(): ReadableDevice {
    return {
      name: this.name, size: this.size, sectorSize: this.sectorSize, writable: false,
      read: (offset, length) => this.read(offset, length),
      close: async () => {},
    };
  }
}

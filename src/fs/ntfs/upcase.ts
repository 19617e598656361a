/**
 * Name comparison through the volume's own $UpCase table (filesystems.md 4.3): the collation
 * of $I30 indexes, which Windows versions changed, so it is read from the volume, never built in.
 */
import { CorruptStructureError } from '../../errors.ts';

export const UPCASE_BYTES = 65536 * 2;

export class UpCase {
  readonly #table: Uint16Array;

  constructor(table: Uint16Array) {
    this.#table = table;
  }

  static decode(data: Uint8Array, offset: number): UpCase {
    if (data.length !== UPCASE_BYTES) {
      throw new CorruptStructureError('$UpCase', offset, `is ${data.length} bytes, not ${UPCASE_BYTES}`);
    }
    const table = new Uint16Array(65536);
    const view = new DataView(data.buffer, data.byteOffset, data.length);
    for (let i = 0; i < 65536; i++) table[i] = view.getUint16(2 * i, true);
    return new UpCase(table);
  }

  /** COLLATION_FILENAME: upper-cased code units compared as unsigned numbers, shorter first. */
  compare(a: string, b: string): number {
    const n = Math.min(a.length, b.length);
    for (let i = 0; i < n; i++) {
      const x = this.#table[a.charCodeAt(i)]!;
      const y = this.#table[b.charCodeAt(i)]!;
      if (x !== y) return x < y ? -1 : 1;
    }
    return a.length - b.length;
  }

  equal(a: string, b: string): boolean {
    return a.length === b.length && this.compare(a, b) === 0;
  }
}

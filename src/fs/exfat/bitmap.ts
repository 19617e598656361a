/**
 * The allocation bitmap (exFAT specification 7.1): bit i, least significant first, says
 * whether cluster i + 2 is in use. It, not the FAT, is the authority on allocation. Fed in
 * pieces so a large volume's bitmap is never held whole; bits past ClusterCount are ignored.
 */

export class BitmapRuns {
  readonly #clusterCount: number;
  readonly #onRun: (firstCluster: number, count: number) => void;
  /** Index of the next bit to be fed. */
  #bit = 0;
  #runStart = -1;
  used = 0;

  /** `onRun` receives each run of used clusters, in ascending order. */
  constructor(clusterCount: number, onRun: (firstCluster: number, count: number) => void) {
    this.#clusterCount = clusterCount;
    this.#onRun = onRun;
  }

  feed(bytes: Uint8Array): void {
    for (let i = 0; i < bytes.length && this.#bit < this.#clusterCount; i++) {
      const b = bytes[i]!;
      // Whole bytes of 0x00 or 0xFF (the common case) without looking at each bit.
      if ((b === 0 || b === 0xff) && this.#bit + 8 <= this.#clusterCount) {
        if (b === 0) this.#close();
        else {
          if (this.#runStart < 0) this.#runStart = this.#bit;
          this.used += 8;
        }
        this.#bit += 8;
        continue;
      }
      for (let k = 0; k < 8 && this.#bit < this.#clusterCount; k++, this.#bit++) {
        if (b & (1 << k)) {
          if (this.#runStart < 0) this.#runStart = this.#bit;
          this.used++;
        } else {
          this.#close();
        }
      }
    }
  }

  /** Call once after the last piece. */
  finish(): void {
    this.#close();
  }

  #close(): void {
    if (this.#runStart >= 0) this.#onRun(this.#runStart + 2, this.#bit - this.#runStart);
    this.#runStart = -1;
  }
}

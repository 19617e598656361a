/**
 * Sorted, non-overlapping, non-adjacent byte ranges: what intelligent copy reads from a volume,
 * and where a file's data lies. Immutable; every operation returns a new list in linear time.
 * Offsets are bytes from the start of the volume.
 */
export interface Extent {
  readonly start: number;
  readonly length: number;
}

export class ExtentList {
  /** Normalised: sorted by start, lengths > 0, gaps between consecutive extents. */
  readonly extents: readonly Extent[];

  private constructor(extents: readonly Extent[]) {
    this.extents = extents;
  }

  static readonly empty = new ExtentList([]);

  /** Any ranges, in any order, overlapping or not; empty ones are dropped. */
  static of(ranges: Iterable<Extent>): ExtentList {
    const sorted = [...ranges].filter((r) => r.length > 0).sort((a, b) => a.start - b.start);
    const out: Extent[] = [];
    for (const r of sorted) {
      const last = out[out.length - 1];
      if (last && r.start <= last.start + last.length) {
        const end = Math.max(last.start + last.length, r.start + r.length);
        out[out.length - 1] = { start: last.start, length: end - last.start };
      } else {
        out.push({ start: r.start, length: r.length });
      }
    }
    return new ExtentList(out);
  }

  /** Builder for long, already ascending sequences (cluster bitmaps): appends merge in O(1). */
  static builder(): { add(start: number, length: number): void; build(): ExtentList } {
    const out: Extent[] = [];
    let sorted = true;
    return {
      add(start, length) {
        if (length <= 0) return;
        const last = out[out.length - 1];
        if (last && start < last.start) sorted = false;
        if (last && sorted && start <= last.start + last.length) {
          const end = Math.max(last.start + last.length, start + length);
          out[out.length - 1] = { start: last.start, length: end - last.start };
        } else {
          out.push({ start, length });
        }
      },
      build: () => (sorted ? new ExtentList(out) : ExtentList.of(out)),
    };
  }

  get count(): number {
    return this.extents.length;
  }

  /** Total bytes covered. */
  get bytes(): number {
    let n = 0;
    for (const e of this.extents) n += e.length;
    return n;
  }

  union(other: ExtentList): ExtentList {
    return ExtentList.of([...this.extents, ...other.extents]);
  }

  /** The parts of this list not covered by `other`. */
  subtract(other: ExtentList): ExtentList {
    const out: Extent[] = [];
    const cut = other.extents;
    let j = 0;
    for (const e of this.extents) {
      let start = e.start;
      const end = e.start + e.length;
      while (j < cut.length && cut[j]!.start + cut[j]!.length <= start) j++;
      let k = j;
      while (k < cut.length && cut[k]!.start < end) {
        const c = cut[k]!;
        if (c.start > start) out.push({ start, length: c.start - start });
        start = Math.max(start, c.start + c.length);
        if (start >= end) break;
        k++;
      }
      if (start < end) out.push({ start, length: end - start });
    }
    return new ExtentList(out);
  }

  intersect(other: ExtentList): ExtentList {
    const out: Extent[] = [];
    let i = 0;
    let j = 0;
    const a = this.extents;
    const b = other.extents;
    while (i < a.length && j < b.length) {
      const start = Math.max(a[i]!.start, b[j]!.start);
      const end = Math.min(a[i]!.start + a[i]!.length, b[j]!.start + b[j]!.length);
      if (start < end) out.push({ start, length: end - start });
      if (a[i]!.start + a[i]!.length < b[j]!.start + b[j]!.length) i++;
      else j++;
    }
    return new ExtentList(out);
  }

  /** Clip to [0, size): used to keep a map inside its volume. */
  clip(size: number): ExtentList {
    return this.intersect(new ExtentList(size > 0 ? [{ start: 0, length: size }] : []));
  }

  contains(offset: number): boolean {
    let lo = 0;
    let hi = this.extents.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      const e = this.extents[mid]!;
      if (offset < e.start) hi = mid - 1;
      else if (offset >= e.start + e.length) lo = mid + 1;
      else return true;
    }
    return false;
  }

  shift(by: number): ExtentList {
    return new ExtentList(this.extents.map((e) => ({ start: e.start + by, length: e.length })));
  }

  toJSON(): Array<[number, number]> {
    return this.extents.map((e) => [e.start, e.length]);
  }
}

/**
 * Reading a non-resident attribute's bytes through its runs: sparse runs and the part past the
 * initialized size read as zeros; LZNT1-compressed attributes are expanded per compression unit.
 */
import type { ReadableDevice } from '../../device/block-device.ts';
import { CorruptStructureError } from '../../errors.ts';
import { ExtentList } from '../extents.ts';
import { decompressLznt1 } from './lznt1.ts';
import type { Run } from './runlist.ts';

export interface StreamShape {
  runs: Run[];
  dataSize: number;
  initializedSize: number;
  /** log2 of clusters per compression unit when LZNT1-compressed, else 0. */
  compressionUnit: number;
  compressed: boolean;
}

export class DataStream {
  readonly #volume: ReadableDevice;
  readonly #clusterSize: number;
  readonly shape: StreamShape;
  readonly #name: string;

  constructor(volume: ReadableDevice, clusterSize: number, shape: StreamShape, name: string) {
    this.#volume = volume;
    this.#clusterSize = clusterSize;
    this.shape = shape;
    this.#name = name;
  }

  get size(): number {
    return this.shape.dataSize;
  }

  /** Allocated clusters as volume byte ranges. */
  extents(): ExtentList {
    const b = ExtentList.builder();
    for (const r of this.shape.runs) if (r.lcn !== null) b.add(r.lcn * this.#clusterSize, r.length * this.#clusterSize);
    return b.build();
  }

  async read(position: number, length: number): Promise<Uint8Array> {
    const end = Math.min(position + length, this.shape.dataSize);
    if (position >= end) return new Uint8Array(0);
    const out = this.shape.compressed
      ? await this.#readCompressed(position, end)
      : await this.#readClusters(position, end);
    const validEnd = this.shape.initializedSize - position;
    if (validEnd < out.length) out.fill(0, Math.max(0, validEnd));
    return out;
  }

  async readAll(): Promise<Uint8Array> {
    return this.read(0, this.shape.dataSize);
  }

  /** Raw clusters for [start, end) of the stream, zeros where sparse or past the runs. */
  async #readClusters(start: number, end: number): Promise<Uint8Array> {
    const cs = this.#clusterSize;
    const out = new Uint8Array(end - start);
    for (const r of this.shape.runs) {
      const runStart = r.vcn * cs;
      const runEnd = runStart + r.length * cs;
      const from = Math.max(start, runStart);
      const to = Math.min(end, runEnd);
      if (from >= to || r.lcn === null) continue;
      out.set(await this.#volume.read(r.lcn * cs + (from - runStart), to - from), from - start);
    }
    return out;
  }

  async #readCompressed(start: number, end: number): Promise<Uint8Array> {
    const cs = this.#clusterSize;
    const unitClusters = 2 ** this.shape.compressionUnit;
    const unitBytes = unitClusters * cs;
    const out = new Uint8Array(end - start);
    for (let unit = Math.floor(start / unitBytes); unit * unitBytes < end; unit++) {
      const data = await this.#readUnit(unit, unitClusters, unitBytes);
      const unitStart = unit * unitBytes;
      const from = Math.max(start, unitStart);
      const to = Math.min(end, unitStart + unitBytes);
      out.set(data.subarray(from - unitStart, to - unitStart), from - start);
    }
    return out;
  }

  async #readUnit(unit: number, unitClusters: number, unitBytes: number): Promise<Uint8Array> {
    const firstVcn = unit * unitClusters;
    let allocated = 0;
    let sparse = 0;
    for (const r of this.shape.runs) {
      const from = Math.max(firstVcn, r.vcn);
      const to = Math.min(firstVcn + unitClusters, r.vcn + r.length);
      if (from < to) {
        if (r.lcn === null) sparse += to - from;
        else allocated += to - from;
      }
    }
    const raw = await this.#readClusters(firstVcn * this.#clusterSize, (firstVcn + unitClusters) * this.#clusterSize);
    if (sparse === 0) return raw; // stored uncompressed
    if (allocated === 0) return new Uint8Array(unitBytes);
    try {
      return decompressLznt1(raw.subarray(0, allocated * this.#clusterSize), unitBytes, 0);
    } catch (e) {
      if (e instanceof CorruptStructureError) {
        throw new CorruptStructureError('LZNT1 compression unit', firstVcn * this.#clusterSize,
          `${this.#name}, unit ${unit}: ${e.message}`);
      }
      throw e;
    }
  }
}

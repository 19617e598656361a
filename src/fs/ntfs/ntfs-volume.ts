/**
 * An NTFS volume opened read-only: boot sector, $MFT, $UpCase, $Bitmap, label — and the
 * FilesystemReader operations (path lookup, listing, file content and extents, allocation map).
 */
import type { ReadableDevice } from '../../device/block-device.ts';
import { CorruptStructureError, NotFoundError, UsageError } from '../../errors.ts';
import { ExtentList } from '../extents.ts';
import type { DirEntry, FileLayout, FilesystemReader } from '../volume.ts';
import { decodeNtfsBootSector, type NtfsGeometry } from './boot-sector.ts';
import { DataStream } from './data-stream.ts';
import { DirectoryIndex, NAMESPACE_DOS, type IndexEntry } from './directory-index.ts';
import { isInUse, Mft, MFT_RECORD, type NtfsFile } from './mft.ts';
import { ATTR, RECORD_IS_DIRECTORY } from './record.ts';
import { UpCase } from './upcase.ts';

const FILE_ATTRIBUTE_DIRECTORY = 0x10;
const FILETIME_UNIX_EPOCH = 116444736000000000n;
/** $Boot is 8 KiB; always copied whatever $Bitmap says (filesystems.md 1.1, 3.4). */
const BOOT_FILE_BYTES = 8192;
const BITMAP_READ_CHUNK = 4 << 20;

const filetime = (v: bigint): Date => new Date(Number((v - FILETIME_UNIX_EPOCH) / 10000n));

export function splitPath(path: string): string[] {
  return path.split(/[\\/]+/).filter((c) => c.length > 0);
}

export class NtfsVolume implements FilesystemReader {
  readonly kind = 'ntfs' as const;
  readonly volume: ReadableDevice;
  readonly geometry: NtfsGeometry;
  readonly mft: Mft;
  readonly upcase: UpCase;
  readonly label: string;

  private constructor(volume: ReadableDevice, geometry: NtfsGeometry, mft: Mft, upcase: UpCase, label: string) {
    this.volume = volume;
    this.geometry = geometry;
    this.mft = mft;
    this.upcase = upcase;
    this.label = label;
  }

  static async open(volume: ReadableDevice): Promise<NtfsVolume> {
    if (volume.size < 512) throw new CorruptStructureError('NTFS boot sector', 0, `the volume is only ${volume.size} bytes`);
    const geometry = decodeNtfsBootSector(await volume.read(0, 512), volume.size);
    const mft = await Mft.open(volume, geometry);
    const upcaseFile = await mft.file(MFT_RECORD.upcase);
    const upcase = UpCase.decode(await readWhole(mft.openStream(upcaseFile, ATTR.data, '')), mft.recordOffset(MFT_RECORD.upcase));
    const volumeFile = await mft.file(MFT_RECORD.volume);
    const name = mft.openStream(volumeFile, ATTR.volumeName, '');
    const label = name ? Buffer.from(await readWhole(name)).toString('utf16le') : '';
    return new NtfsVolume(volume, geometry, mft, upcase, label);
  }

  get clusterSize(): number {
    return this.geometry.clusterSize;
  }

  get volumeSize(): number {
    return this.volume.size;
  }

  /** Base record of the file at `path`. */
  async resolve(path: string): Promise<{ file: NtfsFile; entry?: IndexEntry }> {
    let file = await this.mft.file(MFT_RECORD.root);
    let entry: IndexEntry | undefined;
    const parts = splitPath(path);
    for (let i = 0; i < parts.length; i++) {
      const here = `\\${parts.slice(0, i).join('\\')}`;
      if (!(file.flags & RECORD_IS_DIRECTORY)) throw new NotFoundError(`\\${parts.join('\\')}`, `${this.volume.name} (${here} is a file)`);
      const matches = await (await this.#index(file)).lookup(parts[i]!, this.upcase);
      const exact = matches.find((m) => m.name === parts[i]) ?? matches[0];
      if (!exact) throw new NotFoundError(`\\${parts.slice(0, i + 1).join('\\')}`, this.volume.name);
      const next = await this.mft.file(exact.recordNumber);
      if (next.sequenceNumber !== exact.sequenceNumber) {
        throw new CorruptStructureError(`index entry for ${parts[i]}`, this.mft.recordOffset(exact.recordNumber),
          `points at record ${exact.recordNumber} sequence ${exact.sequenceNumber}, the record has sequence ${next.sequenceNumber}`);
      }
      file = next;
      entry = exact;
    }
    return entry ? { file, entry } : { file };
  }

  async #index(dir: NtfsFile): Promise<DirectoryIndex> {
    const root = dir.attributes.find((a) => a.type === ATTR.indexRoot && a.name === '$I30');
    if (!root?.resident) throw new CorruptStructureError(`MFT record ${dir.recordNumber}`, this.mft.recordOffset(dir.recordNumber), 'directory has no resident $INDEX_ROOT:$I30');
    const allocation = this.mft.openStream(dir, ATTR.indexAllocation, '$I30');
    const bitmap = this.mft.openStream(dir, ATTR.bitmap, '$I30');
    return new DirectoryIndex({
      root: root.value,
      ...(allocation instanceof DataStream ? { allocation } : {}),
      ...(bitmap ? { bitmap: await readWhole(bitmap) } : {}),
      clusterSize: this.geometry.clusterSize,
      recordNumber: dir.recordNumber,
      offset: root.offset,
    });
  }

  #dirEntry(file: NtfsFile, name: string): DirEntry {
    const si = file.attributes.find((a) => a.type === ATTR.standardInformation);
    const isDirectory = (file.flags & RECORD_IS_DIRECTORY) !== 0;
    const data = file.attributes.filter((a) => a.type === ATTR.data);
    const sizeOf = (streamName: string) => {
      const parts = data.filter((a) => a.name === streamName);
      const first = parts.find((a) => a.resident || a.lowestVcn === 0);
      return first ? (first.resident ? first.value.length : first.dataSize) : 0;
    };
    const entry: DirEntry = {
      name, isDirectory, size: isDirectory ? 0 : sizeOf(''), attributes: 0, id: file.recordNumber,
    };
    if (si?.resident && si.value.length >= 0x24) {
      const v = new DataView(si.value.buffer, si.value.byteOffset, si.value.length);
      entry.created = filetime(v.getBigUint64(0x00, true));
      entry.modified = filetime(v.getBigUint64(0x08, true));
      entry.accessed = filetime(v.getBigUint64(0x18, true));
      entry.attributes = v.getUint32(0x20, true);
    }
    if (isDirectory) entry.attributes |= FILE_ATTRIBUTE_DIRECTORY;
    const streams = [...new Set(data.filter((a) => a.name !== '').map((a) => a.name))];
    if (streams.length > 0) entry.streams = streams.map((s) => ({ name: s, size: sizeOf(s) }));
    return entry;
  }

  async list(path: string): Promise<DirEntry[]> {
    const { file } = await this.resolve(path);
    if (!(file.flags & RECORD_IS_DIRECTORY)) throw new UsageError(`${path} is a file, not a directory`, { path });
    const out: DirEntry[] = [];
    for (const e of await (await this.#index(file)).entries()) {
      if (e.namespace === NAMESPACE_DOS) continue; // the 8.3 alias of a Win32 name listed too
      if (e.recordNumber === file.recordNumber) continue; // the root's "." entry for itself
      const child = await this.mft.file(e.recordNumber);
      if (!isInUse(child) || child.sequenceNumber !== e.sequenceNumber) continue; // stale entry
      out.push(this.#dirEntry(child, e.name));
    }
    return out;
  }

  async stat(path: string): Promise<DirEntry> {
    const { file, entry } = await this.resolve(path);
    return this.#dirEntry(file, entry?.name ?? '');
  }

  async #stream(path: string, stream = ''): Promise<DataStream | Uint8Array> {
    const { file } = await this.resolve(path);
    const s = this.mft.openStream(file, ATTR.data, stream);
    if (!s) throw new NotFoundError(`${path}${stream ? `:${stream}` : ''} data`, this.volume.name);
    return s;
  }

  async readFile(path: string, stream = ''): Promise<Uint8Array> {
    return readWhole(await this.#stream(path, stream));
  }

  async fileExtents(path: string, stream = ''): Promise<ExtentList> {
    const s = await this.#stream(path, stream);
    return s instanceof DataStream ? s.extents() : ExtentList.empty;
  }

  /** Resident data lives in its MFT record and compressed data is not its bytes: neither is plain. */
  async fileLayout(path: string, stream = ''): Promise<FileLayout> {
    const s = await this.#stream(path, stream);
    if (!(s instanceof DataStream)) return { size: s.length, runs: [], plain: false };
    const cs = this.geometry.clusterSize;
    const runs = s.shape.runs.map((r) => ({ fileOffset: r.vcn * cs, volumeOffset: r.lcn === null ? null : r.lcn * cs, length: r.length * cs }));
    return { size: s.size, runs, plain: !s.shape.compressed && s.shape.initializedSize === s.shape.dataSize };
  }

  /** $Bitmap as extents of used clusters below the cluster count (padding bits ignored). Cached. */
  bitmapExtents(): Promise<{ extents: ExtentList; clusters: number }> {
    this.#bitmap ??= this.#scanBitmap();
    return this.#bitmap;
  }

  #bitmap?: Promise<{ extents: ExtentList; clusters: number }>;

  async #scanBitmap(): Promise<{ extents: ExtentList; clusters: number }> {
    const bitmap = this.mft.openStream(await this.mft.file(MFT_RECORD.bitmap), ATTR.data, '');
    if (!bitmap) throw new CorruptStructureError('$Bitmap', this.mft.recordOffset(MFT_RECORD.bitmap), 'has no $DATA');
    const { clusters, clusterSize } = this.geometry;
    const needed = Math.ceil(clusters / 8);
    const size = bitmap instanceof DataStream ? bitmap.size : bitmap.length;
    if (size < needed) throw new CorruptStructureError('$Bitmap', this.mft.recordOffset(MFT_RECORD.bitmap), `is ${size} bytes, ${clusters} clusters need ${needed}`);
    const builder = ExtentList.builder();
    let used = 0;
    let runStart = -1;
    const close = (end: number) => {
      builder.add(runStart * clusterSize, (end - runStart) * clusterSize);
      used += end - runStart;
      runStart = -1;
    };
    for (let base = 0; base < needed; base += BITMAP_READ_CHUNK) {
      const len = Math.min(BITMAP_READ_CHUNK, needed - base);
      const chunk = bitmap instanceof DataStream ? await bitmap.read(base, len) : bitmap.slice(base, base + len);
      // Whole 32-bit words that are all free (outside a run) or all used (inside one) are skipped.
      const words = new Uint32Array(chunk.buffer, chunk.byteOffset, chunk.length >> 2);
      for (let w = 0; w <= words.length; w++) {
        const word = w < words.length ? words[w]! : -1;
        if (word === 0 && runStart < 0) continue;
        if (word === 0xffffffff && runStart >= 0 && (base + 4 * w + 4) * 8 <= clusters) continue;
        const byteEnd = w < words.length ? 4 * w + 4 : chunk.length;
        for (let i = 4 * w; i < byteEnd; i++) {
          const byte = chunk[i]!;
          const first = (base + i) * 8;
          for (let bit = 0; bit < 8 && first + bit < clusters; bit++) {
            if (byte & (1 << bit)) {
              if (runStart < 0) runStart = first + bit;
            } else if (runStart >= 0) {
              close(first + bit);
            }
          }
        }
      }
    }
    if (runStart >= 0) close(clusters);
    return { extents: builder.build(), clusters: used };
  }

  async usedClusters(): Promise<number> {
    return (await this.bitmapExtents()).clusters;
  }

  /**
   * $Bitmap's used clusters, plus $Boot and the tail past the last cluster (the backup boot
   * sector lives there and no bitmap bit covers it, filesystems.md 1.4).
   */
  async allocationMap(): Promise<ExtentList> {
    const { extents } = await this.bitmapExtents();
    const tailStart = this.geometry.clusters * this.geometry.clusterSize;
    return extents
      .union(ExtentList.of([
        { start: 0, length: BOOT_FILE_BYTES },
        { start: tailStart, length: this.volume.size - tailStart },
      ]))
      .clip(this.volume.size);
  }
}

async function readWhole(s: DataStream | Uint8Array | undefined): Promise<Uint8Array> {
  if (s === undefined) return new Uint8Array(0);
  return s instanceof DataStream ? s.readAll() : s.slice();
}

export const openNtfs = (volume: ReadableDevice): Promise<NtfsVolume> => NtfsVolume.open(volume);

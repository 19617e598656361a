/**
 * exFAT volumes as a FilesystemReader (docs/formats/fat-exfat.md). `openExfat` validates the
 * main boot region (checksum included) and reads the root directory for the allocation
 * bitmap, up-case table and label; the rest is read on demand. Cluster chains, the FAT cache
 * and cluster I/O are shared with the FAT reader (../fat/).
 */
import type { ReadableDevice } from '../../device/block-device.ts';
import { CorruptStructureError, NotFoundError, UsageError } from '../../errors.ts';
import { ExtentList } from '../extents.ts';
import { contiguousRun, followChain, runClusters, type ClusterRun } from '../fat/chain.ts';
import { offsetInRuns, readRuns, runsToExtents, runsToFileRuns, type ClusterHeap } from '../fat/clusters.ts';
import { FAT_FORMATS, FatTable } from '../fat/fat-table.ts';
import { showPath, splitPath } from '../fat/path.ts';
import type { DirEntry, FileLayout, FilesystemReader } from '../volume.ts';
import { BitmapRuns } from './bitmap.ts';
import { BOOT_REGION_SECTORS, decodeExfatBootRegion, exfatSectorSize, type ExfatGeometry } from './boot-region.ts';
import { ATTR_DIRECTORY, parseExfatDirectory, type BitmapRef, type ExfatDirectory, type ExfatItem, type UpcaseRef } from './directory.ts';
import { decodeUpcaseTable, MAX_UPCASE_BYTES, upcase, type UpcaseTable } from './upcase.ts';

/** The specification caps a directory at 256 MiB. */
const MAX_DIRECTORY_BYTES = 256 * 1024 * 1024;
/** readFile returns a whole file in memory: up to FAT32's own limit. */
const MAX_WHOLE_FILE = 2 ** 32 - 1;
/** The structure named when an entry's FirstCluster or DataLength is wrong. */
const ENTRY = 'exFAT directory entry';
/** Bitmap pieces read at a time. */
const BITMAP_PIECE = 4 * 1024 * 1024;

interface Node {
  parts: string[];
  item?: ExfatItem;
  /** Volume offset of the item's File entry (0 for the root). */
  entryOffset: number;
}

/** Where some content lies: a file's stream extension, the bitmap, the up-case table. */
interface Allocation {
  firstCluster: number;
  dataLength: bigint;
  noFatChain: boolean;
}

interface BitmapScan {
  used: number;
  clusters: ExtentList;
}

export class ExfatReader implements FilesystemReader {
  readonly kind = 'exfat' as const;
  readonly label: string;
  readonly clusterSize: number;
  readonly volumeSize: number;
  readonly geometry: ExfatGeometry;
  readonly #device: ReadableDevice;
  readonly #fat: FatTable;
  readonly #heap: ClusterHeap;
  readonly #bitmap: BitmapRef;
  readonly #upcaseRef: UpcaseRef | undefined;
  #upcase: Promise<UpcaseTable> | undefined;
  #scan: Promise<BitmapScan> | undefined;

  private constructor(device: ReadableDevice, g: ExfatGeometry, fat: FatTable, root: ExfatDirectory, bitmap: BitmapRef) {
    this.#device = device;
    this.geometry = g;
    this.#fat = fat;
    this.#heap = { start: g.clusterHeapOffset * g.bytesPerSector, clusterSize: g.clusterSize };
    this.clusterSize = g.clusterSize;
    this.volumeSize = device.size;
    this.label = root.label ?? '';
    this.#bitmap = bitmap;
    this.#upcaseRef = root.upcase;
  }

  static async open(volume: ReadableDevice): Promise<ExfatReader> {
    if (volume.size < 512) {
      throw new CorruptStructureError('exFAT boot sector', 0, `the volume has only ${volume.size} bytes, a boot sector needs 512`);
    }
    const bps = exfatSectorSize(await volume.read(0, 512));
    const regionBytes = BOOT_REGION_SECTORS * bps;
    if (volume.size < regionBytes) {
      throw new CorruptStructureError('exFAT boot sector', 0, `the volume has only ${volume.size} bytes, the boot region needs ${regionBytes}`);
    }
    const g = decodeExfatBootRegion(await volume.read(0, regionBytes), volume.size);
    const fatStart = (g.fatOffset + g.activeFat * g.fatLength) * g.bytesPerSector;
    const fat = new FatTable(volume, fatStart, g.fatLength * g.bytesPerSector, FAT_FORMATS.exfat, g.clusterCount);
    const heap = { start: g.clusterHeapOffset * g.bytesPerSector, clusterSize: g.clusterSize };
    const root = await readDirectory(volume, heap, followChain(fat, g.rootCluster, '\\', {
      entryOffset: 0x60, entryStructure: 'exFAT boot sector', maxClusters: Math.ceil(MAX_DIRECTORY_BYTES / g.clusterSize),
    }));
    const bitmap = root.bitmaps.find((b) => (b.bitmapFlags & 1) === g.activeFat);
    if (!bitmap) {
      throw new CorruptStructureError('exFAT root directory', heap.start + (g.rootCluster - 2) * g.clusterSize,
        `no Allocation Bitmap entry${g.numberOfFats === 2 ? ` for FAT ${g.activeFat}` : ''}`);
    }
    const needed = Math.ceil(g.clusterCount / 8);
    if (bitmap.dataLength < BigInt(needed)) {
      throw new CorruptStructureError('exFAT allocation bitmap entry', bitmap.offset,
        `DataLength ${bitmap.dataLength} is less than the ${needed} bytes ${g.clusterCount} clusters need`);
    }
    return new ExfatReader(volume, g, fat, root, bitmap);
  }

  async usedClusters(): Promise<number> {
    return (await this.#scanBitmap()).used;
  }

  /**
   * Both boot regions (main and backup, 24 sectors), every FAT copy, and the clusters the
   * allocation bitmap marks used — the bitmap, up-case table and directories among them. The
   * alignment gaps before the FAT and the heap hold nothing; the sectors after the last
   * cluster are not addressed by any structure, so a restored volume reads the same without them.
   */
  async allocationMap(): Promise<ExtentList> {
    const g = this.geometry;
    const system = ExtentList.of([
      { start: 0, length: 2 * BOOT_REGION_SECTORS * g.bytesPerSector },
      { start: g.fatOffset * g.bytesPerSector, length: g.fatLength * g.numberOfFats * g.bytesPerSector },
    ]);
    return system.union((await this.#scanBitmap()).clusters).clip(this.volumeSize);
  }

  /** A damaged entry set fails the listing (lookups of its intact siblings still work). */
  async list(path: string): Promise<DirEntry[]> {
    const node = await this.#resolve(path);
    if (node.item && !(node.item.attributes & ATTR_DIRECTORY)) throw new UsageError(`${showPath(node.parts)} is a file, not a directory`, { path });
    const dir = await this.#directory(node);
    if (dir.problems[0]) throw dir.problems[0];
    return dir.items.map(toDirEntry);
  }

  async stat(path: string): Promise<DirEntry> {
    const node = await this.#resolve(path);
    if (node.item) return toDirEntry(node.item);
    return { name: '', isDirectory: true, size: 0, attributes: ATTR_DIRECTORY, id: this.geometry.rootCluster };
  }

  /** DataLength bytes: what the clusters hold up to ValidDataLength, zeros after it. */
  async readFile(path: string, stream?: string): Promise<Uint8Array> {
    const { item, runs } = await this.#fileRuns(path, stream);
    if (item.dataLength > BigInt(MAX_WHOLE_FILE)) {
      throw new UsageError(`${path} holds ${item.dataLength} bytes, more than readFile returns at once (${MAX_WHOLE_FILE}); read it through fileExtents`,
        { path, size: Number(item.dataLength) });
    }
    const out = new Uint8Array(Number(item.dataLength));
    out.set(await readRuns(this.#device, runs, this.#heap, Number(item.validDataLength)));
    return out;
  }

  /** The clusters allocated to the file (DataLength rounded up to clusters). */
  async fileExtents(path: string, stream?: string): Promise<ExtentList> {
    return runsToExtents((await this.#fileRuns(path, stream)).runs, this.#heap);
  }

  /** Plain only when every byte is valid: past ValidDataLength the clusters hold whatever they held. */
  async fileLayout(path: string, stream?: string): Promise<FileLayout> {
    const { item, runs } = await this.#fileRuns(path, stream);
    return { size: Number(item.dataLength), runs: runsToFileRuns(runs, this.#heap), plain: item.validDataLength === item.dataLength };
  }

  async #fileRuns(path: string, stream: string | undefined): Promise<{ item: ExfatItem; runs: ClusterRun[] }> {
    const node = await this.#resolve(path);
    const shown = showPath(node.parts);
    if (stream) throw new NotFoundError(`stream ${stream} of ${shown}`, this.#device.name);
    const item = node.item;
    if (!item || item.attributes & ATTR_DIRECTORY) throw new UsageError(`${shown} is a directory, not a file`, { path });
    return { item, runs: await this.#runs(item, shown, node.entryOffset + 32, this.geometry.clusterCount) };
  }

  /**
   * Clusters holding DataLength bytes: consecutive for NoFatChain, else the FAT chain.
   * `entryOffset` is the volume offset of the entry giving FirstCluster (for messages).
   */
  async #runs(item: Allocation, shown: string, entryOffset: number, maxClusters: number): Promise<ClusterRun[]> {
    const g = this.geometry;
    if (item.dataLength > BigInt(g.clusterCount) * BigInt(g.clusterSize)) {
      throw new CorruptStructureError(ENTRY, entryOffset,
        `DataLength ${item.dataLength} of ${shown} is more than the volume's ${g.clusterCount} clusters hold`, { file: shown });
    }
    const needed = Math.ceil(Number(item.dataLength) / g.clusterSize);
    if (needed === 0) return [];
    if (needed > maxClusters) {
      throw new CorruptStructureError(ENTRY, entryOffset,
        `${shown} needs ${needed} clusters, more than the limit of ${maxClusters}`, { file: shown });
    }
    if (item.noFatChain) return contiguousRun(item.firstCluster, needed, g.clusterCount, shown, { offset: entryOffset, structure: ENTRY });
    const chain = await followChain(this.#fat, item.firstCluster, shown, { entryOffset, entryStructure: ENTRY, stopAfter: needed });
    if (runClusters(chain) < needed) {
      throw new CorruptStructureError('FAT', this.#fat.entryOffset(item.firstCluster),
        `the chain of ${shown} has ${runClusters(chain)} clusters but DataLength ${item.dataLength} needs ${needed}`, { file: shown });
    }
    return chain;
  }

  async #resolve(path: string): Promise<Node> {
    const parts = splitPath(path);
    let node: Node = { parts: [], entryOffset: 0 };
    if (parts.length > 0) {
      const table = await this.#upcaseTable();
      for (const part of parts) {
        if (node.item && !(node.item.attributes & ATTR_DIRECTORY)) break;
        const dir = await this.#directory(node);
        const wanted = upcase(table, part);
        const found = dir.items.find((i) => upcase(table, i.name) === wanted);
        if (!found) break;
        node = { parts: [...node.parts, found.name], item: found, entryOffset: found.offset };
      }
    }
    if (node.parts.length < parts.length) throw new NotFoundError(showPath(parts), this.#device.name);
    return node;
  }

  /** Items carry volume offsets in `offset` (parseExfatDirectory is given the mapping). */
  async #directory(node: Node): Promise<ExfatDirectory> {
    const g = this.geometry;
    const shown = showPath(node.parts);
    if (!node.item) {
      return readDirectory(this.#device, this.#heap, followChain(this.#fat, g.rootCluster, shown, {
        entryOffset: 0x60, entryStructure: 'exFAT boot sector', maxClusters: Math.ceil(MAX_DIRECTORY_BYTES / g.clusterSize),
      }));
    }
    const runs = this.#runs(node.item, shown, node.entryOffset + 32, Math.ceil(MAX_DIRECTORY_BYTES / g.clusterSize));
    return readDirectory(this.#device, this.#heap, runs, Number(node.item.dataLength));
  }

  #upcaseTable(): Promise<UpcaseTable> {
    this.#upcase ??= (async () => {
      const ref = this.#upcaseRef;
      if (!ref) {
        throw new CorruptStructureError('exFAT root directory', this.#heap.start + (this.geometry.rootCluster - 2) * this.clusterSize,
          'no Up-case Table entry');
      }
      if (ref.dataLength === 0n || ref.dataLength > BigInt(MAX_UPCASE_BYTES)) {
        throw new CorruptStructureError('exFAT up-case table entry', ref.offset, `DataLength is ${ref.dataLength} (1..${MAX_UPCASE_BYTES} expected)`);
      }
      const runs = await this.#runs({ ...ref, noFatChain: false }, 'the up-case table', ref.offset, this.geometry.clusterCount);
      const data = await readRuns(this.#device, runs, this.#heap, Number(ref.dataLength));
      return decodeUpcaseTable(data, ref.tableChecksum, ref.offset);
    })();
    this.#upcase.catch(() => { this.#upcase = undefined; });
    return this.#upcase;
  }

  #scanBitmap(): Promise<BitmapScan> {
    this.#scan ??= (async () => {
      const g = this.geometry;
      const bytes = Math.ceil(g.clusterCount / 8);
      const runs = await this.#runs({ firstCluster: this.#bitmap.firstCluster, dataLength: BigInt(bytes), noFatChain: false },
        'the allocation bitmap', this.#bitmap.offset, g.clusterCount);
      const clusters = ExtentList.builder();
      const bitmap = new BitmapRuns(g.clusterCount, (first, count) => {
        clusters.add(this.#heap.start + (first - 2) * g.clusterSize, count * g.clusterSize);
      });
      let done = 0;
      for (const r of runs) {
        const start = this.#heap.start + (r.first - 2) * g.clusterSize;
        const length = Math.min(r.count * g.clusterSize, bytes - done);
        for (let at = 0; at < length; at += BITMAP_PIECE) {
          bitmap.feed(await this.#device.read(start + at, Math.min(BITMAP_PIECE, length - at)));
        }
        done += length;
      }
      bitmap.finish();
      return { used: bitmap.used, clusters: clusters.build() };
    })();
    this.#scan.catch(() => { this.#scan = undefined; });
    return this.#scan;
  }
}

/** A directory's bytes through its runs, parsed, with items' offsets made volume offsets. */
async function readDirectory(device: ReadableDevice, heap: ClusterHeap,
  runsPromise: Promise<ClusterRun[]>, length?: number): Promise<ExfatDirectory> {
  const runs = await runsPromise;
  const data = await readRuns(device, runs, heap, length ?? runClusters(runs) * heap.clusterSize);
  const offsetOf = (at: number) => offsetInRuns(runs, heap, at);
  const dir = parseExfatDirectory(data, offsetOf);
  for (const item of dir.items) item.offset = offsetOf(item.offset);
  return dir;
}

function toDirEntry(i: ExfatItem): DirEntry {
  const isDirectory = (i.attributes & ATTR_DIRECTORY) !== 0;
  return {
    name: i.name,
    isDirectory,
    size: isDirectory ? 0 : Number(i.dataLength),
    created: i.created,
    modified: i.modified,
    accessed: i.accessed,
    attributes: i.attributes,
    id: i.firstCluster,
  };
}

/** Open an exFAT volume; CorruptStructureError names the first boot-region check that fails. */
export function openExfat(volume: ReadableDevice): Promise<ExfatReader> {
  return ExfatReader.open(volume);
}

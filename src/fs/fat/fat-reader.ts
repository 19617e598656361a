/**
 * FAT12/16/32 volumes as a FilesystemReader (docs/formats/fat-exfat.md). `openFat` validates
 * the boot sector, then everything else is read on demand through the volume device: the FAT
 * through a chunk cache, directories whole (at most 65536 entries, the format's own limit).
 */
import type { ReadableDevice } from '../../device/block-device.ts';
import { CorruptStructureError, NotFoundError, UsageError } from '../../errors.ts';
import { ExtentList } from '../extents.ts';
import type { DirEntry, FileLayout, FilesystemReader } from '../volume.ts';
import { clusterOffset, decodeFatBootSector, type FatGeometry } from './boot-sector.ts';
import { followChain, runClusters, type ClusterRun } from './chain.ts';
import { offsetInRuns, readRuns, runsToExtents, runsToFileRuns, type ClusterHeap } from './clusters.ts';
import { ATTR_DIRECTORY, DIR_ENTRY_SIZE, parseFatDirectory, type FatDirItem } from './directory.ts';
import { FAT_FORMATS, FatTable } from './fat-table.ts';
import { upcaseUnits } from './names.ts';
import { showPath, splitPath } from './path.ts';

/** The FAT specification caps a directory at 65536 entries. */
const MAX_DIRECTORY_BYTES = 65536 * DIR_ENTRY_SIZE;

/** A resolved path: the root (no item) or an entry with the volume offset of its 32 bytes. */
interface Node {
  parts: string[];
  item?: FatDirItem;
  entryOffset: number;
}

interface FatScan {
  used: number;
  bad: number;
  clusters: ExtentList;
}

export class FatReader implements FilesystemReader {
  readonly kind: FatGeometry['kind'];
  readonly clusterSize: number;
  readonly volumeSize: number;
  readonly geometry: FatGeometry;
  /** Problems that did not stop the volume from opening (shown to the user by the caller). */
  readonly warnings: string[];
  readonly #device: ReadableDevice;
  readonly #fat: FatTable;
  readonly #heap: ClusterHeap;
  #scan: Promise<FatScan> | undefined;
  #label: string;

  private constructor(device: ReadableDevice, geometry: FatGeometry, fat: FatTable) {
    this.#device = device;
    this.geometry = geometry;
    this.#fat = fat;
    this.kind = geometry.kind;
    this.clusterSize = geometry.clusterSize;
    this.volumeSize = device.size;
    this.#heap = { start: geometry.firstDataSector * geometry.bytesPerSector, clusterSize: geometry.clusterSize };
    this.#label = geometry.bpbLabel;
    this.warnings = [];
  }

  get label(): string {
    return this.#label;
  }

  static async open(volume: ReadableDevice): Promise<FatReader> {
    if (volume.size < 512) {
      throw new CorruptStructureError('FAT boot sector', 0, `the volume has only ${volume.size} bytes, a boot sector needs 512`);
    }
    const g = decodeFatBootSector(await volume.read(0, 512), volume.size);
    const fatBytes = g.fatSectors * g.bytesPerSector;
    const fatStart = (g.reservedSectors + g.activeFat * g.fatSectors) * g.bytesPerSector;
    const fat = new FatTable(volume, fatStart, fatBytes, FAT_FORMATS[g.kind], g.clusterCount);
    const reader = new FatReader(volume, g, fat);
    // The label lives in the root directory; a damaged root must not stop imaging (which
    // needs only the FAT), so its error becomes a warning and the boot sector's label stands.
    try {
      reader.#label = (await reader.#directory({ parts: [], entryOffset: 0 })).label ?? g.bpbLabel;
    } catch (e) {
      if (!(e instanceof CorruptStructureError)) throw e;
      reader.warnings.push(`root directory unreadable, label taken from the boot sector: ${e.message}`);
    }
    return reader;
  }

  /** Clusters whose FAT entry is not 0, bad ones included (as fsck.fat counts them). */
  async usedClusters(): Promise<number> {
    return (await this.#scanFat()).used;
  }

  /** Clusters marked bad (0xFF7 / 0xFFF7 / 0x0FFFFFF7). */
  async badClusters(): Promise<number> {
    return (await this.#scanFat()).bad;
  }

  /**
   * The reserved region (boot sector, FAT32 FSInfo and backup boot sector), every FAT copy and
   * the FAT12/16 root directory — all of sectors 0 .. FirstDataSector − 1 — plus each cluster
   * with a FAT entry that is neither free nor bad. Bad clusters hold nothing and are the ones
   * most likely to fail on the source, so they are left out, as partclone.fat does.
   *
   * The sectors after the last whole cluster (up to BPB_TotSec and then to the end of the
   * partition) are not copied: no FAT structure lives there — unlike NTFS, FAT keeps no backup
   * boot sector at the end — and no cluster number can address them, so a restored volume
   * reads the same without them.
   */
  async allocationMap(): Promise<ExtentList> {
    const system = ExtentList.of([{ start: 0, length: this.#heap.start }]);
    return system.union((await this.#scanFat()).clusters).clip(this.volumeSize);
  }

  async list(path: string): Promise<DirEntry[]> {
    const node = await this.#resolve(path);
    if (node.item && !(node.item.attributes & ATTR_DIRECTORY)) throw new UsageError(`${showPath(node.parts)} is a file, not a directory`, { path });
    return (await this.#directory(node)).items.map(toDirEntry);
  }

  async stat(path: string): Promise<DirEntry> {
    const node = await this.#resolve(path);
    if (node.item) return toDirEntry(node.item);
    return { name: '', isDirectory: true, size: 0, attributes: ATTR_DIRECTORY, id: this.geometry.rootCluster };
  }

  async readFile(path: string, stream?: string): Promise<Uint8Array> {
    const { node, runs } = await this.#fileRuns(path, stream);
    return readRuns(this.#device, runs, this.#heap, node.item!.size);
  }

  /** The file's whole cluster chain (a chain longer than the size needs is still allocated). */
  async fileExtents(path: string, stream?: string): Promise<ExtentList> {
    return runsToExtents((await this.#fileRuns(path, stream)).runs, this.#heap);
  }

  async fileLayout(path: string, stream?: string): Promise<FileLayout> {
    const { node, runs } = await this.#fileRuns(path, stream);
    return { size: node.item!.size, runs: runsToFileRuns(runs, this.#heap), plain: true };
  }

  async #fileRuns(path: string, stream: string | undefined): Promise<{ node: Node; runs: ClusterRun[] }> {
    const node = await this.#resolve(path);
    const shown = showPath(node.parts);
    if (stream) throw new NotFoundError(`stream ${stream} of ${shown}`, this.#device.name);
    const item = node.item;
    if (!item || item.attributes & ATTR_DIRECTORY) throw new UsageError(`${shown} is a directory, not a file`, { path });
    if (item.size === 0 && item.firstCluster === 0) return { node, runs: [] };
    const runs = await followChain(this.#fat, item.firstCluster, shown, { entryOffset: node.entryOffset });
    const needed = Math.ceil(item.size / this.clusterSize);
    if (runClusters(runs) < needed) {
      throw new CorruptStructureError('FAT', this.#fat.entryOffset(item.firstCluster),
        `the chain of ${shown} has ${runClusters(runs)} clusters but its size (${item.size} bytes) needs ${needed}`,
        { file: shown, cluster: item.firstCluster });
    }
    return { node, runs };
  }

  async #resolve(path: string): Promise<Node> {
    const parts = splitPath(path);
    let node: Node = { parts: [], entryOffset: 0 };
    for (const part of parts) {
      if (node.item && !(node.item.attributes & ATTR_DIRECTORY)) break;
      const dir = await this.#directory(node);
      const wanted = upcaseUnits(part);
      const found = dir.items.find((i) => upcaseUnits(i.name) === wanted || upcaseUnits(i.shortName) === wanted);
      if (!found) break;
      node = { parts: [...node.parts, found.name], item: found, entryOffset: dir.offsetOf(found.offset) };
    }
    if (node.parts.length < parts.length) throw new NotFoundError(showPath(parts), this.#device.name);
    return node;
  }

  /** A directory's entries, and where each of its bytes lies on the volume. */
  async #directory(node: Node): Promise<ReturnType<typeof parseFatDirectory> & { offsetOf(at: number): number }> {
    const g = this.geometry;
    const shown = showPath(node.parts);
    if (!node.item && g.kind !== 'fat32') {
      const start = g.rootDirSector * g.bytesPerSector;
      const data = await this.#device.read(start, g.rootDirSectors * g.bytesPerSector);
      return { ...parseFatDirectory(data, false), offsetOf: (at) => start + at };
    }
    const first = node.item ? node.item.firstCluster : g.rootCluster;
    const runs = await followChain(this.#fat, first, shown, {
      entryOffset: node.entryOffset,
      maxClusters: Math.ceil(MAX_DIRECTORY_BYTES / this.clusterSize),
    });
    const data = await readRuns(this.#device, runs, this.#heap, runClusters(runs) * this.clusterSize);
    return { ...parseFatDirectory(data, g.kind === 'fat32'), offsetOf: (at) => offsetInRuns(runs, this.#heap, at) };
  }

  #scanFat(): Promise<FatScan> {
    this.#scan ??= (async () => {
      let used = 0;
      let bad = 0;
      const clusters = ExtentList.builder();
      const badMark = this.#fat.format.bad;
      await this.#fat.scan((n, value) => {
        if (value === 0) return;
        used++;
        if (value === badMark) bad++;
        else clusters.add(clusterOffset(this.geometry, n), this.clusterSize);
      });
      return { used, bad, clusters: clusters.build() };
    })();
    // A failed scan (a device error) is not remembered: the next call tries again.
    this.#scan.catch(() => { this.#scan = undefined; });
    return this.#scan;
  }
}

function toDirEntry(i: FatDirItem): DirEntry {
  return {
    name: i.name,
    isDirectory: (i.attributes & ATTR_DIRECTORY) !== 0,
    size: i.size,
    created: i.created,
    modified: i.modified,
    accessed: i.accessed,
    attributes: i.attributes,
    id: i.firstCluster,
  };
}

/** Open a FAT12/16/32 volume; CorruptStructureError names the first boot-sector field that fails. */
export function openFat(volume: ReadableDevice): Promise<FatReader> {
  return FatReader.open(volume);
}

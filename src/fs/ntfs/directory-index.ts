/**
 * Directory `$I30` indexes (filesystems.md 4.1, 4.2, 4.4, 4.5): the B-tree whose root lives in
 * `$INDEX_ROOT` and whose other nodes are INDX blocks in `$INDEX_ALLOCATION`. Lookup descends
 * by collation; enumeration walks it in order. Block VCNs are bounds-checked and each block is
 * visited at most once, so a cyclic tree ends in an error instead of a hang.
 */
import { ascii, layout, u16le, u32le, u64le, u8 } from '../../binary/layout.ts';
import { CorruptStructureError } from '../../errors.ts';
import { applyFixups } from './fixup.ts';
import type { DataStream } from './data-stream.ts';
import type { UpCase } from './upcase.ts';

export const IndexRootHeader = layout('IndexRoot', 0x10, {
  indexedAttributeType: u32le(0x00),
  collationRule: u32le(0x04),
  indexBlockSize: u32le(0x08),
  clustersPerIndexBlock: u8(0x0c),
});

export const IndexNodeHeader = layout('IndexNodeHeader', 0x10, {
  entriesOffset: u32le(0x00),
  entriesSize: u32le(0x04),
  allocatedSize: u32le(0x08),
  flags: u8(0x0c), // 0x01 node has children
});

export const IndexBlockHeader = layout('IndexBlock', 0x18, {
  signature: ascii(0x00, 4), // "INDX"
  usaOffset: u16le(0x04),
  usaCount: u16le(0x06),
  logFileSequenceNumber: u64le(0x08),
  vcn: u64le(0x10),
});

export const IndexEntryHeader = layout('IndexEntry', 0x10, {
  fileReference: u64le(0x00),
  length: u16le(0x08),
  keyLength: u16le(0x0a),
  flags: u16le(0x0c), // 0x01 has sub-node, 0x02 last entry
});

export const FileNameValue = layout('FileName', 0x42, {
  parentReference: u64le(0x00),
  creationTime: u64le(0x08),
  modificationTime: u64le(0x10),
  mftChangeTime: u64le(0x18),
  accessTime: u64le(0x20),
  allocatedSize: u64le(0x28),
  dataSize: u64le(0x30),
  fileAttributes: u32le(0x38),
  reparseTag: u32le(0x3c),
  nameLength: u8(0x40),
  namespace: u8(0x41), // 0 POSIX, 1 Win32, 2 DOS, 3 Win32 & DOS
});

export const NAMESPACE_DOS = 2;
const ENTRY_HAS_SUBNODE = 0x01;
const ENTRY_LAST = 0x02;
/** Deeper than this is not a real B-tree of file names. */
const MAX_DEPTH = 64;

export interface IndexEntry {
  recordNumber: number;
  sequenceNumber: number;
  name: string;
  namespace: number;
  fileAttributes: number;
}

interface Node {
  entries: Array<{ entry?: IndexEntry; subnode?: number }>;
}

export interface IndexSource {
  root: Uint8Array;
  allocation?: DataStream;
  bitmap?: Uint8Array;
  clusterSize: number;
  /** For messages: the directory's record number and the root's volume offset. */
  recordNumber: number;
  offset: number;
}

export class DirectoryIndex {
  readonly #src: IndexSource;
  readonly #blockSize: number;
  readonly #vcnUnit: number;
  readonly #root: Node;

  constructor(src: IndexSource) {
    this.#src = src;
    const where = `$INDEX_ROOT of MFT record ${src.recordNumber}`;
    const h = IndexRootHeader.decode(src.root);
    if (h.indexedAttributeType !== 0x30) throw new CorruptStructureError(where, src.offset, `indexes attribute 0x${h.indexedAttributeType.toString(16)}, not $FILE_NAME`);
    if (h.indexBlockSize < 512 || (h.indexBlockSize & (h.indexBlockSize - 1)) !== 0 || h.indexBlockSize > 65536) {
      throw new CorruptStructureError(where, src.offset, `index block size ${h.indexBlockSize} is not valid`);
    }
    this.#blockSize = h.indexBlockSize;
    // Sub-node VCNs count clusters, unless blocks are smaller than clusters: then 512-byte units.
    this.#vcnUnit = src.clusterSize <= h.indexBlockSize ? src.clusterSize : 512;
    this.#root = this.#decodeNode(src.root, 0x10, where, src.offset);
  }

  #decodeNode(b: Uint8Array, headerAt: number, where: string, offset: number): Node {
    const h = IndexNodeHeader.decode(b, headerAt);
    const start = headerAt + h.entriesOffset;
    const end = headerAt + h.entriesSize;
    if (h.entriesOffset < 0x10 || end > b.length || start > end) {
      throw new CorruptStructureError(where, offset + headerAt, `entries ${h.entriesOffset}..${h.entriesSize} fall outside the node`);
    }
    const entries: Node['entries'] = [];
    let pos = start;
    while (true) {
      if (pos + 0x10 > end) throw new CorruptStructureError(where, offset + pos, 'index entries end without a last entry');
      const e = IndexEntryHeader.decode(b, pos);
      if (e.length < 0x10 || pos + e.length > end || (e.flags & ENTRY_HAS_SUBNODE && e.length < 0x18)) {
        throw new CorruptStructureError(where, offset + pos, `index entry length ${e.length} does not fit the node`);
      }
      const subnode = e.flags & ENTRY_HAS_SUBNODE
        ? Number(new DataView(b.buffer, b.byteOffset + pos + e.length - 8, 8).getBigUint64(0, true))
        : undefined;
      if (e.flags & ENTRY_LAST) {
        entries.push(subnode === undefined ? {} : { subnode });
        return { entries };
      }
      if (e.keyLength < 0x42 || 0x10 + e.keyLength > e.length) {
        throw new CorruptStructureError(where, offset + pos, `key of ${e.keyLength} bytes does not fit its entry`);
      }
      const key = FileNameValue.decode(b, pos + 0x10);
      if (0x42 + 2 * key.nameLength > e.keyLength) throw new CorruptStructureError(where, offset + pos, 'file name runs past its key');
      const entry: IndexEntry = {
        recordNumber: Number(e.fileReference & 0xffffffffffffn),
        sequenceNumber: Number(e.fileReference >> 48n),
        name: Buffer.from(b.buffer, b.byteOffset + pos + 0x10 + 0x42, 2 * key.nameLength).toString('utf16le'),
        namespace: key.namespace,
        fileAttributes: key.fileAttributes,
      };
      entries.push(subnode === undefined ? { entry } : { entry, subnode });
      pos += e.length;
    }
  }

  async #block(vcn: number, visited: Set<number>): Promise<Node> {
    const alloc = this.#src.allocation;
    const where = `INDX block VCN ${vcn} of MFT record ${this.#src.recordNumber}`;
    const pos = vcn * this.#vcnUnit;
    if (!alloc || !Number.isSafeInteger(pos) || pos + this.#blockSize > alloc.size) {
      throw new CorruptStructureError(where, this.#src.offset, 'lies outside $INDEX_ALLOCATION');
    }
    if (visited.has(vcn)) throw new CorruptStructureError(where, this.#src.offset, 'is reached twice: the index is cyclic');
    visited.add(vcn);
    const blockNo = pos / this.#blockSize;
    const bitmap = this.#src.bitmap;
    if (bitmap && !(bitmap[blockNo >> 3]! & (1 << (blockNo & 7)))) {
      throw new CorruptStructureError(where, this.#src.offset, 'is referenced but marked free in $BITMAP:$I30');
    }
    const raw = await alloc.read(pos, this.#blockSize);
    const h = IndexBlockHeader.decode(raw);
    if (h.signature !== 'INDX') throw new CorruptStructureError(where, this.#src.offset, `signature is ${JSON.stringify(h.signature)}, not "INDX"`);
    applyFixups(raw, where, this.#src.offset);
    if (h.vcn !== BigInt(vcn)) throw new CorruptStructureError(where, this.#src.offset, `block says it is VCN ${h.vcn}`);
    return this.#decodeNode(raw, 0x18, where, this.#src.offset);
  }

  /** Every entry in collation order (DOS-namespace duplicates included; callers filter). */
  async entries(): Promise<IndexEntry[]> {
    const out: IndexEntry[] = [];
    const visited = new Set<number>();
    const walk = async (node: Node, depth: number): Promise<void> => {
      if (depth > MAX_DEPTH) throw new CorruptStructureError(`$I30 of MFT record ${this.#src.recordNumber}`, this.#src.offset, 'index is deeper than any real directory');
      for (const { entry, subnode } of node.entries) {
        if (subnode !== undefined) await walk(await this.#block(subnode, visited), depth + 1);
        if (entry) out.push(entry);
      }
    };
    await walk(this.#root, 0);
    return out;
  }

  /** Entries whose name equals `name` under the volume's collation (all links and namespaces). */
  async lookup(name: string, upcase: UpCase): Promise<IndexEntry[]> {
    const found: IndexEntry[] = [];
    const visited = new Set<number>();
    let node = this.#root;
    for (let depth = 0; depth <= MAX_DEPTH; depth++) {
      let descend: number | undefined;
      let stop = false;
      for (const { entry, subnode } of node.entries) {
        if (!entry) {
          descend = subnode;
          break;
        }
        const order = upcase.compare(name, entry.name);
        if (order === 0) found.push(entry);
        if (order < 0) {
          descend = subnode;
          stop = true;
          break;
        }
      }
      // Equal names (differing in case, POSIX) can sit on both sides of a node: keep descending.
      if (descend === undefined || (found.length > 0 && stop)) return found;
      node = await this.#block(descend, visited);
    }
    throw new CorruptStructureError(`$I30 of MFT record ${this.#src.recordNumber}`, this.#src.offset, 'index is deeper than any real directory');
  }
}

/**
 * Opens an image for random access: validates every part header, the footer, the final
 * metadata and the index. An image without a valid footer is opened as incomplete by scanning
 * its records (resynchronising on record markers), so whatever survived stays readable and the
 * damage is named.
 */
import { open as openFile, stat, type FileHandle } from 'node:fs/promises';
import { CorruptStructureError, DeviceIoError, LifeboatError, UsageError } from '../errors.ts';
import { deriveKey, PassphraseNeededError, verifyKeyCheck, WrongPassphraseError } from '../codec/cipher.ts';
import { defaultCodec, type ZstdCodec } from '../codec/zstd.ts';
import type { ReadableDevice } from '../device/block-device.ts';
import { checkRange } from '../device/block-device.ts';
import {
  FOOTER_MAGIC, FOOTER_SIZE, Footer, FORMAT_MAJOR, INDEX_ENTRY_SIZE, IndexEntry, MAX_CHUNK, MIN_CHUNK, PART_HEADER_SIZE,
  PART_MAGIC, PartHeader, partPath, RECORD_HEADER_SIZE, RECORD_MARKER, RECORD_TYPE, sameBytes, structureCrc, type PartHeader as Header,
  type RecordHeader,
} from './format.ts';
import { decodeRecordHeader, decodeRecordPayload, type RecordPlace } from './record.ts';

export interface ChunkLocation {
  sourceOffset: number;
  sourceLength: number;
  /** Undefined for an all-zero chunk, which is not stored. */
  place?: RecordPlace;
}

export interface ScannedRecord {
  place: RecordPlace;
  header: RecordHeader;
}

export interface OpenImageOptions {
  passphrase?: string;
  codec?: ZstdCodec;
}

interface PartFile {
  number: number;
  path: string;
  handle: FileHandle;
  size: number;
}

/** Metadata as the writer records it; see docs/formats/image.md. Fields beyond these pass through. */
export interface ImageMetadata {
  format: string;
  state: 'in-progress' | 'complete';
  mode: 'intelligent' | 'sector' | 'forensic';
  source: { name: string; size: number; sectorSize: number; scheme?: string; diskId?: string; model?: string; serial?: string };
  storedExtents: Array<[number, number]>;
  chunkSize: number;
  [key: string]: unknown;
}

export class ImageReader {
  readonly path: string;
  readonly header: Header;
  readonly key: Uint8Array | undefined;
  readonly codec: ZstdCodec;
  readonly parts: PartFile[];
  /** True when the footer, final metadata and index are all valid. */
  readonly complete: boolean;
  readonly metadata: ImageMetadata;
  /** By chunk number (sourceOffset / chunkSize). */
  readonly chunks: Map<number, ChunkLocation>;
  /** For an incomplete image: what was wrong and where, in the order found. */
  readonly problems: string[];

  private constructor(init: Omit<ImageReader, 'chunkSize' | 'readChunk' | 'read' | 'device' | 'close' | 'scan' | 'readRecord' | 'readRawRecord' | 'context'>) {
    Object.assign(this, init);
    this.path = init.path; this.header = init.header; this.key = init.key; this.codec = init.codec; this.parts = init.parts;
    this.complete = init.complete; this.metadata = init.metadata; this.chunks = init.chunks; this.problems = init.problems;
  }

  get chunkSize(): number {
    return this.header.chunkSize;
  }

  get context(): { codec: ZstdCodec; key?: Uint8Array; imageId: Uint8Array } {
    return { codec: this.codec, ...(this.key ? { key: this.key } : {}), imageId: this.header.imageId };
  }

  static async open(path: string, options: OpenImageOptions = {}): Promise<ImageReader> {
    const codec = options.codec ?? await defaultCodec();
    const parts: PartFile[] = [];
    try {
      const first = await openPart(path, 1);
      parts.push(first);
      const header = await readPartHeader(first);
      let key: Uint8Array | undefined;
      if (header.flags & 1) {
        if (options.passphrase === undefined) throw new PassphraseNeededError(path);
        key = deriveKey(options.passphrase, { log2N: header.scryptLog2N, r: header.scryptR, p: header.scryptP, salt: header.salt });
        if (!verifyKeyCheck(key, header.keyCheckNonce, header.keyCheck)) throw new WrongPassphraseError();
      }
      for (let n = 2; ; n++) {
        const p = partPath(path, n);
        if (!(await exists(p))) break;
        const part = await openPart(path, n);
        parts.push(part);
        const h = await readPartHeader(part);
        if (!sameBytes(h.imageId, header.imageId) || h.partNumber !== n) {
          throw new CorruptStructureError(`part header of ${part.path}`, 0, `belongs to another image or is part ${h.partNumber}, not ${n}`);
        }
      }
      const base = { path, header, ...(key ? { key } : {}), key, codec, parts };
      const reader = new ImageReader({ ...base, complete: false, metadata: {} as ImageMetadata, chunks: new Map(), problems: [] });
      const footer = await reader.#footer();
      if (typeof footer === 'string') return await reader.#openIncomplete([footer]);
      try {
        const metadata = JSON.parse(Buffer.from(await reader.readRecord({ part: footer.metadataPart, offset: Number(footer.metadataOffset) }, RECORD_TYPE.metadata)).toString('utf8')) as ImageMetadata;
        const index = await reader.readRecord({ part: footer.indexPart, offset: Number(footer.indexOffset) }, RECORD_TYPE.index);
        const chunks = decodeIndex(index, header.chunkSize, footer.chunkCount, parts.length);
        return new ImageReader({ ...base, complete: true, metadata, chunks, problems: [] });
      } catch (e) {
        if (!(e instanceof LifeboatError) || e instanceof WrongPassphraseError) throw e;
        return await reader.#openIncomplete([`footer found, but ${e.message}`]);
      }
    } catch (e) {
      await Promise.all(parts.map((p) => p.handle.close()));
      throw e;
    }
  }

  /** The footer, or why there is none. */
  async #footer(): Promise<Footer | string> {
    const last = this.parts.at(-1)!;
    if (last.size < PART_HEADER_SIZE + FOOTER_SIZE) return `${last.path} ends at byte ${last.size}, before any footer`;
    const buf = new Uint8Array(FOOTER_SIZE);
    await readAt(last, buf, last.size - FOOTER_SIZE);
    const f = Footer.decode(buf);
    if (!sameBytes(f.magic, FOOTER_MAGIC)) return `${last.path} has no footer: the image was not finished (cut off or still being written)`;
    if (structureCrc(buf, 0x3c) !== f.footerCrc32) return `footer of ${last.path} fails its CRC-32`;
    if (!sameBytes(f.imageId, this.header.imageId)) return `footer of ${last.path} belongs to another image`;
    if (f.partCount !== this.parts.length) return `footer names ${f.partCount} part(s), ${this.parts.length} found`;
    return f;
  }

  async #openIncomplete(problems: string[]): Promise<ImageReader> {
    const chunks = new Map<number, ChunkLocation>();
    let metadata: ImageMetadata | undefined;
    for await (const item of this.scan()) {
      if ('problem' in item) {
        problems.push(item.problem);
        continue;
      }
      const { header: h, place } = item;
      if (h.type === RECORD_TYPE.chunk) {
        const sourceOffset = Number(h.sourceOffset);
        chunks.set(Math.floor(sourceOffset / this.header.chunkSize), { sourceOffset, sourceLength: h.sourceLength, place });
      } else if (h.type === RECORD_TYPE.metadata && !metadata) {
        try {
          metadata = JSON.parse(Buffer.from(await this.readRecord(place, RECORD_TYPE.metadata)).toString('utf8')) as ImageMetadata;
        } catch (e) {
          if (!(e instanceof LifeboatError)) throw e;
          problems.push(e.message);
        }
      }
    }
    if (!metadata) throw new CorruptStructureError(`image ${this.path}`, PART_HEADER_SIZE, `incomplete and its metadata is unreadable: ${problems.join('; ')}`);
    return new ImageReader({ path: this.path, header: this.header, key: this.key, codec: this.codec, parts: this.parts, complete: false, metadata, chunks, problems });
  }

  /**
   * Every record header in writing order, across parts. Damage (a bad header, a record cut off)
   * is yielded as a problem and scanning resumes at the next record marker.
   */
  async *scan(): AsyncGenerator<ScannedRecord | { problem: string }> {
    for (const part of this.parts) {
      let offset = PART_HEADER_SIZE;
      const end = part === this.parts.at(-1) && (await this.#footer()) instanceof Object ? part.size - FOOTER_SIZE : part.size;
      while (offset + RECORD_HEADER_SIZE <= end) {
        const head = new Uint8Array(RECORD_HEADER_SIZE);
        await readAt(part, head, offset);
        const place = { part: part.number, offset };
        let h: RecordHeader;
        try {
          h = decodeRecordHeader(head, place);
        } catch (e) {
          if (!(e instanceof CorruptStructureError)) throw e;
          yield { problem: e.message };
          const next = await findMarker(part, offset + 1, end);
          if (next < 0) break;
          offset = next;
          continue;
        }
        if (offset + RECORD_HEADER_SIZE + h.storedLength > end) {
          yield { problem: `record ${h.sequence} at byte ${offset} of ${part.path} is cut off: ${h.storedLength} bytes of payload announced, ${end - offset - RECORD_HEADER_SIZE} present` };
          break;
        }
        yield { place, header: h };
        offset += RECORD_HEADER_SIZE + h.storedLength;
      }
      if (offset < end && offset + RECORD_HEADER_SIZE > end) yield { problem: `${end - offset} stray bytes at the end of ${part.path}` };
    }
  }

  /** The record at `place` as stored: checked header, raw payload (for decoding elsewhere). */
  async readRawRecord(place: RecordPlace, type?: number): Promise<{ header: RecordHeader; head: Uint8Array; payload: Uint8Array }> {
    const part = this.parts[place.part - 1];
    if (!part || place.offset < PART_HEADER_SIZE || place.offset + RECORD_HEADER_SIZE > part.size) {
      throw new CorruptStructureError(`image ${this.path}`, place.offset, `no record can start at part ${place.part}, byte ${place.offset}`);
    }
    const head = new Uint8Array(RECORD_HEADER_SIZE);
    await readAt(part, head, place.offset);
    const header = decodeRecordHeader(head, place);
    if (type !== undefined && header.type !== type) {
      throw new CorruptStructureError(`record at byte ${place.offset} of ${part.path}`, place.offset, `is of type ${header.type}, ${type} expected`);
    }
    if (place.offset + RECORD_HEADER_SIZE + header.storedLength > part.size) {
      throw new CorruptStructureError(`record ${header.sequence} of ${part.path}`, place.offset, 'is cut off by the end of the file');
    }
    const payload = new Uint8Array(header.storedLength);
    await readAt(part, payload, place.offset + RECORD_HEADER_SIZE);
    return { header, head, payload };
  }

  /** Decode the record at `place`, optionally insisting on its type. */
  async readRecord(place: RecordPlace, type?: number): Promise<Uint8Array> {
    const { header, head, payload } = await this.readRawRecord(place, type);
    return decodeRecordPayload(header, head, payload, place, this.context);
  }

  /** Chunk `n` (zeros for an all-zero chunk), or undefined when the image does not hold it. */
  async readChunk(n: number): Promise<Uint8Array | undefined> {
    const loc = this.chunks.get(n);
    if (!loc) return undefined;
    if (!loc.place) return new Uint8Array(loc.sourceLength);
    return this.readRecord(loc.place, RECORD_TYPE.chunk);
  }

  /** Source bytes [offset, offset + length): what the image holds, zeros where it holds nothing. */
  async read(offset: number, length: number): Promise<Uint8Array> {
    checkRange({ name: this.path, size: this.metadata.source.size }, offset, length);
    const out = new Uint8Array(length);
    const cs = this.chunkSize;
    for (let n = Math.floor(offset / cs); n * cs < offset + length; n++) {
      const chunk = await this.readChunk(n);
      if (!chunk) continue;
      const from = Math.max(offset, n * cs);
      const to = Math.min(offset + length, n * cs + chunk.length);
      if (from < to) out.set(chunk.subarray(from - n * cs, to - n * cs), from - offset);
    }
    return out;
  }

  /** The source disk as a read-only device (browsing, single-file restore). */
  device(): ReadableDevice {
    return {
      name: `${this.path} (image of ${this.metadata.source.name})`, size: this.metadata.source.size,
      sectorSize: this.metadata.source.sectorSize, writable: false,
      read: (offset, length) => this.read(offset, length),
      close: () => this.close(),
    };
  }

  async close(): Promise<void> {
    await Promise.all(this.parts.map((p) => p.handle.close()));
  }
}

async function exists(path: string): Promise<boolean> {
  try {
    await stat(path);
    return true;
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === 'ENOENT') return false;
    throw new DeviceIoError(path, 'open', 0, e);
  }
}

async function openPart(path: string, n: number): Promise<PartFile> {
  const p = partPath(path, n);
  try {
    const handle = await openFile(p, 'r');
    return { number: n, path: p, handle, size: (await handle.stat()).size };
  } catch (e) {
    throw new DeviceIoError(p, 'open', 0, e);
  }
}

async function readAt(part: PartFile, buf: Uint8Array, offset: number): Promise<void> {
  let done = 0;
  try {
    while (done < buf.length) {
      const { bytesRead } = await part.handle.read(buf, done, buf.length - done, offset + done);
      if (bytesRead === 0) throw new Error('unexpected end of file');
      done += bytesRead;
    }
  } catch (e) {
    throw new DeviceIoError(part.path, 'read', offset + done, e);
  }
}

async function readPartHeader(part: PartFile): Promise<Header> {
  const where = `part header of ${part.path}`;
  if (part.size < PART_HEADER_SIZE) throw new CorruptStructureError(where, 0, `the file is ${part.size} bytes, shorter than a part header`);
  const buf = new Uint8Array(PART_HEADER_SIZE);
  await readAt(part, buf, 0);
  const h = PartHeader.decode(buf);
  if (!sameBytes(h.magic, PART_MAGIC)) throw new CorruptStructureError(where, 0, 'not a Lifeboat image (magic missing)');
  if (h.formatMajor !== FORMAT_MAJOR) {
    throw new CorruptStructureError(where, 8, `format version ${h.formatMajor}.${h.formatMinor}; this Lifeboat reads version ${FORMAT_MAJOR}.x`);
  }
  const crc = structureCrc(buf, 0xffc);
  if (crc !== h.headerCrc32) throw new CorruptStructureError(where, 0xffc, `header CRC-32 is 0x${h.headerCrc32.toString(16)}, computed 0x${crc.toString(16)}`);
  if (h.headerSize !== PART_HEADER_SIZE) throw new CorruptStructureError(where, 0x0c, `header size ${h.headerSize}, ${PART_HEADER_SIZE} expected`);
  if (h.chunkSize < MIN_CHUNK || h.chunkSize > MAX_CHUNK || (h.chunkSize & (h.chunkSize - 1)) !== 0) {
    throw new CorruptStructureError(where, 0x28, `chunk size ${h.chunkSize} is not a power of two from 1 MiB to 4 MiB`);
  }
  if (h.partNumber !== part.number) throw new CorruptStructureError(where, 0x20, `says part ${h.partNumber}, expected ${part.number}`);
  return h;
}

async function findMarker(part: PartFile, from: number, end: number): Promise<number> {
  const window = 1 << 20;
  for (let pos = from; pos < end; pos += window - RECORD_MARKER.length) {
    const len = Math.min(window, end - pos);
    const buf = Buffer.alloc(len);
    await readAt(part, buf, pos);
    const i = buf.indexOf(Buffer.from(RECORD_MARKER));
    if (i >= 0) return pos + i;
    if (len < window) break;
  }
  return -1;
}

function decodeIndex(index: Uint8Array, chunkSize: number, chunkCount: number, parts: number): Map<number, ChunkLocation> {
  if (index.length !== chunkCount * INDEX_ENTRY_SIZE) {
    throw new CorruptStructureError('image index', 0, `holds ${index.length / INDEX_ENTRY_SIZE} entries, the footer says ${chunkCount}`);
  }
  const map = new Map<number, ChunkLocation>();
  for (let i = 0; i < chunkCount; i++) {
    const e = IndexEntry.decode(index, i * INDEX_ENTRY_SIZE);
    const sourceOffset = Number(e.sourceOffset);
    if (sourceOffset % chunkSize !== 0 || e.sourceLength === 0 || e.sourceLength > chunkSize || (e.fileOffset !== 0n && (e.partNumber < 1 || e.partNumber > parts))) {
      throw new CorruptStructureError('image index', i * INDEX_ENTRY_SIZE, `entry ${i} (source offset ${sourceOffset}) is not valid`);
    }
    const n = sourceOffset / chunkSize;
    if (map.has(n)) throw new CorruptStructureError('image index', i * INDEX_ENTRY_SIZE, `chunk at source offset ${sourceOffset} listed twice`);
    map.set(n, e.fileOffset === 0n
      ? { sourceOffset, sourceLength: e.sourceLength }
      : { sourceOffset, sourceLength: e.sourceLength, place: { part: e.partNumber, offset: Number(e.fileOffset) } });
  }
  return map;
}

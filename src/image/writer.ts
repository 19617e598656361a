/**
 * Writes an image: part headers, records in order, split into parts, then final metadata,
 * index and footer — re-reading and decoding what it wrote before the footer marks the image
 * complete (STYLE.md #7). After any failure the writer refuses further use, and the image
 * stays without footer, i.e. recognisably incomplete.
 */
import { open as openFile, type FileHandle } from 'node:fs/promises';
import { randomBytes } from 'node:crypto';
import { DeviceIoError, LifeboatError, UsageError } from '../errors.ts';
import { deriveKey, keyCheck, newSalt, DEFAULT_KDF, NONCE_BYTES, type KdfParams } from '../codec/cipher.ts';
import type { ZstdCodec } from '../codec/zstd.ts';
import {
  FOOTER_MAGIC, FOOTER_SIZE, Footer, FORMAT_MAJOR, FORMAT_MINOR, INDEX_ENTRY_SIZE, IndexEntry, MAX_CHUNK, MIN_CHUNK,
  PART_HEADER_SIZE, PART_MAGIC, PartHeader, partPath, RECORD_HEADER_SIZE, RECORD_TYPE, structureCrc, type PartHeader as Header,
} from './format.ts';
import { decodeRecordHeader, decodeRecordPayload, encodeRecord, type RecordPlace } from './record.ts';

export interface WriterOptions {
  chunkSize: number;
  /** Largest part in bytes; undefined = one file. */
  splitSize?: number;
  passphrase?: string;
  kdf?: Omit<KdfParams, 'salt'>;
  codec: ZstdCodec;
  /** zstd level for metadata and index records. */
  level: number;
}

/** The smallest split that always fits a header, the largest record and the footer. */
export const MIN_SPLIT = PART_HEADER_SIZE + 2 * (RECORD_HEADER_SIZE + MAX_CHUNK + 64) + FOOTER_SIZE;

interface Part {
  number: number;
  path: string;
  handle: FileHandle;
  size: number;
}

export class ImageWriter {
  readonly path: string;
  readonly imageId: Uint8Array;
  readonly key: Uint8Array | undefined;
  readonly chunkSize: number;
  readonly #options: WriterOptions;
  readonly #header: Header;
  readonly #parts: Part[] = [];
  readonly #index: IndexEntry[] = [];
  #sequence = 0;
  #failed: unknown;
  #finished = false;
  #closed = false;
  #firstMetadata?: RecordPlace;

  private constructor(path: string, options: WriterOptions, header: Header, key: Uint8Array | undefined) {
    this.path = path;
    this.#options = options;
    this.#header = header;
    this.imageId = header.imageId;
    this.chunkSize = options.chunkSize;
    this.key = key;
  }

  static async create(path: string, options: WriterOptions): Promise<ImageWriter> {
    const { chunkSize, splitSize } = options;
    if (chunkSize < MIN_CHUNK || chunkSize > MAX_CHUNK || (chunkSize & (chunkSize - 1)) !== 0) {
      throw new UsageError(`chunk size ${chunkSize} is not a power of two from 1 MiB to 4 MiB`, { chunkSize });
    }
    if (splitSize !== undefined && splitSize < MIN_SPLIT) {
      throw new UsageError(`split size ${splitSize} is below the minimum of ${MIN_SPLIT} bytes`, { splitSize });
    }
    let key: Uint8Array | undefined;
    const kdfBase = options.kdf ?? DEFAULT_KDF;
    const salt = options.passphrase !== undefined ? newSalt() : new Uint8Array(32);
    const nonce = options.passphrase !== undefined ? randomBytes(NONCE_BYTES) : new Uint8Array(NONCE_BYTES);
    if (options.passphrase !== undefined) key = deriveKey(options.passphrase, { ...kdfBase, salt });
    const header: Header = {
      magic: PART_MAGIC, formatMajor: FORMAT_MAJOR, formatMinor: FORMAT_MINOR, headerSize: PART_HEADER_SIZE,
      imageId: randomBytes(16), partNumber: 1, flags: key ? 1 : 0, chunkSize, createdMs: BigInt(Date.now()),
      kdf: key ? 1 : 0, scryptLog2N: key ? kdfBase.log2N : 0, scryptR: key ? kdfBase.r : 0, scryptP: key ? kdfBase.p : 0,
      salt, keyCheckNonce: nonce, keyCheck: key ? keyCheck(key, nonce) : new Uint8Array(32), headerCrc32: 0,
    };
    const writer = new ImageWriter(path, options, header, key);
    await writer.#newPart();
    return writer;
  }

  get partCount(): number {
    return this.#parts.length;
  }

  /** Bytes written so far, all parts. */
  get bytesWritten(): number {
    return this.#parts.reduce((s, p) => s + p.size, 0);
  }

  /** Sequence number for the next record; chunks must be encoded with it and written in that order. */
  nextSequence(): number {
    return this.#sequence;
  }

  async #newPart(): Promise<Part> {
    const number = this.#parts.length + 1;
    const path = partPath(this.path, number);
    let handle: FileHandle;
    try {
      // 'wx+': never overwrite an existing image (or part) silently; readable for the self-check.
      handle = await openFile(path, 'wx+');
    } catch (e) {
      throw new DeviceIoError(path, 'open', 0, e);
    }
    const part: Part = { number, path, handle, size: 0 };
    this.#parts.push(part);
    const head = PartHeader.encode({ ...this.#header, partNumber: number });
    PartHeader.encodeInto({ ...this.#header, partNumber: number, headerCrc32: structureCrc(head, 0xffc) }, head);
    await this.#write(part, head);
    return part;
  }

  async #write(part: Part, bytes: Uint8Array): Promise<void> {
    let done = 0;
    try {
      while (done < bytes.length) {
        const { bytesWritten } = await part.handle.write(bytes, done, bytes.length - done, part.size + done);
        done += bytesWritten;
      }
    } catch (e) {
      throw new DeviceIoError(part.path, 'write', part.size + done, e);
    }
    part.size += bytes.length;
  }

  #guard(): void {
    if (this.#finished) throw new UsageError('the image is already finished');
    if (this.#failed) throw new UsageError(`an earlier write failed, the image is incomplete: ${(this.#failed as Error).message}`);
  }

  /** Append an encoded record (header + payload), opening a new part when the split size says so. */
  async writeRecord(record: Uint8Array): Promise<RecordPlace> {
    this.#guard();
    try {
      let part = this.#parts.at(-1)!;
      const limit = this.#options.splitSize;
      if (limit !== undefined && part.size + record.length + FOOTER_SIZE > limit) {
        if (record.length + PART_HEADER_SIZE + FOOTER_SIZE > limit) throw new UsageError(`a record of ${record.length} bytes cannot fit a part of ${limit} bytes`);
        part = await this.#newPart();
      }
      const place = { part: part.number, offset: part.size };
      await this.#write(part, record);
      this.#sequence++;
      return place;
    } catch (e) {
      this.#failed = e;
      throw e;
    }
  }

  async writeChunk(record: Uint8Array, sourceOffset: number, sourceLength: number): Promise<RecordPlace> {
    const place = await this.writeRecord(record);
    this.#index.push({ sourceOffset: BigInt(sourceOffset), fileOffset: BigInt(place.offset), partNumber: place.part, sourceLength });
    return place;
  }

  /** A chunk whose bytes are all zero: recorded in the index, not stored. */
  noteZeroChunk(sourceOffset: number, sourceLength: number): void {
    this.#guard();
    this.#index.push({ sourceOffset: BigInt(sourceOffset), fileOffset: 0n, partNumber: 0, sourceLength });
  }

  #encode(type: number, data: Uint8Array): Uint8Array {
    return encodeRecord({ type, sourceOffset: 0, sequence: this.#sequence, data, level: this.#options.level,
      ...(this.key ? { key: this.key } : {}), imageId: this.imageId }, this.#options.codec);
  }

  async writeMetadata(metadata: unknown): Promise<RecordPlace> {
    const place = await this.writeRecord(this.#encode(RECORD_TYPE.metadata, Buffer.from(JSON.stringify(metadata))));
    this.#firstMetadata ??= place;
    return place;
  }

  /** Final metadata, index, self-check, footer. Returns the image's total size. */
  async finish(metadata: unknown): Promise<number> {
    this.#guard();
    try {
      const metaBytes = Buffer.from(JSON.stringify(metadata));
      const metaPlace = await this.writeRecord(this.#encode(RECORD_TYPE.metadata, metaBytes));
      const index = new Uint8Array(this.#index.length * INDEX_ENTRY_SIZE);
      this.#index.forEach((e, i) => IndexEntry.encodeInto(e, index, i * INDEX_ENTRY_SIZE));
      const indexPlace = await this.writeRecord(this.#encode(RECORD_TYPE.index, index));
      await this.#selfCheck([[metaPlace, metaBytes], [indexPlace, index]]);
      const footer = Footer.encode({
        magic: FOOTER_MAGIC, imageId: this.imageId, indexPart: indexPlace.part, metadataPart: metaPlace.part,
        indexOffset: BigInt(indexPlace.offset), metadataOffset: BigInt(metaPlace.offset), partCount: this.#parts.length,
        chunkCount: this.#index.length, reserved: 0, footerCrc32: 0,
      });
      new DataView(footer.buffer).setUint32(0x3c, structureCrc(footer, 0x3c), true);
      const last = this.#parts.at(-1)!;
      await this.#write(last, footer);
      for (const p of this.#parts) {
        try {
          await p.handle.sync();
        } catch (e) {
          throw new DeviceIoError(p.path, 'flush', p.size, e);
        }
      }
      this.#finished = true;
      return this.bytesWritten;
    } catch (e) {
      this.#failed = e;
      throw e;
    } finally {
      await this.close();
    }
  }

  /** Read back what was written and decode it: a mismatch means the destination lies. */
  async #selfCheck(records: Array<[RecordPlace, Uint8Array]>): Promise<void> {
    const first = this.#parts[0]!;
    const head = new Uint8Array(PART_HEADER_SIZE);
    await first.handle.read(head, 0, PART_HEADER_SIZE, 0);
    const decoded = PartHeader.decode(head);
    if (structureCrc(head, 0xffc) !== decoded.headerCrc32 || Buffer.compare(decoded.imageId, this.imageId) !== 0) {
      throw new LifeboatError('WRITE_VERIFY', `the part header read back from ${first.path} differs from what was written`, { path: first.path });
    }
    for (const [place, expected] of records) {
      const part = this.#parts[place.part - 1]!;
      const hb = new Uint8Array(RECORD_HEADER_SIZE);
      await part.handle.read(hb, 0, RECORD_HEADER_SIZE, place.offset);
      const h = decodeRecordHeader(hb, place);
      const payload = new Uint8Array(h.storedLength);
      await part.handle.read(payload, 0, h.storedLength, place.offset + RECORD_HEADER_SIZE);
      const data = decodeRecordPayload(h, hb, payload, place, { codec: this.#options.codec, ...(this.key ? { key: this.key } : {}), imageId: this.imageId });
      if (Buffer.compare(data, expected) !== 0) {
        throw new LifeboatError('WRITE_VERIFY', `record ${h.sequence} read back from ${part.path} differs from what was written`, { path: part.path, offset: place.offset });
      }
    }
  }

  /** Close the files; without finish() the image stays incomplete (no footer). */
  async close(): Promise<void> {
    if (this.#closed) return;
    this.#closed = true;
    let failure: DeviceIoError | undefined;
    for (const p of this.#parts) {
      try {
        await p.handle.close();
      } catch (e) {
        failure ??= new DeviceIoError(p.path, 'close', p.size, e);
      }
    }
    if (failure) {
      this.#failed ??= failure;
      throw failure;
    }
  }
}

/**
 * Encoding and decoding one image record: compress (or store when that is not smaller),
 * encrypt, checksum; and the reverse with every check in the order docs/formats/image.md gives.
 * Pure functions of bytes, so worker threads can run them.
 */
import { crc32 } from 'node:zlib';
import { CorruptStructureError } from '../errors.ts';
import { open, seal, WrongPassphraseError } from '../codec/cipher.ts';
import { decompressExact, type ZstdCodec } from '../codec/zstd.ts';
import { CODEC, FLAG_ENCRYPTED, RECORD_HEADER_SIZE, RECORD_MARKER, RecordHeader, sameBytes, structureCrc, type RecordHeader as Header } from './format.ts';

export interface RecordInput {
  type: number;
  sourceOffset: number;
  sequence: number;
  data: Uint8Array;
  /** zstd level, or undefined to store the data as it is. */
  level?: number;
  key?: Uint8Array;
  imageId: Uint8Array;
}

/** The authenticated data of an encrypted payload: everything that says what and where it is. */
export function recordAad(imageId: Uint8Array, header: Uint8Array): Uint8Array {
  return Buffer.concat([imageId, header.subarray(0x08, 0x0c), header.subarray(0x10, 0x1c), header.subarray(0x20, 0x28)]);
}

/** Header and payload of one record, as written to the image. */
export function encodeRecord(input: RecordInput, codec: ZstdCodec | undefined): Uint8Array {
  let payload = input.data;
  let codecId: number = CODEC.stored;
  if (input.level !== undefined && codec) {
    const compressed = codec.compress(input.data, input.level);
    if (compressed.length < input.data.length) {
      payload = compressed;
      codecId = CODEC.zstd;
    }
  }
  const head = new Uint8Array(RECORD_HEADER_SIZE);
  const fields: Header = {
    marker: RECORD_MARKER, type: input.type, codec: codecId, flags: input.key ? FLAG_ENCRYPTED : 0,
    storedLength: 0, sourceOffset: BigInt(input.sourceOffset), sourceLength: input.data.length,
    payloadCrc32: 0, dataCrc32: crc32(input.data), sequence: input.sequence, reserved: 0, headerCrc32: 0,
  };
  RecordHeader.encodeInto(fields, head);
  if (input.key) payload = seal(input.key, payload, recordAad(input.imageId, head));
  fields.storedLength = payload.length;
  fields.payloadCrc32 = crc32(payload);
  RecordHeader.encodeInto(fields, head);
  fields.headerCrc32 = structureCrc(head, 0x2c);
  RecordHeader.encodeInto(fields, head);
  const out = new Uint8Array(RECORD_HEADER_SIZE + payload.length);
  out.set(head);
  out.set(payload, RECORD_HEADER_SIZE);
  return out;
}

export interface RecordPlace {
  part: number;
  /** File offset of the record header in its part. */
  offset: number;
}

const where = (p: RecordPlace) => `image part ${p.part}`;

/** Check a record header read at `place`; returns the decoded fields. */
export function decodeRecordHeader(head: Uint8Array, place: RecordPlace): Header {
  const h = RecordHeader.decode(head);
  if (!sameBytes(h.marker, RECORD_MARKER)) throw new CorruptStructureError(`record header in ${where(place)}`, place.offset, 'record marker missing');
  const crc = structureCrc(head, 0x2c);
  if (crc !== h.headerCrc32) {
    throw new CorruptStructureError(`record header in ${where(place)}`, place.offset, `header CRC-32 is 0x${h.headerCrc32.toString(16)}, computed 0x${crc.toString(16)}`);
  }
  return h;
}

/** Decode a record's payload into its data, checking CRCs, authenticity and size. */
export function decodeRecordPayload(h: Header, head: Uint8Array, payload: Uint8Array, place: RecordPlace,
  ctx: { codec: ZstdCodec; key?: Uint8Array; imageId: Uint8Array }): Uint8Array {
  const structure = `record ${h.sequence} (source offset ${h.sourceOffset}) in ${where(place)}`;
  const crc = crc32(payload);
  if (crc !== h.payloadCrc32) {
    throw new CorruptStructureError(structure, place.offset, `payload CRC-32 is 0x${crc.toString(16)}, the header says 0x${h.payloadCrc32.toString(16)}`);
  }
  let body = payload;
  if (h.flags & FLAG_ENCRYPTED) {
    if (!ctx.key) throw new WrongPassphraseError();
    const plain = open(ctx.key, payload, recordAad(ctx.imageId, head));
    if (!plain) throw new CorruptStructureError(structure, place.offset, 'authentication failed: the record was altered or belongs elsewhere');
    body = plain;
  }
  let data: Uint8Array;
  if (h.codec === CODEC.zstd) data = decompressExact(ctx.codec, body, h.sourceLength, { structure, offset: place.offset });
  else if (h.codec === CODEC.stored) data = body;
  else throw new CorruptStructureError(structure, place.offset, `unknown codec ${h.codec}`);
  if (data.length !== h.sourceLength) throw new CorruptStructureError(structure, place.offset, `holds ${data.length} bytes, the header says ${h.sourceLength}`);
  const dataCrc = crc32(data);
  if (dataCrc !== h.dataCrc32) throw new CorruptStructureError(structure, place.offset, `data CRC-32 is 0x${dataCrc.toString(16)}, the header says 0x${h.dataCrc32.toString(16)}`);
  return data;
}

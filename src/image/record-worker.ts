/**
 * Worker thread body: encodes chunk records (compress, encrypt, checksum) for backups and
 * decodes them (check, decrypt, decompress) for restores, off the main thread.
 * Messages: { id, encode } | { id, decode } → { id, bytes } or { id, error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { toWire } from '../errors.ts';
import { loadWasmCodec, nodeCodec, type ZstdCodec } from '../codec/zstd.ts';
import { decodeRecordHeader, decodeRecordPayload, encodeRecord, type RecordInput, type RecordPlace } from './record.ts';

export interface DecodeInput {
  head: Uint8Array;
  payload: Uint8Array;
  place: RecordPlace;
  key?: Uint8Array;
  imageId: Uint8Array;
}

export type WorkerRequest = { id: number; encode: RecordInput } | { id: number; decode: DecodeInput };

const codec: ZstdCodec = workerData?.codec === 'zstd-codec' || !nodeCodec ? await loadWasmCodec() : nodeCodec;

parentPort!.on('message', (msg: WorkerRequest) => {
  try {
    let bytes: Uint8Array;
    if ('encode' in msg) {
      bytes = encodeRecord(msg.encode, codec);
    } else {
      const { head, payload, place, key, imageId } = msg.decode;
      bytes = decodeRecordPayload(decodeRecordHeader(head, place), head, payload, place, { codec, ...(key ? { key } : {}), imageId });
    }
    parentPort!.postMessage({ id: msg.id, bytes }, [bytes.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: toWire(e) });
  }
});

/**
 * Worker thread body: encodes chunk records (compress, encrypt, checksum) off the main thread.
 * Messages: { id, input } → { id, record } or { id, error }.
 */
import { parentPort, workerData } from 'node:worker_threads';
import { loadWasmCodec, nodeCodec, type ZstdCodec } from '../codec/zstd.ts';
import { encodeRecord, type RecordInput } from './record.ts';

const codec: ZstdCodec = workerData?.codec === 'zstd-codec' || !nodeCodec ? await loadWasmCodec() : nodeCodec;

parentPort!.on('message', (msg: { id: number; input: RecordInput }) => {
  try {
    const record = encodeRecord(msg.input, codec);
    parentPort!.postMessage({ id: msg.id, record }, [record.buffer as ArrayBuffer]);
  } catch (e) {
    parentPort!.postMessage({ id: msg.id, error: e instanceof Error ? e.message : String(e) });
  }
});

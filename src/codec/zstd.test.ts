import test from 'ava';
import { randomBytes } from 'node:crypto';
import { decompressExact, loadWasmCodec, nodeCodec } from './zstd.ts';
import { CorruptStructureError } from '../errors.ts';

const samples = () => [
  Buffer.alloc(1 << 20), // zeros
  Buffer.from('Windows event log line 0001: service started\r\n'.repeat(20000)).subarray(0, 1 << 20),
  randomBytes(1 << 20),
  randomBytes(4 << 20), // the largest chunk
  Buffer.from('x'),
];

test('Node and zstd-codec read each other\'s frames, at several levels', async (t) => {
  const wasm = await loadWasmCodec();
  const node = nodeCodec!;
  t.truthy(node, 'this Node has zlib zstd');
  for (const data of samples()) {
    // The 4 MiB sample only at level 1: WebAssembly compression is slow, and the frame format is the point.
    for (const level of data.length > 1 << 20 ? [1] : [1, 5]) {
      const a = node.compress(data, level);
      const b = wasm.compress(data, level);
      t.deepEqual(Buffer.from(wasm.decompress(a, data.length)), data, `node → wasm, ${data.length} bytes, level ${level}`);
      t.deepEqual(Buffer.from(node.decompress(b, data.length)), data, `wasm → node, ${data.length} bytes, level ${level}`);
    }
  }
});

test('a frame that decodes to the wrong size or not at all is a typed error', (t) => {
  const node = nodeCodec!;
  const frame = node.compress(Buffer.alloc(1000, 7), 3);
  t.throws(() => decompressExact(node, frame, 999, { structure: 'chunk', offset: 5 }), { instanceOf: CorruptStructureError, message: /chunk at byte 5: zstd frame/ });
  const broken = Uint8Array.from(frame);
  broken[broken.length - 3] = broken[broken.length - 3]! ^ 0xff;
  t.throws(() => decompressExact(node, broken.subarray(0, 6), 1000, { structure: 'chunk', offset: 5 }), { instanceOf: CorruptStructureError });
});

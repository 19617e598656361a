/**
 * zstd, one frame per chunk with the content size in the frame header (toolchain.md 5): Node's
 * built-in codec, or zstd-codec (WebAssembly) where a Node lacks it. Both read each other's
 * frames; the rules that keep it so — frames under 4 MiB, default window, no dictionaries —
 * hold because chunks are at most 4 MiB.
 */
import { createRequire } from 'node:module';
import * as zlib from 'node:zlib';
import { CorruptStructureError } from '../errors.ts';

export interface ZstdCodec {
  readonly name: 'node' | 'zstd-codec';
  compress(data: Uint8Array, level: number): Uint8Array;
  /** Decompress one frame that must expand to exactly `size` bytes. */
  decompress(frame: Uint8Array, size: number): Uint8Array;
}

export const DEFAULT_LEVEL = 3;
export const MAX_LEVEL = 19;
/** The highest level the WebAssembly fallback can run on a 4 MiB chunk (measured). */
export const WASM_MAX_LEVEL = 5;

const nodeZstd = typeof zlib.zstdCompressSync === 'function';

export const nodeCodec: ZstdCodec | undefined = nodeZstd ? {
  name: 'node',
  // An output buffer the size of the chunk saves zlib growing its default 16 KiB one (~7% CPU, measured).
  compress: (data, level) => zlib.zstdCompressSync(data, {
    chunkSize: Math.max(zlib.constants.Z_MIN_CHUNK, data.length + 1024),
    params: { [zlib.constants.ZSTD_c_compressionLevel]: level },
  }),
  decompress: (frame, size) => {
    // maxOutputLength bounds what a hostile frame can make us allocate.
    const out = zlib.zstdDecompressSync(frame, { maxOutputLength: Math.max(size, 1), chunkSize: Math.max(zlib.constants.Z_MIN_CHUNK, size) });
    return new Uint8Array(out.buffer, out.byteOffset, out.byteLength);
  },
} : undefined;

interface ZstdSimple {
  compress(data: Uint8Array, level: number): Uint8Array | null;
  decompress(data: Uint8Array): Uint8Array | null;
}
interface ZstdStreaming {
  decompress(data: Uint8Array, sizeHint?: number): Uint8Array | null;
}

let wasm: { Simple: ZstdSimple; Streaming: ZstdStreaming } | undefined;

/** Load the WebAssembly codec once (its module initialises asynchronously). */
export async function loadWasmCodec(): Promise<ZstdCodec> {
  if (!wasm) {
    const require = createRequire(import.meta.url);
    const { ZstdCodec } = require('zstd-codec') as { ZstdCodec: { run(cb: (z: { Simple: new () => ZstdSimple; Streaming: new () => ZstdStreaming }) => void): void } };
    wasm = await new Promise((resolve) => ZstdCodec.run((z) => resolve({ Simple: new z.Simple(), Streaming: new z.Streaming() })));
  }
  const { Simple, Streaming } = wasm!;
  return {
    name: 'zstd-codec',
    compress: (data, level) => {
      // Its fixed 16 MiB heap aborts (for good) above level 5 on 4 MiB chunks; the frames stay
      // ordinary zstd frames, only less compressed.
      const out = Simple.compress(data, Math.min(level, WASM_MAX_LEVEL));
      if (!out) throw new Error(`zstd-codec could not compress ${data.length} bytes`);
      return out;
    },
    // Streaming handles frames with or without a content size; Simple only the former.
    decompress: (frame, size) => Streaming.decompress(frame, size) ?? new Uint8Array(0),
  };
}

/** The codec this Node provides, else the WebAssembly one. */
export async function defaultCodec(): Promise<ZstdCodec> {
  return nodeCodec ?? loadWasmCodec();
}

/** Decompress and insist on the declared size: a short or long frame is damage. */
export function decompressExact(codec: ZstdCodec, frame: Uint8Array, size: number, where: { structure: string; offset: number }): Uint8Array {
  let out: Uint8Array;
  try {
    out = codec.decompress(frame, size);
  } catch (e) {
    throw new CorruptStructureError(where.structure, where.offset, `zstd frame does not decode: ${(e as Error).message}`);
  }
  if (out.length !== size) {
    throw new CorruptStructureError(where.structure, where.offset, `zstd frame decodes to ${out.length} bytes, ${size} expected`);
  }
  return out;
}

/**
 * LZNT1 decompression of one NTFS compression unit (filesystems.md 2.6): a sequence of chunks
 * each expanding to at most 4096 bytes; a zero header ends the unit. Output is bounded by the
 * unit size, so hostile input cannot make it grow.
 */
import { CorruptStructureError } from '../../errors.ts';

const CHUNK = 4096;

/** Decompress `src` into a buffer of exactly `unitSize` bytes (the rest stays zero). */
export function decompressLznt1(src: Uint8Array, unitSize: number, offset: number): Uint8Array {
  const out = new Uint8Array(unitSize);
  let inPos = 0;
  let outPos = 0;
  while (inPos + 2 <= src.length && outPos < unitSize) {
    const header = src[inPos]! | (src[inPos + 1]! << 8);
    if (header === 0) break;
    const chunkEnd = inPos + (header & 0x0fff) + 3;
    if (chunkEnd > src.length) throw new CorruptStructureError('LZNT1 chunk', offset + inPos, `chunk of ${chunkEnd - inPos} bytes runs past the compressed data`);
    const chunkStart = outPos;
    const chunkLimit = Math.min(unitSize, chunkStart + CHUNK);
    inPos += 2;
    if ((header & 0x8000) === 0) {
      // Stored chunk: raw bytes.
      const n = Math.min(chunkEnd - inPos, chunkLimit - outPos);
      out.set(src.subarray(inPos, inPos + n), outPos);
      outPos += n;
    } else {
      while (inPos < chunkEnd && outPos < chunkLimit) {
        const tags = src[inPos++]!;
        for (let bit = 0; bit < 8 && inPos < chunkEnd && outPos < chunkLimit; bit++) {
          if ((tags & (1 << bit)) === 0) {
            out[outPos++] = src[inPos++]!;
            continue;
          }
          if (inPos + 2 > chunkEnd) throw new CorruptStructureError('LZNT1 chunk', offset + inPos, 'back-reference cut off');
          const token = src[inPos]! | (src[inPos + 1]! << 8);
          inPos += 2;
          const p = outPos - chunkStart;
          let lengthBits = 12;
          for (let q = p - 1; q >= 0x10; q >>= 1) lengthBits--;
          const back = (token >> lengthBits) + 1;
          const length = (token & ((1 << lengthBits) - 1)) + 3;
          if (back > p) throw new CorruptStructureError('LZNT1 chunk', offset + inPos - 2, `back-reference ${back} bytes before the chunk start`);
          for (let i = 0; i < length && outPos < chunkLimit; i++, outPos++) out[outPos] = out[outPos - back]!;
        }
      }
    }
    inPos = chunkEnd;
    // A chunk shorter than 4096 bytes is followed by zeros up to the chunk boundary.
    if (outPos < chunkLimit && inPos < src.length) outPos = chunkLimit;
  }
  return out;
}

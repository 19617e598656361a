/**
 * Data runs / mapping pairs (filesystems.md 2.5): header nibbles give the byte counts of a run
 * length and a signed LCN delta; delta bytes of zero mean a sparse run. Every run is checked
 * against the cluster count, so a corrupt runlist can never address outside the volume.
 */
import { CorruptStructureError } from '../../errors.ts';

export interface Run {
  vcn: number;
  /** null = sparse (reads as zeros). */
  lcn: number | null;
  length: number;
}

function readSigned(b: Uint8Array, at: number, n: number): number {
  let v = 0n;
  for (let i = n - 1; i >= 0; i--) v = (v << 8n) | BigInt(b[at + i]!);
  if (b[at + n - 1]! & 0x80) v -= 1n << BigInt(8 * n);
  return Number(v);
}

function readUnsigned(b: Uint8Array, at: number, n: number): number {
  let v = 0;
  for (let i = n - 1; i >= 0; i--) v = v * 256 + b[at + i]!;
  return v;
}

/**
 * Decode the mapping pairs in `b` (from the attribute's runlist offset to its end).
 * `startVcn` is the segment's lowest VCN; `clusters` bounds every LCN; `offset` is for messages.
 */
export function decodeRunlist(b: Uint8Array, startVcn: number, clusters: number, offset: number): Run[] {
  const runs: Run[] = [];
  let pos = 0;
  let vcn = startVcn;
  let lcn = 0;
  while (pos < b.length) {
    const header = b[pos]!;
    if (header === 0) return runs;
    const lengthBytes = header & 0x0f;
    const deltaBytes = header >> 4;
    if (lengthBytes === 0) return runs; // padding garbage: treated as the end, as ntfs-3g does
    if (lengthBytes > 8 || deltaBytes > 8 || pos + 1 + lengthBytes + deltaBytes > b.length) {
      throw new CorruptStructureError('NTFS runlist', offset + pos, `run header 0x${header.toString(16)} runs past the attribute`);
    }
    const length = readUnsigned(b, pos + 1, lengthBytes);
    if (length <= 0 || !Number.isSafeInteger(length) || length > clusters) {
      throw new CorruptStructureError('NTFS runlist', offset + pos, `run length ${length} is not within 1..${clusters} clusters`);
    }
    if (deltaBytes === 0) {
      runs.push({ vcn, lcn: null, length });
    } else {
      lcn += readSigned(b, pos + 1 + lengthBytes, deltaBytes);
      if (lcn < 0 || lcn + length > clusters) {
        throw new CorruptStructureError('NTFS runlist', offset + pos,
          `run of ${length} clusters at LCN ${lcn} lies outside the volume's ${clusters} clusters`);
      }
      runs.push({ vcn, lcn, length });
    }
    vcn += length;
    pos += 1 + lengthBytes + deltaBytes;
  }
  throw new CorruptStructureError('NTFS runlist', offset + pos, 'runlist has no end marker');
}

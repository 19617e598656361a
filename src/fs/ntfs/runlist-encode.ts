/**
 * Encoding runlists (mapping pairs, filesystems.md 2.5): the inverse of `decodeRunlist`. Each run
 * is a header byte (low nibble = bytes of the length, high nibble = bytes of the LCN delta), the
 * length, then the LCN relative to the previous allocated run as a signed number; a sparse run
 * has no delta bytes. Both numbers take the fewest bytes that hold them as two's complement:
 * ntfs-3g and Windows sign-extend the length too, so a length of 0x80 needs two bytes.
 */
import { UsageError } from '../../errors.ts';
import type { Run } from './runlist.ts';

/** Bytes needed to hold `v` as a little-endian two's complement number (at least one). */
export function signedByteCount(v: bigint): number {
  let n = 1;
  while (v < -(1n << BigInt(8 * n - 1)) || v >= 1n << BigInt(8 * n - 1)) n++;
  return n;
}

function writeSigned(out: number[], v: bigint, n: number): void {
  let x = BigInt.asUintN(8 * n, v);
  for (let i = 0; i < n; i++) {
    out.push(Number(x & 0xffn));
    x >>= 8n;
  }
}

/**
 * Mapping pairs for `runs` (consecutive VCNs from `runs[0].vcn`), ending with the 0x00
 * terminator. Runs are encoded as given: adjacent runs are not merged, so decoded runs encode
 * back to the bytes they came from.
 */
export function encodeRunlist(runs: readonly Run[]): Uint8Array {
  const out: number[] = [];
  let lcn = 0n;
  let vcn = runs[0]?.vcn ?? 0;
  for (const [i, r] of runs.entries()) {
    if (!Number.isSafeInteger(r.length) || r.length <= 0) throw new UsageError(`run ${i} has length ${r.length}; runs must be at least one cluster`);
    if (r.vcn !== vcn) throw new UsageError(`run ${i} starts at VCN ${r.vcn}, the previous run ended at ${vcn}`);
    if (r.lcn !== null && (!Number.isSafeInteger(r.lcn) || r.lcn < 0)) throw new UsageError(`run ${i} has LCN ${r.lcn}`);
    const length = BigInt(r.length);
    const lengthBytes = signedByteCount(length);
    if (r.lcn === null) {
      out.push(lengthBytes);
      writeSigned(out, length, lengthBytes);
    } else {
      const delta = BigInt(r.lcn) - lcn;
      const deltaBytes = signedByteCount(delta);
      out.push((deltaBytes << 4) | lengthBytes);
      writeSigned(out, length, lengthBytes);
      writeSigned(out, delta, deltaBytes);
      lcn = BigInt(r.lcn);
    }
    vcn += r.length;
  }
  out.push(0);
  return Uint8Array.from(out);
}

/** Join runs that continue each other (both sparse, or the next starting where the last ends). */
export function joinAdjacentRuns(runs: readonly Run[]): Run[] {
  const out: Run[] = [];
  for (const r of runs) {
    const last = out.at(-1);
    if (last && ((last.lcn === null && r.lcn === null) || (last.lcn !== null && r.lcn === last.lcn + last.length))) {
      last.length += r.length;
    } else {
      out.push({ ...r });
    }
  }
  return out;
}

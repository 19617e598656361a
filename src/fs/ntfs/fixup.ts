/**
 * Update sequence arrays (filesystems.md 2.2): multi-sector records (FILE, INDX) end each
 * 512-byte stride with the update sequence number; the real last two bytes of each stride live
 * in the array. Applied in place on a private copy before anything else in the record is read.
 */
import { CorruptStructureError } from '../../errors.ts';

export const FIXUP_STRIDE = 512;

/** `offset` is the record's byte position on the volume, for messages. */
export function applyFixups(record: Uint8Array, structure: string, offset: number): void {
  const view = new DataView(record.buffer, record.byteOffset, record.byteLength);
  const usaOffset = view.getUint16(4, true);
  const usaCount = view.getUint16(6, true);
  const strides = record.length / FIXUP_STRIDE;
  if (!Number.isInteger(strides) || usaCount !== strides + 1 || usaOffset % 2 !== 0 || usaOffset + 2 * usaCount > FIXUP_STRIDE - 2) {
    throw new CorruptStructureError(structure, offset,
      `update sequence array (offset ${usaOffset}, count ${usaCount}) does not fit a ${record.length}-byte record`);
  }
  const usn = view.getUint16(usaOffset, true);
  for (let i = 1; i <= strides; i++) {
    const end = i * FIXUP_STRIDE - 2;
    if (view.getUint16(end, true) !== usn) {
      throw new CorruptStructureError(structure, offset + end,
        `torn write: sector ${i - 1} ends with 0x${view.getUint16(end, true).toString(16)}, update sequence number is 0x${usn.toString(16)}`);
    }
    view.setUint16(end, view.getUint16(usaOffset + 2 * i, true), true);
  }
}

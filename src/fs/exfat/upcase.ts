/**
 * The up-case table (exFAT specification 7.2): how this volume maps each UTF-16 unit to upper
 * case for file-name comparison. Stored compressed: 0xFFFF followed by n means "the next n
 * characters map to themselves".
 */
import { CorruptStructureError } from '../../errors.ts';
import { checksum32 } from './checksums.ts';

/** An uncompressed table has 65536 two-byte entries; the compressed one is smaller. */
export const MAX_UPCASE_BYTES = 65536 * 2;

export type UpcaseTable = Uint16Array;

/** Characters the table does not reach map to themselves. `offset` (volume bytes) is for errors. */
export function decodeUpcaseTable(data: Uint8Array, tableChecksum: number, offset: number): UpcaseTable {
  const sum = checksum32(data);
  if (sum !== tableChecksum) {
    throw new CorruptStructureError('exFAT up-case table', offset,
      `TableChecksum is 0x${tableChecksum.toString(16)}, the table gives 0x${sum.toString(16)}`);
  }
  const table = new Uint16Array(65536);
  for (let c = 0; c < 65536; c++) table[c] = c;
  let c = 0;
  for (let i = 0; i + 1 < data.length && c < 65536; i += 2) {
    const unit = data[i]! | (data[i + 1]! << 8);
    if (unit === 0xffff && i + 3 < data.length) {
      i += 2;
      c += data[i]! | (data[i + 1]! << 8);
    } else {
      table[c++] = unit;
    }
  }
  return table;
}

export function upcase(table: UpcaseTable, s: string): string {
  let out = '';
  for (let i = 0; i < s.length; i++) out += String.fromCharCode(table[s.charCodeAt(i)]!);
  return out;
}

/** The two checksums of exFAT: 32-bit over the boot region and the up-case table, 16-bit over directory entry sets. */

/** Rotate right by one and add each byte (32-bit), leaving out the bytes `skip` names. */
export function checksum32(data: Uint8Array, length = data.length, skip: ReadonlySet<number> = new Set()): number {
  let sum = 0;
  for (let i = 0; i < length; i++) {
    if (skip.has(i)) continue;
    sum = (((sum >>> 1) | (sum << 31)) + data[i]!) >>> 0;
  }
  return sum;
}

/** SetChecksum of a directory entry set: rotate right by one and add (16-bit), skipping the checksum's own bytes 2–3. */
export function entrySetChecksum(set: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < set.length; i++) {
    if (i === 2 || i === 3) continue;
    sum = ((((sum & 1) << 15) | (sum >>> 1)) + set[i]!) & 0xffff;
  }
  return sum;
}

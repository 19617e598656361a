/**
 * Names in FAT directories: 8.3 short names (OEM code page; we assume 437, the US default) with
 * Windows NT's lower-case flags, the checksum that ties long-name entries to their short entry,
 * and the case-insensitive comparison used for lookups.
 */

// Bytes 0x80–0xFF of code page 437 (bytes below are ASCII).
const CP437_HIGH =
  'ÇüéâäàåçêëèïîìÄÅÉæÆôöòûùÿÖÜ¢£¥₧ƒáíóúñÑªº¿⌐¬½¼¡«»░▒▓│┤╡╢╖╕╣║╗╝╜╛┐' +
  '└┴┬├─┼╞╟╚╔╩╦╠═╬╧╨╤╥╙╘╒╓╫╪┘┌█▄▌▐▀αßΓπΣσµτΦΘΩδ∞φε∩≡±≥≤⌠⌡÷≈°∙·√ⁿ²■' + '\u00a0';

/** Case flags in DIR_NTRes (0x0C): Windows NT stores "readme.txt" as README  TXT plus these. */
export const NT_LOWER_BASE = 0x08;
export const NT_LOWER_EXT = 0x10;

/** OEM bytes as text, trailing spaces dropped (also volume labels). */
export function oemText(bytes: Uint8Array): string {
  let s = '';
  for (const b of bytes) s += b < 0x80 ? String.fromCharCode(b) : CP437_HIGH[b - 0x80]!;
  return s.replace(/ +$/, '');
}

/** "NAME.EXT" from the 11-byte DIR_Name, honouring 0x05 (a literal 0xE5 first byte). */
export function shortName(name11: Uint8Array, ntFlags = 0): string {
  const base = name11.slice(0, 8);
  if (base[0] === 0x05) base[0] = 0xe5;
  let b = oemText(base);
  let e = oemText(name11.subarray(8, 11));
  if (ntFlags & NT_LOWER_BASE) b = b.toLowerCase();
  if (ntFlags & NT_LOWER_EXT) e = e.toLowerCase();
  return e ? `${b}.${e}` : b;
}

/** LDIR_Chksum: rotate right by one and add each byte of the 11-byte short name (8-bit). */
export function lfnChecksum(name11: Uint8Array): number {
  let sum = 0;
  for (let i = 0; i < 11; i++) sum = ((((sum & 1) << 7) | (sum >>> 1)) + name11[i]!) & 0xff;
  return sum;
}

/**
 * Upper-case each UTF-16 unit on its own, as Windows compares FAT names: a character whose
 * upper case is longer than one unit (German sharp s) stays as it is.
 */
export function upcaseUnits(s: string): string {
  let out = '';
  for (const c of s) {
    const u = c.toUpperCase();
    out += u.length === c.length ? u : c;
  }
  return out;
}

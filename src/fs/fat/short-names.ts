/**
 * Names for new FAT directory entries: which long names FAT accepts, the 8.3 basis name and
 * numeric tail Windows derives from a long name (Microsoft FAT specification, "Basis-Name
 * Generation Algorithm" and "Numeric-Tail Generation Algorithm"), and the VFAT long-name
 * entries that carry the long name (encoded with `LongNameEntry`).
 */
import { DIR_ENTRY_SIZE, LongNameEntry, ATTR_LONG_NAME } from './directory.ts';
import { lfnChecksum, upcaseUnits } from './names.ts';

export const MAX_LONG_NAME = 255;
const LFN_UNITS = 13;
/** Characters no FAT long name may hold (besides controls below 0x20). */
const LONG_INVALID = '"*/:<>?\\|';
/** Further characters an 8.3 name may not hold; they become `_` in a basis name. */
const SHORT_INVALID = '+,;=[]';

/** Why `name` is not a valid FAT long name, or undefined when it is. */
export function longNameProblem(name: string): string | undefined {
  if (name === '') return 'the name is empty';
  if (name === '.' || name === '..') return `"${name}" is reserved`;
  if (name.length > MAX_LONG_NAME) return `${name.length} characters, FAT allows ${MAX_LONG_NAME}`;
  for (const c of name) {
    if (c.charCodeAt(0) < 0x20 || LONG_INVALID.includes(c)) return `it contains ${JSON.stringify(c)}`;
  }
  if (/[ .]$/.test(name)) return 'it ends with a space or a period (Windows would drop them)';
  return undefined;
}

export interface ShortNameChoice {
  /** The 11 bytes of DIR_Name. */
  name11: Uint8Array;
  /** True when long-name entries must carry the name (it is not exactly its 8.3 form). */
  needsLongName: boolean;
}

function pad11(base: string, ext: string): Uint8Array {
  const out = new Uint8Array(11).fill(0x20);
  for (let i = 0; i < base.length; i++) out[i] = base.charCodeAt(i);
  for (let i = 0; i < ext.length; i++) out[8 + i] = ext.charCodeAt(i);
  return out;
}

const key = (b: Uint8Array) => String.fromCharCode(...b);

/**
 * The short name for long name `name` in a directory whose 8.3 names are `taken` (11-byte
 * keys as `String.fromCharCode(...DIR_Name)`). As Windows: the upper-cased name with invalid
 * characters as `_`, spaces and leading periods removed, 8 + 3 characters around the last
 * period; a numeric tail `~N` (N from 1) when that lost anything or was taken. A name that
 * differs from its 8.3 form only in case keeps the untailed 8.3 name and gets a long name.
 * Characters outside ASCII become `_` (we write no OEM code page).
 */
export function chooseShortName(name: string, taken: ReadonlySet<string>): ShortNameChoice {
  const upper = upcaseUnits(name);
  let lossy = false;
  let converted = '';
  for (const c of upper) {
    const code = c.charCodeAt(0);
    if (c.length > 1 || code > 0x7e || SHORT_INVALID.includes(c)) {
      converted += '_';
      lossy = true;
    } else converted += c;
  }
  const stripped = converted.replace(/ /g, '').replace(/^\.+/, '');
  if (stripped !== converted) lossy = true;
  const dot = stripped.lastIndexOf('.');
  const baseFull = (dot < 0 ? stripped : stripped.slice(0, dot)).replace(/\./g, '');
  const extFull = dot < 0 ? '' : stripped.slice(dot + 1);
  if (dot >= 0 && stripped.indexOf('.') !== dot) lossy = true;
  const base = baseFull.slice(0, 8);
  const ext = extFull.slice(0, 3);
  const fits = !lossy && base === baseFull && ext === extFull && base !== '';
  const exact = fits && (ext ? `${base}.${ext}` : base) === name;
  const plain = pad11(base || '_', ext);
  if (fits && !taken.has(key(plain))) return { name11: plain, needsLongName: !exact };
  for (let n = 1; n <= 999999; n++) {
    const tail = `~${n}`;
    const candidate = pad11((base || '_').slice(0, 8 - tail.length) + tail, ext);
    if (!taken.has(key(candidate))) return { name11: candidate, needsLongName: true };
  }
  throw new RangeError(`no free numeric tail for ${name}`);
}

/** The long-name entries for `name`, in on-disk order (highest LDIR_Ord, with 0x40, first). */
export function longNameEntries(name: string, name11: Uint8Array): Uint8Array {
  const count = Math.ceil(name.length / LFN_UNITS);
  const checksum = lfnChecksum(name11);
  const out = new Uint8Array(count * DIR_ENTRY_SIZE);
  for (let order = 1; order <= count; order++) {
    const units = new Uint8Array(LFN_UNITS * 2).fill(0xff);
    const part = name.slice((order - 1) * LFN_UNITS, order * LFN_UNITS);
    for (let i = 0; i < part.length; i++) {
      units[2 * i] = part.charCodeAt(i) & 0xff;
      units[2 * i + 1] = part.charCodeAt(i) >>> 8;
    }
    if (part.length < LFN_UNITS) units[2 * part.length] = units[2 * part.length + 1] = 0; // the terminator
    LongNameEntry.encodeInto({
      order: order | (order === count ? 0x40 : 0),
      name1: units.subarray(0, 10),
      attributes: ATTR_LONG_NAME,
      type: 0,
      checksum,
      name2: units.subarray(10, 22),
      firstClusterLow: 0,
      name3: units.subarray(22, 26),
    }, out, (count - order) * DIR_ENTRY_SIZE);
  }
  return out;
}

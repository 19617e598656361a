/**
 * The 32-byte entries the FAT writer creates: short entries with DOS timestamps, and a name's
 * long-name entries followed by its short entry.
 */
import { FatDirEntry } from './directory.ts';
import { chooseShortName, longNameEntries } from './short-names.ts';
import { encodeDosDateTime } from './timestamps.ts';

/** DIR_Name of the `.` and `..` entries. */
export const DOT = '.          ';
export const DOTDOT = '..         ';

/** The current local wall clock in the Date's UTC fields (the convention of `dosDateTime`). */
export function wallClockNow(): Date {
  const now = new Date();
  return new Date(now.getTime() - now.getTimezoneOffset() * 60_000);
}

/** A short entry: create, write and access dates all `when`. */
export function shortEntry(name11: Uint8Array, attributes: number, firstCluster: number, size: number, when: Date): Uint8Array {
  const t = encodeDosDateTime(when);
  return FatDirEntry.encode({
    name: name11, attributes, ntReserved: 0, createTimeTenth: t.centiseconds, createTime: t.time, createDate: t.date,
    lastAccessDate: t.date, firstClusterHigh: firstCluster >>> 16, writeTime: t.time, writeDate: t.date,
    firstClusterLow: firstCluster & 0xffff, fileSize: size,
  });
}

/** The entries naming `name` in a directory whose 8.3 names are `taken`: long-name entries, then the short one. */
export function namedEntries(name: string, taken: ReadonlySet<string>, attributes: number, firstCluster: number, size: number, when: Date): Uint8Array {
  const choice = chooseShortName(name, taken);
  const short = shortEntry(choice.name11, attributes, firstCluster, size, when);
  if (!choice.needsLongName) return short;
  const long = longNameEntries(name, choice.name11);
  const out = new Uint8Array(long.length + short.length);
  out.set(long);
  out.set(short, long.length);
  return out;
}

export const asName11 = (s: string) => Uint8Array.from(s, (c) => c.charCodeAt(0));

/**
 * GUIDs as Windows stores them: the first three groups little-endian, the last two as bytes
 * (shared/reference/boot-and-bcd.md 2.3). Strings are lower-case, without braces.
 */
import { UsageError } from '../errors.ts';

const hex = (b: Uint8Array, from: number, to: number, reverse: boolean): string => {
  const part = Array.from(b.subarray(from, to), (x) => x.toString(16).padStart(2, '0'));
  return (reverse ? part.reverse() : part).join('');
};

export function formatGuid(b: Uint8Array): string {
  return `${hex(b, 0, 4, true)}-${hex(b, 4, 6, true)}-${hex(b, 6, 8, true)}-${hex(b, 8, 10, false)}-${hex(b, 10, 16, false)}`;
}

const GUID_PATTERN = /^\{?([0-9a-f]{8})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{4})-([0-9a-f]{12})\}?$/i;

export function parseGuid(text: string): Uint8Array {
  const m = GUID_PATTERN.exec(text);
  if (!m) throw new UsageError(`not a GUID: ${JSON.stringify(text)}`, { text });
  const groups = m.slice(1).map((g) => Buffer.from(g, 'hex'));
  return Uint8Array.from([...groups[0]!.reverse(), ...groups[1]!.reverse(), ...groups[2]!.reverse(), ...groups[3]!, ...groups[4]!]);
}

export const NIL_GUID = '00000000-0000-0000-0000-000000000000';

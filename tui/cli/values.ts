/** Option values as the user types them: sizes with binary units, numbers in a range, lists. */
import { UsageError, type HashName } from '../../src/index.ts';
import { TEXT } from '../text.ts';

const UNIT_SHIFT: Record<string, number> = { '': 0, k: 10, m: 20, g: 30, t: 40 };

/**
 * `4G`, `700M`, `1.5T`, `4GiB`, `512k` or plain bytes. Units are binary (K = 1024): a FAT32
 * stick's 4 GiB file limit is what `--split 4G` is usually for.
 */
export function parseSize(option: string, text: string): number {
  const m = /^(\d+(?:\.\d+)?)\s*([kmgt]?)(?:i?b)?$/i.exec(text.trim());
  if (!m) throw new UsageError(TEXT.args.badSize(option, text));
  const bytes = Math.round(Number(m[1]) * 2 ** UNIT_SHIFT[m[2]!.toLowerCase()]!);
  if (!Number.isSafeInteger(bytes) || bytes <= 0) throw new UsageError(TEXT.args.badSize(option, text));
  return bytes;
}

export function parseInteger(option: string, text: string, min: number, max: number): number {
  const n = /^\d+$/.test(text) ? Number(text) : NaN;
  if (!Number.isSafeInteger(n) || n < min || n > max) throw new UsageError(TEXT.args.badInteger(option, text, min, max));
  return n;
}

/** `1,3` → [1, 3]: partition numbers as `inspect` shows them. */
export function parsePartitions(text: string): number[] {
  const items = text.split(',').map((s) => s.trim());
  const numbers = items.map((s) => parseInteger('partitions', s, 1, 1 << 16));
  return [...new Set(numbers)];
}

const CHUNK_SIZES = [1 << 20, 2 << 20, 4 << 20];

export function parseChunkSize(text: string): number {
  const bytes = parseSize('chunk-size', text);
  if (!CHUNK_SIZES.includes(bytes)) throw new UsageError(TEXT.args.badChunkSize(text));
  return bytes;
}

const HASHES: readonly HashName[] = ['sha256', 'md5', 'sha1'];

/** Extra forensic hashes; SHA-256 is always computed, so naming it is accepted and changes nothing. */
export function parseHashes(text: string): HashName[] {
  const names = text.split(',').map((s) => s.trim().toLowerCase().replace('-', ''));
  for (const n of names) if (!HASHES.includes(n as HashName)) throw new UsageError(TEXT.args.badHash(n));
  return [...new Set(names as HashName[])].filter((n) => n !== 'sha256');
}

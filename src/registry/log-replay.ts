/**
 * Transaction-log replay for a dirty hive (boot-and-bcd.md 5.7; [MSR] "Format of transaction log
 * files", "Dirty state of a hive", "Multiple transaction log files"). Both formats:
 *
 * - new (Windows 8.1+, log base block file type 6): `HvLE` entries from offset 512, each with a
 *   sequence number, hive bins data size, dirty page references and pages, and two Marvin32 hashes
 *   (seed 82 EF 4D 88 7A 4E 55 C5). An entry whose hashes do not match is never applied: its log
 *   is read no further. Entries are applied from the primary's secondary sequence number on, each
 *   the next number, taking .LOG1's entries and then .LOG2's; the base block gets each applied
 *   entry's sequence number, flags and bins size.
 * - old (file type 1 or 2): the log's base block (checksum valid, same last-written timestamp as
 *   the primary), a `DIRT` bitmap of 512-byte pages at 512, the dirty pages from the next sector.
 *
 * The result must open with the reader and walk completely, or replay fails with a typed error.
 * A dirty hive whose logs hold nothing applicable is refused (HiveDirtyError), never "cleaned".
 */
import { CorruptStructureError } from '../errors.ts';
import { HIVE_BINS_START, RegfBaseBlock, regfChecksum } from './base-block.ts';
import { HiveDirtyError, type HiveLogs } from './dirty.ts';
import { openHive } from './hive.ts';
import { layout, bytes as field, u32le, u64le } from '../binary/layout.ts';

/** [MSR] new format, note 3: the seed of both log entry hashes (bytes 82 EF 4D 88 7A 4E 55 C5, little-endian). */
export const LOG_MARVIN_SEED = 0xc5554e7a884def82n;
const LOG_ENTRIES_START = 512;
const SECTOR = 512;
const PAGE = 4096;
/** Base block flags field (Windows 10: KTM state), set from each applied log entry. */
const BASE_BLOCK_FLAGS = 0x90;

export const LogEntryHeader = layout('HvLE log entry', 40, {
  signature: field(0x00, 4), // "HvLE"
  size: u32le(0x04), // of the whole entry, a multiple of 512
  flags: u32le(0x08), // copy of the base block's flags
  sequenceNumber: u32le(0x0c), // written to both base block sequence numbers when applied
  hiveBinsDataSize: u32le(0x10),
  dirtyPagesCount: u32le(0x14),
  hash1: u64le(0x18), // Marvin32 of bytes 40..size
  hash2: u64le(0x20), // Marvin32 of bytes 0..32
  // dirty page references (u32 offset in the bins, u32 size) at 40, then the pages
});

/** Marvin32 (the 64-bit result: high word h1, low word h0, as Windows and .NET return it). */
export function marvin32(data: Uint8Array, seed: bigint): bigint {
  let h0 = Number(seed & 0xffffffffn) >>> 0;
  let h1 = Number(seed >> 32n) >>> 0;
  const rotl = (x: number, n: number) => ((x << n) | (x >>> (32 - n))) >>> 0;
  const mix = () => {
    h1 = (h1 ^ h0) >>> 0; h0 = rotl(h0, 20);
    h0 = (h0 + h1) >>> 0; h1 = rotl(h1, 9);
    h1 = (h1 ^ h0) >>> 0; h0 = rotl(h0, 27);
    h0 = (h0 + h1) >>> 0; h1 = rotl(h1, 19);
  };
  const v = new DataView(data.buffer, data.byteOffset, data.length);
  const blocks = data.length >> 2;
  for (let i = 0; i < blocks; i++) {
    h0 = (h0 + v.getUint32(i * 4, true)) >>> 0;
    mix();
  }
  let t = 0x80;
  for (let i = data.length - 1; i >= blocks * 4; i--) t = (t * 256 + data[i]!) >>> 0;
  h0 = (h0 + t) >>> 0;
  mix();
  mix();
  return (BigInt(h1) << 32n) | BigInt(h0);
}

interface LogEntry {
  log: string;
  sequenceNumber: number;
  flags: number;
  hiveBinsDataSize: number;
  pages: Array<{ offset: number; data: Uint8Array }>;
}

/** The valid HvLE entries of one new-format log, in file order, up to the first that is not valid. */
function newFormatEntries(log: Uint8Array, name: string): LogEntry[] {
  const out: LogEntry[] = [];
  const v = new DataView(log.buffer, log.byteOffset, log.length);
  for (let at = LOG_ENTRIES_START; at + LogEntryHeader.size <= log.length;) {
    const h = LogEntryHeader.decode(log, at);
    if (String.fromCharCode(...h.signature) !== 'HvLE') break;
    if (h.size < LogEntryHeader.size || h.size % SECTOR !== 0 || at + h.size > log.length) break;
    if (h.hiveBinsDataSize === 0 || h.hiveBinsDataSize % PAGE !== 0) break;
    const entry = log.subarray(at, at + h.size);
    if (marvin32(entry.subarray(40), LOG_MARVIN_SEED) !== h.hash1) break;
    if (marvin32(entry.subarray(0, 32), LOG_MARVIN_SEED) !== h.hash2) break;
    const refsEnd = LogEntryHeader.size + h.dirtyPagesCount * 8;
    if (h.dirtyPagesCount > (h.size - LogEntryHeader.size) / 8) break;
    const pages: LogEntry['pages'] = [];
    let data = refsEnd;
    let ok = true;
    for (let i = 0; i < h.dirtyPagesCount; i++) {
      const offset = v.getUint32(at + 40 + i * 8, true);
      const size = v.getUint32(at + 44 + i * 8, true);
      if (offset % PAGE !== 0 || size === 0 || size % PAGE !== 0 || offset + size > h.hiveBinsDataSize || data + size > h.size) {
        ok = false;
        break;
      }
      pages.push({ offset, data: entry.subarray(data, data + size) });
      data += size;
    }
    if (!ok) break;
    out.push({ log: name, sequenceNumber: h.sequenceNumber, flags: h.flags, hiveBinsDataSize: h.hiveBinsDataSize, pages });
    at += h.size;
  }
  return out;
}

/** The pages of an old-format log (DIRT bitmap), if it applies to this primary (same timestamp, valid checksum). */
function oldFormatPages(log: Uint8Array, primaryTimestamp: bigint): { hiveBinsDataSize: number; pages: LogEntry['pages'] } | undefined {
  const b = RegfBaseBlock.decode(log);
  if (b.checksum !== regfChecksum(log) && b.checksum !== plainXor(log)) return undefined;
  if (b.lastWrittenTimestamp !== primaryTimestamp) return undefined;
  const size = b.hiveBinsDataSize;
  if (size === 0 || size % PAGE !== 0) return undefined;
  if (String.fromCharCode(...log.subarray(LOG_ENTRIES_START, LOG_ENTRIES_START + 4)) !== 'DIRT') return undefined;
  const bits = size / SECTOR;
  const bitmap = log.subarray(LOG_ENTRIES_START + 4, LOG_ENTRIES_START + 4 + Math.ceil(bits / 8));
  if (bitmap.length * 8 < bits) return undefined;
  let next = Math.ceil((LOG_ENTRIES_START + 4 + bitmap.length) / SECTOR) * SECTOR;
  const pages: LogEntry['pages'] = [];
  for (let i = 0; i < bits; i++) {
    if (!(bitmap[i >> 3]! & (1 << (i & 7)))) continue;
    if (next + SECTOR > log.length) return undefined; // truncated log: apply nothing from it
    pages.push({ offset: i * SECTOR, data: log.subarray(next, next + SECTOR) });
    next += SECTOR;
  }
  return { hiveBinsDataSize: size, pages };
}

function plainXor(block: Uint8Array): number {
  const v = new DataView(block.buffer, block.byteOffset, 0x1fc);
  let x = 0;
  for (let i = 0; i < 0x1fc; i += 4) x ^= v.getUint32(i, true);
  return x >>> 0;
}

export interface ReplayResult {
  /** The recovered hive: clean (both sequence numbers equal), checksum valid. */
  bytes: Uint8Array;
  /** Sequence numbers of the new-format entries applied, in order (empty for an old-format log). */
  applied: number[];
  format: 'new' | 'old';
}

/**
 * Replay the transaction logs of a dirty hive into a copy of it. Throws HiveDirtyError when the
 * logs hold nothing that may be applied (no entry with the primary's secondary sequence number
 * and valid hashes; no old-format log matching the primary), CorruptStructureError when the
 * result does not read back.
 */
export function replayTransactionLogs(primary: Uint8Array, name: string, logs: HiveLogs): ReplayResult {
  const hive = openHive(primary, name); // the primary's base block must be valid (checksum included)
  const { primarySequenceNumber: p, secondarySequenceNumber: s } = hive.base;
  const named: Array<[string, Uint8Array]> = [];
  if (logs.log1) named.push(['LOG1', logs.log1]);
  if (logs.log2) named.push(['LOG2', logs.log2]);
  const refuse = (why: string) => new HiveDirtyError(name, p, s, why);
  if (named.length === 0) throw refuse('No .LOG1/.LOG2 files were supplied; they must be, so their changes can be replayed');

  const entries = new Map<number, LogEntry>();
  let oldLog: { hiveBinsDataSize: number; pages: LogEntry['pages'] } | undefined;
  for (const [logName, log] of named) {
    if (log.length < LOG_ENTRIES_START || String.fromCharCode(...log.subarray(0, 4)) !== 'regf') continue;
    const fileType = RegfBaseBlock.decode(log).fileType;
    if (fileType === 6) {
      for (const e of newFormatEntries(log, logName)) if (!entries.has(e.sequenceNumber)) entries.set(e.sequenceNumber, e);
    } else if ((fileType === 1 || fileType === 2) && !oldLog) {
      oldLog = oldFormatPages(log, hive.base.block.lastWrittenTimestamp);
    }
  }

  let out = new Uint8Array(primary);
  const apply = (hiveBinsDataSize: number, pages: LogEntry['pages']) => {
    const end = HIVE_BINS_START + hiveBinsDataSize;
    if (end > out.length) {
      const grown = new Uint8Array(end);
      grown.set(out);
      out = grown;
    }
    for (const pg of pages) out.set(pg.data, HIVE_BINS_START + pg.offset);
    new DataView(out.buffer).setUint32(RegfBaseBlock.fields.hiveBinsDataSize.offset, hiveBinsDataSize, true);
  };
  const v = () => new DataView(out.buffer);
  const applied: number[] = [];
  let format: 'new' | 'old';
  if (entries.has(s)) {
    format = 'new';
    for (let seq = s; entries.has(seq); seq = (seq + 1) >>> 0) {
      const e = entries.get(seq)!;
      apply(e.hiveBinsDataSize, e.pages);
      v().setUint32(BASE_BLOCK_FLAGS, e.flags, true);
      applied.push(seq);
      if (applied.length > entries.size) break;
    }
    const last = applied.at(-1)!;
    v().setUint32(RegfBaseBlock.fields.primarySequenceNumber.offset, last, true);
    v().setUint32(RegfBaseBlock.fields.secondarySequenceNumber.offset, last, true);
  } else if (oldLog) {
    format = 'old';
    apply(oldLog.hiveBinsDataSize, oldLog.pages);
    v().setUint32(RegfBaseBlock.fields.secondarySequenceNumber.offset, p, true);
  } else {
    throw refuse(`The logs supplied hold no entry that may be applied (none with sequence number ${s} and valid Marvin32 hashes, `
      + 'and no old-format log matching the hive)');
  }
  v().setUint32(RegfBaseBlock.fields.checksum.offset, regfChecksum(out), true);
  const replayed = openHive(out, name);
  if (replayed.dirty) throw new CorruptStructureError('regf base block', 4, 'still dirty after log replay');
  for (const { key } of replayed.walk()) for (const value of key.values()) void value.data; // every record must read
  return { bytes: out, applied, format };
}

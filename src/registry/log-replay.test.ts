/**
 * Transaction-log replay. No Windows-written .LOG1/.LOG2 is available to the tests, so logs are
 * HAND-ASSEMBLED here from [MSR]'s description (new format: HvLE entries with Marvin32 hashes;
 * old format: DIRT bitmap and 512-byte pages) around a real change: the fixture BCD edited by our
 * writer, whose changed pages go into the log while the primary keeps the old pages and is made
 * dirty the way Windows leaves it (primary sequence number one ahead). The replayed hive must be
 * byte-identical to the edited one in its bins and list identically in hivexregedit. Marvin32
 * itself is checked against the published test vectors (skeeto/marvin32, also used by the .NET
 * runtime's tests), so the hashes are not only checked against themselves.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../test/helpers/tools.ts';
import { HiveDirtyError } from './dirty.ts';
import { openHive, REG } from './hive.ts';
import { openHiveForEdit } from './hive-writer.ts';
import { LOG_MARVIN_SEED, marvin32, replayTransactionLogs } from './log-replay.ts';
import { fixtureHive, hivexExport, parseRegExport, sorted } from './test-support.ts';

const scratch = scratchDir();
test.after.always(scratch.remove);
let cached: Uint8Array | undefined;
const bcd = () => new Uint8Array(cached ??= new Uint8Array(readFileSync(fixtureHive('uefi-gpt', 'bcd', scratch.dir).file)));
const NOW = new Date('2026-11-25T12:00:00Z');
const DEVICE_KEY = 'Objects\\{9dea862c-5cdd-4e70-acc1-f32b344d4795}\\Elements\\11000001';

test('Marvin32 matches the published vectors (skeeto/marvin32, .NET runtime tests)', (t) => {
  const seed0 = 0x004fb61a001bdbccn;
  const seed1 = 0x804fb61a001bdbccn;
  const bufs = [[], [0xaf], [0xe7, 0x0f], [0x37, 0xf4, 0x95], [0x86, 0x42, 0xdc, 0x59], [0x15, 0x3f, 0xb7, 0x98, 0x26],
    [0x09, 0x32, 0xe6, 0x24, 0x6c, 0x47], [0xab, 0x42, 0x7e, 0xa8, 0xd1, 0x0f, 0xc7]].map((b) => Uint8Array.from(b));
  const want0 = [0x30ed35c100cd3c7dn, 0x48e73fc77d75ddc1n, 0xb5f6e1fc485dbff8n, 0xf0b07c789b8cf7e8n, 0x7008f2e87e9cf556n,
    0xe6c08c6da2afa997n, 0x6f04bf1a5ea24060n, 0xe11847e4f0678c41n];
  const want1 = [0x10a9d5d3996fd65dn, 0x68201f91960ebf91n, 0x64b581631f6ab378n, 0xe1f2dfa6e5131408n, 0x36289d9654fb49f6n,
    0x0a06114b13464dbdn, 0xd6dd5e40ad1bc2edn, 0xe203987dba252fb3n];
  bufs.forEach((b, i) => {
    t.is(marvin32(b, seed0), want0[i]!, `seed0 #${i}`);
    t.is(marvin32(b, seed1), want1[i]!, `seed1 #${i}`);
  });
  t.is(LOG_MARVIN_SEED & 0xffn, 0x82n); // bytes 82 EF 4D 88 7A 4E 55 C5 as a little-endian u64
});

const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset).getUint32(at, true);
const setU32 = (b: Uint8Array, at: number, v: number) => new DataView(b.buffer, b.byteOffset).setUint32(at, v >>> 0, true);
function fixChecksum(b: Uint8Array) {
  let x = 0;
  for (let i = 0; i < 0x1fc; i += 4) x ^= u32(b, i);
  setU32(b, 0x1fc, x);
}

/** 4096-byte pages of `after`'s bins that differ from `before` (or lie past its bins). */
function changedPages(before: Uint8Array, after: Uint8Array): Array<{ offset: number; data: Uint8Array }> {
  const pages: Array<{ offset: number; data: Uint8Array }> = [];
  const size = u32(after, 0x28);
  for (let o = 0; o < size; o += 4096) {
    const a = after.subarray(4096 + o, 8192 + o);
    const b = before.subarray(4096 + o, 8192 + o);
    if (b.length !== a.length || a.some((x, i) => x !== b[i])) pages.push({ offset: o, data: a });
  }
  return pages;
}

/** HAND-ASSEMBLED new-format log ([MSR]): the primary's first sector with file type 6, then HvLE entries. */
function newFormatLog(primary: Uint8Array, entries: Array<{ seq: number; binsSize: number; pages: Array<{ offset: number; data: Uint8Array }> }>): Uint8Array {
  const parts: Uint8Array[] = [];
  const base = new Uint8Array(512);
  base.set(primary.subarray(0, 512));
  setU32(base, 0x1c, 6);
  fixChecksum(base);
  parts.push(base);
  for (const e of entries) {
    const body = 40 + e.pages.length * 8 + e.pages.reduce((n, p) => n + p.data.length, 0);
    const size = Math.ceil(body / 512) * 512;
    const entry = new Uint8Array(size);
    entry.set([0x48, 0x76, 0x4c, 0x45]); // HvLE
    setU32(entry, 4, size);
    setU32(entry, 8, 0);
    setU32(entry, 12, e.seq);
    setU32(entry, 16, e.binsSize);
    setU32(entry, 20, e.pages.length);
    let at = 40 + e.pages.length * 8;
    e.pages.forEach((p, i) => {
      setU32(entry, 40 + i * 8, p.offset);
      setU32(entry, 44 + i * 8, p.data.length);
      entry.set(p.data, at);
      at += p.data.length;
    });
    const v = new DataView(entry.buffer);
    v.setBigUint64(24, marvin32(entry.subarray(40), LOG_MARVIN_SEED), true);
    v.setBigUint64(32, marvin32(entry.subarray(0, 32), LOG_MARVIN_SEED), true);
    parts.push(entry);
  }
  return Buffer.concat(parts);
}

/** The original made dirty as an interrupted write leaves it: primary sequence number one ahead. */
function dirtied(original: Uint8Array): Uint8Array {
  const d = new Uint8Array(original);
  setU32(d, 4, u32(d, 8) + 1);
  fixChecksum(d);
  return d;
}

function edits(bytes: Uint8Array, step: 1 | 2): Uint8Array {
  const e = openHiveForEdit(bytes, 'BCD', undefined, { now: NOW });
  if (step === 1) {
    e.setValueData(DEVICE_KEY, 'Element', REG.BINARY, Uint8Array.from({ length: 88 }, (_, i) => 255 - i));
    e.addValue('Description', 'From the log', REG.BINARY, Uint8Array.from({ length: 50 }, (_, i) => i));
  } else {
    for (let i = 0; i < 80; i++) e.addKey('Objects', `{log-entry-two-${i.toString().padStart(4, '0')}-xxxxxxxxxxxxxxxxxx}`); // grows the bins
  }
  return e.bytes;
}

const exportOf = (bytes: Uint8Array) => {
  const file = join(scratch.dir, `replayed-${Math.random().toString(16).slice(2)}.hive`);
  writeFileSync(file, bytes);
  return { file, listing: sorted(parseRegExport(hivexExport(file))) };
};

test('new format: two HvLE entries (LOG1 then LOG2, the second growing the bins) replay to the edited hive', (t) => {
  const original = bcd();
  const seq = u32(original, 8);
  const step1 = edits(original, 1);
  const step2 = edits(step1, 2);
  t.true(u32(step2, 0x28) > u32(original, 0x28));
  const primary = dirtied(original);
  const log1 = newFormatLog(primary, [{ seq, binsSize: u32(step1, 0x28), pages: changedPages(original, step1) }]);
  const log2 = newFormatLog(primary, [{ seq: seq + 1, binsSize: u32(step2, 0x28), pages: changedPages(step1, step2) }]);

  const r = replayTransactionLogs(primary, 'BCD', { log1, log2 });
  t.deepEqual(r.applied, [seq, seq + 1]);
  t.is(r.format, 'new');
  t.deepEqual(Buffer.from(r.bytes.subarray(4096)), Buffer.from(step2.subarray(4096, 4096 + u32(step2, 0x28))));
  const hive = openHive(r.bytes, 'BCD');
  t.false(hive.dirty);
  t.is(hive.base.primarySequenceNumber, seq + 1);
  t.deepEqual(exportOf(r.bytes).listing, exportOf(step2).listing);

  // Only the first entry when the second is missing; editing the replayed hive goes on from there.
  const editor = openHiveForEdit(primary, 'BCD', { log1 }, { now: NOW });
  t.deepEqual(editor.replayed?.applied, [seq]);
  editor.setValueData('Description', 'After replay', REG.DWORD, Uint8Array.of(1, 0, 0, 0));
  const { file, listing } = exportOf(editor.bytes);
  const expected = structuredClone(exportOf(step1).listing) as Record<string, Record<string, string>>;
  expected['\\Description']!['After replay'] = '4:01000000';
  t.deepEqual(listing, sorted(new Map(Object.entries(expected).map(([k, v]) => [k, new Map(Object.entries(v))]))));
  t.is(openHive(editor.bytes, 'BCD').base.primarySequenceNumber, seq + 1);
  const sh = spawnSync('hivexsh', ['-d', '-f', '/dev/null', file], { encoding: 'utf8' });
  t.regex(sh.stderr, /successfully read/);
  t.is(spawnSync('reged', ['-x', file, 'HKEY_LOCAL_MACHINE\\BCD', '\\', `${file}.reg`], { encoding: 'utf8' }).status, 0);
});

test('new format: an entry whose hashes do not match is never applied, nor anything after it', (t) => {
  const original = bcd();
  const seq = u32(original, 8);
  const step1 = edits(original, 1);
  const step2 = edits(step1, 2);
  const primary = dirtied(original);
  const good = newFormatLog(primary, [
    { seq, binsSize: u32(step1, 0x28), pages: changedPages(original, step1) },
    { seq: seq + 1, binsSize: u32(step2, 0x28), pages: changedPages(step1, step2) },
  ]);
  t.deepEqual(replayTransactionLogs(primary, 'BCD', { log1: good }).applied, [seq, seq + 1]);

  const firstSize = u32(good, 512 + 4);
  const badPage = new Uint8Array(good);
  badPage[512 + firstSize - 100]! ^= 1; // inside the first entry's pages: hash-1
  const e1 = t.throws(() => replayTransactionLogs(primary, 'BCD', { log1: badPage }), { instanceOf: HiveDirtyError })!;
  t.regex(e1.message, new RegExp(`sequence number ${seq} and valid Marvin32`));
  t.throws(() => openHiveForEdit(primary, 'BCD', { log1: badPage }), { instanceOf: HiveDirtyError });

  const badHeader = new Uint8Array(good);
  badHeader[512 + 16]! ^= 0x10; // the first entry's bins size: hash-2
  t.throws(() => replayTransactionLogs(primary, 'BCD', { log1: badHeader }), { instanceOf: HiveDirtyError });

  const badSecond = new Uint8Array(good);
  badSecond[512 + firstSize + 200]! ^= 1;
  t.deepEqual(replayTransactionLogs(primary, 'BCD', { log1: badSecond }).applied, [seq]);

  // Entries older than the primary (already applied) are not replayed.
  const stale = newFormatLog(primary, [{ seq: seq - 1, binsSize: u32(step1, 0x28), pages: changedPages(original, step1) }]);
  t.throws(() => replayTransactionLogs(primary, 'BCD', { log1: stale }), { instanceOf: HiveDirtyError });
  // Garbage and truncated logs give the same refusal, never a crash.
  t.throws(() => replayTransactionLogs(primary, 'BCD', { log1: new Uint8Array(100), log2: good.subarray(0, 700) }), { instanceOf: HiveDirtyError });
});

test('old format: DIRT bitmap and 512-byte pages, applied only when the log matches the primary', (t) => {
  const original = bcd();
  const step1 = edits(original, 1);
  const primary = dirtied(original);
  const binsSize = u32(step1, 0x28);
  const base = new Uint8Array(512);
  base.set(primary.subarray(0, 512));
  setU32(base, 0x1c, 1);
  setU32(base, 0x28, binsSize);
  fixChecksum(base);
  const bits = binsSize / 512;
  const bitmap = new Uint8Array(Math.ceil(bits / 8));
  const pages: Uint8Array[] = [];
  for (let i = 0; i < bits; i++) {
    const a = step1.subarray(4096 + i * 512, 4096 + (i + 1) * 512);
    const b = original.subarray(4096 + i * 512, 4096 + (i + 1) * 512);
    if (b.length === a.length && a.every((x, j) => x === b[j])) continue;
    bitmap[i >> 3]! |= 1 << (i & 7);
    pages.push(a);
  }
  const head = new Uint8Array(Math.ceil((4 + bitmap.length) / 512) * 512);
  head.set([0x44, 0x49, 0x52, 0x54]); // DIRT
  head.set(bitmap, 4);
  const log = Buffer.concat([base, head, ...pages]);
  const r = replayTransactionLogs(primary, 'BCD', { log1: log });
  t.is(r.format, 'old');
  t.deepEqual(Buffer.from(r.bytes.subarray(4096)), Buffer.from(step1.subarray(4096, 4096 + binsSize)));
  t.deepEqual(exportOf(r.bytes).listing, exportOf(step1).listing);

  const otherTime = new Uint8Array(log);
  otherTime[0x0c]! ^= 1;
  fixChecksum(otherTime);
  t.throws(() => replayTransactionLogs(primary, 'BCD', { log1: otherTime }), { instanceOf: HiveDirtyError });
});

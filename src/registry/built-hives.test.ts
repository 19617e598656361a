/**
 * Hives built in the test with hivexregedit --merge (onto scripts/fixtures/empty-hive.py, as the
 * fixtures are made): every value type, UTF-16 names, a 20000-byte value and a key of 600
 * subkeys. hivex 1.3.23 writes neither ri lists nor db big data (it stores a 20000-byte value in
 * one plain cell and 600 — or 3000 — subkeys in a single lh), so those two are HAND-ASSEMBLED
 * below from the spec (boot-and-bcd.md 5.4) and then checked by hivexregedit/hivexget reading the
 * patched hive the same way as the original.
 */
import test from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir, toolBytes } from '../../test/helpers/tools.ts';
import { openHive, REG } from './hive.ts';
import { buildHive, exercise, hexReg, hivexExport, hivexmlRuns, listHive, parseRegExport, rng, sorted } from './test-support.ts';
import { LifeboatError } from '../errors.ts';

const utf16z = (...strings: string[]) => Buffer.from(strings.map((s) => `${s}\0`).join(''), 'utf16le');
const BLOB = Uint8Array.from({ length: 20000 }, (_, i) => (i * 7 + (i >> 8)) & 0xff);
const SUBKEYS = 600;

function regText(): string {
  const lines = [
    '[\\Types]',
    `@=${hexReg(REG.SZ, utf16z('default'))}`,
    `"Sz"=${hexReg(REG.SZ, utf16z('hello'))}`,
    `"Expand"=${hexReg(REG.EXPAND_SZ, utf16z('%SystemRoot%\\x'))}`,
    `"Multi"=${hexReg(REG.MULTI_SZ, utf16z('a', 'bb', ''))}`,
    '"Dword"=dword:deadbeef',
    `"BigEndian"=${hexReg(REG.DWORD_BIG_ENDIAN, Uint8Array.of(0, 0, 1, 2))}`,
    `"Qword"=${hexReg(REG.QWORD, Uint8Array.of(1, 2, 3, 4, 5, 6, 7, 0))}`,
    `"None"=${hexReg(REG.NONE, new Uint8Array(0))}`,
    `"Odd type"=${hexReg(0x2a, Uint8Array.of(1, 2, 3, 4, 5))}`,
    `"Tiny"=${hexReg(REG.BINARY, Uint8Array.of(9))}`,
    `"Blob"=${hexReg(REG.BINARY, BLOB)}`,
    '"Quote\\"and\\\\slash"=dword:00000007',
    '',
    '[\\Ключ]',
    '"Значение"=dword:00000005',
    '',
    '[\\Many]',
    '',
  ];
  for (let i = 0; i < SUBKEYS; i++) lines.push(`[\\Many\\Key${i.toString().padStart(4, '0')}]`, `"n"=dword:${i.toString(16).padStart(8, '0')}`, '');
  return lines.join('\n');
}

const scratch = scratchDir();
test.after.always(scratch.remove);
let builtFile: string | undefined;

/** One hive built for the whole file (hivexregedit takes seconds for 600 keys); each test copies its bytes. */
function built(): { dir: string; file: string; bytes: Uint8Array } {
  builtFile ??= buildHive(scratch.dir, 'built', regText());
  return { dir: scratch.dir, file: builtFile, bytes: new Uint8Array(readFileSync(builtFile)) };
}

test('a hivex-built hive: every key, value name, type and data byte equals hivexregedit --export', (t) => {
  const { file, bytes } = built();
  const hive = openHive(bytes, 'built');
  t.deepEqual(sorted(listHive(hive)), sorted(parseRegExport(hivexExport(file))));

  const types = hive.key('types')!;
  t.is(types.value('')!.asString(), 'default');
  t.is(types.value('SZ')!.asString(), 'hello');
  t.is(types.value('Expand')!.type, REG.EXPAND_SZ);
  t.is(types.value('Expand')!.asString(), '%SystemRoot%\\x');
  t.deepEqual(types.value('Multi')!.asMultiString(), ['a', 'bb']);
  t.is(types.value('Dword')!.asNumber(), 0xdeadbeef);
  t.is(types.value('BigEndian')!.asNumber(), 0x102);
  t.is(types.value('Qword')!.asBigInt(), 0x0007060504030201n);
  t.is(types.value('Qword')!.asNumber(), 0x0007060504030201);
  t.is(types.value('Odd type')!.type, 0x2a);
  t.is(types.value('Tiny')!.storage.kind, 'inline');
  t.is(types.value('None')!.data.length, 0);
  t.is(types.value('Quote"and\\slash')!.asNumber(), 7);
  const blob = types.value('blob')!;
  t.deepEqual(blob.data, BLOB);
  t.is(blob.storage.kind, 'cell'); // hivex's way: one 20008-byte cell, no db
  t.deepEqual(Buffer.from(blob.data), toolBytes('hivexget', [file, '\\Types', 'Blob']));

  // UTF-16 names (not Latin-1, so stored uncompressed), looked up case-insensitively.
  t.is(hive.key('КЛЮЧ')!.name, 'Ключ');
  t.is(hive.key('ключ')!.value('ЗНАЧЕНИЕ')!.asNumber(), 5);

  const many = hive.key('Many')!;
  t.is(many.subkeys().length, SUBKEYS);
  t.is(many.subkey('key0599')!.value('N')!.asNumber(), 599);
  t.is(hive.key('MANY\\KEY0123')!.value('n')!.asNumber(), 123);
});

/**
 * HAND-ASSEMBLED: the 600-element lh of \Many rewritten in its own cell as an ri pointing at an
 * li (200), an lf (200, 4-character name hints) and an lh (200, name hashes), the rest of the
 * cell left free. hivex must still list the same hive.
 */
function withRiIndex(bytes: Uint8Array): Uint8Array {
  const out = new Uint8Array(bytes);
  const v = new DataView(out.buffer);
  const hive = openHive(bytes, 'built');
  const lh = 4096 + hive.key('Many')!.node.subkeysListOffset; // file offset of the lh cell's size field
  const cellSize = -v.getInt32(lh, true);
  if (String.fromCharCode(out[lh + 4]!, out[lh + 5]!) !== 'lh' || v.getUint16(lh + 6, true) !== SUBKEYS) throw new Error('expected hivex\'s single lh');
  const elements = Array.from({ length: SUBKEYS }, (_, i) => ({
    nk: v.getUint32(lh + 8 + i * 8, true),
    hash: v.getUint32(lh + 12 + i * 8, true),
  }));
  const names = hive.key('Many')!.subkeys().map((k) => k.name);
  out.fill(0, lh, lh + cellSize);
  let at = lh;
  const cell = (size: number, sig: string, count: number) => {
    v.setInt32(at, -size, true);
    out[at + 4] = sig.charCodeAt(0);
    out[at + 5] = sig.charCodeAt(1);
    v.setUint16(at + 6, count, true);
    const start = at;
    at += size;
    return start;
  };
  const ri = cell(24, 'ri', 3);
  const li = cell(8 + 200 * 4, 'li', 200);
  const lf = cell(8 + 200 * 8, 'lf', 200);
  const lh2 = cell(8 + 200 * 8, 'lh', 200);
  v.setInt32(at, lh + cellSize - at, true); // free remainder
  for (const [i, leaf] of [li, lf, lh2].entries()) v.setUint32(ri + 8 + i * 4, leaf - 4096, true);
  for (let i = 0; i < 200; i++) {
    v.setUint32(li + 8 + i * 4, elements[i]!.nk, true);
    const f = elements[200 + i]!;
    v.setUint32(lf + 8 + i * 8, f.nk, true);
    out.set(Buffer.from(names[200 + i]!.slice(0, 4), 'latin1'), lf + 12 + i * 8);
    v.setUint32(lh2 + 8 + i * 8, elements[400 + i]!.nk, true);
    v.setUint32(lh2 + 12 + i * 8, elements[400 + i]!.hash, true);
  }
  return out;
}

/**
 * HAND-ASSEMBLED: the 20000-byte Blob moved into db big data in a new 24 KiB hbin appended to
 * the hive (db record, segment list, a 16344-byte and a 3656-byte segment, padding bytes 0xEE so
 * a reader that takes whole cells would be caught), the vk pointed at the db, the old data cell
 * zeroed, bins size and checksum updated.
 */
function withBigData(bytes: Uint8Array): { bytes: Uint8Array; dbOffset: number } {
  const hive = openHive(bytes, 'built');
  const blob = hive.key('Types')!.value('Blob')!;
  const oldSize = hive.base.hiveBinsDataSize;
  const binSize = 24576;
  const out = new Uint8Array(4096 + oldSize + binSize);
  out.set(bytes.subarray(0, 4096 + oldSize));
  const v = new DataView(out.buffer);
  const bin = 4096 + oldSize;
  out.set(Buffer.from('hbin'), bin);
  v.setUint32(bin + 4, oldSize, true);
  v.setUint32(bin + 8, binSize, true);
  let at = bin + 32;
  const cell = (size: number) => {
    v.setInt32(at, -size, true);
    const start = at;
    at += size;
    return start;
  };
  const db = cell(16);
  const list = cell(16);
  const seg1 = cell(16352);
  const seg2 = cell(3664);
  v.setInt32(at, bin + binSize - at, true); // free remainder
  out.set(Buffer.from('db'), db + 4);
  v.setUint16(db + 6, 2, true);
  v.setUint32(db + 8, list - 4096, true);
  v.setUint32(list + 4, seg1 - 4096, true);
  v.setUint32(list + 8, seg2 - 4096, true);
  out.fill(0xee, seg1 + 4, seg1 + 16352);
  out.set(BLOB.subarray(0, 16344), seg1 + 4);
  out.fill(0xee, seg2 + 4, seg2 + 3664);
  out.set(BLOB.subarray(16344), seg2 + 4);
  const oldData = 4096 + blob.dataCellOffset!;
  out.fill(0, oldData + 4, oldData + 4 + BLOB.length);
  v.setUint32(4096 + blob.cellOffset + 4 + 8, db - 4096, true); // vk data offset
  v.setUint32(0x28, oldSize + binSize, true);
  let x = 0;
  for (let i = 0; i < 0x1fc; i += 4) x ^= v.getUint32(i, true);
  v.setUint32(0x1fc, x >>> 0, true);
  return { bytes: out, dbOffset: db - 4096 };
}

test('an ri over li, lf and lh leaves (hand-assembled): hivex and the reader list the same 600 subkeys', (t) => {
  const { dir, file, bytes } = built();
  const patched = withRiIndex(bytes);
  const patchedFile = join(dir, 'ri.hive');
  writeFileSync(patchedFile, patched);
  const original = sorted(parseRegExport(hivexExport(file)));
  t.deepEqual(sorted(parseRegExport(hivexExport(patchedFile))), original, 'hivex reads the hand-made ri like the original');
  const hive = openHive(patched, 'ri');
  t.deepEqual(sorted(listHive(hive)), original);
  const many = hive.key('many')!;
  t.deepEqual(many.subkeys().map((k) => k.name), Array.from({ length: SUBKEYS }, (_, i) => `Key${i.toString().padStart(4, '0')}`));
  for (const n of [0, 199, 200, 399, 400, 599]) t.is(many.subkey(`KEY${n.toString().padStart(4, '0')}`)!.value('n')!.asNumber(), n);
});

test('db big data (hand-assembled): hivexget and the reader give the 20000 bytes', (t) => {
  const { dir, bytes } = built();
  const { bytes: patched, dbOffset } = withBigData(bytes);
  const patchedFile = join(dir, 'db.hive');
  writeFileSync(patchedFile, patched);
  t.deepEqual(new Uint8Array(toolBytes('hivexget', [patchedFile, '\\Types', 'Blob'])), BLOB, 'hivex reads the hand-made db');
  const blob = openHive(patched, 'db').key('Types')!.value('Blob')!;
  t.deepEqual(blob.data, BLOB);
  const storage = blob.storage;
  t.is(storage.kind, 'big');
  t.is(blob.dataCellOffset, dbOffset);
  if (storage.kind === 'big') t.is(storage.segments.length, 2);
  t.deepEqual(sorted(listHive(openHive(patched, 'db'))), sorted(parseRegExport(hivexExport(patchedFile))));
});

test('cell offsets equal the byte runs hivexml reports for every key and value (plain, ri and db hives)', (t) => {
  const { dir, bytes } = built();
  const variants: Array<[string, Uint8Array]> = [['plain', bytes], ['ri', withRiIndex(bytes)], ['db', withBigData(bytes).bytes]];
  for (const [label, variant] of variants) {
    const file = join(dir, `runs-${label}.hive`);
    writeFileSync(file, variant);
    const runs = hivexmlRuns(file).keys;
    let checked = 0;
    for (const { path, key } of openHive(variant, label).walk()) {
      const xml = runs.get(`\\${path}`);
      t.truthy(xml, `${label} ${path}`);
      t.is(xml!.nk[0], 4096 + key.cellOffset, `${label} ${path}`);
      for (const value of key.values()) {
        const r = xml!.values.get(value.name)!;
        const s = value.storage;
        if (r.length === 0 && value.data.length === 0) continue; // hivexml gives empty values no byte runs
        // hivexml's runs: the vk cell, then the data cell or the db record (not the segments)
        const expected = [4096 + value.cellOffset, ...(value.dataCellOffset === undefined ? [] : [4096 + value.dataCellOffset])];
        t.deepEqual(r, expected, `${label} ${path} ${value.name} (${s.kind})`);
        checked++;
      }
    }
    t.true(checked > SUBKEYS);
  }
});

test('bit flips in the hand-assembled ri lists and db big data give a value or a LifeboatError', (t) => {
  const { bytes } = built();
  const riStart = 4096 + openHive(bytes, 'built').key('Many')!.node.subkeysListOffset;
  const base = withBigData(withRiIndex(bytes)).bytes;
  const dbBin = base.length - 24576;
  const outcomes = { ok: 0, corrupt: 0 };
  for (let seed = 1; seed <= 300; seed++) {
    const r = rng(seed * 40503);
    const b = new Uint8Array(base);
    for (let i = 0; i < 1 + r(6); i++) {
      // the ri and its leaves (4048 bytes); the db bin's header, db, list and first segment's
      // size; or the second segment's size field (bin + 32 + 16 + 16 + 16352)
      const at = r(2) === 0 ? riStart + r(4048) : dbBin + (r(2) === 0 ? r(80) : 16416 + r(4));
      b[at]! ^= 1 << r(8);
    }
    try {
      exercise(openHive(b, `fuzz ${seed}`));
      outcomes.ok++;
    } catch (e) {
      if (e instanceof LifeboatError) outcomes.corrupt++;
      else t.fail(`seed ${seed}: ${e instanceof Error ? e.stack : String(e)}`);
    }
  }
  t.log(outcomes);
  t.true(outcomes.ok > 0 && outcomes.corrupt > 0);
});

/**
 * The hive writer against independent tools: each edited hive is written to a file and must be
 * opened by `hivexsh -d` without complaint, listed by `hivexregedit --export` as the original
 * export with exactly the intended change applied, give the new bytes through `hivexget`, be
 * exported by chntpw's `reged -x`, and read back by our reader. Every byte that differs from the
 * original must lie in the base block's sequence/time/checksum fields, in a cell the edit names,
 * or in free space (a free cell the allocator took, or the size field of a free cell); the hive bins
 * data size changes only when an hbin was appended.
 */
import test from 'ava';
import { spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir, toolBytes } from '../../test/helpers/tools.ts';
import { CorruptStructureError, LifeboatError, NotFoundError, UsageError } from '../errors.ts';
import { HiveDirtyError } from './dirty.ts';
import { openHive, REG, type Hive } from './hive.ts';
import { HiveEditor, openHiveForEdit, setValueData } from './hive-writer.ts';
import { buildHive, fixtureHive, hexReg, hivexExport, listHive, parseRegExport, rng, sorted, type HiveListing } from './test-support.ts';

const BOOTMGR = '{9dea862c-5cdd-4e70-acc1-f32b344d4795}';
const DEVICE_KEY = `Objects\\${BOOTMGR}\\Elements\\11000001`;
const NOW = new Date('2026-11-25T12:00:00Z');
const utf16z = (s: string) => Buffer.from(`${s}\0`, 'utf16le');

const scratch = scratchDir();
test.after.always(scratch.remove);
const cache = new Map<string, { file: string; bytes: Uint8Array; listing: HiveListing }>();

/** The fixture hive (copied out once per file), its bytes and hivexregedit's listing of it. */
function original(which: 'bcd' | 'system'): { file: string; bytes: Uint8Array; listing: HiveListing } {
  let c = cache.get(which);
  if (!c) {
    const { file } = fixtureHive('bios-mbr', which, scratch.dir);
    c = { file, bytes: new Uint8Array(readFileSync(file)), listing: parseRegExport(hivexExport(file)) };
    cache.set(which, c);
  }
  return { ...c, bytes: new Uint8Array(c.bytes), listing: structuredClone(c.listing) };
}

let serial = 0;
function save(bytes: Uint8Array): string {
  const file = join(scratch.dir, `edited-${serial++}.hive`);
  writeFileSync(file, bytes);
  return file;
}

const set = (l: HiveListing, key: string, name: string, type: number, data: Uint8Array) => {
  if (!l.has(key)) l.set(key, new Map());
  l.get(key)!.set(name, `${type}:${Buffer.from(data).toString('hex')}`);
};

/** hivexsh -d (hivex's debug open walks every block), hivexregedit, reged -x and our reader on `file`. */
function checkWithTools(t: import('ava').ExecutionContext, file: string, expected: HiveListing, regedRoot: string, newKeys: string[] = []) {
  const sh = spawnSync('hivexsh', ['-d', '-f', '/dev/null', file], { encoding: 'utf8' });
  t.is(sh.status, 0, sh.stderr);
  t.regex(sh.stderr, /successfully read Windows Registry hive file/);
  t.notRegex(sh.stderr, /mismatch|error|corrupt|bad /i);
  const m = sh.stderr.match(/sequence nos\s+(\d+) (\d+)/)!;
  t.is(m[1], m[2]);

  t.deepEqual(sorted(parseRegExport(hivexExport(file))), sorted(expected));
  t.deepEqual(sorted(listHive(openHive(readFileSync(file), 'edited'))), sorted(expected));

  const out = `${file}.reged.reg`;
  const reged = spawnSync('reged', ['-x', file, regedRoot, '\\', out], { encoding: 'utf8' });
  t.is(reged.status, 0, reged.stdout + reged.stderr);
  t.notRegex(reged.stdout + reged.stderr, /checksum|error|corrupt|not a registry/i);
  const text = readFileSync(out, 'latin1');
  for (const k of newKeys) t.true(text.includes(`${k}]`), `reged lists ${k}`);
  return text;
}

/** Cells of a hive as [start, end) file ranges, walked independently of the reader and the writer. */
function cells(bytes: Uint8Array): Array<{ start: number; end: number; free: boolean }> {
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const total = v.getUint32(0x28, true);
  const out: Array<{ start: number; end: number; free: boolean }> = [];
  for (let bin = 0; bin < total;) {
    const size = v.getUint32(4096 + bin + 8, true);
    for (let at = 4096 + bin + 32; at < 4096 + bin + size;) {
      const raw = v.getInt32(at, true);
      out.push({ start: at, end: at + Math.abs(raw), free: raw > 0 });
      at += Math.abs(raw);
    }
    bin += size;
  }
  return out;
}

/**
 * Every byte differing between `before` and `after` (within `before`'s length) lies in the base
 * block's sequence numbers / timestamp / checksum (bins size if it grew), in one of `cellOffsets`' cells (before or
 * after the edit), in a cell free before the edit, or in the size field of a cell free after it.
 */
function onlyExpectedBytesChanged(t: import('ava').ExecutionContext, before: Uint8Array, after: Uint8Array, cellOffsets: number[]) {
  const allowed: Array<[number, number]> = [[0x04, 0x14], [0x1fc, 0x200]];
  if (after.length > before.length) allowed.push([0x28, 0x2c]); // hive bins data size, when an hbin was appended
  const sizeAt = (b: Uint8Array, o: number) => Math.abs(new DataView(b.buffer, b.byteOffset).getInt32(4096 + o, true));
  for (const o of cellOffsets) {
    allowed.push([4096 + o, 4096 + o + sizeAt(before, o)]);
    if (4096 + o < after.length) allowed.push([4096 + o, 4096 + o + sizeAt(after, o)]);
  }
  for (const c of cells(before)) if (c.free) allowed.push([c.start, c.end]);
  for (const c of cells(after)) if (c.free) allowed.push([c.start, c.start + 4]);
  let stray = 0;
  for (let i = 0; i < before.length; i++) {
    if (before[i] === after[i]) continue;
    if (!allowed.some(([s, e]) => i >= s && i < e)) {
      if (stray++ < 5) t.fail(`byte ${i} changed outside the edited cells`);
    }
  }
  t.is(stray, 0);
  t.true(after.length >= before.length);
}

const fresh = (bytes: Uint8Array) => openHiveForEdit(bytes, 'BCD', undefined, { now: NOW });

test('BCD: same-size REG_BINARY (88-byte device element) patched in place, nothing else moves', (t) => {
  const { bytes, listing } = original('bcd');
  const hive = openHive(bytes, 'BCD');
  const value = hive.key(DEVICE_KEY)!.value('Element')!;
  const dataCell = value.dataCellOffset!;
  const changed = Uint8Array.from(value.data, (b, i) => (i >= 32 && i < 40 ? b ^ 0x5a : b));
  const out = setValueData(bytes, 'BCD', DEVICE_KEY, 'Element', REG.BINARY, changed, { now: NOW });
  t.is(out.length, bytes.length);
  const file = save(out);
  set(listing, `\\${DEVICE_KEY}`, 'Element', REG.BINARY, changed);
  checkWithTools(t, file, listing, 'HKEY_LOCAL_MACHINE\\BCD00000000');
  t.deepEqual(toolBytes('hivexget', [file, `\\${DEVICE_KEY}`, 'Element']), Buffer.from(changed));
  // Only the 8 data bytes, the key's last-written time and the base block changed.
  const diff = [...out.keys()].filter((i) => out[i] !== bytes[i]);
  const nk = 4096 + hive.key(DEVICE_KEY)!.cellOffset + 4;
  t.true(diff.every((i) => (i >= 4096 + dataCell + 4 + 32 && i < 4096 + dataCell + 4 + 40) || (i >= nk + 4 && i < nk + 12)
    || (i >= 4 && i < 0x14) || (i >= 0x1fc && i < 0x200)), `changed: ${diff.join(',')}`);
  const edited = openHive(out, 'BCD');
  t.is(edited.base.primarySequenceNumber, hive.base.primarySequenceNumber + 1);
  t.is(edited.base.secondarySequenceNumber, hive.base.primarySequenceNumber + 1);
  t.is(edited.base.lastWritten.getTime(), NOW.getTime());
  t.is(edited.key(DEVICE_KEY)!.value('Element')!.dataCellOffset, dataCell);
});

test('BCD: bigger data moves to a new cell, smaller data stays in its cell, tiny data goes inline', (t) => {
  const { bytes, listing } = original('bcd');
  const hive = openHive(bytes, 'BCD');
  const keyName = hive.key('Description')!.value('KeyName')!;
  const device = hive.key(DEVICE_KEY)!.value('Element')!;
  const editor = fresh(bytes);

  const longer = utf16z('BCD00000000 with a much longer name, to need a bigger cell');
  editor.setValueData('Description', 'KeyName', REG.SZ, longer);
  const movedTo = editor.hive.key('Description')!.value('KeyName')!.dataCellOffset!;
  t.not(movedTo, keyName.dataCellOffset);

  const shorter = Uint8Array.from({ length: 40 }, (_, i) => i);
  editor.setValueData(DEVICE_KEY, 'Element', REG.BINARY, shorter);
  t.is(editor.hive.key(DEVICE_KEY)!.value('Element')!.dataCellOffset, device.dataCellOffset);

  const dword = Uint8Array.of(1, 2, 3, 4);
  editor.setValueData(`Objects\\${BOOTMGR}\\Elements\\23000003`, 'Element', REG.BINARY, dword); // a cell → inline
  t.is(editor.hive.key(`Objects\\${BOOTMGR}\\Elements\\23000003`)!.value('Element')!.storage.kind, 'inline');

  const out = editor.bytes;
  const file = save(out);
  set(listing, '\\Description', 'KeyName', REG.SZ, longer);
  set(listing, `\\${DEVICE_KEY}`, 'Element', REG.BINARY, shorter);
  set(listing, `\\Objects\\${BOOTMGR}\\Elements\\23000003`, 'Element', REG.BINARY, dword);
  checkWithTools(t, file, listing, 'HKEY_LOCAL_MACHINE\\BCD00000000');
  t.is(toolBytes('hivexget', [file, '\\Description', 'KeyName']).toString('utf8'), 'BCD00000000 with a much longer name, to need a bigger cell\n');
  t.deepEqual(toolBytes('hivexget', [file, `\\${DEVICE_KEY}`, 'Element']), Buffer.from(shorter));
  const elements23 = hive.key(`Objects\\${BOOTMGR}\\Elements\\23000003`)!;
  onlyExpectedBytesChanged(t, bytes, out, [
    hive.key('Description')!.cellOffset, keyName.cellOffset, keyName.dataCellOffset!, movedTo,
    hive.key(DEVICE_KEY)!.cellOffset, device.cellOffset, device.dataCellOffset!,
    elements23.cellOffset, elements23.value('Element')!.cellOffset, elements23.value('Element')!.dataCellOffset!,
  ]);
});

test('BCD: new values and many new keys (an hbin appended), sorted lh with Windows hashes', (t) => {
  const { bytes, listing } = original('bcd');
  const hive = openHive(bytes, 'BCD');
  const editor = fresh(bytes);
  const blob = Uint8Array.from({ length: 300 }, (_, i) => (i * 13) & 0xff);
  editor.addValue('Description', 'Added blob', REG.BINARY, blob);
  editor.addValue('Description', 'Added dword', REG.DWORD, Uint8Array.of(7, 0, 0, 0));
  editor.setValueData('Description', 'Upserted', REG.SZ, utf16z('new')); // missing value: added
  set(listing, '\\Description', 'Added blob', REG.BINARY, blob);
  set(listing, '\\Description', 'Added dword', REG.DWORD, Uint8Array.of(7, 0, 0, 0));
  set(listing, '\\Description', 'Upserted', REG.SZ, utf16z('new'));

  // Keys in an order that makes each insertion land at the front, the back and the middle.
  const names: string[] = [];
  for (let i = 0; i < 40; i++) names.push(`{${((i * 17) % 40).toString().padStart(8, '0')}-aaaa-bbbb-cccc-lifeboat0000}`);
  const newKeys: string[] = [];
  for (const n of names) {
    const path = editor.addKey('Objects', n);
    editor.addKey(path, 'Elements');
    editor.addValue(`${path}\\Elements`, 'Element', REG.BINARY, Uint8Array.from({ length: 88 }, (_, i) => i));
    listing.set(`\\${path}`, new Map());
    set(listing, `\\${path}\\Elements`, 'Element', REG.BINARY, Uint8Array.from({ length: 88 }, (_, i) => i));
    newKeys.push(n);
  }
  editor.addKey('', 'ÄÖ Latin-1 and Кириллица'); // UTF-16 name, at the root
  listing.set('\\ÄÖ Latin-1 and Кириллица', new Map());
  t.true(editor.hive.base.hiveBinsDataSize > hive.base.hiveBinsDataSize, 'an hbin was appended');

  const out = editor.bytes;
  t.true(out.length > bytes.length);
  const file = save(out);
  const regText = checkWithTools(t, file, listing, 'HKEY_LOCAL_MACHINE\\BCD00000000', newKeys);
  t.true(regText.includes('"Added blob"=hex:'));
  t.deepEqual(toolBytes('hivexget', [file, '\\Description', 'Added blob']), Buffer.from(blob));

  // Subkeys sorted by upper-cased name; the lh hashes are Windows' (checked against the spec's formula here).
  const edited = openHive(out, 'BCD');
  const objects = edited.key('Objects')!;
  const sortedNames = objects.subkeys().map((k) => k.name.toUpperCase());
  t.deepEqual(sortedNames, [...sortedNames].sort());
  const lh = 4096 + objects.node.subkeysListOffset + 4;
  t.is(String.fromCharCode(out[lh]!, out[lh + 1]!), 'lh');
  const v = new DataView(out.buffer, out.byteOffset);
  objects.subkeys().forEach((k, i) => {
    let h = 0;
    for (const c of k.name.toUpperCase()) h = (Math.imul(h, 37) + c.charCodeAt(0)) >>> 0;
    t.is(v.getUint32(lh + 4 + i * 8 + 4, true), h);
  });
  // Each new key shares its parent's security cell, whose reference count rose by one per key.
  const sk = (h: Hive, path: string) => h.key(path)!.node.keySecurityOffset;
  const refs = (b: Uint8Array, off: number) => new DataView(b.buffer, b.byteOffset).getUint32(4096 + off + 4 + 0x0c, true);
  t.is(sk(edited, `Objects\\${names[0]}`), sk(hive, 'Objects'));
  t.is(refs(out, sk(hive, 'Objects')), refs(bytes, sk(hive, 'Objects')) + 80 + (sk(hive, '') === sk(hive, 'Objects') ? 1 : 0));

  const d = hive.key('Description')!;
  onlyExpectedBytesChanged(t, bytes, out, [d.cellOffset, d.node.keyValuesListOffset, hive.key('Objects')!.cellOffset,
    hive.key('Objects')!.node.subkeysListOffset, hive.root.cellOffset, hive.root.node.subkeysListOffset, sk(hive, 'Objects'), sk(hive, '')]);
});

test('a freed cell is reused (split) before the hive grows', (t) => {
  const { bytes } = original('bcd');
  const editor = fresh(bytes);
  const size = editor.hive.base.hiveBinsDataSize;
  const before = editor.hive.key(DEVICE_KEY)!.value('Element')!.dataCellOffset!;
  editor.setValueData(DEVICE_KEY, 'Element', REG.BINARY, new Uint8Array(200)); // frees the 88-byte cell
  const freedSize = new DataView(editor.bytes.buffer).getInt32(4096 + before, true);
  t.true(freedSize >= 96, 'the old data cell is free (positive size), merged with free neighbours if any');
  // Best fit: a value that needs exactly the freed cell's size (or less) lands in free space, the hive does not grow.
  editor.addValue(DEVICE_KEY, 'Fits the freed cell', REG.BINARY, new Uint8Array(freedSize - 4));
  t.is(editor.hive.key(DEVICE_KEY)!.value('Fits the freed cell')!.dataCellOffset, before);
  t.is(editor.hive.base.hiveBinsDataSize, size);
  t.deepEqual(toolBytes('hivexget', [save(editor.bytes), `\\${DEVICE_KEY}`, 'Fits the freed cell']), Buffer.from(new Uint8Array(freedSize - 4)));
});

test('SYSTEM: MountedDevices entries rewritten (same size, longer), a new control-set key; reged and hivex agree', (t) => {
  const { bytes, listing } = original('system');
  const editor = openHiveForEdit(bytes, 'SYSTEM', undefined, { now: NOW });
  const md = editor.hive.key('MountedDevices')!;
  const c = md.value('\\DosDevices\\C:')!;
  const same = Uint8Array.from(c.data, (b) => b ^ 0xff);
  editor.setValueData('MountedDevices', '\\DosDevices\\C:', c.type, same);
  const guidForm = Buffer.concat([Buffer.from('DMIO:ID:'), Buffer.alloc(16, 0xab)]); // 24 bytes, GPT form
  editor.setValueData('MountedDevices', '\\DosDevices\\D:', REG.BINARY, guidForm);
  editor.addKey('ControlSet001\\Control', 'Lifeboat');
  editor.addValue('ControlSet001\\Control\\Lifeboat', 'Restored', REG.DWORD, Uint8Array.of(1, 0, 0, 0));
  set(listing, '\\MountedDevices', '\\DosDevices\\C:', c.type, same);
  set(listing, '\\MountedDevices', '\\DosDevices\\D:', REG.BINARY, guidForm);
  set(listing, '\\ControlSet001\\Control\\Lifeboat', 'Restored', REG.DWORD, Uint8Array.of(1, 0, 0, 0));
  const file = save(editor.bytes);
  checkWithTools(t, file, listing, 'HKEY_LOCAL_MACHINE\\SYSTEM', ['Lifeboat']);
  t.deepEqual(toolBytes('hivexget', [file, '\\MountedDevices', '\\DosDevices\\C:']), Buffer.from(same));
  t.deepEqual(toolBytes('hivexget', [file, '\\MountedDevices', '\\DosDevices\\D:']), guidForm);
});

test('a hivexregedit-built hive (UTF-16 names, a 20000-byte single-cell value): edits, db big data, new keys', (t) => {
  const reg = ['[\\Parent]', '"Big"=' + hexReg(REG.BINARY, new Uint8Array(20000).fill(3)), '',
    '[\\Parent\\B]', '', '[\\Parent\\D]', '', '[\\Ключ]', '"Значение"=dword:00000005', ''].join('\n');
  const file = buildHive(scratch.dir, 'writer-built', reg);
  const bytes = new Uint8Array(readFileSync(file));
  const listing = parseRegExport(hivexExport(file));
  const editor = openHiveForEdit(bytes, 'built', undefined, { now: NOW });
  editor.setValueData('Parent', 'Big', REG.BINARY, new Uint8Array(20000).fill(4)); // same size, in place (hivex's plain cell)
  t.is(editor.hive.key('Parent')!.value('Big')!.storage.kind, 'cell');
  // New sizes over 16344 bytes become db big data (3 and 2 segments); a db value shrunk to a cell frees its cells.
  const big = Uint8Array.from({ length: 40000 }, (_, i) => (i * 31 + (i >> 9)) & 0xff);
  const huge = Uint8Array.from({ length: 16345 }, (_, i) => (i * 7) & 0xff);
  editor.setValueData('Parent', 'Big', REG.BINARY, big);
  editor.addValue('Parent', 'Huge', REG.BINARY, huge);
  editor.addValue('Parent', 'Shrunk', REG.BINARY, new Uint8Array(30000).fill(9));
  const shrunkBig = editor.hive.key('Parent')!.value('Shrunk')!.storage;
  editor.setValueData('Parent', 'Shrunk', REG.BINARY, new Uint8Array(100).fill(8));
  const parentKey = editor.hive.key('Parent')!;
  const bigStorage = parentKey.value('Big')!.storage;
  t.is(bigStorage.kind, 'big');
  t.is(bigStorage.kind === 'big' ? bigStorage.segments.length : 0, 3);
  const hugeStorage = parentKey.value('Huge')!.storage;
  t.is(hugeStorage.kind === 'big' ? hugeStorage.segments.length : 0, 2);
  t.is(parentKey.value('Shrunk')!.storage.kind, 'cell');
  t.is(parentKey.node.largestValueDataSize, 40000);
  if (shrunkBig.kind === 'big') {
    const dv = new DataView(editor.bytes.buffer);
    for (const o of [shrunkBig.dbOffset, shrunkBig.segmentsListOffset, ...shrunkBig.segments]) t.true(dv.getInt32(4096 + o, true) > 0, `cell ${o} freed`);
  } else {
    t.fail('30000 bytes were not stored as db big data');
  }
  for (const n of ['A', 'c', 'E', 'Б']) editor.addKey('Parent', n);
  editor.setValueData('Ключ', 'Значение', REG.DWORD, Uint8Array.of(6, 0, 0, 0));
  set(listing, '\\Parent', 'Big', REG.BINARY, big);
  set(listing, '\\Parent', 'Huge', REG.BINARY, huge);
  set(listing, '\\Parent', 'Shrunk', REG.BINARY, new Uint8Array(100).fill(8));
  for (const n of ['A', 'c', 'E', 'Б']) listing.set(`\\Parent\\${n}`, new Map());
  set(listing, '\\Ключ', 'Значение', REG.DWORD, Uint8Array.of(6, 0, 0, 0));
  const out = save(editor.bytes);
  checkWithTools(t, out, listing, 'HKEY_LOCAL_MACHINE\\X', ['Parent\\A', 'Parent\\c', 'Parent\\E']);
  t.deepEqual(editor.hive.key('Parent')!.subkeys().map((k) => k.name), ['A', 'B', 'c', 'D', 'E', 'Б']);
  t.deepEqual(toolBytes('hivexget', [out, '\\Parent', 'Big']), Buffer.from(big));
  t.deepEqual(toolBytes('hivexget', [out, '\\Parent', 'Huge']), Buffer.from(huge));
  // Errors for what is not there or already there.
  t.throws(() => editor.addKey('Parent', 'a'), { instanceOf: UsageError });
  t.throws(() => editor.addValue('Parent', 'BIG', REG.BINARY, new Uint8Array(1)), { instanceOf: UsageError });
  t.throws(() => editor.setValueData('Nope', 'x', REG.DWORD, new Uint8Array(4)), { instanceOf: NotFoundError });
});

test('a dirty hive is refused with HiveDirtyError (no logs, or logs with nothing to apply); the caller\'s bytes are never written', (t) => {
  const { bytes } = original('bcd');
  const v = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const primary = v.getUint32(4, true);
  v.setUint32(4, primary + 1, true);
  let x = 0;
  for (let i = 0; i < 0x1fc; i += 4) x ^= v.getUint32(i, true);
  v.setUint32(0x1fc, x >>> 0, true);
  const copy = new Uint8Array(bytes);
  const e = t.throws(() => openHiveForEdit(bytes, 'BCD'), { instanceOf: HiveDirtyError })!;
  t.is(e.code, 'HIVE_DIRTY');
  t.deepEqual(e.data, { hive: 'BCD', primarySequenceNumber: primary + 1, secondarySequenceNumber: primary });
  t.regex(e.message, /did not finish writing.*\.LOG1\/\.LOG2.*refuses to edit/s);
  t.true(e instanceof LifeboatError);
  const withLogs = t.throws(() => openHiveForEdit(bytes, 'BCD', { log1: new Uint8Array(4096) }), { instanceOf: HiveDirtyError })!;
  t.regex(withLogs.message, /hold no entry that may be applied/);
  t.throws(() => new HiveEditor(bytes, 'BCD'), { instanceOf: HiveDirtyError });
  t.deepEqual(bytes, copy);

  const clean = original('bcd').bytes;
  const keep = new Uint8Array(clean);
  fresh(clean).setValueData('Description', 'KeyName', REG.SZ, utf16z('x'));
  t.deepEqual(clean, keep, 'openHiveForEdit copies its input');
});

test('hostile: edits on corrupt hives give typed errors only', (t) => {
  const { bytes } = original('bcd');
  const hive = openHive(bytes, 'BCD');
  const device = hive.key(DEVICE_KEY)!.value('Element')!;

  // The value's data cell marked free: the reader refuses it before anything is written.
  const freed = new Uint8Array(bytes);
  const dv = new DataView(freed.buffer);
  dv.setInt32(4096 + device.dataCellOffset!, Math.abs(dv.getInt32(4096 + device.dataCellOffset!, true)), true);
  t.throws(() => fresh(freed).setValueData(DEVICE_KEY, 'Element', REG.BINARY, new Uint8Array(88)), { instanceOf: CorruptStructureError });

  // A cell size that does not tile its bin: the allocator's walk refuses it.
  const badCell = new Uint8Array(bytes);
  const first = cells(badCell).find((c) => c.free)!;
  new DataView(badCell.buffer).setInt32(first.start, 12, true);
  t.throws(() => fresh(badCell).addValue('Description', 'x', REG.BINARY, new Uint8Array(100)), { instanceOf: CorruptStructureError });

  // Overlapping cells the reader cannot see: KeyName's data moved into a fake cell inside the device
  // element's data cell. The edit allocates and writes, then cannot free the fake cell: it fails
  // after writing, and the editor refuses to hand out the half-edited bytes from then on.
  const overlap = new Uint8Array(bytes);
  const ov = new DataView(overlap.buffer);
  const host = device.dataCellOffset! + 8;
  const keyName = hive.key('Description')!.value('KeyName')!;
  ov.setInt32(4096 + host, -32, true);
  overlap.set(keyName.data, 4096 + host + 4);
  ov.setUint32(4096 + keyName.cellOffset + 4 + 8, host, true);
  const poisonedEditor = fresh(overlap);
  t.is(poisonedEditor.hive.key('Description')!.value('KeyName')!.asString(), 'BCD00000000');
  t.throws(() => poisonedEditor.setValueData('Description', 'KeyName', REG.SZ, new Uint8Array(100)), { instanceOf: CorruptStructureError });
  t.throws(() => poisonedEditor.bytes, { instanceOf: UsageError, message: /earlier edit failed/ });
  t.throws(() => poisonedEditor.addKey('Objects', 'x'), { instanceOf: UsageError });
  // Errors before any write (a name that exists) leave the editor usable.
  const e2 = fresh(bytes);
  t.throws(() => e2.addKey('', 'Objects'), { instanceOf: UsageError });
  t.is(e2.bytes.length, bytes.length);

  // Seeded bit flips in the bins: each edit gives a hive our reader opens, or a LifeboatError.
  const next = rng(0x11fe);
  const binsSize = hive.base.hiveBinsDataSize;
  let poisoned = 0;
  for (let i = 0; i < 150; i++) {
    const b = new Uint8Array(bytes);
    for (let k = 0; k < 4; k++) b[4096 + next(binsSize)]! ^= 1 << next(8);
    let e: HiveEditor | undefined;
    try {
      e = fresh(b);
      e.setValueData(DEVICE_KEY, 'Element', REG.BINARY, new Uint8Array(100 + (i % 50)));
      e.addKey('Objects', `k${i}`);
      e.addValue('Description', `v${i}`, REG.BINARY, new Uint8Array(i));
      openHive(e.bytes, 'again');
    } catch (err) {
      if (!(err instanceof LifeboatError)) t.fail(`case ${i}: ${String(err)}`);
      // An edit that failed after writing leaves the editor refusing to hand out its bytes.
      if (e && e.changedRanges().length > 0) {
        try {
          void e.bytes;
        } catch (x) {
          t.true(x instanceof UsageError);
          poisoned++;
        }
      }
    }
  }
  t.log(`${poisoned} editors refused further use after a failed edit`);
});

/**
 * HAND-ASSEMBLED (hivex writes no ri): the single lh of \Many (60 subkeys K000, K002 … K118) is
 * rewritten in its own cell as an ri over an li, an lf and an lh of 20 elements each, every leaf
 * exactly full, the rest of the cell left free.
 */
function riHive(dir: string): { file: string; bytes: Uint8Array } {
  const names = Array.from({ length: 60 }, (_, i) => `K${(i * 2).toString().padStart(3, '0')}`);
  const file = buildHive(dir, 'writer-ri', ['[\\Many]', '', ...names.map((n) => `[\\Many\\${n}]\n`)].join('\n'));
  const out = new Uint8Array(readFileSync(file));
  const v = new DataView(out.buffer);
  const many = openHive(out, 'ri').key('Many')!;
  const at0 = 4096 + many.node.subkeysListOffset;
  const cellSize = -v.getInt32(at0, true);
  if (String.fromCharCode(out[at0 + 4]!, out[at0 + 5]!) !== 'lh' || cellSize < 24 + 88 + 168 * 2) throw new Error('expected one big lh');
  const nks = many.subkeys().map((k) => k.cellOffset);
  out.fill(0, at0, at0 + cellSize);
  let at = at0;
  const cell = (size: number, kind: string, count: number) => {
    v.setInt32(at, -size, true);
    out.set(Buffer.from(kind, 'latin1'), at + 4);
    v.setUint16(at + 6, count, true);
    const start = at;
    at += size;
    return start;
  };
  const ri = cell(24, 'ri', 3);
  const leaves = [cell(8 + 20 * 4, 'li', 20), cell(8 + 20 * 8, 'lf', 20), cell(8 + 20 * 8, 'lh', 20)];
  v.setInt32(at, at0 + cellSize - at, true);
  leaves.forEach((leaf, l) => {
    v.setUint32(ri + 8 + l * 4, leaf - 4096, true);
    for (let i = 0; i < 20; i++) {
      const k = l * 20 + i;
      const step = l === 0 ? 4 : 8;
      v.setUint32(leaf + 8 + i * step, nks[k]!, true);
      if (l === 1) out.set(Buffer.from(names[k]!, 'latin1'), leaf + 12 + i * 8);
      if (l === 2) {
        let h = 0;
        for (const c of names[k]!.toUpperCase()) h = (Math.imul(h, 37) + c.charCodeAt(0)) >>> 0;
        v.setUint32(leaf + 12 + i * 8, h, true);
      }
    }
  });
  writeFileSync(file, out);
  return { file, bytes: out };
}

test('an ri parent (hand-assembled li/lf/lh leaves, each full): new keys go into the right leaf, leaves move, ri repointed', (t) => {
  const { file, bytes } = riHive(scratch.dir);
  const listing = parseRegExport(hivexExport(file)); // hivex reads the hand-made ri first
  t.is(listing.size, 62);
  const editor = openHiveForEdit(bytes, 'ri', undefined, { now: NOW });
  const added = ['K001', 'a', 'K041', 'K079', 'K999', 'K039', 'k117'];
  for (const n of added) {
    editor.addKey('Many', n);
    listing.set(`\\Many\\${n}`, new Map());
  }
  const out = save(editor.bytes);
  checkWithTools(t, out, listing, 'HKEY_LOCAL_MACHINE\\X', added);
  const hive = openHive(editor.bytes, 'ri');
  const names = hive.key('Many')!.subkeys().map((k) => k.name);
  t.deepEqual(names, [...names].sort((a, b) => (a.toUpperCase() < b.toUpperCase() ? -1 : 1)));
  // Still one ri over three leaves of the same kinds; each leaf sorted and (lh) hashed; the ri sorted as a whole.
  const b = editor.bytes;
  const v = new DataView(b.buffer, b.byteOffset);
  const ri = 4096 + hive.key('Many')!.node.subkeysListOffset + 4;
  t.is(String.fromCharCode(b[ri]!, b[ri + 1]!), 'ri');
  t.is(v.getUint16(ri + 2, true), 3);
  const perLeaf = [0, 1, 2].map((l) => {
    const leaf = 4096 + v.getUint32(ri + 4 + l * 4, true) + 4;
    const kind = String.fromCharCode(b[leaf]!, b[leaf + 1]!);
    const n = v.getUint16(leaf + 2, true);
    const step = kind === 'li' ? 4 : 8;
    const leafNames = Array.from({ length: n }, (_, i) => openHive(b, 'x').key('Many')!.subkeys().find((k) => k.cellOffset === v.getUint32(leaf + 4 + i * step, true))!.name);
    if (kind === 'lh') {
      leafNames.forEach((name, i) => {
        let h = 0;
        for (const c of name.toUpperCase()) h = (Math.imul(h, 37) + c.charCodeAt(0)) >>> 0;
        t.is(v.getUint32(leaf + 8 + i * 8, true), h, name);
      });
    }
    if (kind === 'lf') leafNames.forEach((name, i) => t.is(Buffer.from(b.subarray(leaf + 8 + i * 8, leaf + 12 + i * 8)).toString('latin1').replace(/\0+$/, ''), name.slice(0, 4)));
    return { kind, leafNames };
  });
  t.deepEqual(perLeaf.map((l) => l.kind), ['li', 'lf', 'lh']);
  t.deepEqual(perLeaf.flatMap((l) => l.leafNames), names);
  t.deepEqual(perLeaf[0]!.leafNames.slice(0, 3), ['a', 'K000', 'K001']);
  // A name after one leaf's last and before the next leaf's first goes to the front of the next leaf.
  t.deepEqual(perLeaf[1]!.leafNames.slice(0, 3), ['K039', 'K040', 'K041']);
  t.deepEqual(perLeaf[2]!.leafNames.slice(0, 2), ['K079', 'K080']);
  t.deepEqual(perLeaf[2]!.leafNames.slice(-3), ['k117', 'K118', 'K999']);
});

test('a version 1.3 hive: a parent without subkeys gets an lf (lh needs 1.5), hint = first 4 ASCII characters', (t) => {
  const { bytes } = original('bcd');
  const v = new DataView(bytes.buffer, bytes.byteOffset);
  v.setUint32(0x18, 3, true); // minor version 3
  let x = 0;
  for (let i = 0; i < 0x1fc; i += 4) x ^= v.getUint32(i, true);
  v.setUint32(0x1fc, x >>> 0, true);
  const editor = openHiveForEdit(bytes, 'BCD 1.3', undefined, { now: NOW });
  editor.addKey('Description', 'Zeta');
  editor.addKey('Description', 'al');
  editor.addKey('Description', 'Ωmega');
  const out = editor.bytes;
  const d = openHive(out, 'x').key('Description')!;
  t.deepEqual(d.subkeys().map((k) => k.name), ['al', 'Zeta', 'Ωmega']);
  const lf = 4096 + d.node.subkeysListOffset + 4;
  t.is(String.fromCharCode(out[lf]!, out[lf + 1]!), 'lf');
  t.deepEqual([0, 1, 2].map((i) => Buffer.from(out.subarray(lf + 8 + i * 8, lf + 12 + i * 8)).toString('hex')),
    ['616c0000', '5a657461', '00000000']);
  const file = save(out);
  const listed = parseRegExport(hivexExport(file));
  t.deepEqual([...listed.keys()].filter((k) => k.startsWith('\\Description\\')).sort(), ['\\Description\\Zeta', '\\Description\\al', '\\Description\\Ωmega']);
  t.is(spawnSync('reged', ['-x', file, 'HKEY_LOCAL_MACHINE\\X', '\\', `${file}.reg`], { encoding: 'utf8' }).status, 0);
});

/**
 * Damaged FAT volumes, made in memory from copies of the fixture partitions. Each must give a
 * CorruptStructureError naming the structure and byte offset — never a hang or a stray
 * TypeError/RangeError. Positions are found from the raw bytes, not through the reader.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, type FixtureName } from '../../../test/helpers/fixtures.ts';
import { scratchDir, tool } from '../../../test/helpers/tools.ts';
import { MemoryDevice } from '../../device/memory-device.ts';
import { CorruptStructureError, LifeboatError } from '../../errors.ts';
import { openFat, type FatReader } from './fat-reader.ts';
import { fixtureBytes, sha256 } from './testing.ts';
import { readEverything } from '../../../test/helpers/walk.ts';

const pristine = {
  fat12: await fixtureBytes('mixed-mbr', 6),
  fat16: await fixtureBytes('mixed-mbr', 2),
  fat32: await fixtureBytes('uefi-gpt', 1),
};
type Kind = keyof typeof pristine;

/** The BPB read with a DataView, independently of the reader's decoder. */
function bpb(buf: Uint8Array) {
  const dv = new DataView(buf.buffer, buf.byteOffset, 512);
  const bps = dv.getUint16(0x0b, true);
  const reserved = dv.getUint16(0x0e, true);
  const fats = dv.getUint8(0x10);
  const rootEntries = dv.getUint16(0x11, true);
  const fatSectors = dv.getUint16(0x16, true) || dv.getUint32(0x24, true);
  const total = dv.getUint16(0x13, true) || dv.getUint32(0x20, true);
  const rootStart = (reserved + fats * fatSectors) * bps;
  const dataStart = rootStart + Math.ceil((rootEntries * 32) / bps) * bps;
  const spc = dv.getUint8(0x0d);
  return { bps, fatStart: reserved * bps, fatBytes: fatSectors * bps, fats, rootStart, dataStart,
    clusterSize: spc * bps, clusterCount: Math.floor((total * bps - dataStart) / (spc * bps)) };
}

/** Write FAT entry `n` in every FAT copy. */
function setEntry(buf: Uint8Array, kind: Kind, n: number, value: number): void {
  const g = bpb(buf);
  for (let f = 0; f < g.fats; f++) {
    const fat = new DataView(buf.buffer, buf.byteOffset + g.fatStart + f * g.fatBytes, g.fatBytes);
    if (kind === 'fat16') fat.setUint16(2 * n, value, true);
    else if (kind === 'fat32') fat.setUint32(4 * n, value >>> 0, true);
    else {
      const at = n + (n >>> 1);
      const word = fat.getUint16(at, true);
      fat.setUint16(at, n & 1 ? (word & 0x000f) | (value << 4) : (word & 0xf000) | value, true);
    }
  }
}

/** Volume offset of the 32-byte entry with this 8.3 name (first match, 32-byte aligned). */
function findEntry(buf: Uint8Array, name11: string): number {
  const g = bpb(buf);
  const needle = Buffer.from(name11, 'latin1');
  for (let at = g.rootStart; at + 32 <= buf.length; at += 32) {
    if (Buffer.from(buf.buffer, buf.byteOffset + at, 11).equals(needle)) return at;
  }
  throw new Error(`no entry ${name11}`);
}

function planted(name: FixtureName, index: number, rel: string): string {
  return fixture(name).manifest.partitions.find((p) => p.index === index)!.planted![rel]!.sha256;
}

const firstCluster = (buf: Uint8Array, entry: number) => buf[entry + 0x1a]! | (buf[entry + 0x1b]! << 8);
const copy = (kind: Kind) => pristine[kind].slice();
const open = (buf: Uint8Array) => openFat(new MemoryDevice(buf).readOnly());

test('a volume shorter than a boot sector, or than the BPB claims, is refused at the boot sector', async (t) => {
  const err = await t.throwsAsync(open(pristine.fat16.slice(0, 100)), { instanceOf: CorruptStructureError });
  t.regex(err!.message, /^FAT boot sector at byte 0: the volume has only 100 bytes/);
  const half = await t.throwsAsync(open(pristine.fat16.slice(0, 8 << 20)), { instanceOf: CorruptStructureError });
  t.regex(half!.message, /^FAT boot sector at byte (19|32): BPB_TotSec(16|32) = 32768 sectors \(16777216 bytes\) is more than the volume's 8388608 bytes/);
  const fat32 = await t.throwsAsync(open(pristine.fat32.slice(0, 1 << 20)), { instanceOf: CorruptStructureError });
  t.regex(fat32!.message, /^FAT boot sector at byte 32: BPB_TotSec32 = 81920 sectors/);
});

test('BPB fields are checked in order, each failure naming its field and offset', async (t) => {
  const cases: Array<[number, number[], RegExp]> = [
    [0x1fe, [0, 0], /at byte 510: signature word is 0x0/],
    [0x0b, [0, 0], /at byte 11: BPB_BytsPerSec is 0/],
    [0x0d, [3], /at byte 13: BPB_SecPerClus is 3, not a power of two/],
    [0x0e, [0, 0], /at byte 14: BPB_RsvdSecCnt is 0/],
    [0x10, [0], /at byte 16: BPB_NumFATs is 0/],
    [0x15, [0x12], /at byte 21: BPB_Media is 0x12/],
    [0x11, [0, 0], /at byte 17: BPB_RootEntCnt is 0 on a FAT16 volume/],
    [0x16, [1, 0], /at byte 22: a FAT of 1 sectors cannot hold the \d+ entries/],
  ];
  for (const [offset, bytes, message] of cases) {
    const buf = copy('fat16');
    buf.set(bytes, offset);
    const err = await t.throwsAsync(open(buf), { instanceOf: CorruptStructureError });
    t.regex(err!.message, new RegExp(`^FAT boot sector ${message.source}`));
    t.is(err!.data.offset, offset);
  }
});

test('a FAT chain that loops is a CorruptStructureError naming the FAT entry, cluster and file', async (t) => {
  const buf = copy('fat16');
  const g = bpb(buf);
  const f = firstCluster(buf, findEntry(buf, 'DEEP    BIN'));
  setEntry(buf, 'fat16', f + 5, f + 2);
  const fs = await open(buf);
  for (const attempt of [fs.readFile('Documents\\Sub\\deep.bin'), fs.fileExtents('documents/sub/DEEP.BIN')]) {
    const err = await t.throwsAsync(attempt, { instanceOf: CorruptStructureError });
    t.is(err!.message, `FAT at byte ${g.fatStart + 2 * (f + 5)}: cluster ${f + 5} of \\Documents\\Sub\\deep.bin links back to cluster ${f + 2} (a cycle)`);
    t.like(err!.data, { cluster: f + 5, file: '\\Documents\\Sub\\deep.bin' });
  }
});

test('a directory whose chain points to itself fails the listing, not the process', async (t) => {
  const buf = copy('fat16');
  const d = firstCluster(buf, findEntry(buf, 'DOCUME~1   '));
  setEntry(buf, 'fat16', d, d);
  const fs = await open(buf);
  await t.throwsAsync(fs.list('Documents'), { instanceOf: CorruptStructureError, message: new RegExp(`cluster ${d} of \\\\Documents links back to cluster ${d} \\(a cycle\\)`) });
  t.is((await fs.readFile('AUTOEXEC.BAT')).length, 11, 'the rest of the volume still reads');
});

test('links past the last cluster, to a free cluster, or a chain too short for the size are refused', async (t) => {
  const cases: Array<[number, RegExp]> = [
    [8168 + 100, /cluster \d+ of \\Documents\\Sub\\deep\.bin links to cluster 8268, outside clusters 2\.\.8168/],
    [0, /links to a free cluster \(0\)/],
    [0xfff7, /links to a cluster marked bad/],
    [0xffff, /the chain of \\Documents\\Sub\\deep\.bin has 4 clusters but its size \(33000 bytes\) needs 17/],
  ];
  for (const [value, message] of cases) {
    const buf = copy('fat16');
    t.is(bpb(buf).clusterCount, 8167);
    const f = firstCluster(buf, findEntry(buf, 'DEEP    BIN'));
    setEntry(buf, 'fat16', f + 3, value);
    const fs = await open(buf);
    const err = await t.throwsAsync(fs.readFile('Documents\\Sub\\deep.bin'), { instanceOf: CorruptStructureError });
    t.regex(err!.message, /^FAT at byte \d+: /);
    t.regex(err!.message, message);
  }
});

test('a directory entry with an absurd first cluster is refused with the entry\'s offset', async (t) => {
  const buf = copy('fat16');
  const entry = findEntry(buf, 'AUTOEXECBAT');
  buf.set([0xf0, 0xff], entry + 0x1a);
  const fs = await open(buf);
  const err = await t.throwsAsync(fs.readFile('autoexec.bat'), { instanceOf: CorruptStructureError });
  t.is(err!.message, `directory entry at byte ${entry}: \\AUTOEXEC.BAT starts at cluster 65520, outside clusters 2..8168`);
});

test('FAT12: 12-bit entries packed two in three bytes, a self-loop detected', async (t) => {
  const buf = copy('fat12');
  const c = firstCluster(buf, findEntry(buf, 'CONFIG  SYS'));
  setEntry(buf, 'fat12', c + 1, 0xff7); // the neighbour shares a byte with cluster c
  let fs = await open(buf);
  t.is(sha256(await fs.readFile('CONFIG.SYS')), planted('mixed-mbr', 6, 'CONFIG.SYS'), 'writing the neighbour left cluster c intact');
  t.is(await fs.usedClusters(), 2);
  t.is(await fs.badClusters(), 1);
  setEntry(buf, 'fat12', c, c);
  fs = await open(buf);
  await t.throwsAsync(fs.readFile('CONFIG.SYS'), { instanceOf: CorruptStructureError, message: new RegExp(`cluster ${c} of \\\\CONFIG\\.SYS links back to cluster ${c} \\(a cycle\\)`) });
});

test('FAT32: the top 4 bits of an entry are not part of the cluster number', async (t) => {
  const buf = copy('fat32');
  const c = firstCluster(buf, findEntry(buf, 'BOOTX64 EFI')) + 0x10000 * (buf[findEntry(buf, 'BOOTX64 EFI') + 0x14]! | (buf[findEntry(buf, 'BOOTX64 EFI') + 0x15]! << 8));
  const g = bpb(buf);
  const fat = new DataView(buf.buffer, buf.byteOffset + g.fatStart, g.fatBytes);
  // Every entry of the file's chain, and one free entry, get reserved top bits set.
  for (let n = c; n < c + 79; n++) fat.setUint32(4 * n, (fat.getUint32(4 * n, true) | 0xf0000000) >>> 0, true);
  fat.setUint32(4 * (g.clusterCount + 1), 0xf0000000, true);
  const fs = await open(buf);
  t.is(sha256(await fs.readFile('EFI\\Boot\\bootx64.efi')), planted('uefi-gpt', 1, 'EFI\\Boot\\bootx64.efi'));
  t.is(await fs.usedClusters(), 195, 'a free entry with only reserved bits set is still free');
});

test('FAT32: a damaged root directory opens with a warning (the map needs only the FAT), and listing it fails', async (t) => {
  const buf = copy('fat32');
  const g = bpb(buf);
  const root = new DataView(buf.buffer).getUint32(0x2c, true);
  setEntry(buf, 'fat32', root, root);
  const fs: FatReader = await open(buf);
  t.is(fs.label, 'SYSTEM', 'the boot sector label stands in');
  t.is(fs.warnings.length, 1);
  t.regex(fs.warnings[0]!, new RegExp(`^root directory unreadable, label taken from the boot sector: FAT at byte ${g.fatStart + 4 * root}: cluster ${root} of \\\\ links back`));
  await t.throwsAsync(fs.list('\\'), { instanceOf: CorruptStructureError, message: /a cycle/ });
  t.is(await fs.usedClusters(), 195);
});

test('a cluster marked bad counts as used (as fsck.fat counts it) but is left out of the allocation map', async (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const buf = copy('fat16');
  const g = bpb(buf);
  const bad = g.clusterCount + 1; // the last cluster, free in the fixture
  setEntry(buf, 'fat16', bad, 0xfff7);
  const file = join(scratch.dir, 'bad.img');
  writeFileSync(file, buf);
  const fsck = /(\d+)\/(\d+) clusters/.exec(tool('fsck.fat', ['-n', '-v', file]));
  const fs = await open(buf);
  t.is(await fs.usedClusters(), Number(fsck![1]), 'fsck.fat counts the bad cluster as used');
  t.is(await fs.usedClusters(), 22);
  t.is(await fs.badClusters(), 1);
  const map = await fs.allocationMap();
  t.false(map.contains(g.dataStart + (bad - 2) * g.clusterSize));
  t.is(map.bytes, g.dataStart + (22 - 1) * g.clusterSize);
});

test('the label comes from the root directory\'s volume-label entry, else from the BPB', async (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const buf = copy('fat16');
  const entry = findEntry(buf, 'FAT16VOL   ');
  t.true(entry < bpb(buf).dataStart, 'the label entry is in the root directory');
  buf.set(Buffer.from('ROOT LABEL ', 'latin1'), entry);
  const file = join(scratch.dir, 'label.img');
  writeFileSync(file, buf);
  t.regex(tool('mlabel', ['-s', '-i', file, '::']), /Volume label is ROOT LABEL/);
  t.is((await open(buf)).label, 'ROOT LABEL');
  buf[entry] = 0xe5; // deleted: the BPB's BS_VolLab stands
  t.is((await open(buf)).label, 'FAT16VOL');
});

test('random damage to boot sector, FATs and directories gives values or typed errors, never a hang or a stray error', async (t) => {
  // A fixed-seed generator so a failure can be replayed.
  let seed = 0x1ea7b0a7;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const base = pristine.fat12;
  const g = bpb(base);
  const hot = g.dataStart + 4 * g.clusterSize; // boot sector, FATs, root directory, first clusters
  const original = base.slice(0, hot);
  let typed = 0;
  const buf = base.slice(); // damaged and repaired in place, cheaper than a copy per round
  for (let round = 0; round < 300; round++) {
    buf.set(original, 0);
    const hits = 1 + Math.floor(random() * 8);
    for (let i = 0; i < hits; i++) buf[Math.floor(random() * (round % 3 === 0 ? 512 : hot))] = Math.floor(random() * 256);
    try {
      const fs = await open(buf);
      await fs.usedClusters();
      await fs.allocationMap();
      await readEverything(fs);
    } catch (e) {
      if (!(e instanceof LifeboatError)) throw e;
      typed++;
    }
  }
  t.deepEqual(base.slice(0, hot), original, 'the pristine copy was not touched');
  t.true(typed > 0);
});

test('a long name whose checksum does not match its short entry is dropped, as mdir drops it', async (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const buf = copy('fat16');
  const entry = findEntry(buf, 'AFILEW~1TXT');
  t.is(buf[entry - 32 + 0x0b], 0x0f, 'a long-name entry precedes it');
  buf[entry - 32 + 0x0d] = (buf[entry - 32 + 0x0d]! + 1) & 0xff; // LDIR_Chksum of the entry holding characters 1–13
  const file = join(scratch.dir, 'orphan.img');
  writeFileSync(file, buf);
  const mdir = tool('mdir', ['-a', '-i', file, '::/DOCUME~1']);
  t.regex(mdir, /^AFILEW~1 TXT +1900 .*\d:\d\d *$/m, 'mdir shows only the 8.3 name');
  const names = (await (await open(buf)).list('Documents')).map((e) => e.name).sort();
  t.deepEqual(names, ['AFILEW~1.TXT', 'Sub']);
});

test('FAT32 with mirroring off reads the active FAT that BPB_ExtFlags names', async (t) => {
  const buf = copy('fat32');
  const g = bpb(buf);
  buf.fill(0, g.fatStart + 8, g.fatStart + g.fatBytes); // FAT 0 emptied (entries 0 and 1 kept)
  new DataView(buf.buffer).setUint16(0x28, 0x81, true); // mirroring off, FAT 1 active
  const fs = await open(buf);
  t.is(await fs.usedClusters(), 195);
  t.is(sha256(await fs.readFile('EFI\\Microsoft\\Boot\\BCD')), planted('uefi-gpt', 1, 'EFI\\Microsoft\\Boot\\BCD'));
  new DataView(buf.buffer).setUint16(0x28, 0x82, true); // FAT 2 of 2: does not exist
  await t.throwsAsync(open(buf), { instanceOf: CorruptStructureError, message: /^FAT boot sector at byte 40: BPB_ExtFlags names FAT 2 active but BPB_NumFATs is 2/ });
});

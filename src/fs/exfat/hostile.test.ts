/**
 * Damaged exFAT volumes, made in memory from a copy of the fixture partition. Each must give a
 * CorruptStructureError naming the structure and byte offset — never a hang or a stray error.
 * Positions come from the raw bytes (boot sector fields, names searched as UTF-16).
 */
import test from 'ava';
import { fixture } from '../../../test/helpers/fixtures.ts';
import { MemoryDevice } from '../../device/memory-device.ts';
import { CorruptStructureError, LifeboatError } from '../../errors.ts';
import { fixtureBytes, sha256 } from '../fat/testing.ts';
import { checksum32, entrySetChecksum } from './checksums.ts';
import { openExfat } from './exfat-reader.ts';
import { readEverything } from '../../../test/helpers/walk.ts';

const pristine = await fixtureBytes('mixed-mbr', 1);
const planted = fixture('mixed-mbr').manifest.partitions.find((p) => p.index === 1)!.planted!;
const BEACH = 'Photos\\Holiday 2026\\beach with a long name.jpg';

function geometry(buf: Uint8Array) {
  const dv = new DataView(buf.buffer, buf.byteOffset, 512);
  const bps = 1 << dv.getUint8(0x6c);
  const clusterSize = bps << dv.getUint8(0x6d);
  return { bps, clusterSize, fatStart: dv.getUint32(0x50, true) * bps, heapStart: dv.getUint32(0x58, true) * bps,
    clusterCount: dv.getUint32(0x5c, true), root: dv.getUint32(0x60, true) };
}

/** Volume offset of the File entry whose first name entry (15 characters) starts with `name`. */
function findSet(buf: Uint8Array, name: string): number {
  const at = Buffer.from(buf.buffer, buf.byteOffset, buf.length).indexOf(Buffer.from(name, 'utf16le'));
  if (at < 0 || (at - 2) % 32 !== 0 || buf[at - 2] !== 0xc1) throw new Error(`no file name entry for ${name}`);
  const set = at - 2 - 64;
  if (buf[set] !== 0x85) throw new Error(`${name}: no File entry before its name`);
  return set;
}

function fixSetChecksum(buf: Uint8Array, set: number): void {
  const sum = entrySetChecksum(buf.subarray(set, set + 32 * (buf[set + 1]! + 1)));
  new DataView(buf.buffer, buf.byteOffset).setUint16(set + 2, sum, true);
}

function fixBootChecksum(buf: Uint8Array): void {
  const { bps } = geometry(buf);
  const sum = checksum32(buf, 11 * bps, new Set([0x6a, 0x6b, 0x70]));
  const dv = new DataView(buf.buffer, buf.byteOffset + 11 * bps, bps);
  for (let i = 0; i < bps; i += 4) dv.setUint32(i, sum, true);
}

const setU32 = (buf: Uint8Array, at: number, v: number) => new DataView(buf.buffer, buf.byteOffset).setUint32(at, v >>> 0, true);
const getU32 = (buf: Uint8Array, at: number) => new DataView(buf.buffer, buf.byteOffset).getUint32(at, true);
const open = (buf: Uint8Array) => openExfat(new MemoryDevice(buf).readOnly());

/** Turn the (contiguous, NoFatChain) beach file into a FAT-chained one; returns its first cluster. */
function chainBeach(buf: Uint8Array): { first: number; count: number; stream: number } {
  const set = findSet(buf, 'beach with a lo');
  const stream = set + 32;
  buf[stream + 1] = buf[stream + 1]! & ~0x02; // clear NoFatChain
  fixSetChecksum(buf, set);
  const first = getU32(buf, stream + 0x14);
  const count = Math.ceil(planted[BEACH]!.size / geometry(buf).clusterSize);
  const { fatStart } = geometry(buf);
  for (let i = 0; i < count; i++) setU32(buf, fatStart + 4 * (first + i), i === count - 1 ? 0xffffffff : first + i + 1);
  return { first, count, stream };
}

test('a bad boot checksum is refused with the checksum sector\'s offset; VolumeFlags are outside the checksum', async (t) => {
  const buf = pristine.slice();
  buf[9 * 512 + 100] = ~buf[9 * 512 + 100]! & 0xff; // OEM parameters sector
  const err = await t.throwsAsync(open(buf), { instanceOf: CorruptStructureError });
  t.regex(err!.message, /^exFAT boot checksum at byte 5632: stored 0x[0-9a-f]+, sectors 0–10 give 0x[0-9a-f]+$/);
  const dirty = pristine.slice();
  dirty[0x6a] = dirty[0x6a]! | 0x02; // VolumeDirty
  dirty[0x70] = 42; // PercentInUse
  t.is((await open(dirty)).label, 'EXDATA');
});

test('a volume shorter than a boot region, or than VolumeLength, is refused at the boot sector', async (t) => {
  await t.throwsAsync(open(pristine.slice(0, 100)), { message: /^exFAT boot sector at byte 0: the volume has only 100 bytes/ });
  await t.throwsAsync(open(pristine.slice(0, 1000)), { message: /^exFAT boot sector at byte 0: the volume has only 1000 bytes, the boot region needs 6144/ });
  const err = await t.throwsAsync(open(pristine.slice(0, 4 << 20)), { instanceOf: CorruptStructureError });
  t.is(err!.message, 'exFAT boot sector at byte 72: VolumeLength is 32768 sectors, the volume has 8192');
});

test('boot sector fields are checked in order, each naming its field and offset', async (t) => {
  const cases: Array<[(b: Uint8Array) => void, RegExp]> = [
    [(b) => { b[3] = 0x4e; }, /at byte 3: FileSystemName is "NXFAT"/],
    [(b) => { b[0x20] = 1; }, /at byte 32: MustBeZero holds 0x1/],
    [(b) => { b[0x6c] = 8; }, /at byte 108: BytesPerSectorShift is 8/],
    [(b) => { b[0x6e] = 3; fixBootChecksum(b); }, /at byte 110: NumberOfFats is 3/],
    [(b) => { setU32(b, 0x5c, 0x7fffffff); fixBootChecksum(b); }, /at byte 84: FatLength of 32 sectors cannot hold/],
    [(b) => { setU32(b, 0x5c, 4000); fixBootChecksum(b); }, /at byte 92: ClusterCount 4000 from sector 4096 ends at sector 36096, past VolumeLength 32768/],
    [(b) => { setU32(b, 0x60, 999999); fixBootChecksum(b); }, /at byte 96: FirstClusterOfRootDirectory is 999999, outside clusters 2\.\.3585/],
  ];
  for (const [damage, message] of cases) {
    const buf = pristine.slice();
    damage(buf);
    const err = await t.throwsAsync(open(buf), { instanceOf: CorruptStructureError });
    t.regex(err!.message, new RegExp(`^exFAT boot sector ${message.source}`));
  }
});

test('a root directory chain that loops fails the open with the FAT entry\'s offset', async (t) => {
  const buf = pristine.slice();
  const { fatStart, root } = geometry(buf);
  setU32(buf, fatStart + 4 * root, root);
  const err = await t.throwsAsync(open(buf), { instanceOf: CorruptStructureError });
  t.is(err!.message, `FAT at byte ${fatStart + 4 * root}: cluster ${root} of \\ links back to cluster ${root} (a cycle)`);
});

test('a FAT-chained file reads through the FAT; a link past the last cluster or a loop is refused', async (t) => {
  const buf = pristine.slice();
  const { first, count } = chainBeach(buf);
  let fs = await open(buf);
  t.is(sha256(await fs.readFile(BEACH)), planted[BEACH]!.sha256, 'read through the FAT chain');
  t.is((await fs.fileExtents(BEACH)).bytes, count * fs.clusterSize);

  const { fatStart, clusterCount } = geometry(buf);
  setU32(buf, fatStart + 4 * (first + 10), clusterCount + 50);
  fs = await open(buf);
  await t.throwsAsync(fs.readFile(BEACH), {
    instanceOf: CorruptStructureError,
    message: `FAT at byte ${fatStart + 4 * (first + 10)}: cluster ${first + 10} of \\${BEACH} links to cluster ${clusterCount + 50}, outside clusters 2..${clusterCount + 1}`,
  });
  setU32(buf, fatStart + 4 * (first + 10), first + 3);
  fs = await open(buf);
  await t.throwsAsync(fs.fileExtents(BEACH), { instanceOf: CorruptStructureError, message: /links back to cluster \d+ \(a cycle\)/ });
});

test('a stream extension with an absurd first cluster or length is refused with its offset', async (t) => {
  const buf = pristine.slice();
  const set = findSet(buf, 'readme.txt');
  setU32(buf, set + 32 + 0x14, 0x7fffffff);
  fixSetChecksum(buf, set);
  let fs = await open(buf);
  await t.throwsAsync(fs.readFile('readme.txt'), {
    instanceOf: CorruptStructureError,
    message: `exFAT directory entry at byte ${set + 32}: \\readme.txt claims clusters 2147483647..2147483647, outside clusters 2..3585`,
  });
  const huge = pristine.slice();
  new DataView(huge.buffer).setBigUint64(set + 32 + 0x18, 1n << 50n, true);
  new DataView(huge.buffer).setBigUint64(set + 32 + 0x08, 1n << 40n, true);
  fixSetChecksum(huge, set);
  fs = await open(huge);
  await t.throwsAsync(fs.readFile('readme.txt'), { instanceOf: CorruptStructureError, message: /^exFAT directory entry at byte \d+: DataLength 1125899906842624 of \\readme\.txt is more than/ });
});

test('an entry set whose checksum does not match is refused with its offset', async (t) => {
  const buf = pristine.slice();
  const set = findSet(buf, 'readme.txt');
  buf[set + 64 + 2] = 0x52; // 'r' → 'R' without fixing SetChecksum
  const fs = await open(buf); // the root's own entries are fine: the volume opens
  await t.throwsAsync(fs.list(''), { instanceOf: CorruptStructureError, message: new RegExp(`^exFAT file entry set at byte ${set}: SetChecksum is 0x[0-9a-f]+, the entries give 0x[0-9a-f]+$`) });
  await t.throwsAsync(fs.stat('readme.txt'), { code: 'NOT_FOUND' });
  t.is(sha256(await fs.readFile('Archive\\backup.zip')), planted['Archive\\backup.zip']!.sha256, 'its intact siblings still read');
});

test('bytes past ValidDataLength read as zeros', async (t) => {
  const buf = pristine.slice();
  const set = findSet(buf, 'beach with a lo');
  new DataView(buf.buffer).setBigUint64(set + 32 + 0x08, 1000n, true);
  fixSetChecksum(buf, set);
  const fs = await open(buf);
  const data = await fs.readFile(BEACH);
  t.is(data.length, planted[BEACH]!.size);
  const original = await (await open(pristine)).readFile(BEACH);
  t.deepEqual(data.subarray(0, 1000), original.subarray(0, 1000));
  t.true(data.subarray(1000).every((b) => b === 0));
  t.not(sha256(data), planted[BEACH]!.sha256);
});

test('a damaged up-case table fails lookups (with its offset) but not listings', async (t) => {
  const buf = pristine.slice();
  const { heapStart, clusterSize } = geometry(buf);
  const at = heapStart + (3 - 2) * clusterSize + 200; // cluster 3: the up-case table (dump.exfat)
  buf[at] = buf[at]! ^ 0x01;
  const fs = await open(buf);
  t.is((await fs.list('')).length, 3);
  await t.throwsAsync(fs.stat('readme.txt'), { instanceOf: CorruptStructureError, message: /^exFAT up-case table at byte \d+: TableChecksum is 0x[0-9a-f]+, the table gives/ });
});

test('random damage to boot sector, FAT and directories gives values or typed errors, never a hang or a stray error', async (t) => {
  let seed = 0x7f97fda2;
  const random = () => ((seed = (Math.imul(seed, 1103515245) + 12345) >>> 0) / 2 ** 32);
  const { fatStart, heapStart, clusterSize } = geometry(pristine);
  const regions: Array<[number, number]> = [[0, 512], [fatStart, 64], [heapStart, 10 * clusterSize]];
  let typed = 0;
  const buf = pristine.slice(); // damaged and repaired in place: copying 16 MiB per round is slow
  for (let round = 0; round < 300; round++) {
    for (const [start, length] of [[0, 12 * 512], ...regions]) buf.set(pristine.subarray(start!, start! + length!), start);
    const [start, length] = regions[round % regions.length]!;
    for (let i = 0, hits = 1 + Math.floor(random() * 6); i < hits; i++) buf[start + Math.floor(random() * length)] = Math.floor(random() * 256);
    if (start === 0) fixBootChecksum(buf);
    try {
      const fs = await open(buf);
      await fs.allocationMap();
      await readEverything(fs);
    } catch (e) {
      if (!(e instanceof LifeboatError)) throw e;
      typed++;
    }
  }
  t.true(typed > 0);
});

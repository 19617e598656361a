/**
 * FAT12/16/32 re-expressed in another sector size, judged by fsck.fat and mtools (both take the
 * sector size from the BPB): mkfs.fat volumes with 4096-byte sectors go to 512 and back, 512-byte
 * ones with 4 KiB clusters go to 4096 (FAT32's FSInfo and backup boot sector move), and volumes
 * that cannot be expressed are refused and left untouched.
 */
import test, { type ExecutionContext } from 'ava';
import { closeSync, openSync, writeFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, type FixtureName } from '../../../test/helpers/fixtures.ts';
import { extractRange, scratchDir, toolBytes } from '../../../test/helpers/tools.ts';
import { pseudoRandom } from '../ntfs/test-volumes.ts';
import { SectorSizeRefusedError } from '../sector-size.ts';
import { convertFile, fileSha, fingerprint, planFile, run, runAll, sha256, sparseFile } from '../sector-size-testing.ts';

const MiB = 1 << 20;
const scratch = scratchDir('lifeboat-fat-ss-');
test.after.always(() => scratch.remove());

const FILES: Record<string, Buffer> = {
  'README.TXT': Buffer.from('root directory file\r\n'.repeat(50)),
  'Docs/A file with a long name.txt': Buffer.from('long name\r\n'.repeat(700)),
  'Docs/Sub/blob.bin': pseudoRandom(11, 300_000),
};

/** mkfs.fat on a sparse file, then (unless `empty`) the files above through mmd/mcopy. */
function mkfat(name: string, size: number, args: string[], empty = false): string {
  const path = sparseFile(join(scratch.dir, name), size);
  run('mkfs.fat', [...args, path]);
  if (empty) return path;
  run('mmd', ['-i', path, '::/Docs', '::/Docs/Sub']);
  for (const [rel, data] of Object.entries(FILES)) {
    const src = join(scratch.dir, `${name}.src`);
    writeFileSync(src, data);
    run('mcopy', ['-i', path, src, `::/${rel}`]);
  }
  return path;
}

interface FsckReading { sectorSize: number; used: number; clusters: number }

function fsck(t: ExecutionContext, file: string): FsckReading {
  const r = runAll('fsck.fat', ['-n', '-v', file]);
  t.is(r.code, 0, r.output);
  t.notRegex(r.output, /differences|wrong|invalid|Dirty/i, r.output);
  const clusters = /(\d+)\/(\d+) clusters/.exec(r.output);
  return { sectorSize: Number(/(\d+) bytes per logical sector/.exec(r.output)?.[1]), used: Number(clusters?.[1]), clusters: Number(clusters?.[2]) };
}

function checkFiles(t: ExecutionContext, file: string): void {
  for (const [rel, data] of Object.entries(FILES)) t.is(sha256(toolBytes('mcopy', ['-n', '-i', file, `::/${rel}`, '-'])), sha256(data), rel);
}

const listing = (file: string) => run('mdir', ['-/', '-b', '-i', file, '::/']);

async function roundTrip(t: ExecutionContext, file: string, from: number, to: number): Promise<string> {
  const before = fsck(t, file);
  const names = listing(file);
  t.is(before.sectorSize, from);
  const change = await convertFile(file, to);
  t.like(change, { from, to });
  const after = fsck(t, file);
  t.deepEqual(after, { ...before, sectorSize: to }, 'fsck.fat: new sector size, same clusters used and total');
  t.is(listing(file), names);
  checkFiles(t, file);
  return change.kind;
}

for (const [kind, size, args] of [['fat12', 4 * MiB, ['-F', '12']], ['fat16', 64 * MiB, ['-F', '16']], ['fat32', 300 * MiB, ['-F', '32']]] as const) {
  test(`${kind} made with 4096-byte sectors goes to 512 (fsck.fat, mtools agree) and back to identical bytes`, async (t) => {
    const file = mkfat(`${kind}-4k.img`, size, ['-S', '4096', ...args]);
    const original = fileSha(file);
    t.is(await roundTrip(t, file, 4096, 512), kind);
    await roundTrip(t, file, 512, 4096);
    t.is(fileSha(file), original);
  });
}

test('FAT16 with 4096-byte sectors and 400 root entries: BPB_RootEntCnt grows to 512 to fill the root sectors, the padding is zeroed', async (t) => {
  const file = mkfat('fat16-r400.img', 64 * MiB, ['-S', '4096', '-F', '16']);
  const names = listing(file);
  // 400 entries take 12800 bytes: 4 sectors of 4096 bytes but 25 (not 32) of 512.
  const fd = openSync(file, 'r+');
  writeSync(fd, Buffer.from([400 & 0xff, 400 >> 8]), 0, 2, 0x11);
  const rootStart = (4 + 2 * 4) * 4096;
  writeSync(fd, Buffer.alloc(112 * 32, 0x41), 0, 112 * 32, rootStart + 400 * 32); // stale bytes past the last entry
  closeSync(fd);
  const before = fsck(t, file);
  const change = await convertFile(file, 512);
  t.deepEqual(change.writes.map((w) => [w.offset, w.bytes.length]), [[rootStart + 3 * 4096, 4096], [0, 4096]]);
  t.deepEqual(fsck(t, file), { ...before, sectorSize: 512 });
  // (mtools cannot walk this volume's subdirectories before: it mishandles a root that ends inside a sector.)
  t.is(listing(file), names);
  checkFiles(t, file);
  t.is(toolBytes('dd', [`if=${file}`, 'bs=1', 'skip=17', 'count=2', 'status=none']).readUInt16LE(0), 512);
  t.deepEqual(toolBytes('dd', [`if=${file}`, 'bs=32', `skip=${rootStart / 32 + 400}`, 'count=112', 'status=none']), Buffer.alloc(112 * 32));
});

test('FAT32 made with 512-byte sectors and 4 KiB clusters goes to 4096: FSInfo and the backup boot sector move to sectors 1 and 2', async (t) => {
  const file = mkfat('fat32-512.img', 300 * MiB, ['-F', '32']);
  const change = await planFile(file, 4096);
  t.deepEqual(change.writes.map((w) => [w.offset, w.bytes.length]), [[4096, 4096], [8192, 4096], [12288, 4096], [0, 4096]]);
  await roundTrip(t, file, 512, 4096);
  const bpb = toolBytes('dd', [`if=${file}`, 'bs=4096', 'count=1', 'status=none']);
  t.deepEqual([bpb.readUInt16LE(0x30), bpb.readUInt16LE(0x32)], [1, 2], 'BPB_FSInfo, BPB_BkBootSec');
  t.deepEqual(bpb.subarray(512), Buffer.alloc(3584), 'the old 512-byte FSInfo and backup copies inside sector 0 are zeroed');
  await roundTrip(t, file, 4096, 512);
});

test('FAT16 made with 512-byte sectors, 4 KiB clusters and 8 reserved sectors goes to 4096', async (t) => {
  const file = mkfat('fat16-512.img', 64 * MiB, ['-F', '16', '-s', '8', '-R', '8']);
  await roundTrip(t, file, 512, 4096);
});

async function refused(t: ExecutionContext, file: string, to: number, filesystem: string, reason: string, message: RegExp): Promise<void> {
  const before = fingerprint(file);
  const e = await t.throwsAsync(planFile(file, to), { instanceOf: SectorSizeRefusedError });
  t.like(e?.data, { filesystem, reason, to });
  t.regex(e?.message ?? '', message);
  t.is(fingerprint(file), before, 'planning wrote nothing');
}

function fixturePartition(name: FixtureName, index: number): string {
  const { image, manifest } = fixture(name);
  const p = manifest.partitions.find((q) => q.index === index)!;
  return extractRange(image, p.startLba * 512, p.sizeLba * 512, join(scratch.dir, `${name}-${index}.img`));
}

test('clusters smaller than 4096 bytes are refused: the fixture FAT16, FAT12 and the 512-byte-cluster ESP', async (t) => {
  await refused(t, fixturePartition('mixed-mbr', 2), 4096, 'fat16', 'cluster-too-small', /FAT16 volume cannot be converted from 512-byte to 4096-byte sectors: its clusters are 2048 bytes/);
  await refused(t, fixturePartition('mixed-mbr', 6), 4096, 'fat12', 'cluster-too-small', /clusters are 2048 bytes/);
  await refused(t, fixturePartition('uefi-gpt', 1), 4096, 'fat32', 'cluster-too-small', /clusters are 512 bytes.*512n or 512e/);
});

test('refused: 128 KiB clusters in 512-byte sectors, a reserved area not ending on a 4096-byte boundary, no room to move FSInfo', async (t) => {
  await refused(t, mkfat('fat16-128k.img', 600 * MiB, ['-S', '4096', '-F', '16', '-s', '32'], true), 512, 'fat16', 'cluster-too-large',
    /131072-byte clusters would need 256 sectors each.*Restore it to a disk with 4096-byte sectors/);
  await refused(t, mkfat('fat32-r33.img', 300 * MiB, ['-F', '32', '-a', '-R', '33'], true), 4096, 'fat32', 'misaligned', /BPB_RsvdSecCnt is 33 sectors/);
  await refused(t, mkfat('fat32-r8.img', 300 * MiB, ['-F', '32', '-R', '8'], true), 4096, 'fat32', 'no-room', /reserved area of 1 4096-byte sectors has no room/);
});

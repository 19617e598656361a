/**
 * Whole-disk restores that re-lay out the disk: a Windows XP-style disk (63-sector layout,
 * C: first, an extended partition with a FAT16 and an NTFS logical partition) restored with
 * realignment to 1 MiB, onto a larger disk (C: grows, the logical partitions move to the end
 * with their EBRs) and onto a smaller one (C: shrinks). sfdisk, ntfsfix, ntfscat, fsck.fat and
 * mtype judge the results; a refusal writes nothing.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { extractRange, scratchDir, tool, toolBytes } from './helpers/tools.ts';
import { restoreToNewFile } from './helpers/restore.ts';
import { plantedNtfs, pseudoRandom, type Planted } from '../src/fs/ntfs/test-volumes.ts';
import { ImageReader, openDiskImage, openFileDevice, planBackup, planRestore, runBackup, type RestoreOptions } from '../src/index.ts';

const S = 512;
const MiB = 1 << 20;
const scratch = scratchDir('lifeboat-relayout-');
test.after.always(() => scratch.remove());
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

/** Sectors of the XP-style layout: [start, size]. */
const XP = { c: [63, 131009], ext: [131072, 65536], fat: [131135, 32705], d: [163903, 32705] } as const;
const XP_SIZE = 96 * MiB;

function placeFile(disk: string, volume: string, offset: number): void {
  const fd = openSync(disk, 'r+');
  try {
    writeSync(fd, readFileSync(volume), 0, undefined, offset);
  } finally {
    closeSync(fd);
  }
}

interface XpDisk {
  path: string;
  image: string;
  planted: { ntfs: Record<number, Planted>; fat: Planted };
}

const xp: Promise<XpDisk> = (async () => {
  const path = join(scratch.dir, 'xp.img');
  tool('truncate', ['-s', String(XP_SIZE), path]);
  const table = `label: dos\nstart=${XP.c[0]}, size=${XP.c[1]}, type=7, bootable\nstart=${XP.ext[0]}, size=${XP.ext[1]}, type=f\n` +
    `start=${XP.fat[0]}, size=${XP.fat[1]}, type=6\nstart=${XP.d[0]}, size=${XP.d[1]}, type=7\n`;
  writeFileSync(join(scratch.dir, 'xp.sfdisk'), table);
  tool('sh', ['-c', `sfdisk -q ${path} < ${join(scratch.dir, 'xp.sfdisk')}`]);
  const c = await plantedNtfs(join(scratch.dir, 'c.img'), XP.c[1] * S, ['-p', String(XP.c[0]), '-H', '255', '-S', '63', '-L', 'XP']);
  const d = await plantedNtfs(join(scratch.dir, 'd.img'), XP.d[1] * S, ['-p', String(XP.d[0]), '-H', '255', '-S', '63', '-L', 'Data']);
  const fat = join(scratch.dir, 'fat.img');
  tool('truncate', ['-s', String(XP.fat[1] * S), fat]);
  tool('mkfs.fat', ['-F', '16', '-h', String(XP.fat[0]), '-n', 'FILES', fat]);
  const fatFiles = { 'NOTES.TXT': Buffer.from('logical partition notes\r\n'.repeat(300)), 'PHOTO.BIN': pseudoRandom(31, 900_000) };
  for (const [name, data] of Object.entries(fatFiles)) {
    writeFileSync(join(scratch.dir, name), data);
    tool('mcopy', ['-i', fat, join(scratch.dir, name), `::/${name}`]);
  }
  placeFile(path, c.image, XP.c[0] * S);
  placeFile(path, fat, XP.fat[0] * S);
  placeFile(path, d.image, XP.d[0] * S);
  const device = await openDiskImage(path);
  const image = join(scratch.dir, 'xp.lbimg');
  try {
    await runBackup(device, await planBackup(device, { mode: 'intelligent' }), { destination: image, threads: 2 });
  } finally {
    await device.close();
  }
  const fatPlanted = Object.fromEntries(Object.entries(fatFiles).map(([k, v]) => [k, sha256(v)]));
  return { path, image, planted: { ntfs: { 1: c.planted, 6: d.planted }, fat: fatPlanted } };
})();

let n = 0;
async function restoreXp(size: number, options: RestoreOptions) {
  return restoreToNewFile((await xp).image, join(scratch.dir, `target-${n++}.img`), size, S, options);
}

type Restored = Awaited<ReturnType<typeof restoreXp>>;

/** sfdisk, the volumes' own checkers and every planted file agree with the plan. */
async function judge(t: import('ava').ExecutionContext, { plan, targetPath }: Restored): Promise<void> {
  const { planted } = await xp;
  t.notThrows(() => tool('sfdisk', ['--verify', targetPath]));
  const dumped = JSON.parse(tool('sfdisk', ['-J', targetPath])) as { partitiontable: { partitions: Array<{ node: string; start: number; size: number; type: string }> } };
  const parts = new Map(dumped.partitiontable.partitions.map((p) => [Number(/(\d+)$/.exec(p.node)![1]), p]));
  for (const p of plan.partitions) {
    t.deepEqual([parts.get(p.to.index)?.start, parts.get(p.to.index)?.size], [p.to.offset / S, p.to.size / S], `partition ${p.to.index} where the plan put it`);
    const file = extractRange(targetPath, p.to.offset, p.to.size, join(scratch.dir, `check-${n++}.img`));
    t.is(readFileSync(file).readUInt32LE(0x1c), p.to.offset / S, `partition ${p.to.index}: hidden sectors = its start`);
    if (p.filesystem === 'ntfs') {
      const fix = tool('ntfsfix', ['-n', file]);
      t.regex(fix, /Checking the alternate boot sector\.\.\. OK/);
      t.regex(tool('ntfsinfo', ['-m', file]), new RegExp(`Volume Size in Clusters: ${Math.floor((p.to.size / S - 1) / 8)}\\b`));
      for (const [rel, hash] of Object.entries(planted.ntfs[p.index]!)) t.is(sha256(toolBytes('ntfscat', [file, `/${rel}`])), hash, `p${p.index} ${rel}`);
    } else {
      t.notRegex(tool('fsck.fat', ['-n', file]), /differences|wrong/i);
      for (const [rel, hash] of Object.entries(planted.fat)) t.is(sha256(toolBytes('mtype', ['-i', file, `::/${rel}`])), hash, rel);
    }
  }
  const ext = parts.get(2)!;
  t.is(ext.type, 'f', 'the extended partition keeps its type');
  t.deepEqual([ext.start * S, ext.size * S], [plan.extended!.offset, plan.extended!.size]);
}

test('realigned onto a disk of the same size: every partition starts on a MiB, C: gives up the difference', async (t) => {
  const r = await restoreXp(XP_SIZE, { realign: true });
  for (const p of r.plan.partitions) t.is(p.to.offset % MiB, 0, `partition ${p.index} is aligned`);
  t.deepEqual(r.plan.partitions.map((p) => [p.index, p.resize ?? '']), [[1, 'shrink'], [5, ''], [6, '']]);
  t.deepEqual(r.result.shrunk, [1]);
  await judge(t, r);
});

test('onto a larger disk: C: grows, the logical partitions and their EBRs move to the end', async (t) => {
  const r = await restoreXp(XP_SIZE + 32 * MiB, {});
  t.is(r.plan.partitions[0]!.to.offset, XP.c[0] * S, 'C: keeps its 63-sector start without --realign');
  t.deepEqual(r.result.grown, [1]);
  t.true(r.plan.partitions.filter((p) => p.index >= 5).every((p) => p.to.offset > p.from.offset + 31 * MiB));
  const last = r.plan.partitions.find((p) => p.index === 6)!.to;
  t.is(last.offset, Math.floor((XP_SIZE + 32 * MiB - XP.d[1] * S) / MiB) * MiB, 'the last logical partition starts on the last MiB boundary it fits below');
  t.is(r.plan.extended!.offset + r.plan.extended!.size, last.offset + last.size, 'the extended partition ends where the last logical one does');
  t.is(r.plan.partitions[0]!.to.offset + r.plan.partitions[0]!.to.size, r.plan.extended!.offset, 'C: grows up to the extended partition');
  await judge(t, r);
});

test('onto a smaller disk: C: shrinks because its data ends early enough', async (t) => {
  const r = await restoreXp(XP_SIZE - 8 * MiB, {});
  t.deepEqual(r.result.shrunk, [1]);
  const c = r.plan.partitions[0]!.to;
  t.true(c.size <= XP.c[1] * S - 8 * MiB, 'C: gives up at least the 8 MiB the disk lacks');
  t.is(c.offset + c.size, r.plan.extended!.offset, 'C: ends where the extended partition starts');
  await judge(t, r);
});

test('--realign --keep-layout on a larger disk moves partitions up without resizing any', async (t) => {
  const r = await restoreXp(XP_SIZE + 4 * MiB, { realign: true, resize: false });
  t.deepEqual(r.plan.partitions.map((p) => [p.to.offset % MiB, p.to.size === p.from.size]), [[0, true], [0, true], [0, true]]);
  t.deepEqual([...r.result.grown, ...r.result.shrunk], []);
  await judge(t, r);
});

test('a target too small for C:\'s data is refused naming the partition and the bytes needed; nothing is written', async (t) => {
  const { image } = await xp;
  const targetPath = join(scratch.dir, 'small.img');
  tool('truncate', ['-s', String(48 * MiB), targetPath]);
  const reader = await ImageReader.open(image);
  const target = await openFileDevice(targetPath, { writable: true, sectorSize: S });
  try {
    const e = await t.throwsAsync(() => planRestore(reader, target, {}));
    t.is(e?.name, 'RestoreRefusedError');
    t.regex(e!.message, /partition 1 \(ntfs\) cannot shrink to \d+ bytes: its volume's data needs \d+ bytes; the target has \d+ bytes and needs \d+ more/);
  } finally {
    await target.close();
    await reader.close();
  }
  t.is(toolBytes('sh', ['-c', `tr -d '\\0' < ${targetPath} | head -c 1`]).length, 0, 'the target is still all zeros');
});

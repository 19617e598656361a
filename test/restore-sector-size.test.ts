/**
 * Restoring across logical sector sizes. ntfs-4k (a 4Kn GPT disk, NTFS with 4096-byte MFT
 * records) goes onto a 512-byte-sector disk: the GPT is re-encoded in 512-byte sectors and the
 * volume re-expressed in them, which sgdisk, ntfsfix, ntfsinfo and ntfscat accept. Backed up
 * again and restored onto a 4096-byte-sector disk, the volume comes back byte for byte. Disks
 * formatted for 512-byte sectors (1024-byte MFT records, 512-byte FAT clusters) are refused
 * with the partition and the reason, and nothing is written.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, type FixtureName } from './helpers/fixtures.ts';
import { extractRange, scratchDir, tool, toolBytes } from './helpers/tools.ts';
import { restoreToNewFile } from './helpers/restore.ts';
import { ImageReader, openDiskImage, openFileDevice, planBackup, planRestore, runBackup, type RestoreOptions } from '../src/index.ts';

const MiB = 1 << 20;
const scratch = scratchDir('lifeboat-sector-size-');
test.after.always(() => scratch.remove());
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function backup(disk: string, name: string, sectorSize?: number): Promise<string> {
  const device = sectorSize ? await openFileDevice(disk, { sectorSize }) : await openDiskImage(disk);
  const destination = join(scratch.dir, `${name}.lbimg`);
  try {
    await runBackup(device, await planBackup(device, { mode: 'intelligent' }), { destination, threads: 2 });
  } finally {
    await device.close();
  }
  return destination;
}

const images = new Map<FixtureName, Promise<string>>();
const imageOf = (name: FixtureName) => {
  if (!images.has(name)) images.set(name, backup(fixture(name).image, name));
  return images.get(name)!;
};

let n = 0;
const restore = (image: string, size: number, sectorSize: number, options: RestoreOptions = {}) =>
  restoreToNewFile(image, join(scratch.dir, `target-${n++}.img`), size, sectorSize, options);

const to512 = (async () => {
  const { manifest } = fixture('ntfs-4k');
  return restore(await imageOf('ntfs-4k'), manifest.size, 512);
})();
const to512Larger = (async () => {
  const { manifest } = fixture('ntfs-4k');
  return restore(await imageOf('ntfs-4k'), manifest.size + 16 * MiB, 512);
})();

for (const [what, restored] of [['the same size', to512], ['a larger size (the volume then grows)', to512Larger]] as const) {
test(`a 4Kn disk restored onto a disk with 512-byte sectors of ${what}: GPT and NTFS re-expressed, clean for sgdisk and ntfsprogs, files intact`, async (t) => {
  const { manifest } = fixture('ntfs-4k');
  const { plan, result, targetPath } = await restored;
  t.deepEqual(plan.sectorSizeChange, { from: 4096, to: 512, partitions: [1] });
  t.deepEqual(result.converted, [1]);
  t.deepEqual(result.grown, restored === to512 ? [] : [1], 'a larger disk: the volume grows, in 512-byte sectors');
  t.regex(tool('sgdisk', ['-v', targetPath]), /No problems found/);
  const dumped = JSON.parse(tool('sfdisk', ['-J', targetPath])) as { partitiontable: { sectorsize: number; partitions: Array<{ start: number; size: number }> } };
  t.is(dumped.partitiontable.sectorsize, 512);
  const p = plan.partitions[0]!;
  t.deepEqual([dumped.partitiontable.partitions[0]!.start, dumped.partitiontable.partitions[0]!.size], [p.to.offset / 512, p.to.size / 512]);
  const file = extractRange(targetPath, p.to.offset, p.to.size, join(scratch.dir, 'p1-512.img'));
  const boot = readFileSync(file);
  t.is(boot.readUInt16LE(0x0b), 512, 'bytes per sector');
  t.is(boot.readUInt32LE(0x1c), p.to.offset / 512, 'hidden sectors in 512-byte sectors');
  t.regex(tool('ntfsfix', ['-n', file]), /Checking the alternate boot sector\.\.\. OK/);
  const info = tool('ntfsinfo', ['-m', file]);
  t.regex(info, /Sector Size: 512\b/);
  t.regex(info, /MFT Record Size: 4096\b/);
  for (const [rel, planted] of Object.entries(manifest.partitions[0]!.planted ?? {})) {
    t.is(sha256(toolBytes('ntfscat', [file, `/${rel.replaceAll('\\', '/')}`])), planted.sha256, rel);
  }
});
}

test('backed up from its 512-byte disk and restored onto a 4Kn disk, every stored byte is as it was on the original', async (t) => {
  const { image: original, manifest } = fixture('ntfs-4k');
  const first = await to512;
  const image = await backup(first.targetPath, 'ntfs-4k-as-512', 512);
  const { result, targetPath: back } = await restore(image, manifest.size, 4096);
  t.deepEqual(result.converted, [1]);
  const a = readFileSync(original);
  const b = readFileSync(back);
  // What the first image held of the volume, boot sectors included: all of it comes back.
  const extents = first.plan.partitions[0]!.extents.extents;
  t.true(extents.length > 0);
  for (const e of extents) {
    t.is(Buffer.compare(a.subarray(e.start, e.start + e.length), b.subarray(e.start, e.start + e.length)), 0, `bytes ${e.start}..${e.start + e.length}`);
  }
  t.is(toolBytes('sh', ['-c', `fdisk -b 4096 -l ${back} 2>&1 >/dev/null`]).length, 0, 'fdisk has no complaint');
});

async function refusedNothingWritten(t: import('ava').ExecutionContext, name: FixtureName, sectorSize: number, message: RegExp) {
  const image = await imageOf(name);
  const targetPath = join(scratch.dir, `refused-${n++}.img`);
  tool('truncate', ['-s', String(fixture(name).manifest.size), targetPath]);
  const reader = await ImageReader.open(image);
  const target = await openFileDevice(targetPath, { writable: true, sectorSize });
  try {
    const e = await t.throwsAsync(() => planRestore(reader, target));
    t.is(e?.name, 'RestoreRefusedError');
    t.regex(e!.message, message);
  } finally {
    await target.close();
    await reader.close();
  }
  t.is(toolBytes('sh', ['-c', `tr -d '\\0' < ${targetPath} | head -c 1`]).length, 0, 'the target is still all zeros');
}

test('a disk formatted for 512-byte sectors is refused on a 4Kn target, naming the partition and why', async (t) => {
  await refusedNothingWritten(t, 'bios-mbr', 4096, /partition 1: The NTFS volume cannot be converted from 512-byte to 4096-byte sectors: .*MFT record.*Restore it to a disk with 512-byte sectors/);
  await refusedNothingWritten(t, 'uefi-gpt', 4096, /partition 1: The FAT32 volume cannot be converted from 512-byte to 4096-byte sectors/);
});

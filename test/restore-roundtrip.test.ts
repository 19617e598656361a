/**
 * Image → new disk: every stored byte lands where it was; independent tools find the result
 * clean (sfdisk/sgdisk, ntfsfix, fsck.fat) and read every planted file; refusals write nothing.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { closeSync, openSync, readFileSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, type FixtureName } from './helpers/fixtures.ts';
import { extractRange, scratchDir, tool, toolBytes } from './helpers/tools.ts';
import {
  ExtentList, ImageReader, openDiskImage, openFileDevice, planBackup, planRestore, runBackup, runRestore, type BackupMode,
} from '../src/index.ts';

const scratch = scratchDir('lifeboat-restore-');
test.after.always(() => scratch.remove());
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const images = new Map<string, Promise<string>>();
function imageOf(name: FixtureName, mode: BackupMode = 'intelligent'): Promise<string> {
  const key = `${name}-${mode}`;
  if (!images.has(key)) {
    images.set(key, (async () => {
      const device = await openDiskImage(fixture(name).image);
      const destination = join(scratch.dir, `${key}.lbimg`);
      await runBackup(device, await planBackup(device, { mode }), { destination, threads: 2 });
      await device.close();
      return destination;
    })());
  }
  return images.get(key)!;
}

let targets = 0;
/** A sparse target file; its first MiB carries an old, different table to be cleared. */
function targetFile(size: number): string {
  const path = join(scratch.dir, `target-${targets++}.img`);
  tool('truncate', ['-s', String(size), path]);
  tool('sh', ['-c', `printf 'label: dos\\nstart=2048, size=4096, type=83\\n' | sfdisk -q ${path}`]);
  return path;
}

async function restore(imagePath: string, targetPath: string, sectorSize = 512, options = {}) {
  const reader = await ImageReader.open(imagePath);
  const target = await openFileDevice(targetPath, { writable: true, sectorSize });
  try {
    const plan = await planRestore(reader, target, options);
    const result = await runRestore(reader, target, plan, { confirmTarget: target.name });
    return { plan, result };
  } finally {
    await target.close();
    await reader.close();
  }
}

const fileHash = (path: string) => sha256(readFileSync(path));

for (const [name, grow] of [['bios-mbr', 0], ['bios-mbr', 64 << 20], ['uefi-gpt', 0], ['uefi-gpt', 96 << 20], ['mixed-mbr', 0], ['ntfs-4k', 32 << 20]] as const) {
  test(`${name} restored to a ${grow ? 'larger' : 'same-size'} disk: clean for independent tools, every planted file intact`, async (t) => {
    const { image: sourcePath, manifest } = fixture(name);
    const s = manifest.sectorSize;
    const targetPath = targetFile(manifest.size + grow);
    const { plan, result } = await restore(await imageOf(name), targetPath, s);
    t.true(result.bytesWritten >= plan.dataExtents.bytes);
    // Every stored data byte equals the source, wherever its partition now lies. A grown NTFS
    // volume rewrote its own metadata ($Bitmap, $BadClus, boot sectors): compared by the tools below.
    const source = readFileSync(sourcePath);
    const target = readFileSync(targetPath);
    for (const p of plan.partitions.filter((q) => !q.resize)) {
      const shift = p.to.offset - p.from.offset;
      // A moved volume's boot sectors (first and last sectors) carry its new start: checked below.
      const patched = shift === 0 ? ExtentList.empty : ExtentList.of([{ start: p.to.offset, length: s }, { start: p.to.offset + p.to.size - 4096, length: 4096 }]);
      for (const e of p.extents.subtract(patched).extents) {
        t.is(Buffer.compare(source.subarray(e.start - shift, e.start - shift + e.length), target.subarray(e.start, e.start + e.length)), 0,
          `partition ${p.index}: bytes ${e.start}..${e.start + e.length}`);
      }
    }
    if (grow) t.true(plan.partitions.some((p) => p.resize === 'grow'), 'the Windows volume grows into the larger disk');
    if (manifest.scheme === 'gpt' && s === 512) t.regex(tool('sgdisk', ['-v', targetPath]), /No problems found/);
    if (manifest.scheme === 'mbr') tool('sfdisk', ['--verify', targetPath]);
    if (s === 4096) t.is(toolBytes('sh', ['-c', `fdisk -b 4096 -l ${targetPath} 2>&1 >/dev/null`]).length, 0, 'fdisk has no complaint');
    for (const p of manifest.partitions) {
      const to = plan.partitions.find((q) => q.index === p.index)!.to;
      const file = extractRange(targetPath, to.offset, to.size, join(scratch.dir, `${name}-p${p.index}-${targets}.img`));
      if (to.offset !== p.startLba * s && p.fs !== 'none') t.is(readFileSync(file).readUInt32LE(0x1c), to.offset / s, `partition ${p.index}: hidden sectors = new start`);
      if (p.fs === 'ntfs') {
        t.regex(tool('ntfsfix', ['-n', file]), /Checking the alternate boot sector\.\.\. OK/);
        for (const [rel, planted] of Object.entries(p.planted ?? {})) {
          if (p.excludedFiles && rel in p.excludedFiles) continue;
          t.is(sha256(toolBytes('ntfscat', [file, `/${rel.replaceAll('\\', '/')}`])), planted.sha256, `${name} p${p.index} ${rel}`);
        }
        if (p.excludedFiles?.['hiberfil.sys']) {
          t.not(toolBytes('ntfscat', [file, '/hiberfil.sys']).subarray(0, 4).toString('latin1'), 'HIBR', 'an old hibernation header cannot be resumed');
        }
      }
      if (p.fs.startsWith('fat')) {
        t.notRegex(tool('fsck.fat', ['-n', file]), /differences|wrong/i);
        for (const [rel, planted] of Object.entries(p.planted ?? {})) {
          t.is(sha256(toolBytes('mcopy', ['-n', '-i', file, `::/${rel.replaceAll('\\', '/')}`, '-'])), planted.sha256, rel);
        }
      }
      if (p.fs === 'exfat') t.regex(tool('fsck.exfat', ['-n', file]), /clean/);
    }
  });
}

test('one partition restored into another disk\'s partition at another offset: boot sectors point at the new start', async (t) => {
  const targetPath = join(scratch.dir, `target-${targets++}.img`);
  tool('truncate', ['-s', String(128 << 20), targetPath]);
  tool('sh', ['-c', `printf 'label: dos\\nstart=6144, size=131072, type=7\\n' | sfdisk -q ${targetPath}`]);
  const { result } = await restore(await imageOf('bios-mbr'), targetPath, 512, { partition: 2, targetPartition: 1 });
  t.deepEqual(result.fixedPlacement, [1]);
  const file = extractRange(targetPath, 6144 * 512, 131072 * 512, join(scratch.dir, 'moved.img'));
  const boot = readFileSync(file).subarray(0, 512);
  t.is(boot.readUInt32LE(0x1c), 6144, 'hidden sectors = new start');
  t.regex(tool('ntfsfix', ['-n', file]), /Checking the alternate boot sector\.\.\. OK/);
  const win = fixture('bios-mbr').manifest.partitions[1]!;
  t.is(sha256(toolBytes('ntfscat', [file, '/Users/Technician/Documents/report.txt'])), win.planted!['Users\\Technician\\Documents\\report.txt']!.sha256);
});

async function refused(t: import('ava').ExecutionContext, imagePath: string, targetPath: string, sectorSize: number, options: object, message: RegExp) {
  const before = fileHash(targetPath);
  const err = await t.throwsAsync(restore(imagePath, targetPath, sectorSize, options));
  t.regex(err!.message, message);
  t.is(fileHash(targetPath), before, 'nothing was written to the target');
}

test('refusals write nothing: too small, the image itself, a volume that cannot take the other sector size, no such partition', async (t) => {
  const image = await imageOf('bios-mbr');
  await refused(t, image, targetFile(60 << 20), 512, {}, /partition 2 \(ntfs\) cannot shrink to 36700160 bytes: its volume's data needs 65360384 bytes; the target has 62914560 bytes and needs 28660224 more \(91574784 in all\)/);
  await refused(t, image, targetFile(60 << 20), 512, { resize: false }, /too small: the image needs 93323264 bytes, the target has 62914560/);
  await refused(t, image, image, 512, {}, /is the image being restored/);
  await refused(t, image, targetFile(96 << 20), 4096, {}, /partition 1: The NTFS volume cannot be converted from 512-byte to 4096-byte sectors/);
  await refused(t, image, targetFile(96 << 20), 512, { partition: 2, targetPartition: 3 }, /has no partition 3 to restore into/);
  await refused(t, image, targetFile(96 << 20), 512, { partition: 2, targetPartition: 1 }, /partition 1 of .* is too small: image partition 2 needs 67108864 bytes/);
  const boot = targetFile(96 << 20);
  await refused(t, image, boot, 512, { protectedPaths: [boot] }, /is the boot medium/);
});

test('a restore that is not confirmed for the target disk writes nothing', async (t) => {
  const reader = await ImageReader.open(await imageOf('bios-mbr'));
  t.teardown(() => reader.close());
  const targetPath = targetFile(96 << 20);
  const before = fileHash(targetPath);
  const target = await openFileDevice(targetPath, { writable: true });
  t.teardown(() => target.close());
  const plan = await planRestore(reader, target);
  await t.throwsAsync(runRestore(reader, target, plan, { confirmTarget: '/dev/sdz' }), { code: 'RESTORE_REFUSED' });
  t.is(fileHash(targetPath), before);
});

test('an incomplete image is refused before anything is written', async (t) => {
  const image = join(scratch.dir, 'cut.lbimg');
  const full = readFileSync(await imageOf('mixed-mbr'));
  const fd = openSync(image, 'w');
  writeSync(fd, full, 0, full.length - 1000);
  closeSync(fd);
  await refused(t, image, targetFile(64 << 20), 512, {}, /is incomplete/);
});

test('--zero-free writes zeros where the image holds nothing; without it those bytes are left as they were', async (t) => {
  const image = await imageOf('mixed-mbr');
  const plain = targetFile(64 << 20);
  const zeroed = targetFile(64 << 20);
  for (const path of [plain, zeroed]) {
    const fd = openSync(path, 'r+');
    writeSync(fd, Buffer.alloc(1 << 20, 0xa5), 0, 1 << 20, 24 << 20); // old data inside partition 2 (FAT16), past its used clusters
    closeSync(fd);
  }
  const a = await restore(image, plain, 512);
  await restore(image, zeroed, 512, { zeroFree: true });
  const oldRange = { start: 24 << 20, length: 1 << 20 };
  const notStored = readFileSync(plain).subarray(oldRange.start, oldRange.start + oldRange.length);
  t.false(a.plan.dataExtents.contains(oldRange.start + 4096), 'the fixture leaves that range unallocated');
  t.true(notStored.includes(0xa5), 'left as it was');
  t.true(readFileSync(zeroed).subarray(oldRange.start, oldRange.start + oldRange.length).every((b) => b === 0), 'zeroed');
});

test('a restore stops before writing a corrupted chunk', async (t) => {
  const clean = await imageOf('mixed-mbr');
  const image = join(scratch.dir, 'damaged.lbimg');
  const bytes = readFileSync(clean);
  const reader = await ImageReader.open(clean);
  const chunk = [...reader.chunks.values()].find((c) => c.place && c.sourceOffset > 16 << 20)!;
  await reader.close();
  bytes[chunk.place!.offset + 48 + 100] = bytes[chunk.place!.offset + 48 + 100]! ^ 0x01;
  const fd = openSync(image, 'w');
  writeSync(fd, bytes);
  closeSync(fd);
  const targetPath = targetFile(64 << 20);
  const err = await t.throwsAsync(restore(image, targetPath, 512));
  t.regex(err!.message, new RegExp(`source offset ${chunk.sourceOffset}.*payload CRC-32`));
  const target = readFileSync(targetPath);
  t.true(target.subarray(chunk.sourceOffset, chunk.sourceOffset + chunk.sourceLength).every((b) => b === 0), 'the damaged chunk was not written');
  t.true(target.subarray(0, 512).every((b) => b === 0), 'no partition table: the disk is not mistaken for a good one');
});

test('--new-disk-id: a new MBR signature, or new GPT disk and partition GUIDs, everything else equal', async (t) => {
  for (const name of ['bios-mbr', 'uefi-gpt'] as const) {
    const { manifest } = fixture(name);
    const targetPath = targetFile(manifest.size);
    const { result } = await restore(await imageOf(name), targetPath, 512, { newDiskId: true });
    const table = JSON.parse(tool('sfdisk', ['--json', targetPath])).partitiontable;
    const original = manifest.table.sfdisk;
    t.truthy(result.identity);
    t.not(table.id.toLowerCase(), original.id.toLowerCase(), `${name}: disk identity changed`);
    t.deepEqual(table.partitions.map((p: { start: number; size: number }) => [p.start, p.size]),
      original.partitions.map((p) => [p.start, p.size]), `${name}: same layout`);
    if (name === 'uefi-gpt') {
      t.regex(tool('sgdisk', ['-v', targetPath]), /No problems found/);
      t.is(result.identity!.partitions.length, 4);
      for (const p of result.identity!.partitions) {
        t.regex(tool('sgdisk', ['-i', String(p.index), targetPath]), new RegExp(`Partition unique GUID: ${p.newGuid}`, 'i'));
        t.not(p.newGuid, p.oldGuid);
      }
    } else {
      t.is(table.id, `0x${result.identity!.newDiskId}`);
      tool('sfdisk', ['--verify', targetPath]);
    }
  }
});

test('resize: false keeps every offset on a larger disk and leaves the extra space free', async (t) => {
  const { manifest } = fixture('uefi-gpt');
  const targetPath = targetFile(manifest.size + (64 << 20));
  const { plan } = await restore(await imageOf('uefi-gpt'), targetPath, 512, { resize: false });
  t.false(plan.relayout);
  for (const p of plan.partitions) t.deepEqual([p.to.offset, p.to.size], [p.from.offset, p.from.size]);
  t.regex(tool('sgdisk', ['-v', targetPath]), /No problems found/);
});

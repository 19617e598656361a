/**
 * Finding the BCD stores and SYSTEM hives on the fixture disks, and rewriting a hive in place:
 * ntfscat / mcopy then read the new bytes, ntfsfix and fsck.fat stay clean, and a refusal
 * writes nothing.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { copyFileSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../../test/helpers/fixtures.ts';
import { extractRange, scratchDir, tool, toolBytes } from '../../test/helpers/tools.ts';
import { openFileDevice } from '../device/file-device.ts';
import { findBootFiles, openBootFileVolume, rewriteFileInPlace } from './boot-files.ts';
import { partitionDevice } from '../device/partition-device.ts';
import type { WritableDevice } from '../device/block-device.ts';

const scratch = scratchDir('lifeboat-boot-files-');
test.after.always(() => scratch.remove());
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

test('the BCD stores and SYSTEM hives are where the fixtures put them', async (t) => {
  for (const name of ['bios-mbr', 'uefi-gpt'] as const) {
    const { image, manifest } = fixture(name);
    const disk = await openFileDevice(image);
    t.teardown(() => disk.close());
    const found = await findBootFiles(disk);
    const want = [...(manifest.bcd ?? []).map((b) => ['bcd', b.partition, b.path]), ['system', manifest.systemHive!.partition, manifest.systemHive!.path]];
    t.deepEqual(found.map((f) => [f.kind, f.partition, f.path]), want, name);
    for (const f of found) {
      const { fs } = await openBootFileVolume(disk, f);
      t.is((await fs.readFile(f.path)).length, f.fileSize);
    }
  }
});

/** A copy of a fixture, its boot file, and the hive with one changed byte in its last bin's padding. */
async function changedCopy(name: 'bios-mbr' | 'uefi-gpt', kind: 'bcd' | 'system') {
  const { image } = fixture(name);
  const copy = join(scratch.dir, `${name}-${kind}.img`);
  copyFileSync(image, copy);
  const disk = await openFileDevice(copy, { writable: true });
  const file = (await findBootFiles(disk)).find((f) => f.kind === kind)!;
  const { fs } = await openBootFileVolume(disk, file);
  const old = await fs.readFile(file.path);
  const bytes = old.slice();
  bytes[bytes.length - 1] = bytes.at(-1)! ^ 0x5a;
  const volume = partitionDevice(disk as WritableDevice, file.offset, file.size);
  return { copy, disk, file, fs, old, bytes, volume };
}

test('a SYSTEM hive on NTFS is rewritten in place: ntfscat reads the new bytes, ntfsfix is clean, nothing else changed', async (t) => {
  const c = await changedCopy('bios-mbr', 'system');
  t.teardown(() => c.disk.close());
  const before = readFileSync(c.copy);
  await rewriteFileInPlace(c.volume, c.fs, c.file.path, c.bytes);
  const part = extractRange(c.copy, c.file.offset, c.file.size, join(scratch.dir, 'sys-part.img'));
  t.is(sha256(toolBytes('ntfscat', [part, '/Windows/System32/config/SYSTEM'])), sha256(c.bytes));
  t.regex(tool('ntfsfix', ['-n', part]), /Checking the alternate boot sector\.\.\. OK/);
  const after = readFileSync(c.copy);
  let changed = 0;
  for (let i = 0; i < after.length; i++) if (after[i] !== before[i]) changed++;
  t.is(changed, 1, 'exactly the one byte changed on the disk');
});

test('a BCD store on the FAT32 ESP is rewritten in place: mcopy reads the new bytes, fsck.fat is clean', async (t) => {
  const c = await changedCopy('uefi-gpt', 'bcd');
  t.teardown(() => c.disk.close());
  await rewriteFileInPlace(c.volume, c.fs, c.file.path, c.bytes);
  const part = extractRange(c.copy, c.file.offset, c.file.size, join(scratch.dir, 'esp-part.img'));
  t.is(sha256(toolBytes('mcopy', ['-n', '-i', part, '::/EFI/Microsoft/Boot/BCD', '-'])), sha256(c.bytes));
  t.notRegex(tool('fsck.fat', ['-n', part]), /differences|wrong/i);
});

test('refused, writing nothing: another size, an NTFS-compressed file', async (t) => {
  const c = await changedCopy('bios-mbr', 'bcd');
  t.teardown(() => c.disk.close());
  const before = sha256(readFileSync(c.copy));
  await t.throwsAsync(() => rewriteFileInPlace(c.volume, c.fs, c.file.path, new Uint8Array(c.old.length + 4096)), { message: /its size cannot change here/ });
  const win = (await findBootFiles(c.disk)).find((f) => f.kind === 'system')!;
  const { fs } = await openBootFileVolume(c.disk, win);
  const log = 'Users\\Technician\\AppData\\Logs\\setup.log';
  const data = await fs.readFile(log);
  await t.throwsAsync(() => rewriteFileInPlace(partitionDevice(c.disk as WritableDevice, win.offset, win.size), fs, log, data), { message: /compressed/ });
  t.is(sha256(readFileSync(c.copy)), before);
});

/**
 * fix-boot on a disk whose identity changed under its BCD (a new MBR signature, boot code
 * wiped, no active partition): the plan infers the old identity from the store, and after it
 * runs hivexregedit reads every device element and MountedDevices value naming the disk's own
 * signature, sfdisk sees partition 1 active and a clean table, and the MBR holds Lifeboat's code.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { copyFileSync, openSync, closeSync, readFileSync, writeSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../../test/helpers/fixtures.ts';
import { extractRange, scratchDir, tool, toolBytes } from '../../test/helpers/tools.ts';
import { openFileDevice } from '../device/file-device.ts';
import { parseRegExport } from '../registry/test-support.ts';
import { decodeBcdDevice } from './bcd-device.ts';
import { decodeMountedDevice } from './mounted-devices.ts';
import { planFixBoot, runFixBoot } from './fix-boot.ts';
import { LIFEBOAT_MBR_CODE } from './mbr-code.ts';

const scratch = scratchDir('lifeboat-fix-boot-');
test.after.always(() => scratch.remove());
const NEW_SIGNATURE = 0x12345678;

function hiveValues(disk: string, startLba: number, sizeLba: number, path: string): Map<string, Buffer> {
  const part = extractRange(disk, startLba * 512, sizeLba * 512, join(scratch.dir, `p-${startLba}.img`));
  const file = join(scratch.dir, `hive-${startLba}`);
  writeFileSync(file, toolBytes('ntfscat', [part, path]));
  tool('reged', ['-x', file, 'HKEY_LOCAL_MACHINE\\X', '\\', `${file}.reg`]);
  const out = new Map<string, Buffer>();
  for (const [k, values] of parseRegExport(tool('hivexregedit', ['--export', file, '\\']))) {
    for (const [v, d] of values) out.set(`${k}\\${v}`, Buffer.from(d.split(':')[1]!, 'hex'));
  }
  return out;
}

test('a disk given a new signature, its boot code wiped and no partition active is repaired by fix-boot: store, MountedDevices, boot code and active flag', async (t) => {
  const { image, manifest } = fixture('bios-mbr');
  const copy = join(scratch.dir, 'disk.img');
  copyFileSync(image, copy);
  tool('sfdisk', ['--disk-id', copy, `0x${NEW_SIGNATURE.toString(16)}`]);
  const fd = openSync(copy, 'r+');
  writeSync(fd, Buffer.alloc(440), 0, 440, 0);
  writeSync(fd, Buffer.from([0]), 0, 1, 446); // partition 1 no longer active
  closeSync(fd);

  const dry = await openFileDevice(copy);
  const plan = await planFixBoot(dry);
  await dry.close();
  t.like(plan.mapping, { scheme: 'mbr', oldSignature: Number.parseInt(manifest.diskSignature!, 16), newSignature: NEW_SIGNATURE });
  t.true(plan.writeMbrCode);
  t.is(plan.activate, 1);
  t.deepEqual(plan.repair!.hives.map((h) => [h.file.path, h.edits.length]), [['Boot\\BCD', 3], ['Windows\\System32\\config\\SYSTEM', 4]]);

  const disk = await openFileDevice(copy, { writable: true });
  const result = await runFixBoot(disk, plan);
  await disk.close();
  t.deepEqual(result.repair!.rewritten.map((r) => r.edits), [3, 4]);

  const [p1, p2] = manifest.partitions;
  let elements = 0;
  for (const [k, data] of hiveValues(copy, p1!.startLba, p1!.sizeLba, '/Boot/BCD')) {
    if (!/\\Elements\\[12]1000001\\Element$/.test(k)) continue;
    const d = decodeBcdDevice(data);
    if (d.kind === 'partition' && d.partition.style === 'mbr') {
      t.is(d.partition.diskSignature, NEW_SIGNATURE, k);
      elements++;
    }
  }
  t.is(elements, 3);
  const mounted = [...hiveValues(copy, p2!.startLba, p2!.sizeLba, '/Windows/System32/config/SYSTEM')].filter(([k]) => k.startsWith('\\MountedDevices\\'));
  t.true(mounted.length >= 4);
  for (const [k, data] of mounted) {
    const m = decodeMountedDevice(data);
    if (m.kind === 'mbr') t.is(m.diskSignature, NEW_SIGNATURE, k);
  }
  const lba0 = readFileSync(copy).subarray(0, 512);
  t.deepEqual(lba0.subarray(0, LIFEBOAT_MBR_CODE.length), Buffer.from(LIFEBOAT_MBR_CODE));
  t.regex(tool('sfdisk', ['-d', copy]), /start=\s*2048, size=\s*32768, type=7, bootable/);
  t.notThrows(() => tool('sfdisk', ['--verify', copy]));
});

test('on an intact disk fix-boot finds nothing to rewrite and says so', async (t) => {
  const { image } = fixture('uefi-gpt');
  const disk = await openFileDevice(image);
  t.teardown(() => disk.close());
  const plan = await planFixBoot(disk);
  t.is(plan.mapping, undefined);
  t.false(plan.writeMbrCode, 'GPT: no MBR boot code to write');
  t.deepEqual(plan.notes, ['the BCD stores already name this disk']);
});

test('an ESP without the fallback loader gets bootmgfw.efi copied to \\EFI\\Boot\\bootx64.efi; mcopy and fsck.fat agree', async (t) => {
  const { image, manifest } = fixture('uefi-gpt');
  const copy = join(scratch.dir, 'uefi.img');
  copyFileSync(image, copy);
  const esp = manifest.partitions.find((p) => p.role === 'esp')!;
  const at = `${copy}@@${esp.startLba * 512}`;
  tool('mdel', ['-i', at, '::/EFI/Boot/bootx64.efi']);
  const dry = await openFileDevice(copy);
  const plan = await planFixBoot(dry);
  await dry.close();
  t.is(plan.fallbackLoader, esp.index);
  const disk = await openFileDevice(copy, { writable: true });
  const result = await runFixBoot(disk, plan);
  await disk.close();
  t.is(result.fallbackLoader, esp.index);
  const part = extractRange(copy, esp.startLba * 512, esp.sizeLba * 512, join(scratch.dir, 'esp.img'));
  t.deepEqual(toolBytes('mcopy', ['-n', '-i', part, '::/EFI/Boot/bootx64.efi', '-']), toolBytes('mcopy', ['-n', '-i', part, '::/EFI/Microsoft/Boot/bootmgfw.efi', '-']));
  t.notRegex(tool('fsck.fat', ['-n', part]), /differences|wrong/i);
  for (const [rel, planted] of Object.entries(esp.planted ?? {})) {
    if (rel.toLowerCase() === 'efi\\boot\\bootx64.efi') continue;
    t.is(createHash('sha256').update(toolBytes('mcopy', ['-n', '-i', part, `::/${rel.replaceAll('\\', '/')}`, '-'])).digest('hex'), planted.sha256, rel);
  }
});

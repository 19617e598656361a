/**
 * The reader against hives written by hivex: the fixture disks' BCD stores and SYSTEM hives
 * (copied out with ntfscat / mcopy), compared key by key and value by value with the
 * hivexregedit --export text stored in the fixture manifest and with hivexget.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { scratchDir, tool, toolBytes } from '../../test/helpers/tools.ts';
import { CorruptStructureError, UsageError } from '../errors.ts';
import { openHive, REG } from './hive.ts';
import { fixtureHive, listHive, parseRegExport, sorted } from './test-support.ts';

const BOOTMGR = '{9dea862c-5cdd-4e70-acc1-f32b344d4795}';
const OS_LOADER = '{b1a0e3f2-7c55-4d0e-9a51-6c0ffee0b007}';
const GLOBALSETTINGS = '{7ea2e1ac-2e61-4728-aaa3-896d9d0a9f0e}';

for (const name of ['bios-mbr', 'uefi-gpt'] as const) {
  for (const which of ['bcd', 'system'] as const) {
    test(`${name} ${which}: every key and value equals hivexregedit's export`, (t) => {
      const scratch = scratchDir();
      t.teardown(scratch.remove);
      const { file, export: text } = fixtureHive(name, which, scratch.dir);
      const hive = openHive(readFileSync(file), `${name} ${which}`);
      t.false(hive.dirty);
      const expected = parseRegExport(text);
      t.true(expected.size > 3);
      t.deepEqual(sorted(listHive(hive)), sorted(expected));
    });
  }
}

test('BCD lookups: paths and names case-insensitive, decoders, hivexget agrees', (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const { file } = fixtureHive('bios-mbr', 'bcd', scratch.dir);
  const hive = openHive(readFileSync(file), 'BCD');
  const get = (path: string, value: string) => toolBytes('hivexget', [file, path, value]);

  const device = hive.key(`Objects\\${BOOTMGR}\\Elements\\11000001`)!.value('Element')!;
  t.is(device.type, REG.BINARY);
  t.deepEqual(Buffer.from(device.data), get(`\\Objects\\${BOOTMGR}\\Elements\\11000001`, 'Element'));
  t.is(device.data.length, 88);
  t.is(device.storage.kind, 'cell');
  t.is(typeof device.dataCellOffset, 'number');

  const upper = hive.key(`\\OBJECTS\\${BOOTMGR.toUpperCase()}\\elements\\24000001`)!;
  t.deepEqual(upper.value('ELEMENT')!.asMultiString(), [OS_LOADER]);
  t.is(hive.key(`Objects\\${BOOTMGR}\\Elements\\23000003`)!.value('element')!.asString(), OS_LOADER);
  t.deepEqual(hive.key(`Objects\\${OS_LOADER}\\Elements\\14000006`)!.value('Element')!.asMultiString(),
    ['{6efb52bf-1766-41db-a6b3-0ee5eff72bd7}']);
  t.is(hive.key(`Objects\\${GLOBALSETTINGS}\\Elements\\12000005`)!.value('Element')!.asString(), 'en-US');

  const type = hive.key(`Objects\\${BOOTMGR}\\Description`)!.value('Type')!;
  t.is(type.asNumber(), 0x10100002);
  t.is(String(type.asNumber()), tool('hivexget', [file, `\\Objects\\${BOOTMGR}\\Description`, 'Type']).trim());
  t.is(type.storage.kind, 'inline'); // hivex stores data of 4 bytes or fewer in the vk
  t.is(type.dataCellOffset, undefined);
  t.is(hive.key('Description')!.value('KeyName')!.asString(), 'BCD00000000');

  t.is(hive.key('Objects\\{no-such-object}'), undefined);
  t.is(hive.key('Description')!.value('nope'), undefined);
  t.is(hive.key(''), hive.root);
  t.throws(() => type.asString(), { instanceOf: UsageError });
  t.throws(() => device.asNumber(), { instanceOf: UsageError });

  const objects = hive.key('Objects')!;
  t.true(objects.lastWritten instanceof Date && !Number.isNaN(objects.lastWritten.getTime()));
  t.is(objects.subkeys().length, 4);
  // Subkey lists are sorted by upper-cased name, as hivex must write them.
  const names = objects.subkeys().map((k) => k.name.toUpperCase());
  t.deepEqual(names, [...names].sort());
  t.is(objects.node.parent, hive.root.cellOffset);
});

test('SYSTEM: MountedDevices value names with backslashes, \\DosDevices\\C: equals hivexget', (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const { file } = fixtureHive('bios-mbr', 'system', scratch.dir);
  const hive = openHive(readFileSync(file), 'SYSTEM');
  const c = hive.key('MountedDevices')!.value('\\DosDevices\\c:')!;
  t.is(c.name, '\\DosDevices\\C:');
  t.deepEqual(Buffer.from(c.data), toolBytes('hivexget', [file, '\\MountedDevices', '\\DosDevices\\C:']));
  t.is(hive.key('Select')!.value('Current')!.asNumber(), 1);
  t.is(hive.key('ControlSet001\\Control')!.value('SystemBootDevice')!.asString(), 'multi(0)disk(0)rdisk(0)partition(2)');
});

test('the base block: dirty when the sequence numbers differ, refused when the checksum is wrong', (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const bytes = readFileSync(fixtureHive('uefi-gpt', 'bcd', scratch.dir).file);
  const view = new DataView(bytes.buffer, bytes.byteOffset, bytes.length);
  const fixChecksum = () => {
    let x = 0;
    for (let i = 0; i < 0x1fc; i += 4) x ^= view.getUint32(i, true);
    view.setUint32(0x1fc, x >>> 0, true);
  };
  const hive = openHive(bytes, 'BCD');
  t.is(hive.base.majorVersion, 1);
  t.false(hive.dirty);

  const dirty = new Uint8Array(bytes);
  new DataView(dirty.buffer).setUint32(4, hive.base.primarySequenceNumber + 1, true);
  const e1 = t.throws(() => openHive(dirty, 'BCD'), { instanceOf: CorruptStructureError })!;
  t.is(e1.data.offset, 0x1fc);
  view.setUint32(4, hive.base.primarySequenceNumber + 1, true);
  fixChecksum();
  const dirtyHive = openHive(bytes, 'BCD');
  t.true(dirtyHive.dirty);
  t.is(dirtyHive.key('Description')!.value('KeyName')!.asString(), 'BCD00000000');

  view.setUint32(0x28, 0x100000, true); // bins size past the end of the file
  fixChecksum();
  t.is(t.throws(() => openHive(bytes, 'BCD'), { instanceOf: CorruptStructureError })!.data.offset, 0x28);
  t.is(t.throws(() => openHive(bytes.subarray(0, 100), 'BCD'), { instanceOf: CorruptStructureError })!.data.structure,
    'regf base block');
});

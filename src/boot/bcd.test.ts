/**
 * The fixture BCD stores (scripts/fixtures/hives.py bcd_keys, built by hivexregedit) read as a
 * store: every element's data equals hivexregedit's export in the manifest, every device element
 * decodes to the identity build-fixtures gave it (the manifest's sfdisk label-id and partition
 * starts, or sgdisk's disk and partition GUIDs) and re-encodes byte for byte.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fixture } from '../../test/helpers/fixtures.ts';
import { scratchDir } from '../../test/helpers/tools.ts';
import { openHive } from '../registry/index.ts';
import { buildHive, fixtureHive, hexReg, parseRegExport } from '../registry/test-support.ts';
import { encodeBcdDevice } from './bcd-device.ts';
import { decodeElementType, describeObjectType, readBcd } from './bcd.ts';
import { manifestIdentity } from './test-support.ts';

const BOOTMGR = '9dea862c-5cdd-4e70-acc1-f32b344d4795';
const OS_LOADER = 'b1a0e3f2-7c55-4d0e-9a51-6c0ffee0b007';

test('element types: class, format, subtype and names, class-2 names by application', (t) => {
  t.like(decodeElementType(0x11000001), { hex: '11000001', class: 'library', format: 'device', subtype: 1, name: 'device' });
  t.like(decodeElementType(0x21000001, 0x10200003), { class: 'application', format: 'device', name: 'osdevice' });
  t.like(decodeElementType(0x21000001, 0x10200004), { name: 'filedevice' });
  t.like(decodeElementType(0x22000002, 0x10200003), { format: 'string', name: 'systemroot' });
  t.like(decodeElementType(0x23000003, 0x10100002), { format: 'object', name: 'default' });
  t.like(decodeElementType(0x23000003, 0x10200003), { name: 'resumeobject' });
  t.like(decodeElementType(0x23000003, 0x20200003), { name: 'resumeobject' }); // {bootloadersettings}
  t.like(decodeElementType(0x24000001, 0x10100002), { format: 'objectList', name: 'displayorder' });
  t.like(decodeElementType(0x16000009), { format: 'boolean', name: 'recoveryenabled' });
  t.like(decodeElementType(0x25000004, 0x10100002), { format: 'integer', name: 'timeout' });
  t.like(decodeElementType(0x17000077), { format: 'integerList' });
  t.like(decodeElementType(0x32000004), { class: 'device', name: 'ramdisksdipath' });
  t.like(decodeElementType(0x45000001), { class: 'template', format: 'integer' });
  t.like(decodeElementType(0x5f000001), { class: 'oem', format: 'unknown' });
  t.is(decodeElementType(0x21000001).name, undefined); // class 2 without an object type: no guess
  t.is(describeObjectType(0x10100002), 'Windows Boot Manager');
  t.is(describeObjectType(0x40000001), 'type 0x40000001');
});

for (const name of ['bios-mbr', 'uefi-gpt'] as const) {
  test(`${name}: the store as hivexregedit exported it; device elements name the manifest's partitions`, (t) => {
    const scratch = scratchDir();
    t.teardown(scratch.remove);
    const { manifest } = fixture(name);
    const { file, export: text } = fixtureHive(name, 'bcd', scratch.dir);
    const store = readBcd(openHive(readFileSync(file), `${name} BCD`));
    const expected = parseRegExport(text);

    // Every element key of the export is an element of ours with the same type and bytes, and no more.
    const exported = [...expected].filter(([path]) => /\\Elements\\[0-9a-f]{8}$/i.test(path));
    t.is(store.elements().length, exported.length);
    for (const [path, values] of exported) {
      const el = store.elements().find(({ element }) => `\\${element.keyPath}`.toLowerCase() === path.toLowerCase())?.element;
      if (!el) return t.fail(`no element for ${path}`);
      t.is(`${el.registryType}:${Buffer.from(el.data).toString('hex')}`, values.get('Element') ?? '(none)', path);
      t.not(el.value.kind, 'undecoded', path);
    }
    t.deepEqual(store.strayObjects, []);
    t.true(store.isSystemStore);

    const bootmgr = store.object('{bootmgr}')!;
    t.is(bootmgr.guid, BOOTMGR);
    t.is(bootmgr.name, '{bootmgr}');
    t.is(bootmgr.type, 0x10100002);
    t.is(store.defaultObject, OS_LOADER);
    t.is(store.object('{default}')!.guid, OS_LOADER);
    t.is(store.object(`{${OS_LOADER.toUpperCase()}}`)!.type, 0x10200003);
    t.is(store.object('{current}'), undefined);
    t.is(store.object('{globalsettings}')!.type, 0x20100000);

    const el = (o: string, code: number) => store.object(o)!.elements.find((e) => e.type.code === code)!;
    t.deepEqual(el('{bootmgr}', 0x24000001).value, { kind: 'objectList', guids: [OS_LOADER] });
    t.like(el('{bootmgr}', 0x24000001).type, { name: 'displayorder' });
    t.deepEqual(el('{bootmgr}', 0x23000003).value, { kind: 'object', guid: OS_LOADER });
    t.deepEqual(el('{bootmgr}', 0x25000004).value, { kind: 'integer', value: 30n });
    t.deepEqual(el('{bootmgr}', 0x12000004).value, { kind: 'string', text: 'Windows Boot Manager' });
    t.deepEqual(el(OS_LOADER, 0x22000002).value, { kind: 'string', text: '\\Windows' });
    t.like(el(OS_LOADER, 0x22000002).type, { name: 'systemroot' });
    t.like(el(OS_LOADER, 0x21000001).type, { name: 'osdevice' });
    t.deepEqual(el(OS_LOADER, 0x12000002).value,
      { kind: 'string', text: `\\Windows\\system32\\winload.${manifest.scheme === 'gpt' ? 'efi' : 'exe'}` });

    // Device elements: {bootmgr} on the system partition / ESP, the loader's device and osdevice on C:.
    const systemRole = manifest.scheme === 'mbr' ? 'system' : 'esp';
    const wanted: Array<[string, number, string]> = [
      ['{bootmgr}', 0x11000001, systemRole], [OS_LOADER, 0x11000001, 'windows'], [OS_LOADER, 0x21000001, 'windows'],
    ];
    const devices = store.elements().filter(({ element }) => element.type.format === 'device');
    t.is(devices.length, wanted.length);
    for (const [object, code, role] of wanted) {
      const v = el(object, code).value;
      if (v.kind !== 'device' || v.device.kind !== 'partition') return t.fail(`${object} ${code.toString(16)} is ${v.kind}`);
      t.deepEqual(v.device.partition, manifestIdentity(manifest, role), `${object} ${code.toString(16)}`);
      t.is(v.device.associatedObject, '00000000-0000-0000-0000-000000000000');
      t.is(v.device.raw.length, 88);
    }
    for (const { element } of devices) {
      if (element.value.kind !== 'device') return t.fail(element.keyPath);
      t.deepEqual(encodeBcdDevice(element.value.device), element.data, element.keyPath);
    }
  });
}

test('odd elements are kept undecoded with a reason; stray keys are listed, not read', (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const G = '{0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d}';
  const file = buildHive(scratch.dir, 'odd', [
    '[\\Objects]', '', '[\\Objects\\not-a-guid]', '', `[\\Objects\\${G}]`, '', `[\\Objects\\${G}\\Description]`, '"Type"=dword:10200003', '',
    `[\\Objects\\${G}\\Elements]`, '',
    `[\\Objects\\${G}\\Elements\\25000020]`, `"Element"=${hexReg(3, Uint8Array.of(1, 0, 0, 0))}`, '',
    `[\\Objects\\${G}\\Elements\\23000003]`, `"Element"=${hexReg(1, Buffer.from('nope\0', 'utf16le'))}`, '',
    `[\\Objects\\${G}\\Elements\\14000006]`, `"Element"=${hexReg(1, Buffer.from('{x}\0', 'utf16le'))}`, '',
    `[\\Objects\\${G}\\Elements\\17000077]`, `"Element"=${hexReg(3, new Uint8Array(12))}`, '',
    `[\\Objects\\${G}\\Elements\\16000009]`, `"Element"=${hexReg(3, Uint8Array.of(1))}`, '',
    `[\\Objects\\${G}\\Elements\\11000001]`, `"Element"=${hexReg(3, new Uint8Array(40))}`, '',
    `[\\Objects\\${G}\\Elements\\zz]`, `"Element"=${hexReg(3, Uint8Array.of(1))}`, '',
    `[\\Objects\\${G}\\Elements\\12000004]`, '',
  ].join('\n'));
  const store = readBcd(openHive(readFileSync(file), 'odd'));
  t.deepEqual(store.strayObjects, ['not-a-guid']);
  t.false(store.isSystemStore);
  t.is(store.defaultObject, undefined);
  t.is(store.object('{default}'), undefined);
  const o = store.object(G)!;
  t.deepEqual(o.strayKeys.sort(), ['12000004', 'zz']);
  const value = (code: number) => o.elements.find((e) => e.type.code === code)!.value;
  t.like(value(0x25000020), { kind: 'undecoded', reason: 'integer element of 4 bytes (type 3), not 8' });
  t.like(value(0x23000003), { kind: 'undecoded' });
  t.like(value(0x14000006), { kind: 'undecoded' }); // REG_SZ where REG_MULTI_SZ belongs
  t.like(value(0x17000077), { kind: 'undecoded' });
  t.deepEqual(value(0x16000009), { kind: 'boolean', value: true });
  const device = value(0x11000001);
  t.is(device.kind, 'undecoded');
  t.is(device.kind === 'undecoded' ? device.error?.code : '', 'CORRUPT_STRUCTURE');
});

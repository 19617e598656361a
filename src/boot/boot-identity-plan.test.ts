/**
 * Planning identity edits on the fixture BCD stores and SYSTEM hives with a new identity and
 * moved partitions. The expected new bytes come from scripts/fixtures/hives.py's own encoders
 * (mbr_partition_device, gpt_partition_device, mounted_device_*), the old identities from the
 * manifests' sfdisk readings; the edits are then patched into a copy of the hive in place (same
 * length, same data cell) and read back with hivexget.
 */
import test, { type ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, ROOT, type Manifest } from '../../test/helpers/fixtures.ts';
import { scratchDir, tool, toolBytes } from '../../test/helpers/tools.ts';
import { openHive, type Hive } from '../registry/index.ts';
import { buildHive, fixtureHive, hexReg } from '../registry/test-support.ts';
import { decodeBcdDevice, newPartitionDevice } from './bcd-device.ts';
import { readBcd } from './bcd.ts';
import {
  BootIdentityError, planBcdIdentityEdits, planBootIdentity, planMountedDevicesEdits, type HiveEdit, type IdentityMapping,
} from './boot-identity-plan.ts';
import { decodeMountedDevice } from './mounted-devices.ts';
import { manifestIdentity } from './test-support.ts';

const OS_LOADER = '{b1a0e3f2-7c55-4d0e-9a51-6c0ffee0b007}';
const BOOTMGR = '{9dea862c-5cdd-4e70-acc1-f32b344d4795}';

/** hives.py's encoders, run by Python: the independent bytes. */
function py(expr: string): Uint8Array {
  const code = `import sys; sys.path.insert(0, ${JSON.stringify(join(ROOT, 'scripts', 'fixtures'))}); import hives; sys.stdout.write((${expr}).hex())`;
  return Uint8Array.from(Buffer.from(tool('python3', ['-c', code]), 'hex'));
}

interface Hives { bcdFile: string; systemFile: string; bcd: Hive; system: Hive; manifest: Manifest }

function hives(t: ExecutionContext, name: 'bios-mbr' | 'uefi-gpt'): Hives {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const bcdFile = fixtureHive(name, 'bcd', scratch.dir).file;
  const systemFile = fixtureHive(name, 'system', scratch.dir).file;
  return {
    bcdFile, systemFile, manifest: fixture(name).manifest,
    bcd: openHive(readFileSync(bcdFile), 'BCD'), system: openHive(readFileSync(systemFile), 'SYSTEM'),
  };
}

/** Overwrite each edited value's data in its own cell (what the writer will do), into a new file. */
function patchInPlace(file: string, edits: HiveEdit[]): string {
  const bytes = new Uint8Array(readFileSync(file));
  const hive = openHive(bytes, 'patched');
  for (const e of edits) {
    const v = hive.key(e.keyPath)!.value(e.valueName)!;
    if (e.newData.length !== v.data.length || Buffer.compare(v.data, e.oldData) !== 0) throw new Error(`${e.keyPath}: old data differs`);
    if (v.storage.kind !== 'cell') throw new Error(`${e.keyPath}: data not in a cell`);
    bytes.set(e.newData, 4096 + v.storage.cellOffset + 4);
  }
  const out = `${file}.patched`;
  writeFileSync(out, bytes);
  return out;
}

const hexOf = (b: Uint8Array) => Buffer.from(b).toString('hex');

test('bios-mbr: new signature, every partition moved: three BCD edits and four MountedDevices edits, as hives.py encodes them', (t) => {
  const h = hives(t, 'bios-mbr');
  const m = h.manifest;
  const oldSig = manifestIdentity(m, 'windows');
  if (oldSig.style !== 'mbr') return t.fail();
  const newSig = 0xcafef00d;
  const moved = (role: string) => BigInt(m.partitions.find((p) => p.role === role)!.startLba * 512 + 7 * 1048576);
  const roles = ['system', 'windows', 'recovery'];
  const mapping: IdentityMapping = {
    scheme: 'mbr', oldSignature: oldSig.diskSignature, newSignature: newSig,
    partitions: roles.map((r) => {
      const id = manifestIdentity(m, r);
      return { oldOffset: id.style === 'mbr' ? id.partitionOffset : -1n, newOffset: moved(r) };
    }),
  };
  const store = readBcd(h.bcd);
  const plan = planBootIdentity({ bcd: store, system: h.system }, mapping);

  const device = (role: string) => py(`hives.mbr_partition_device(${newSig}, ${moved(role)})`);
  const bcdWanted = new Map([
    [`Objects\\${BOOTMGR}\\Elements\\11000001`, device('system')],
    [`Objects\\${OS_LOADER}\\Elements\\11000001`, device('windows')],
    [`Objects\\${OS_LOADER}\\Elements\\21000001`, device('windows')],
  ]);
  t.deepEqual(plan.bcd.edits.map((e) => e.keyPath).sort(), [...bcdWanted.keys()].sort());
  for (const e of plan.bcd.edits) {
    t.is(hexOf(e.newData), hexOf(bcdWanted.get(e.keyPath)!), e.keyPath);
    t.is(e.valueName, 'Element');
    t.is(e.registryType, 3);
    t.is(e.oldData.length, e.newData.length);
    const d = decodeBcdDevice(e.newData);
    t.like(d, { kind: 'partition', partition: { style: 'mbr', diskSignature: newSig } });
    t.regex(e.description, /MBR disk 1b0a7f53 at byte \d+ → MBR disk cafef00d at byte \d+/);
  }
  t.deepEqual(plan.bcd.untouched, []);

  const mounted = m.systemHive!.mountedDevices;
  t.is(plan.mountedDevices.edits.length, Object.keys(mounted).length);
  for (const e of plan.mountedDevices.edits) {
    t.is(e.keyPath, 'MountedDevices');
    const old = decodeMountedDevice(Uint8Array.from(Buffer.from(mounted[e.valueName]!, 'hex')));
    if (old.kind !== 'mbr') return t.fail(e.valueName);
    const role = roles.find((r) => { const id = manifestIdentity(m, r); return id.style === 'mbr' && id.partitionOffset === old.partitionOffset; })!;
    t.is(hexOf(e.newData), hexOf(py(`hives.mounted_device_mbr(${newSig}, ${moved(role)})`)), e.valueName);
    t.is(hexOf(e.oldData), mounted[e.valueName] ?? '(missing)');
  }

  // Applied in place, hivexget reads the new bytes; everything else in the store is unchanged.
  const patched = patchInPlace(h.bcdFile, plan.bcd.edits);
  for (const [path, data] of bcdWanted) t.is(hexOf(toolBytes('hivexget', [patched, `\\${path}`, 'Element'])), hexOf(data));
  const before = readBcd(h.bcd).elements();
  const after = readBcd(openHive(readFileSync(patched), 'patched')).elements();
  for (let i = 0; i < before.length; i++) {
    if (!bcdWanted.has(before[i]!.element.keyPath)) t.deepEqual(after[i]!.element.data, before[i]!.element.data);
  }
  const sysPatched = patchInPlace(h.systemFile, plan.mountedDevices.edits);
  t.is(hexOf(toolBytes('hivexget', [sysPatched, '\\MountedDevices', '\\DosDevices\\C:'])),
    hexOf(py(`hives.mounted_device_mbr(${newSig}, ${moved('windows')})`)));
});

test('bios-mbr: only C: mapped: the boot manager on System Reserved is left alone and flagged; another disk is no edit', (t) => {
  const h = hives(t, 'bios-mbr');
  const win = manifestIdentity(h.manifest, 'windows');
  if (win.style !== 'mbr') return t.fail();
  const store = readBcd(h.bcd);
  const plan = planBcdIdentityEdits(store, {
    scheme: 'mbr', oldSignature: win.diskSignature, newSignature: win.diskSignature,
    partitions: [{ oldOffset: win.partitionOffset, newOffset: Number(win.partitionOffset) + 4096 }],
  });
  t.is(plan.edits.length, 2);
  t.true(plan.edits.every((e) => e.keyPath.includes(OS_LOADER)));
  t.is(plan.untouched.length, 1);
  t.like(plan.untouched[0], { keyPath: `Objects\\${BOOTMGR}\\Elements\\11000001`, attention: true });
  t.regex(plan.untouched[0]!.description, /does not cover/);

  const other = planBootIdentity({ bcd: store, system: h.system },
    { scheme: 'mbr', oldSignature: 0x11111111, newSignature: 0x22222222, partitions: [{ oldOffset: win.partitionOffset, newOffset: 0 }] });
  t.deepEqual(other.bcd.edits, []);
  t.deepEqual(other.mountedDevices.edits, []);
  t.is(other.bcd.untouched.length, 3);
  t.true(other.bcd.untouched.every((u) => !u.attention && /another disk/.test(u.description)));

  const same = planBcdIdentityEdits(store,
    { scheme: 'mbr', oldSignature: win.diskSignature, newSignature: win.diskSignature, partitions: [{ oldOffset: win.partitionOffset, newOffset: win.partitionOffset }] });
  t.deepEqual(same.edits, []);
  t.true(same.untouched.some((u) => /stays the same/.test(u.description)));
});

test('uefi-gpt: new disk GUID and partition GUIDs: BCD and MountedDevices edits as hives.py encodes them, applied in place', (t) => {
  const h = hives(t, 'uefi-gpt');
  const m = h.manifest;
  const newDisk = '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9';
  const newGuid = (role: string) => `00000000-0000-4000-8000-0000000000${role === 'esp' ? '01' : role === 'windows' ? '03' : '04'}`;
  const roles = ['esp', 'windows', 'recovery'];
  const old = (role: string) => manifestIdentity(m, role) as { style: 'gpt'; diskGuid: string; partitionGuid: string };
  const mapping: IdentityMapping = {
    scheme: 'gpt', oldDiskGuid: old('esp').diskGuid.toUpperCase(), newDiskGuid: newDisk,
    partitions: roles.map((r) => ({ oldGuid: `{${old(r).partitionGuid}}`, newGuid: newGuid(r) })),
  };
  const plan = planBootIdentity({ bcd: readBcd(h.bcd), system: h.system }, mapping);
  const device = (role: string) => py(`hives.gpt_partition_device(${JSON.stringify(newDisk)}, ${JSON.stringify(newGuid(role))})`);
  const wanted = new Map([
    [`Objects\\${BOOTMGR}\\Elements\\11000001`, device('esp')],
    [`Objects\\${OS_LOADER}\\Elements\\11000001`, device('windows')],
    [`Objects\\${OS_LOADER}\\Elements\\21000001`, device('windows')],
  ]);
  t.deepEqual(new Map(plan.bcd.edits.map((e) => [e.keyPath, hexOf(e.newData)])), new Map([...wanted].map(([k, v]) => [k, hexOf(v)])));
  t.deepEqual(plan.bcd.untouched, []);
  const mounted = m.systemHive!.mountedDevices;
  t.is(plan.mountedDevices.edits.length, 4);
  for (const e of plan.mountedDevices.edits) {
    const was = decodeMountedDevice(e.oldData);
    const role = roles.find((r) => was.kind === 'gpt' && old(r).partitionGuid === was.partitionGuid)!;
    t.is(hexOf(e.newData), hexOf(py(`hives.mounted_device_gpt(${JSON.stringify(newGuid(role))})`)), e.valueName);
    t.is(hexOf(e.oldData), mounted[e.valueName] ?? '(missing)');
  }
  const patched = patchInPlace(h.bcdFile, plan.bcd.edits);
  for (const [path, data] of wanted) t.is(hexOf(toolBytes('hivexget', [patched, `\\${path}`, 'Element'])), hexOf(data));
});

test('the partition-style trap: an MBR store on a GPT mapping (and the reverse) is refused unless the mapping covers it', (t) => {
  const mbr = hives(t, 'bios-mbr');
  const gpt = hives(t, 'uefi-gpt');
  const gptMapping: IdentityMapping = {
    scheme: 'gpt', oldDiskGuid: '5c1f0e2a-8b3d-4e6f-9a01-b2c3d4e5f607', newDiskGuid: '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9', partitions: [],
  };
  const e = t.throws(() => planBcdIdentityEdits(readBcd(mbr.bcd), gptMapping), { instanceOf: BootIdentityError });
  t.is(e?.code, 'BOOT_IDENTITY');
  t.is(e?.data['reason'], 'partition-style');
  t.regex(e!.message, /names a MBR partition .* mapping is for a GPT disk.*fromMbr/);
  t.throws(() => planBootIdentity({ bcd: readBcd(gpt.bcd), system: gpt.system },
    { scheme: 'mbr', oldSignature: 1, newSignature: 2, partitions: [] }), { instanceOf: BootIdentityError, message: /GPT partition .* MBR disk.*fromGpt/ });

  // Covered: the MBR source's System Reserved and C: became GPT partitions of the target.
  const sys = manifestIdentity(mbr.manifest, 'system');
  const win = manifestIdentity(mbr.manifest, 'windows');
  if (sys.style !== 'mbr' || win.style !== 'mbr') return t.fail();
  const covered: IdentityMapping = {
    ...gptMapping,
    fromMbr: { signature: sys.diskSignature, partitions: [
      { oldOffset: sys.partitionOffset, newGuid: '00000000-0000-4000-8000-000000000001' },
      { oldOffset: win.partitionOffset, newGuid: '00000000-0000-4000-8000-000000000003' }] },
  };
  const plan = planBootIdentity({ bcd: readBcd(mbr.bcd), system: mbr.system }, covered);
  t.is(plan.bcd.edits.length, 3);
  for (const edit of plan.bcd.edits) {
    const want = edit.keyPath.includes(BOOTMGR) ? '00000000-0000-4000-8000-000000000001' : '00000000-0000-4000-8000-000000000003';
    t.is(hexOf(edit.newData), hexOf(py(`hives.gpt_partition_device("0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9", "${want}")`)));
  }
  const c = plan.mountedDevices.edits.find((x) => x.valueName === '\\DosDevices\\C:')!;
  t.is(hexOf(c.newData), hexOf(py('hives.mounted_device_gpt("00000000-0000-4000-8000-000000000003")')));
  t.is(c.oldData.length, 12); // a style change: the writer must give the value a 24-byte cell
  // The recovery volume's value names the source disk but no mapped partition: left alone, flagged.
  t.like(plan.mountedDevices.untouched, [{ valueName: '\\??\\Volume{6f8a0b1c-2d3e-4f5a-9b6c-7d8e9f0a1b2c}', attention: true }]);

  // MountedDevices alone: other-style values are other disks (old USB sticks), left alone and flagged.
  const alone = planMountedDevicesEdits(mbr.system, gptMapping);
  t.deepEqual(alone.edits, []);
  t.true(alone.untouched.length === 4 && alone.untouched.every((u) => u.attention));
});

test('bad mappings give BootIdentityError naming the field', (t) => {
  const h = hives(t, 'bios-mbr');
  const store = readBcd(h.bcd);
  const bad: Array<[IdentityMapping, RegExp]> = [
    [{ scheme: 'mbr', oldSignature: 2 ** 32, newSignature: 1, partitions: [] }, /oldSignature/],
    [{ scheme: 'mbr', oldSignature: 1, newSignature: 1, partitions: [{ oldOffset: -1, newOffset: 0 }] }, /partitions\[0\]\.oldOffset/],
    [{ scheme: 'mbr', oldSignature: 1, newSignature: 1, partitions: [{ oldOffset: 0.5, newOffset: 0 }] }, /oldOffset/],
    [{ scheme: 'mbr', oldSignature: 1, newSignature: 1, partitions: [{ oldOffset: 1, newOffset: 0 }, { oldOffset: 1n, newOffset: 5 }] }, /mapped twice/],
    [{ scheme: 'mbr', oldSignature: 1, newSignature: 1, partitions: [{ oldOffset: 1, newOffset: 0 }, { oldOffset: 2, newOffset: 0 }] }, /two source partitions/],
    [{ scheme: 'gpt', oldDiskGuid: 'nope', newDiskGuid: '0f1e2d3c-4b5a-4978-8695-a4b3c2d1e0f9', partitions: [] }, /oldDiskGuid/],
  ];
  for (const [mapping, message] of bad) {
    const e = t.throws(() => planBcdIdentityEdits(store, mapping), { instanceOf: BootIdentityError, message });
    t.is(e?.data['reason'], 'mapping');
  }
});

test('a store with a WinRE ramdisk, a boot device and undecodable device data: none rewritten, the right ones flagged', (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const source = { style: 'mbr' as const, diskSignature: 0x12345678, partitionOffset: 0x100000n };
  const partition = newPartitionDevice(source);
  const path = Buffer.from('\\Recovery\\WindowsRE\\Winre.wim\0', 'utf16le');
  const ramdisk = new Uint8Array(0x44 + 0x48 + path.length);
  const v = new DataView(ramdisk.buffer);
  v.setUint32(0x14, 1, true);
  v.setUint32(0x18, ramdisk.length - 0x10, true);
  v.setUint32(0x20, 3, true);
  v.setUint32(0x38, 1, true);
  v.setUint32(0x3c, ramdisk.length - 0x38, true);
  v.setUint32(0x40, 5, true);
  ramdisk.set(partition.subarray(0x10), 0x44);
  ramdisk.set(path, 0x44 + 0x48);
  const boot = new Uint8Array(0x58);
  new DataView(boot.buffer).setUint32(0x10, 5, true);
  new DataView(boot.buffer).setUint32(0x18, 0x48, true);
  const obj = (g: string, type: number, elements: Record<string, Uint8Array>) => [
    `[\\Objects\\${g}]`, '', `[\\Objects\\${g}\\Elements]`, '', `[\\Objects\\${g}\\Description]`, `"Type"=dword:${type.toString(16).padStart(8, '0')}`, '',
    ...Object.entries(elements).flatMap(([code, data]) => [`[\\Objects\\${g}\\Elements\\${code}]`, `"Element"=${hexReg(3, data)}`, '']),
  ];
  const WINRE = '{0a0b0c0d-0e0f-4a1b-8c2d-3e4f5a6b7c8d}';
  const file = buildHive(scratch.dir, 'BCD', [
    '[\\Objects]', '',
    ...obj(BOOTMGR, 0x10100002, { '11000001': boot }),
    ...obj(OS_LOADER, 0x10200003, { '11000001': partition, '21000001': Uint8Array.of(1, 2, 3) }),
    ...obj(WINRE, 0x10200003, { '11000001': ramdisk, '21000001': ramdisk }),
  ].join('\n'));
  const store = readBcd(openHive(readFileSync(file), 'BCD'));
  const plan = planBcdIdentityEdits(store,
    { scheme: 'mbr', oldSignature: 0x12345678, newSignature: 0x9abcdef0, partitions: [{ oldOffset: 0x100000, newOffset: 0x200000 }] });
  t.deepEqual(plan.edits.map((e) => e.keyPath), [`Objects\\${OS_LOADER}\\Elements\\11000001`]);
  const byPath = new Map(plan.untouched.map((u) => [u.keyPath, u]));
  t.is(byPath.size, 4);
  t.like(byPath.get(`Objects\\${BOOTMGR}\\Elements\\11000001`), { attention: false });
  t.like(byPath.get(`Objects\\${OS_LOADER}\\Elements\\21000001`), { attention: true });
  t.regex(byPath.get(`Objects\\${OS_LOADER}\\Elements\\21000001`)!.description, /did not decode/);
  t.like(byPath.get(`Objects\\${WINRE}\\Elements\\11000001`), { attention: true });
  t.regex(byPath.get(`Objects\\${WINRE}\\Elements\\11000001`)!.description, /ramdisk \\Recovery\\WindowsRE\\Winre\.wim .*NOT rewritten/);
});

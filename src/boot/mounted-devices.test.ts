/**
 * MountedDevices against the reference's examples (boot-and-bcd.md 6.1) and the fixture SYSTEM
 * hives: the values hivexregedit stored (manifest.systemHive.mountedDevices) and the identities
 * scripts/build-fixtures gave each volume (the manifest's disk signature, partition starts and
 * partition GUIDs, read from the disk by sfdisk/sgdisk).
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fixture } from '../../test/helpers/fixtures.ts';
import { scratchDir } from '../../test/helpers/tools.ts';
import { openHive } from '../registry/index.ts';
import { fixtureHive } from '../registry/test-support.ts';
import { decodeMountedDevice, encodeMountedDevice, readMountedDevices, type MountedDevice } from './mounted-devices.ts';

const hex = (s: string) => Uint8Array.from(Buffer.from(s.replace(/\s+/g, ''), 'hex'));

test('the reference examples: 12-byte MBR form and DMIO:ID: GPT form', (t) => {
  const mbr = hex('78 56 34 12 00 00 10 00 00 00 00 00');
  t.deepEqual(decodeMountedDevice(mbr), { kind: 'mbr', diskSignature: 0x12345678, partitionOffset: 0x100000n });
  t.deepEqual(encodeMountedDevice(decodeMountedDevice(mbr)), mbr);
  const gpt = hex('44 4d 49 4f 3a 49 44 3a 04 6d 14 bc 24 bf 7d 4c a5 fa a5 ed c6 c6 a0 19');
  t.deepEqual(decodeMountedDevice(gpt), { kind: 'gpt', partitionGuid: 'bc146d04-bf24-4c7d-a5fa-a5edc6c6a019' });
  t.deepEqual(encodeMountedDevice(decodeMountedDevice(gpt)), gpt);
});

test('other forms stay raw: a USBSTOR device path, a 24-byte value without the magic, odd lengths', (t) => {
  const usb = Buffer.from('\\??\\USBSTOR#Disk&Ven_Kingston&Prod_DataTraveler#0019E000B4F1&0#{53f56307-b6bf-11d0-94f2-00a0c91efb8b}', 'utf16le');
  const d = decodeMountedDevice(usb);
  t.is(d.kind, 'other');
  t.is(d.kind === 'other' ? d.text : '', usb.toString('utf16le'));
  t.deepEqual(encodeMountedDevice(d), Uint8Array.from(usb));
  for (const data of [Uint8Array.from(Buffer.from('DMIO:IX:0123456789abcdef')), new Uint8Array(0), new Uint8Array(13), new Uint8Array(11)]) {
    const o = decodeMountedDevice(data);
    t.is(o.kind, 'other');
    t.deepEqual(encodeMountedDevice(o), data);
  }
});

/** What build-fixtures gave each value: the partition (by manifest role) it names. */
const ROLES: Record<string, Record<string, string>> = {
  'bios-mbr': {
    '\\DosDevices\\C:': 'windows',
    '\\??\\Volume{2f4b6c8d-0e1a-4b3c-9d5e-6f7a8b9c0d1e}': 'system',
    '\\??\\Volume{4d6e8f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a}': 'windows',
    '\\??\\Volume{6f8a0b1c-2d3e-4f5a-9b6c-7d8e9f0a1b2c}': 'recovery',
  },
  'uefi-gpt': {
    '\\DosDevices\\C:': 'windows',
    '\\??\\Volume{4d6e8f0a-1b2c-4d3e-8f4a-5b6c7d8e9f0a}': 'windows',
    '\\??\\Volume{8a0b1c2d-3e4f-4a5b-9c6d-7e8f9a0b1c2d}': 'esp',
    '\\??\\Volume{6f8a0b1c-2d3e-4f5a-9b6c-7d8e9f0a1b2c}': 'recovery',
  },
};

for (const name of ['bios-mbr', 'uefi-gpt'] as const) {
  test(`${name}: every MountedDevices value as the manifest has it, decoded to the volume's identity, re-encoded identically`, (t) => {
    const scratch = scratchDir();
    t.teardown(scratch.remove);
    const { manifest } = fixture(name);
    const hive = openHive(readFileSync(fixtureHive(name, 'system', scratch.dir).file), `${name} SYSTEM`);
    const entries = readMountedDevices(hive);
    const expected = manifest.systemHive!.mountedDevices;
    t.deepEqual(Object.fromEntries(entries.map((e) => [e.name, Buffer.from(e.data).toString('hex')])), expected);
    t.is(entries.length, Object.keys(ROLES[name]!).length);
    for (const e of entries) {
      const p = manifest.partitions.find((q) => q.role === ROLES[name]![e.name])!;
      const want: MountedDevice = manifest.scheme === 'mbr'
        ? { kind: 'mbr', diskSignature: Number.parseInt(manifest.table.sfdisk.id, 16), partitionOffset: BigInt(p.startLba * manifest.sectorSize) }
        : { kind: 'gpt', partitionGuid: p.uuid!.toLowerCase() };
      t.deepEqual(e.device, want, e.name);
      t.is(e.type, 3);
      t.is(Buffer.from(encodeMountedDevice(e.device)).toString('hex'), expected[e.name] ?? '(missing)');
    }
  });
}

import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { MemoryDevice } from '../device/memory-device.ts';
import { openFileDevice } from '../device/file-device.ts';
import { fixture, type FixtureName } from '../../test/helpers/fixtures.ts';
import { scratchDir, tool } from '../../test/helpers/tools.ts';
import { readGpt, type GptPartition } from './gpt.ts';
import { readDiskLayout } from './disk-layout.ts';
import { encodeGpt, gptSpec, writeGpt, type GptSpec } from './gpt-encode.ts';
import { encodeProtectiveMbr } from './mbr-encode.ts';
import { GPT_TYPE } from './types.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');
const MIB = 1 << 20;

async function openFixture(name: FixtureName) {
  const { image, manifest } = fixture(name);
  const device = await openFileDevice(image, { sectorSize: manifest.sectorSize });
  return { image, device, sectorSize: manifest.sectorSize, sectors: device.size / manifest.sectorSize };
}

for (const name of ['uefi-gpt', 'ntfs-4k'] as const) {
  test(`${name}: decode, re-encode for the same disk → headers and arrays byte-identical`, async (t) => {
    const { device, sectorSize: s, sectors } = await openFixture(name);
    t.teardown(() => device.close());
    const gpt = await readGpt(device);
    t.deepEqual(gpt.warnings, []);
    const encoded = encodeGpt(gptSpec(gpt), { sectorSize: s, diskSectors: sectors });
    t.is(encoded.backupHeaderLba, sectors - 1);
    t.is(encoded.entries.length, 16384);
    t.is(hex(encoded.primaryHeader), hex(await device.read(s, s)), 'primary header sector');
    t.is(hex(encoded.entries), hex(await device.read(2 * s, encoded.entries.length)), 'primary entry array');
    t.is(hex(encoded.backupHeader), hex(await device.read((sectors - 1) * s, s)), 'backup header sector');
    t.is(hex(encoded.entries), hex(await device.read(encoded.backupEntriesLba * s, encoded.entries.length)), 'backup entry array');
    t.is(encoded.header.lastUsableLba, gpt.header.lastUsableLba);
  });
}

/** A sparse copy of a fixture grown by `extra` bytes, as a restore target larger than the source. */
function grownCopy(name: FixtureName, dir: string, file: string, extra: number): string {
  const copy = join(dir, file);
  execFileSync('cp', ['--sparse=always', fixture(name).image, copy]);
  execFileSync('truncate', ['-s', `+${extra}`, copy]);
  return copy;
}

async function restoreTableTo(name: FixtureName, copy: string, sectorSize: number) {
  const { device: source } = await openFixture(name);
  const gpt = await readGpt(source);
  await source.close();
  const target = await openFileDevice(copy, { writable: true, sectorSize });
  const diskSectors = target.size / sectorSize;
  const encoded = encodeGpt(gptSpec(gpt), { sectorSize, diskSectors });
  await writeGpt(target, encoded, encodeProtectiveMbr(diskSectors));
  await target.close();
  return { gpt, encoded, diskSectors };
}

const partitionLines = (sgdiskP: string) => sgdiskP.slice(sgdiskP.indexOf('Number  Start'));

test('uefi-gpt restored to a disk 64 MiB larger: sgdisk finds no problems, same partitions, same bytes as sgdisk -e', async (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const ours = grownCopy('uefi-gpt', scratch.dir, 'ours.img', 64 * MIB);
  t.regex(tool('sgdisk', ['-v', ours]), /secondary header's self-pointer indicates that it doesn't reside\s+at the end of the disk/);

  const { encoded, diskSectors } = await restoreTableTo('uefi-gpt', ours, 512);
  t.is(diskSectors, 409600 + 131072);
  t.is(encoded.header.alternateLba, BigInt(diskSectors - 1));
  t.is(encoded.header.lastUsableLba, BigInt(diskSectors - 34));
  t.is(encoded.backupEntriesLba, diskSectors - 33);

  t.regex(tool('sgdisk', ['-v', ours]), /No problems found/);
  const printed = tool('sgdisk', ['-p', ours]);
  t.is(partitionLines(printed), partitionLines(tool('sgdisk', ['-p', fixture('uefi-gpt').image])));
  t.regex(printed, new RegExp(`First usable sector is 34, last usable sector is ${diskSectors - 34}\\b`));

  // sgdisk -e on another grown copy relocates the backup itself: the table sectors must be ours exactly.
  const theirs = grownCopy('uefi-gpt', scratch.dir, 'theirs.img', 64 * MIB);
  tool('sgdisk', ['-e', theirs]);
  const [a, b] = await Promise.all([openFileDevice(ours), openFileDevice(theirs)]);
  t.teardown(() => Promise.all([a.close(), b.close()]));
  t.is(hex(await a.read(0, 34 * 512)), hex(await b.read(0, 34 * 512)), 'LBA 0–33');
  t.is(hex(await a.read((diskSectors - 33) * 512, 33 * 512)), hex(await b.read((diskSectors - 33) * 512, 33 * 512)), 'last 33 LBAs');

  const layout = await readDiskLayout(a);
  t.deepEqual(layout.warnings, []);
  t.deepEqual(layout.partitions.map((p) => [p.index, p.startLba, p.sectorCount, p.guid]),
    fixture('uefi-gpt').manifest.partitions.map((p) => [p.index, p.startLba, p.sizeLba, p.uuid]));
});

/** fdisk prints its complaints about a GPT on stderr, the table on stdout. */
function fdisk4k(image: string): { out: string; err: string } {
  const r = spawnSync('fdisk', ['-b', '4096', '-l', '-o', 'Device,Start,End,Sectors,Type-UUID,UUID,Name,Attrs', image], { encoding: 'utf8' });
  if (r.status !== 0) throw new Error(`fdisk failed: ${r.stderr}`);
  const table = r.stdout.slice(r.stdout.indexOf('Device')).replaceAll(image, 'DISK').replace(/ +/g, ' ');
  return { out: table, err: r.stderr };
}

test('ntfs-4k restored to a disk 64 MiB larger: fdisk -b 4096 is content, same partition', async (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const ours = grownCopy('ntfs-4k', scratch.dir, 'ours.img', 64 * MIB);
  const before = fdisk4k(ours);
  t.regex(before.err, /The backup GPT table is not on the end of the device/);
  t.regex(before.err, /GPT PMBR size mismatch/);

  const { encoded, diskSectors } = await restoreTableTo('ntfs-4k', ours, 4096);
  t.is(diskSectors, 12288 + 16384);
  t.is(encoded.header.lastUsableLba, BigInt(diskSectors - 6));
  t.is(encoded.backupEntriesLba, diskSectors - 5);
  t.is(encoded.header.firstUsableLba, 256n); // sfdisk's 1 MiB-aligned value, kept

  const after = fdisk4k(ours);
  t.is(after.err, '');
  t.is(after.out, fdisk4k(fixture('ntfs-4k').image).out);
  const device = await openFileDevice(ours, { sectorSize: 4096 });
  t.teardown(() => device.close());
  const layout = await readDiskLayout(device);
  t.deepEqual(layout.warnings, []);
  t.deepEqual(layout.partitions.map((p) => [p.startLba, p.sectorCount]), [[256, 8192]]);
});

const fresh = (): GptSpec => ({
  diskGuid: '{0123ABCD-4567-89EF-0123-456789ABCDEF}',
  firstUsableLba: 34,
  partitions: [
    { index: 1, typeGuid: GPT_TYPE.esp, uniqueGuid: '11111111-2222-3333-4444-555555555555', startLba: 2048, endLba: 4095,
      attributes: 0n, name: 'EFI system partition' },
    { index: 3, typeGuid: GPT_TYPE.windowsRecovery.toUpperCase(), uniqueGuid: '66666666-7777-8888-9999-aaaaaaaaaaaa', startLba: 6144,
      endLba: 8191, attributes: 0x8000000000000001n, name: 'Récupération ✓' },
  ],
});

test('a new GPT written to a file: sgdisk reads its GUIDs, attributes and a non-ASCII name', async (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const image = join(scratch.dir, 'new.img');
  execFileSync('truncate', ['-s', '8M', image]);
  const device = await openFileDevice(image, { writable: true });
  const encoded = encodeGpt(fresh(), { sectorSize: 512, diskSectors: 16384 });
  await writeGpt(device, encoded, encodeProtectiveMbr(16384));
  await device.close();
  t.regex(tool('sgdisk', ['-v', image]), /No problems found/);
  t.regex(tool('sgdisk', ['-p', image]), /Disk identifier \(GUID\): 0123ABCD-4567-89EF-0123-456789ABCDEF/);
  const info = tool('sgdisk', ['-i', '3', image]);
  t.regex(info, /Partition GUID code: DE94BBA4-06D1-4D40-A16A-BFD50179D6AC/);
  t.regex(info, /Partition unique GUID: 66666666-7777-8888-9999-AAAAAAAAAAAA/);
  t.regex(info, /Attribute flags: 8000000000000001/);
  t.regex(info, /Partition name: 'Récupération ✓'/);
  t.regex(tool('sgdisk', ['-i', '2', image]), /Partition #2 does not exist/);
  t.deepEqual(hex(encoded.entries.subarray(128, 256)), '00'.repeat(128)); // unused slot 2 stays zero
});

test('writeGpt refuses a device of another size or sector size', async (t) => {
  const encoded = encodeGpt(fresh(), { sectorSize: 512, diskSectors: 16384 });
  await t.throwsAsync(writeGpt(new MemoryDevice(new Uint8Array(16385 * 512)), encoded), { instanceOf: UsageError, message: /16385 of 512/ });
  await t.throwsAsync(writeGpt(new MemoryDevice(new Uint8Array(16384 * 512), { sectorSize: 4096 }), encoded), { instanceOf: UsageError });
});

test('a table that does not fit the target disk is a usage error naming the partition', async (t) => {
  const { device } = await openFixture('uefi-gpt');
  t.teardown(() => device.close());
  const spec = gptSpec(await readGpt(device));
  t.throws(() => encodeGpt(spec, { sectorSize: 512, diskSectors: 346111 }),
    { instanceOf: UsageError, message: /GPT partition 4: LBA 313344\.\.346111 is outside the usable 34\.\.346077/ });
  t.notThrows(() => encodeGpt(spec, { sectorSize: 512, diskSectors: 346112 + 33 }));
});

test('impossible GPT specs are usage errors', (t) => {
  const p = (change: Partial<GptPartition>): GptPartition => ({ ...fresh().partitions[0]!, ...change });
  const target = { sectorSize: 512, diskSectors: 16384 };
  const cases: Array<[GptSpec, RegExp]> = [
    [{ ...fresh(), partitions: [p({}), p({ index: 2, startLba: 4000, endLba: 5000 })] }, /GPT partitions 1 and 2 overlap/],
    [{ ...fresh(), partitions: [p({ index: 129 })] }, /GPT partition 129: slot is outside 1\.\.128/],
    [{ ...fresh(), partitions: [p({}), p({ startLba: 6000, endLba: 6001 })] }, /GPT partition 1: slot given twice/],
    [{ ...fresh(), partitions: [p({ name: 'x'.repeat(37) })] }, /GPT partition 1: name/],
    [{ ...fresh(), partitions: [p({ typeGuid: '00000000-0000-0000-0000-000000000000' })] }, /zero type GUID/],
    [{ ...fresh(), partitions: [p({ endLba: 16351 })] }, /GPT partition 1: LBA 2048\.\.16351 is outside the usable 34\.\.16350/],
    [{ ...fresh(), partitions: [p({ attributes: 1n << 64n })] }, /attributes/],
    [{ ...fresh(), firstUsableLba: 33 }, /FirstUsableLBA 33 overlaps the primary entry array \(LBA 2\.\.33\)/],
    [{ ...fresh(), lastUsableLba: 16351 }, /LastUsableLBA 16351 must be within 34\.\.16350/],
    [{ ...fresh(), numberOfPartitionEntries: 0 }, /0 partition entries/],
    [{ ...fresh(), diskGuid: 'not-a-guid' }, /not a GUID/],
  ];
  for (const [spec, message] of cases) t.throws(() => encodeGpt(spec, target), { instanceOf: UsageError, message });
  t.throws(() => encodeGpt(fresh(), { sectorSize: 1000, diskSectors: 16384 }), { instanceOf: UsageError, message: /sector size 1000/ });
});

test('4096-byte sectors with fewer entries: the array takes whole sectors, LastUsable follows', (t) => {
  const spec: GptSpec = { ...fresh(), firstUsableLba: 4, numberOfPartitionEntries: 56,
    partitions: [{ ...fresh().partitions[0]!, startLba: 256, endLba: 511 }] };
  const encoded = encodeGpt(spec, { sectorSize: 4096, diskSectors: 1024 });
  t.is(encoded.entries.length, 2 * 4096);
  t.is(encoded.backupEntriesLba, 1021);
  t.is(encoded.header.lastUsableLba, 1020n);
  t.is(encoded.primaryHeader.length, 4096);
  t.is(hex(encoded.primaryHeader.subarray(92)), '00'.repeat(4096 - 92));
});

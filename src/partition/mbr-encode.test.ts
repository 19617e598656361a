import test, { type ExecutionContext } from 'ava';
import { execFileSync } from 'node:child_process';
import { closeSync, openSync, readSync } from 'node:fs';
import { join } from 'node:path';
import { UsageError } from '../errors.ts';
import { MemoryDevice } from '../device/memory-device.ts';
import { openFileDevice } from '../device/file-device.ts';
import { fixture } from '../../test/helpers/fixtures.ts';
import { scratchDir, tool } from '../../test/helpers/tools.ts';
import { readMbrLayout } from './mbr.ts';
import { readDiskLayout } from './disk-layout.ts';
import { encodeMbrLayout, encodeProtectiveMbr, mbrLayoutSpec, writeMbrLayout, type MbrLayoutSpec } from './mbr-encode.ts';

const hex = (b: Uint8Array) => Buffer.from(b).toString('hex');

function readAt(path: string, offset: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  const fd = openSync(path, 'r');
  try {
    readSync(fd, out, 0, length, offset);
  } finally {
    closeSync(fd);
  }
  return out;
}

/** Table and signature (0x1BE..0x1FF) separately from the rest, so a failure says which differs. */
function sameSector(t: ExecutionContext, ours: Uint8Array, theirs: Uint8Array, what: string) {
  t.is(ours.length, 512);
  t.is(hex(ours.subarray(0x1be)), hex(theirs.subarray(0x1be, 0x200)), `${what}: table + 55 AA`);
  t.is(hex(ours.subarray(0, 0x1be)), hex(theirs.subarray(0, 0x1be)), `${what}: boot code, signature, reserved`);
}

for (const name of ['bios-mbr', 'mixed-mbr'] as const) {
  test(`${name}: decode MBR + EBR chain, re-encode → the sectors sfdisk wrote`, async (t) => {
    const device = await openFileDevice(fixture(name).image);
    t.teardown(() => device.close());
    const layout = await readMbrLayout(device);
    const spec = mbrLayoutSpec(layout, 512, device.size / 512);
    const encoded = await encodeMbrLayout(spec);
    sameSector(t, encoded.mbr, await device.read(0, 512), 'MBR');
    t.deepEqual(encoded.ebrs.map((e) => e.lba), layout.partitions.filter((p) => p.logical).map((p) => p.tableOffset / 512));
    for (const ebr of encoded.ebrs) sameSector(t, ebr.sector, await device.read(ebr.lba * 512, 512), `EBR at LBA ${ebr.lba}`);
    if (name === 'mixed-mbr') t.deepEqual(encoded.ebrs.map((e) => [e.lba, e.partition]), [[83968, 5], [102400, 6]]);
    else t.deepEqual(encoded.ebrs, []);
  });
}

test('mixed-mbr: without EBR positions the defaults are where sfdisk put them', async (t) => {
  const device = await openFileDevice(fixture('mixed-mbr').image);
  t.teardown(() => device.close());
  const spec = mbrLayoutSpec(await readMbrLayout(device), 512);
  const encoded = await encodeMbrLayout({ ...spec, logical: spec.logical!.map(({ ebrLba: _, ...rest }) => rest) });
  t.deepEqual(encoded.ebrs.map((e) => e.lba), [83968, 102400]);
  for (const ebr of encoded.ebrs) t.is(hex(ebr.sector), hex(await device.read(ebr.lba * 512, 512)));
});

test('a new layout with three logical partitions: byte-identical to what sfdisk writes for it', async (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const theirs = join(scratch.dir, 'sfdisk.img');
  execFileSync('truncate', ['-s', '256M', theirs]);
  execFileSync('sfdisk', ['-q', theirs], {
    input: 'label: dos\nlabel-id: 0xa1b2c3d4\nstart=2048, size=20480, type=c, bootable\nstart=22528, size=409600, type=f\n'
      + 'start=24576, size=100000, type=7\nstart=126976, size=4096, type=83\nstart=133120, size=200000, type=82\n'
      + 'start=434176, size=8192, type=27\n',
  });
  const spec: MbrLayoutSpec = {
    diskSignature: 0xa1b2c3d4,
    primary: [{ startLba: 2048, sectorCount: 20480, type: 0x0c, active: true }, { startLba: 22528, sectorCount: 409600, type: 0x0f },
      { startLba: 434176, sectorCount: 8192, type: 0x27 }],
    logical: [{ startLba: 24576, sectorCount: 100000, type: 0x07 }, { startLba: 126976, sectorCount: 4096, type: 0x83 },
      { startLba: 133120, sectorCount: 200000, type: 0x82 }],
  };
  const ours = new MemoryDevice(new Uint8Array(256 << 20));
  const encoded = await writeMbrLayout(ours, spec);
  t.deepEqual(encoded.ebrs.map((e) => e.lba), [22528, 124928, 131072]);
  sameSector(t, encoded.mbr, readAt(theirs, 0, 512), 'MBR');
  for (const ebr of encoded.ebrs) sameSector(t, ebr.sector, readAt(theirs, ebr.lba * 512, 512), `EBR at LBA ${ebr.lba}`);
  // and sfdisk reads what we wrote as that layout
  const ourFile = join(scratch.dir, 'ours.img');
  execFileSync('truncate', ['-s', '256M', ourFile]);
  const file = await openFileDevice(ourFile, { writable: true });
  await writeMbrLayout(file, spec);
  await file.close();
  tool('sfdisk', ['--verify', ourFile]);
  t.is(tool('sfdisk', ['-d', ourFile]).replaceAll('ours.img', 'X'), tool('sfdisk', ['-d', theirs]).replaceAll('sfdisk.img', 'X'));
  const layout = await readDiskLayout(ours);
  t.deepEqual(layout.partitions.map((p) => [p.index, p.startLba, p.sectorCount, p.type]),
    [[1, 2048, 20480, '0c'], [3, 434176, 8192, '27'], [5, 24576, 100000, '07'], [6, 126976, 4096, '83'], [7, 133120, 200000, '82']]);
});

test('uefi-gpt: the protective MBR re-encoded is the sector sgdisk wrote', async (t) => {
  const { image, manifest } = fixture('uefi-gpt');
  const sector = encodeProtectiveMbr(manifest.size / 512);
  t.is(hex(sector), hex(readAt(image, 0, 512)));
  t.is(hex(sector.subarray(0x1be, 0x1ce)), '00000200ee7e251901000000ff3f0600');
});

test('ntfs-4k: the protective MBR differs from sfdisk\'s only in the end CHS (libfdisk always writes FF FF FF)', async (t) => {
  const { image, manifest } = fixture('ntfs-4k');
  const theirs = readAt(image, 0, 512);
  const sector = encodeProtectiveMbr(manifest.size / 4096);
  t.is(hex(theirs.subarray(0x1c3, 0x1c6)), 'ffffff');
  t.is(hex(sector.subarray(0x1c3, 0x1c6)), 'c30300'); // LBA 12287: C=0, H=195, S=3
  sector.set(theirs.subarray(0x1c3, 0x1c6), 0x1c3);
  t.is(hex(sector), hex(theirs));
});

test('protective MBR of large disks: FF FF FF end, size capped at 0xFFFFFFFF, as sgdisk writes', (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  for (const size of ['10G', '3T']) {
    const image = join(scratch.dir, `${size}.img`);
    execFileSync('truncate', ['-s', size, image]);
    tool('sgdisk', ['-o', image]);
    const sectors = Number(tool('stat', ['-c', '%s', image]).trim()) / 512;
    t.is(hex(encodeProtectiveMbr(sectors).subarray(0x1be)), hex(readAt(image, 0x1be, 66)), size);
  }
  t.is(hex(encodeProtectiveMbr(2 ** 33).subarray(0x1be, 0x1ce)), '000002 00 ee ffffff 01000000 ffffffff'.replaceAll(' ', ''));
});

test('protective MBR keeps the boot code and signature it is given', (t) => {
  const bootCode = new Uint8Array(440).fill(0x90);
  const sector = encodeProtectiveMbr(131072, { bootCode, diskSignature: 0x12345678 });
  t.is(hex(sector.subarray(0, 440)), hex(bootCode));
  t.is(hex(sector.subarray(0x1b8, 0x1bc)), '78563412');
  // the entry sgdisk wrote for a 131072-sector disk (reference 1.5); end CHS 28 20 08 = LBA 131071
  t.is(hex(sector.subarray(0x1be, 0x1ce)), '00000200ee28200801000000ffff0100');
});

const base = (): MbrLayoutSpec => ({
  diskSignature: 1,
  primary: [{ startLba: 2048, sectorCount: 2048, type: 7 }, { startLba: 8192, sectorCount: 8192, type: 5 }],
  logical: [{ startLba: 10240, sectorCount: 1024, type: 7 }, { startLba: 12288, sectorCount: 1024, type: 7 }],
  diskSectors: 32768,
});

test('impossible layouts are usage errors naming the partition', async (t) => {
  const cases: Array<[(s: MbrLayoutSpec) => MbrLayoutSpec, RegExp]> = [
    [(s) => ({ ...s, primary: [...s.primary, { startLba: 3000, sectorCount: 10, type: 7 }] }), /partitions 1 and 3 overlap/],
    [(s) => ({ ...s, primary: [...s.primary, { startLba: 20000, sectorCount: 10, type: 0x0f }] }), /partitions 2 and 3 are both extended/],
    [(s) => ({ ...s, primary: [s.primary[0]] }), /logical partitions need an extended partition/],
    [(s) => ({ ...s, logical: [{ ...s.logical![0]!, ebrLba: 9000 }] }), /partition 5: the first EBR must be the extended partition's first sector 8192/],
    [(s) => ({ ...s, logical: [s.logical![0]!, { startLba: 15000, sectorCount: 2000, type: 7 }] }), /partition 6: .* inside the extended partition 8192\.\.16383/],
    [(s) => ({ ...s, logical: [s.logical![1]!, s.logical![0]!] }), /partition 6: EBR at LBA \d+ .* must follow the previous logical partition \(ends at 13311\)/],
    [(s) => ({ ...s, logical: [s.logical![0]!, { startLba: 11264, sectorCount: 10, type: 7 }] }), /partition 6: EBR at LBA 11264/],
    [(s) => ({ ...s, primary: [{ startLba: 30000, sectorCount: 4096, type: 7 }] , logical: [] }), /partition 1: ends at LBA 34095, past the disk's last LBA 32767/],
    [(s) => ({ ...s, primary: [{ startLba: 0, sectorCount: 10, type: 7 }], logical: [] }), /partition 1: start LBA 0/],
    [(s) => ({ ...s, primary: [{ startLba: 2048, sectorCount: 10, type: 0 }], logical: [] }), /partition 1: type 0/],
    [(s) => ({ ...s, logical: [{ ...s.logical![0]!, type: 5 }] }), /partition 5: a logical partition cannot be extended/],
    [(s) => ({ ...s, bootCode: new Uint8Array(446) }), /boot code is 446 bytes/],
  ];
  for (const [change, message] of cases) {
    await t.throwsAsync(encodeMbrLayout(change(base())), { instanceOf: UsageError, message });
  }
});

test('link entries: type 0x05 relative to the extended start, covering next EBR through its partition', async (t) => {
  const encoded = await encodeMbrLayout(base());
  t.deepEqual(encoded.ebrs.map((e) => e.lba), [8192, 11264]); // second: the sector after partition 5 (closer than 1 MiB back)
  const link = encoded.ebrs[0]!.sector.subarray(0x1ce, 0x1de);
  const view = new DataView(link.buffer, link.byteOffset, 16);
  t.is(link[4], 0x05);
  t.is(view.getUint32(8, true), 11264 - 8192);
  t.is(view.getUint32(12, true), 12288 + 1024 - 11264);
  t.is(hex(encoded.ebrs[1]!.sector.subarray(0x1ce, 0x1fe)), '00'.repeat(48));
  const layout = await readDiskLayout(new MemoryDevice((() => {
    const disk = new Uint8Array(32768 * 512);
    disk.set(encoded.mbr, 0);
    for (const e of encoded.ebrs) disk.set(e.sector, e.lba * 512);
    return disk;
  })()));
  t.deepEqual(layout.partitions.map((p) => [p.index, p.startLba]), [[1, 2048], [5, 10240], [6, 12288]]);
});

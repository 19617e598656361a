import test from 'ava';
import { readFileSync } from 'node:fs';
import { MemoryDevice } from '../device/memory-device.ts';
import { openFileDevice } from '../device/file-device.ts';
import { CorruptStructureError } from '../errors.ts';
import { fixture, FIXTURE_NAMES } from '../../test/helpers/fixtures.ts';
import { readDiskLayout } from './disk-layout.ts';
import { detectSectorSize } from './sector-size.ts';

/** The partitions as sfdisk read them when the fixture was built (its manifest). */
function sfdiskPartitions(name: (typeof FIXTURE_NAMES)[number]) {
  const { manifest } = fixture(name);
  return manifest.table.sfdisk.partitions
    .filter((p) => !['5', 'f', '85'].includes(String(p.type))) // the extended container is not a volume
    .map((p) => ({ start: p.start as number, size: p.size as number }));
}

for (const name of FIXTURE_NAMES) {
  test(`${name}: partition offsets, sizes and identity equal sfdisk's reading`, async (t) => {
    const { image, manifest } = fixture(name);
    const raw = await openFileDevice(image, { sectorSize: manifest.sectorSize });
    t.teardown(() => raw.close());
    t.is(await detectSectorSize(raw) as number, manifest.sectorSize);
    const layout = await readDiskLayout(raw);
    t.is(layout.scheme, manifest.scheme);
    t.deepEqual(layout.warnings, []);
    t.deepEqual(layout.partitions.map((p) => ({ start: p.startLba, size: p.sectorCount })), sfdiskPartitions(name));
    for (const p of layout.partitions) t.is(p.offset, p.startLba * manifest.sectorSize);
    if (manifest.scheme === 'mbr') {
      t.is(layout.diskId, manifest.diskSignature);
      t.deepEqual(layout.partitions.filter((p) => p.active).map((p) => p.index),
        manifest.partitions.filter((p) => p.active).map((p) => p.index));
    } else {
      t.is(layout.diskId, manifest.diskGuid);
      for (const mp of manifest.partitions) {
        const p = layout.partitions.find((q) => q.index === mp.index)!;
        t.is(p.guid, mp.uuid!.toLowerCase());
        t.is(p.type, mp.type.toLowerCase());
        t.is(p.attributes, BigInt(mp.attributes ?? 0));
      }
    }
  });
}

test('mixed-mbr: logical partitions are numbered from 5 in chain order', async (t) => {
  const { image } = fixture('mixed-mbr');
  const layout = await readDiskLayout(new MemoryDevice(readFileSync(image)));
  t.deepEqual(layout.partitions.map((p) => [p.index, p.logical]), [[1, false], [2, false], [3, false], [5, true], [6, true]]);
});

const gptDisk = () => new Uint8Array(readFileSync(fixture('uefi-gpt').image));
const flip = (b: Uint8Array, at: number, mask: number) => { b[at] = b[at]! ^ mask; };

test('GPT: a damaged primary header falls back to the backup, with a warning', async (t) => {
  const bytes = gptDisk();
  flip(bytes, 512 + 0x18, 0xff); // MyLBA: breaks the header CRC
  const layout = await readDiskLayout(new MemoryDevice(bytes));
  t.is(layout.partitions.length, 4);
  t.is(layout.warnings.length, 1);
  t.regex(layout.warnings[0]!, /primary GPT unusable, using the backup: GPT primary header at byte 512: header CRC-32/);
});

test('GPT: a damaged primary entry array falls back to the backup', async (t) => {
  const bytes = gptDisk();
  flip(bytes, 1024 + 0x20, 0x01); // first entry's StartingLBA
  const layout = await readDiskLayout(new MemoryDevice(bytes));
  t.is(layout.partitions[0]!.startLba, 2048);
  t.regex(layout.warnings[0]!, /entry array at byte 1024: CRC-32/);
});

test('GPT: a damaged backup is reported while the primary is used', async (t) => {
  const bytes = gptDisk();
  flip(bytes, bytes.length - 512, 0xff); // backup signature
  const layout = await readDiskLayout(new MemoryDevice(bytes));
  t.is(layout.partitions.length, 4);
  t.regex(layout.warnings[0]!, /backup GPT unusable: GPT backup header at byte \d+: signature/);
});

test('GPT: both copies damaged is a CorruptStructureError naming both problems', async (t) => {
  const bytes = gptDisk();
  flip(bytes, 512, 0xff);
  flip(bytes, bytes.length - 512 + 0x10, 0xff); // backup header CRC field
  const err = await t.throwsAsync(readDiskLayout(new MemoryDevice(bytes)), { instanceOf: CorruptStructureError });
  t.regex(err!.message, /neither copy is usable. Primary: .*signature.*Backup: .*header CRC-32/);
});

function mbrDisk(entries: Array<[status: number, type: number, first: number, count: number]>, size = 1 << 20): Uint8Array {
  const disk = new Uint8Array(size);
  entries.forEach(([status, type, first, count], i) => {
    const e = new DataView(disk.buffer, 0x1be + 16 * i, 16);
    e.setUint8(0, status);
    e.setUint8(4, type);
    e.setUint32(8, first, true);
    e.setUint32(12, count, true);
  });
  disk[510] = 0x55;
  disk[511] = 0xaa;
  return disk;
}

test('MBR: no boot signature means no partition table', async (t) => {
  const layout = await readDiskLayout(new MemoryDevice(new Uint8Array(1 << 16)));
  t.is(layout.scheme, 'none');
  t.deepEqual(layout.partitions, []);
});

test('MBR: an invalid status byte is refused with the entry named', async (t) => {
  const err = await t.throwsAsync(readDiskLayout(new MemoryDevice(mbrDisk([[0x12, 7, 2048, 100]]))), { instanceOf: CorruptStructureError });
  t.regex(err!.message, /MBR at byte 446: partition entry 1 has status 0x12/);
});

test('MBR: a partition past the end of the disk is refused', async (t) => {
  const err = await t.throwsAsync(readDiskLayout(new MemoryDevice(mbrDisk([[0, 7, 2048, 4096]]))), { instanceOf: CorruptStructureError });
  t.regex(err!.message, /partition 1 ends at byte 3145728, past the end of memory \(1048576 bytes\)/);
});

test('MBR: an EBR chain that loops is refused instead of followed forever', async (t) => {
  const disk = mbrDisk([[0, 0x0f, 100, 1000]]);
  // EBR at LBA 100: a logical partition, and a link back to itself (relative offset 0).
  const ebr = 100 * 512;
  disk.set(mbrDisk([[0, 7, 10, 20], [0, 5, 0, 50]]).subarray(0, 512), ebr);
  const err = await t.throwsAsync(readDiskLayout(new MemoryDevice(disk)), { instanceOf: CorruptStructureError });
  t.regex(err!.message, /EBR at byte 51200: the EBR chain loops back on itself/);
});

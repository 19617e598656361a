/**
 * Hostile GPTs: sgdisk-made tables (the uefi-gpt and ntfs-4k fixtures) with one field changed
 * and the CRCs made right again, so each check of the decoder is reached on its own.
 */
import test, { type ExecutionContext } from 'ava';
import { crc32 } from 'node:zlib';
import { CorruptStructureError } from '../errors.ts';
import { MemoryDevice } from '../device/memory-device.ts';
import { openFileDevice } from '../device/file-device.ts';
import { fixture, type FixtureName } from '../../test/helpers/fixtures.ts';
import { readDiskLayout } from './disk-layout.ts';
import { decodeGptEntries, decodeGptHeader, GptEntry, GptHeader } from './gpt.ts';

/** The fixture's table sectors (first 34 and last 33 × 512 bytes, or 6/5 × 4096) in an otherwise zero disk. */
async function tableDisk(name: FixtureName): Promise<{ disk: Uint8Array; s: number; last: number }> {
  const { image, manifest } = fixture(name);
  const s = manifest.sectorSize;
  const device = await openFileDevice(image, { sectorSize: s });
  try {
    const disk = new Uint8Array(device.size);
    const head = 2 * s + 16384;
    disk.set(await device.read(0, head), 0);
    disk.set(await device.read(device.size - head + s, head - s), device.size - head + s);
    return { disk, s, last: device.size / s - 1 };
  } finally {
    await device.close();
  }
}

/** Change header fields at `lba`, then recompute its CRC as a careful forger would. */
function patchHeader(disk: Uint8Array, s: number, lba: number, change: Partial<GptHeader>): void {
  const at = lba * s;
  GptHeader.encodeInto({ ...GptHeader.decode(disk, at), ...change, headerCrc32: 0 }, disk, at);
  GptHeader.encodeInto({ ...GptHeader.decode(disk, at), headerCrc32: crc32(disk.subarray(at, at + 92)) }, disk, at);
}

/** Change one entry of the array the header at `lba` names, then fix the array CRC and the header CRC. */
function patchEntry(disk: Uint8Array, s: number, lba: number, slot: number, change: Partial<GptEntry>): void {
  const h = GptHeader.decode(disk, lba * s);
  const arrayAt = Number(h.partitionEntryLba) * s;
  const at = arrayAt + (slot - 1) * 128;
  GptEntry.encodeInto({ ...GptEntry.decode(disk, at), ...change }, disk, at);
  patchHeader(disk, s, lba, { partitionEntryArrayCrc32: crc32(disk.subarray(arrayAt, arrayAt + h.numberOfPartitionEntries * 128)) });
}

function headerError(t: ExecutionContext, disk: Uint8Array, s: number, lba: number, message: RegExp): void {
  const err = t.throws(() => decodeGptHeader(disk.subarray(lba * s, (lba + 1) * s), lba, s, disk.length / s), { instanceOf: CorruptStructureError });
  t.regex(err!.message, message);
  t.is(err!.data.structure, lba === 1 ? 'GPT primary header' : 'GPT backup header');
  t.is(err!.data.offset, lba * s);
  t.true(err!.message.startsWith(`${err!.data.structure} at byte ${lba * s}: `));
}

const headerCases: Array<[string, (last: number) => Partial<GptHeader>, (last: number, s: number) => RegExp]> = [
  ['NumberOfPartitionEntries huge', () => ({ numberOfPartitionEntries: 0xffffffff }), () => /4294967295 partition entries \(1\.\.16384 accepted\)/],
  ['NumberOfPartitionEntries zero', () => ({ numberOfPartitionEntries: 0 }), () => /0 partition entries/],
  ['HeaderSize larger than the sector', (_l) => ({ headerSize: 0x10000 }), (_l, s) => new RegExp(`header size 65536 is outside 92\\.\\.${s}`)],
  ['HeaderSize below 92', () => ({ headerSize: 91 }), (_l, s) => new RegExp(`header size 91 is outside 92\\.\\.${s}`)],
  ['SizeOfPartitionEntry 256', () => ({ sizeOfPartitionEntry: 256 }), () => /partition entry size is 256, only 128 is supported/],
  ['LastUsableLBA past the disk', (last) => ({ lastUsableLba: BigInt(last + 1) }), (last) => new RegExp(`usable range \\d+\\.\\.${last + 1} does not fit a disk of ${last + 1} sectors`)],
  ['FirstUsableLBA after LastUsableLBA', (last) => ({ firstUsableLba: BigInt(last - 10), lastUsableLba: BigInt(last - 20) }), () => /usable range \d+\.\.\d+ does not fit/],
  ['LastUsableLBA beyond 2^53', () => ({ lastUsableLba: 1n << 62n }), () => /LastUsableLBA 4611686018427387904 is beyond any real disk/],
  ['PartitionEntryLBA beyond 2^53', () => ({ partitionEntryLba: 1n << 60n }), () => /PartitionEntryLBA 1152921504606846976 is beyond any real disk/],
  ['entry array running off the end of the disk', (last) => ({ partitionEntryLba: BigInt(last) }), (last) => new RegExp(`entry array at LBA ${last} does not fit the disk`)],
];

for (const name of ['uefi-gpt', 'ntfs-4k'] as const) {
  for (const [what, change, message] of headerCases) {
    test(`${name}: ${what} → CorruptStructureError naming the header and its offset`, async (t) => {
      const { disk, s, last } = await tableDisk(name);
      for (const lba of [1, last]) {
        const copy = disk.slice(lba * s, (lba + 1) * s);
        patchHeader(disk, s, lba, change(last));
        headerError(t, disk, s, lba, message(last, s));
        disk.set(copy, lba * s);
      }
    });
  }
}

test('uefi-gpt: MyLBA not the LBA read (CRC valid) is refused', async (t) => {
  const { disk, s } = await tableDisk('uefi-gpt');
  patchHeader(disk, s, 1, { myLba: 2n });
  headerError(t, disk, s, 1, /MyLBA says 2, read from LBA 1/);
});

test('uefi-gpt: a primary entry array overlapping the usable range is refused', async (t) => {
  const { disk, s } = await tableDisk('uefi-gpt');
  patchHeader(disk, s, 1, { numberOfPartitionEntries: 16384 }); // 2 MiB of entries: LBA 2..4097, FirstUsable is 34
  headerError(t, disk, s, 1, /entry array at LBA 2\.\.4097 is not between header LBA 1 and FirstUsableLBA 34/);
});

test('uefi-gpt: a backup entry array inside the usable range is refused', async (t) => {
  const { disk, s, last } = await tableDisk('uefi-gpt');
  patchHeader(disk, s, last, { partitionEntryLba: 100000n });
  headerError(t, disk, s, last, new RegExp(`entry array at LBA 100000\\.\\.100031 is not between LastUsableLBA ${last - 33} and header LBA ${last}`));
});

test('ntfs-4k: a backup entry array overlapping its own header is refused', async (t) => {
  const { disk, s, last } = await tableDisk('ntfs-4k');
  patchHeader(disk, s, last, { partitionEntryLba: BigInt(last - 3) }); // 4 sectors: last−3..last
  headerError(t, disk, s, last, new RegExp(`entry array at LBA ${last - 3}\\.\\.${last} is not between LastUsableLBA ${last - 5} and header LBA ${last}`));
});

const entryCases: Array<[string, Partial<GptEntry>, RegExp]> = [
  ['ending past LastUsableLBA', { endingLba: 409567n }, /partition 4 spans LBA 313344\.\.409567, outside the usable 34\.\.409566/],
  ['starting inside the primary array', { startingLba: 20n }, /partition 4 spans LBA 20\.\.346111, outside the usable 34\.\.409566/],
  ['ending before it starts', { startingLba: 346112n }, /partition 4 spans LBA 346112\.\.346111/],
  ['starting beyond 2^53', { startingLba: 1n << 63n }, /StartingLBA 9223372036854775808 is beyond any real disk/],
  ['ending beyond 2^53', { endingLba: (1n << 64n) - 1n }, /EndingLBA 18446744073709551615 is beyond any real disk/],
];

for (const [what, change, message] of entryCases) {
  test(`uefi-gpt: an entry ${what} → CorruptStructureError naming the entry's offset`, async (t) => {
    const { disk, s, last } = await tableDisk('uefi-gpt');
    for (const lba of [1, last]) {
      patchEntry(disk, s, lba, 4, change);
      const h = decodeGptHeader(disk.subarray(lba * s, (lba + 1) * s), lba, s, last + 1); // the header itself is fine
      const arrayAt = Number(h.partitionEntryLba) * s;
      const err = t.throws(() => decodeGptEntries(disk.subarray(arrayAt, arrayAt + 16384), h, arrayAt), { instanceOf: CorruptStructureError });
      t.regex(err!.message, message);
      t.is(err!.data.structure, 'GPT partition entry');
      t.is(err!.data.offset, arrayAt + 3 * 128);
      t.true(err!.message.startsWith(`GPT partition entry at byte ${arrayAt + 384}: `));
    }
  });
}

test('uefi-gpt: a hostile primary is replaced by the backup, with the reason as a warning', async (t) => {
  const { disk, s } = await tableDisk('uefi-gpt');
  patchHeader(disk, s, 1, { numberOfPartitionEntries: 0xffffffff });
  const layout = await readDiskLayout(new MemoryDevice(disk));
  t.is(layout.partitions.length, 4);
  t.deepEqual(layout.warnings, ['primary GPT unusable, using the backup: GPT primary header at byte 512: 4294967295 partition entries (1..16384 accepted)']);
});

test('uefi-gpt: hostile primary and backup → one error quoting both', async (t) => {
  const { disk, s, last } = await tableDisk('uefi-gpt');
  patchHeader(disk, s, 1, { headerSize: 4096 });
  patchEntry(disk, s, last, 2, { endingLba: 1n << 40n });
  const err = await t.throwsAsync(readDiskLayout(new MemoryDevice(disk)), { instanceOf: CorruptStructureError });
  t.regex(err!.message, /^GPT at byte 512: neither copy is usable\. Primary: GPT primary header at byte 512: header size 4096 is outside 92\.\.512\. Backup: GPT partition entry at byte \d+: partition 2 spans LBA 83968\.\.1099511627776/);
});

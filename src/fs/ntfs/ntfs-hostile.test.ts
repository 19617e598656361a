/**
 * Damaged NTFS volumes: each corruption must surface as a CorruptStructureError naming the
 * structure and byte offset — never a hang, a RangeError from deep inside, or wrong data.
 * Each case starts from a copy of the bios-mbr Windows volume in memory.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { fixture } from '../../../test/helpers/fixtures.ts';
import { MemoryDevice } from '../../device/memory-device.ts';
import { CorruptStructureError } from '../../errors.ts';
import { DataStream } from './data-stream.ts';
import { openNtfs } from './ntfs-volume.ts';
import { ATTR } from './record.ts';

const FRAGMENTED = 'Users\\Technician\\Videos\\fragmented.bin';

function windowsVolume(): Uint8Array {
  const { image, manifest } = fixture('bios-mbr');
  const p = manifest.partitions.find((q) => q.role === 'windows')!;
  return new Uint8Array(readFileSync(image).subarray(p.startLba * 512, (p.startLba + p.sizeLba) * 512));
}

const u16 = (b: Uint8Array, at: number) => b[at]! | (b[at + 1]! << 8);
const u32 = (b: Uint8Array, at: number) => new DataView(b.buffer, b.byteOffset + at, 4).getUint32(0, true);

/** Byte offset (on the volume) of the record holding `path`, found with a clean copy. */
async function recordOf(bytes: Uint8Array, path: string): Promise<{ at: number; record: number }> {
  const vol = await openNtfs(new MemoryDevice(bytes.slice()));
  const { file } = await vol.resolve(path);
  return { at: vol.mft.recordOffset(file.recordNumber), record: file.recordNumber };
}

/** Offset within the record of its first attribute of `type`. */
function attributeIn(bytes: Uint8Array, recordAt: number, type: number): number {
  let pos = u16(bytes, recordAt + 0x14);
  while (u32(bytes, recordAt + pos) !== type) {
    if (u32(bytes, recordAt + pos) === 0xffffffff) throw new Error(`no attribute 0x${type.toString(16)}`);
    pos += u32(bytes, recordAt + pos + 4);
  }
  return pos;
}

const corrupt = async (t: import('ava').ExecutionContext, bytes: Uint8Array, action: (vol: Awaited<ReturnType<typeof openNtfs>>) => Promise<unknown>, message: RegExp) => {
  const err = await t.throwsAsync((async () => action(await openNtfs(new MemoryDevice(bytes))))(), { instanceOf: CorruptStructureError });
  t.regex(err!.message, message);
};

test('boot sector: wrong OEM id, bad cluster code, $MFT outside the volume', async (t) => {
  const oem = windowsVolume();
  oem.set(Buffer.from('NTFX'), 3);
  await corrupt(t, oem, async () => {}, /NTFS boot sector at byte 0: OEM id is "NTFX", not "NTFS    "/);
  const spc = windowsVolume();
  spc[0x0d] = 3;
  await corrupt(t, spc, async () => {}, /sectors-per-cluster code 0x3 is not valid/);
  const mft = windowsVolume();
  new DataView(mft.buffer).setBigUint64(0x30, 1n << 40n, true);
  await corrupt(t, mft, async () => {}, /\$MFT LCN 1099511627776 is outside 1\.\.16382/);
});

test('a volume cut short of what its boot sector claims is refused', async (t) => {
  await corrupt(t, windowsVolume().slice(0, 1 << 20), async () => {}, /claims 67108352 bytes but its partition holds 1048576/);
  await corrupt(t, new Uint8Array(100), async () => {}, /only 100 bytes/);
});

test('an MFT record with a bad signature is named with its number and offset', async (t) => {
  const bytes = windowsVolume();
  const { at, record } = await recordOf(bytes, FRAGMENTED);
  bytes.set(Buffer.from('JUNK'), at);
  await corrupt(t, bytes, (v) => v.readFile(FRAGMENTED), new RegExp(`MFT record ${record} at byte ${at}: signature is "JUNK"`));
});

test('a torn MFT record (update sequence mismatch) is refused', async (t) => {
  const bytes = windowsVolume();
  const { at, record } = await recordOf(bytes, FRAGMENTED);
  bytes[at + 510] = bytes[at + 510]! ^ 0xff;
  await corrupt(t, bytes, (v) => v.readFile(FRAGMENTED), new RegExp(`MFT record ${record} at byte ${at + 510}: torn write`));
});

test('a run pointing past the end of the volume is refused before any read', async (t) => {
  const bytes = windowsVolume();
  const { at } = await recordOf(bytes, FRAGMENTED);
  const attr = attributeIn(bytes, at, ATTR.data);
  const runs = at + attr + u16(bytes, at + attr + 0x20);
  // First run: 16 clusters at LCN 0x7fffff (the volume has 16383).
  bytes.set([0x31, 0x10, 0xff, 0xff, 0x7f], runs);
  await corrupt(t, bytes, (v) => v.readFile(FRAGMENTED), /NTFS runlist at byte \d+: run of 16 clusters at LCN 8388607 lies outside the volume's 16383 clusters/);
});

test('runs that do not cover the VCN range the attribute declares are refused', async (t) => {
  const bytes = windowsVolume();
  const { at } = await recordOf(bytes, FRAGMENTED);
  const attr = attributeIn(bytes, at, ATTR.data);
  const runs = at + attr + u16(bytes, at + attr + 0x20);
  bytes[runs] = 0; // runlist ends at once
  await corrupt(t, bytes, (v) => v.readFile(FRAGMENTED), /runs cover 0 clusters but VCNs 0\.\.\d+ need/);
});

test('an attribute whose length runs past its record is refused', async (t) => {
  const bytes = windowsVolume();
  const { at, record } = await recordOf(bytes, FRAGMENTED);
  const attr = attributeIn(bytes, at, ATTR.data);
  new DataView(bytes.buffer).setUint32(at + attr + 4, 0x7ff8, true);
  await corrupt(t, bytes, (v) => v.readFile(FRAGMENTED), new RegExp(`attribute at byte ${attr} of MFT record ${record} has length 32760`));
});

async function rootIndexBlock(bytes: Uint8Array): Promise<number> {
  const vol = await openNtfs(new MemoryDevice(bytes.slice()));
  const root = await vol.mft.file(5);
  const alloc = vol.mft.openStream(root, ATTR.indexAllocation, '$I30');
  if (!(alloc instanceof DataStream)) throw new Error('root has no INDX blocks');
  return alloc.extents().extents[0]!.start;
}

test('an INDX block that names another VCN than its own is refused', async (t) => {
  const bytes = windowsVolume();
  const block = await rootIndexBlock(bytes);
  new DataView(bytes.buffer).setBigUint64(block + 0x10, 7n, true);
  await corrupt(t, bytes, (v) => v.list('\\'), /INDX block VCN 0 of MFT record 5 .*block says it is VCN 7/);
});

test('a cyclic directory index ends in an error, not a hang', async (t) => {
  const bytes = windowsVolume();
  const block = await rootIndexBlock(bytes);
  // Give block 0's last entry a sub-node pointing back at block 0.
  const node = block + 0x18;
  const first = node + u32(bytes, node);
  const used = u32(bytes, node + 4);
  let entry = first;
  while (!(u16(bytes, entry + 0x0c) & 0x02)) entry += u16(bytes, entry + 8);
  const strideEnds = [1, 2, 3, 4, 5, 6, 7, 8].map((i) => block + i * 512 - 2);
  t.false(strideEnds.some((s) => s >= entry && s < entry + 0x18), 'the edit stays clear of fixup positions');
  const view = new DataView(bytes.buffer);
  view.setUint16(entry + 8, 0x18, true);
  view.setUint16(entry + 0x0c, 0x03, true);
  view.setBigUint64(entry + 0x10, 0n, true);
  view.setUint32(node + 4, used + 8, true);
  await corrupt(t, bytes, (v) => v.list('\\'), /INDX block VCN 0 of MFT record 5 .*reached twice: the index is cyclic/);
});

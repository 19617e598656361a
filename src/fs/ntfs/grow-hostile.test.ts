/**
 * What growNtfs refuses, before writing a byte: sizes that do not grow the volume, a read-only
 * device, a dirty volume (flag set by ntfsfix), a journal to replay, metadata spread over
 * several records. Each case compares the bytes before and after.
 */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../../test/helpers/tools.ts';
import type { WritableDevice } from '../../device/block-device.ts';
import { openFileDevice } from '../../device/file-device.ts';
import { MemoryDevice } from '../../device/memory-device.ts';
import type { LifeboatError } from '../../errors.ts';
import { growNtfs, planNtfsGrow } from './grow.ts';
import { RestartArea, RestartPageHeader } from './logfile.ts';
import { AttributeListEntry } from './mft.ts';
import { openNtfs } from './ntfs-volume.ts';
import { attributeSlots, encodeFixups, rewriteNonResident, withFixupsApplied, writeField } from './record-write.ts';
import { ATTR, AttributeHeader, FileRecordHeader, ResidentAttribute, type NonResidentAttr } from './record.ts';
import { copyInto, fileHash, mkntfs, run, sha256 } from './test-volumes.ts';

const MiB = 1 << 20;
const scratch = scratchDir('lifeboat-grow-hostile-');
test.after.always(() => scratch.remove());
const base = mkntfs(join(scratch.dir, 'base.img'), 64 * MiB, ['-L', 'HOSTILE']);

async function refusedOnFile(t: import('ava').ExecutionContext, image: string, newSize: (size: number) => number, reason: string, message: RegExp): Promise<void> {
  const before = fileHash(image);
  const dev = await openFileDevice(image, { writable: true });
  try {
    const err = await t.throwsAsync(growNtfs(dev, newSize(dev.size)), { code: 'USAGE' }) as LifeboatError;
    t.is(err.data.reason, reason, err.message);
    t.regex(err.message, message);
  } finally {
    await dev.close();
  }
  t.is(fileHash(image), before, 'nothing written');
}

test('a new size smaller than the volume is refused', async (t) => {
  await refusedOnFile(t, copyInto(base, join(scratch.dir, 'smaller.img'), 256 * MiB), () => 32 * MiB, 'smaller', /smaller than the volume \(67108864 bytes/);
});

test('a partition that holds no further cluster is refused, naming the size needed', async (t) => {
  const image = copyInto(base, join(scratch.dir, 'same.img'), 64 * MiB);
  await refusedOnFile(t, image, (size) => size, 'no-room', new RegExp(`needs at least ${64 * MiB + 512} bytes`));
});

test('a new size past the end of the device is refused', async (t) => {
  await refusedOnFile(t, copyInto(base, join(scratch.dir, 'beyond.img'), 128 * MiB), (size) => size + 4096, 'beyond-device', /larger than/);
});

test('sizes that are not whole positive numbers are refused', async (t) => {
  const image = copyInto(base, join(scratch.dir, 'nan.img'), 128 * MiB);
  await refusedOnFile(t, image, () => Number.NaN, 'bad-size', /not a positive whole number/);
  await refusedOnFile(t, image, () => -512, 'bad-size', /not a positive whole number/);
});

test('a device opened read-only is refused before anything is read', async (t) => {
  const image = copyInto(base, join(scratch.dir, 'ro.img'), 128 * MiB);
  const before = fileHash(image);
  const dev = await openFileDevice(image);
  const err = await t.throwsAsync(growNtfs(dev as unknown as WritableDevice, dev.size)) as LifeboatError;
  await dev.close();
  t.is(err.data.reason, 'read-only');
  t.is(fileHash(image), before);
});

test('planNtfsGrow on a read-only device describes the grow and writes nothing', async (t) => {
  const image = copyInto(base, join(scratch.dir, 'plan.img'), 128 * MiB);
  const before = fileHash(image);
  const dev = await openFileDevice(image);
  const plan = await planNtfsGrow(dev, dev.size);
  await dev.close();
  t.is(plan.result.newClusters, Math.floor((128 * MiB / 512 - 1) / 8));
  t.is(plan.bootSector.length, 512);
  t.is(fileHash(image), before);
});

test('a volume ntfsfix marked dirty is refused until chkdsk has run', async (t) => {
  const dirty = copyInto(base, join(scratch.dir, 'dirty64.img'), 64 * MiB);
  run('ntfsfix', [dirty]); // leaves VOLUME_IS_DIRTY set (filesystems.md 11.4)
  t.regex(run('ntfsinfo', ['-m', '--force', dirty]), /Volume Flags: 0x0001 DIRTY/);
  const image = copyInto(dirty, join(scratch.dir, 'dirty.img'), 256 * MiB);
  await refusedOnFile(t, image, (size) => size, 'volume-state', /VOLUME_IS_DIRTY/);
});

/** The base volume at the start of a memory device (96 MiB unless told). */
async function inMemory(size = 96 * MiB): Promise<{ dev: MemoryDevice; bytes: Uint8Array }> {
  const bytes = new Uint8Array(size);
  bytes.set(readFileSync(base));
  return { dev: new MemoryDevice(bytes, { name: 'memory volume' }), bytes };
}

async function refusedInMemory(t: import('ava').ExecutionContext, dev: MemoryDevice, bytes: Uint8Array, check: (e: LifeboatError) => void): Promise<void> {
  const before = sha256(bytes);
  const err = await t.throwsAsync(growNtfs(dev, dev.size)) as LifeboatError;
  check(err);
  t.is(sha256(bytes), before, 'nothing written');
}

test('$Bitmap with an $ATTRIBUTE_LIST is refused', async (t) => {
  const { dev, bytes } = await inMemory();
  const vol = await openNtfs(dev);
  const at = vol.mft.recordOffset(6);
  const size = vol.geometry.mftRecordSize;
  const clean = withFixupsApplied(bytes.slice(at, at + size), 'record 6', at);
  const h = FileRecordHeader.decode(clean);
  const slots = attributeSlots(clean, 'record 6', at);
  const data = slots.find((s) => s.type === ATTR.data)!;
  // A resident list of one entry: $DATA, VCN 0, in record 6 itself — the shape Windows gives a
  // $Bitmap whose runs no longer fit one record.
  const entry = new Uint8Array(0x20);
  AttributeListEntry.encodeInto({ type: ATTR.data, length: 0x20, nameLength: 0, nameOffset: 0x1a, lowestVcn: 0n,
    segmentReference: 6n | (BigInt(h.sequenceNumber) << 48n), instance: AttributeHeader.decode(clean, data.offset).instance }, entry);
  const list = new Uint8Array(0x18 + entry.length);
  AttributeHeader.encodeInto({ type: ATTR.attributeList, length: list.length, nonResident: 0, nameLength: 0, nameOffset: 0x18, flags: 0, instance: h.nextAttributeId }, list);
  ResidentAttribute.encodeInto({ valueLength: entry.length, valueOffset: 0x18, residentFlags: 0 }, list);
  list.set(entry, 0x18);
  const insertAt = slots[1]!.offset; // after $STANDARD_INFORMATION, in type order
  const patched = new Uint8Array(size);
  patched.set(clean.subarray(0, insertAt));
  patched.set(list, insertAt);
  patched.set(clean.subarray(insertAt, h.bytesInUse), insertAt + list.length);
  writeField(FileRecordHeader.fields.bytesInUse, patched, 0, h.bytesInUse + list.length);
  writeField(FileRecordHeader.fields.nextAttributeId, patched, 0, h.nextAttributeId + 1);
  bytes.set(encodeFixups(patched, 'record 6', at), at);
  t.true((await (await openNtfs(dev)).mft.record(6))!.attributes.some((a) => a.type === ATTR.attributeList), 'the list is there');
  await refusedInMemory(t, dev, bytes, (e) => {
    t.is(e.data.reason, 'attribute-list');
    t.regex(e.message, /\$Bitmap \(MFT record 6\) has an \$ATTRIBUTE_LIST/);
  });
});

/** A restart page of `$LogFile` (4096 bytes, fixups encoded). */
function restartPage(o: { major: number; minor: number; inUse: number; flags: number; lsn: bigint }): Uint8Array {
  const page = new Uint8Array(4096);
  RestartPageHeader.encodeInto({ magic: 'RSTR', usaOffset: 0x1e, usaCount: 9, chkdskLsn: 0n, systemPageSize: 4096, logPageSize: 4096,
    restartAreaOffset: 0x30, minorVersion: o.minor, majorVersion: o.major }, page);
  RestartArea.encodeInto({ currentLsn: o.lsn, logClients: 1, clientFreeList: 0xffff, clientInUseList: o.inUse, flags: o.flags }, page, 0x30);
  return encodeFixups(page, 'restart page', 0);
}

for (const [name, page, pattern] of [
  ['a journal holding transactions', restartPage({ major: 1, minor: 1, inUse: 0, flags: 0, lsn: 1000n }), /not shut down cleanly/],
  ['a Fast Startup journal (restart page 2.0)', restartPage({ major: 2, minor: 0, inUse: 0, flags: 2, lsn: 1000n }), /Fast Startup/],
] as const) {
  test(`${name} is refused: Windows would replay it over the new metadata`, async (t) => {
    const { dev, bytes } = await inMemory();
    const vol = await openNtfs(dev);
    const log = vol.mft.openStream(await vol.mft.file(2), ATTR.data, '') as { shape: { runs: Array<{ lcn: number | null }> } };
    const at = log.shape.runs[0]!.lcn! * vol.geometry.clusterSize;
    bytes.set(page, at);
    bytes.fill(0xff, at + 4096, at + 8192);
    await refusedInMemory(t, dev, bytes, (e) => {
      t.is(e.data.reason, 'volume-state');
      t.regex(e.message, pattern);
    });
  });
}

test('a clean journal (restart page 1.1, clean flag) is accepted', async (t) => {
  const { dev, bytes } = await inMemory();
  const vol = await openNtfs(dev);
  const log = vol.mft.openStream(await vol.mft.file(2), ATTR.data, '') as { shape: { runs: Array<{ lcn: number | null }> } };
  bytes.set(restartPage({ major: 1, minor: 1, inUse: 0, flags: 2, lsn: 1000n }), log.shape.runs[0]!.lcn! * vol.geometry.clusterSize);
  const r = await growNtfs(dev, dev.size);
  t.is(r.newClusters, Math.floor((96 * MiB / 512 - 1) / 8));
});

test('$BadClus:$Bad shorter than the volume is refused as corrupt', async (t) => {
  const { dev, bytes } = await inMemory();
  const vol = await openNtfs(dev);
  const at = vol.mft.recordOffset(8);
  const size = vol.geometry.mftRecordSize;
  const clean = withFixupsApplied(bytes.slice(at, at + size), 'record 8', at);
  const slot = attributeSlots(clean, 'record 8', at).find((s) => s.type === ATTR.data && s.name === '$Bad')!;
  const n = vol.geometry.clusters - 5;
  const cs = vol.geometry.clusterSize;
  bytes.set(encodeFixups(rewriteNonResident(clean, slot.offset, { runs: [{ vcn: 0, lcn: null, length: n }], allocatedSize: n * cs, dataSize: n * cs, initializedSize: 0 }, 'record 8', at), 'record 8', at), at);
  const bad = (await (await openNtfs(dev)).mft.record(8))!.attributes.find((a) => a.name === '$Bad') as NonResidentAttr;
  t.is(bad.highestVcn, n - 1);
  await refusedInMemory(t, dev, bytes, (e) => {
    t.is(e.code, 'CORRUPT_STRUCTURE');
    t.regex(e.message, /\$BadClus:\$Bad .*spans \d+ clusters/);
  });
});

test('a cluster $Bitmap marks free but a file uses ("missing" bit) is not given to $Bitmap', async (t) => {
  const { dev, bytes } = await inMemory(256 * MiB); // 65535 clusters: $Bitmap needs a second cluster
  const vol = await openNtfs(dev);
  const bitmapFile = await vol.mft.file(6);
  const data = bitmapFile.attributes.find((a) => a.type === ATTR.data) as NonResidentAttr;
  const last = data.runs.at(-1)!;
  const next = last.lcn! + last.length; // mkntfs puts $Secure:$SDS right after $Bitmap
  const owner = (await vol.mft.file(9)).attributes.find((a) => a.type === ATTR.data && a.name === '$SDS') as NonResidentAttr;
  t.true(owner.runs.some((r) => r.lcn !== null && r.lcn <= next && next < r.lcn + r.length), 'the next cluster belongs to $Secure');
  const byte = data.runs[0]!.lcn! * vol.geometry.clusterSize + Math.floor(next / 8);
  bytes[byte] = bytes[byte]! & ~(1 << (next % 8));
  const plan = await planNtfsGrow(dev.readOnly(), dev.size);
  t.not(plan.result.bitmap.allocated?.lcn, next);
  t.is(plan.result.bitmap.placement, 'free-gap');
  t.regex(plan.result.warnings.join('\n'), new RegExp(`clusters ${next}\\.\\.${next} are free in \\$Bitmap but used by MFT record 9`));
});

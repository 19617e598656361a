/**
 * planSectorSizeChange / applySectorSizeChange as the restore uses them: volumes without a
 * filesystem Lifeboat can rewrite are refused (unless nothing needs to change), the error
 * survives a worker boundary, applying checks the device and reads back, and the writes come in
 * an order where the volume opens — in its old or its new form — after each one. The tools'
 * verdicts per filesystem are in ntfs/, fat/ and exfat/sector-size.test.ts.
 */
import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { fixture, type FixtureName } from '../../test/helpers/fixtures.ts';
import { scratchDir } from '../../test/helpers/tools.ts';
import type { ReadableDevice, WritableDevice } from '../device/block-device.ts';
import { openFileDevice } from '../device/file-device.ts';
import { MemoryDevice } from '../device/memory-device.ts';
import { partitionDevice } from '../device/partition-device.ts';
import { fromWire, toWire, UsageError, type LifeboatError } from '../errors.ts';
import { openFilesystem } from './open-filesystem.ts';
import { probeFilesystem } from './probe.ts';
import { applySectorSizeChange, planSectorSizeChange, SectorSizeRefusedError, type SectorSizeChange } from './sector-size.ts';
import { run, sparseFile } from './sector-size-testing.ts';

const scratch = scratchDir('lifeboat-ss-');
test.after.always(() => scratch.remove());

/** A fixture partition as a read-only window, with the disk's sector size. */
async function partition<T>(name: FixtureName, index: number, fn: (volume: ReadableDevice) => Promise<T>): Promise<T> {
  const { image, manifest } = fixture(name);
  const p = manifest.partitions.find((q) => q.index === index)!;
  const disk = await openFileDevice(image, { sectorSize: manifest.sectorSize });
  try {
    return await fn(partitionDevice(disk, p.startLba * manifest.sectorSize, p.sizeLba * manifest.sectorSize));
  } finally {
    await disk.close();
  }
}

/** Writes land in memory over a read-only base: a scratch target without copying the volume. */
class Overlay implements WritableDevice {
  readonly writable = true;
  readonly writes: { offset: number; bytes: Uint8Array }[] = [];
  readonly name = 'overlay';
  readonly base: ReadableDevice;
  readonly sectorSize: number;
  constructor(base: ReadableDevice, sectorSize: number) {
    this.base = base;
    this.sectorSize = sectorSize;
  }
  get size(): number {
    return this.base.size;
  }
  async read(offset: number, length: number): Promise<Uint8Array> {
    const out = await this.base.read(offset, length);
    for (const w of this.writes) {
      const from = Math.max(offset, w.offset);
      const to = Math.min(offset + length, w.offset + w.bytes.length);
      if (from < to) out.set(w.bytes.subarray(from - w.offset, to - w.offset), from - offset);
    }
    return out;
  }
  async write(offset: number, bytes: Uint8Array): Promise<void> {
    this.writes.push({ offset, bytes: bytes.slice() });
  }
  async flush(): Promise<void> {}
  async close(): Promise<void> {}
}

test('volumes without a filesystem Lifeboat rewrites are refused, with what to do instead; none when sizes already agree', async (t) => {
  await partition('mixed-mbr', 5, async (volume) => {
    t.is(await probeFilesystem(volume), 'unknown');
    const e = await t.throwsAsync(planSectorSizeChange(volume, 4096), { instanceOf: SectorSizeRefusedError });
    t.deepEqual(e?.data, { filesystem: 'unknown', reason: 'unsupported-filesystem', from: 512, to: 4096 });
    t.regex(e?.message ?? '', /^A volume with no recognised filesystem cannot be converted from 512-byte to 4096-byte sectors: .*Restore it to a disk with 512-byte sectors \(512n or 512e\)/);
    t.deepEqual(await planSectorSizeChange(volume, 512), { kind: 'unknown', from: 512, to: 512, writes: [] });
  });
  await partition('mixed-mbr', 3, async (volume) => {
    const e = await t.throwsAsync(planSectorSizeChange(volume, 4096), { instanceOf: SectorSizeRefusedError });
    t.like(e?.data, { filesystem: 'bitlocker', reason: 'unsupported-filesystem' });
    t.regex(e?.message ?? '', /^The BitLocker volume cannot be converted .* encrypted/);
    const wire = fromWire(toWire(e));
    t.like(wire, { name: 'SectorSizeRefusedError', code: 'SECTOR_SIZE_REFUSED', message: e?.message, data: e?.data });
  });
  await t.throwsAsync(planSectorSizeChange(new MemoryDevice(new Uint8Array(4096)), 1000), { instanceOf: UsageError });
});

test('a volume already in the target sector size needs no writes', async (t) => {
  await partition('ntfs-4k', 1, async (volume) => t.deepEqual(await planSectorSizeChange(volume, 4096), { kind: 'ntfs', from: 4096, to: 4096, writes: [] }));
  await partition('mixed-mbr', 1, async (volume) => t.like(await planSectorSizeChange(volume, 512), { kind: 'exfat', from: 512, writes: [] }));
  await partition('uefi-gpt', 1, async (volume) => t.like(await planSectorSizeChange(volume, 512), { kind: 'fat32', from: 512, writes: [] }));
});

/** After every prefix of the writes the volume opens and lists its root, declaring `from` or `to`. */
async function everyPrefixOpens(t: ExecutionContext, volume: ReadableDevice, change: SectorSizeChange): Promise<void> {
  const reference = (await (await openFilesystem(volume, change.kind))!.list('\\')).map((e) => e.name).sort();
  for (let n = 0; n <= change.writes.length; n++) {
    const target = new Overlay(volume, change.to);
    for (const w of change.writes.slice(0, n)) await target.write(w.offset, w.bytes);
    const fs = await openFilesystem(target, await probeFilesystem(target));
    t.deepEqual((await fs!.list('\\')).map((e) => e.name).sort(), reference, `${change.kind} after ${n} of ${change.writes.length} writes`);
    const declared = await planSectorSizeChange(target, change.to);
    t.is(declared.from, n === change.writes.length ? change.to : change.from, `after ${n} writes`);
  }
}

test('the writes come in an order where the volume opens in its old or new form after each one', async (t) => {
  await partition('ntfs-4k', 1, async (volume) => everyPrefixOpens(t, volume, await planSectorSizeChange(volume, 512)));
  await partition('mixed-mbr', 1, async (volume) => everyPrefixOpens(t, volume, await planSectorSizeChange(volume, 4096)));
  const fat32 = sparseFile(join(scratch.dir, 'fat32.img'), 300 << 20);
  run('mkfs.fat', ['-F', '32', fat32]);
  run('mmd', ['-i', fat32, '::/EFI']);
  const dev = await openFileDevice(fat32);
  try {
    const change = await planSectorSizeChange(dev, 4096);
    t.is(change.writes.length, 4, 'FSInfo, backup boot sector and backup FSInfo move, then sector 0');
    await everyPrefixOpens(t, dev, change);
  } finally {
    await dev.close();
  }
});

test('applying checks the device holds the planned volume, reads every write back, and may be repeated', async (t) => {
  await partition('ntfs-4k', 1, async (volume) => {
    const change = await planSectorSizeChange(volume, 512);
    await partition('uefi-gpt', 1, async (esp) => {
      const other = new Overlay(esp, 512);
      await t.throwsAsync(applySectorSizeChange(other, change), { instanceOf: UsageError, message: /does not hold the NTFS volume/ });
      t.is(other.writes.length, 0);
    });
    await t.throwsAsync(applySectorSizeChange(volume as WritableDevice, change), { instanceOf: UsageError, message: /not writable/ });

    const target = new Overlay(volume, 512);
    await applySectorSizeChange(target, change);
    const once = await target.read(0, 4096);
    await applySectorSizeChange(target, change);
    t.deepEqual(await target.read(0, 4096), once, 'a second apply changes nothing');

    const lossy = new Overlay(volume, 512);
    lossy.write = async () => {}; // a device that drops writes
    const e = await t.throwsAsync<LifeboatError>(applySectorSizeChange(lossy, change), { message: /reads back differently/ });
    t.is(e?.code, 'SECTOR_SIZE_VERIFY');
  });
});

/**
 * Disk → image → read back, on every fixture: every byte the plan stores reads back equal to
 * the source; excluded files' clusters are absent; forensic hashes equal sha256sum/md5sum of the
 * fixture file; the source is never written (its hash is the same before and after).
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { createReadStream, readdirSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, FIXTURE_NAMES, type FixtureName } from './helpers/fixtures.ts';
import { extractRange, scratchDir, tool } from './helpers/tools.ts';
import { MIN_SPLIT } from '../src/image/writer.ts';
import { openDiskImage, openFilesystem, partitionDevice, ImageReader, planBackup, runBackup, type BackupMode } from '../src/index.ts';

async function fileHash(path: string, algorithm = 'sha256'): Promise<string> {
  const h = createHash(algorithm);
  for await (const chunk of createReadStream(path)) h.update(chunk as Buffer);
  return h.digest('hex');
}

async function backup(name: FixtureName, mode: BackupMode, extra: Record<string, unknown> = {}) {
  const { image } = fixture(name);
  const scratch = scratchDir();
  const device = await openDiskImage(image);
  const plan = await planBackup(device, { mode, ...(extra.excludeDiffArea ? { excludeDiffArea: true } : {}) });
  const destination = join(scratch.dir, `${name}.lbimg`);
  const result = await runBackup(device, plan, { destination, threads: 2, ...extra });
  return { device, plan, result, destination, scratch };
}

async function compareStored(t: import('ava').ExecutionContext, source: { read(o: number, l: number): Promise<Uint8Array> }, reader: ImageReader, extents: ReadonlyArray<{ start: number; length: number }>) {
  const step = 1 << 20;
  let compared = 0;
  for (const e of extents) {
    for (let at = e.start; at < e.start + e.length; at += step) {
      const n = Math.min(step, e.start + e.length - at);
      const [a, b] = await Promise.all([source.read(at, n), reader.read(at, n)]);
      if (Buffer.compare(a, b) !== 0) {
        t.fail(`bytes differ in ${at}..${at + n}`);
        return;
      }
      compared += n;
    }
  }
  t.pass(`${compared} bytes compared`);
}

for (const name of FIXTURE_NAMES) {
  test(`${name}: intelligent backup reads back equal on every stored byte, excluded files absent`, async (t) => {
    const before = await fileHash(fixture(name).image);
    const { device, plan, result, destination, scratch } = await backup(name, 'intelligent');
    t.teardown(scratch.remove);
    const reader = await ImageReader.open(destination);
    t.teardown(() => reader.close());
    t.true(reader.complete);
    t.is(reader.metadata.state, 'complete');
    await compareStored(t, device, reader, plan.storedExtents.extents);
    for (const p of plan.partitions) {
      const { manifest } = fixture(name);
      const mp = manifest.partitions.find((q) => q.index === p.partition.index)!;
      if (['ntfs', 'fat12', 'fat16', 'fat32', 'exfat'].includes(mp.fs)) t.is(p.mode, 'intelligent', `partition ${mp.index}`);
      else t.regex(p.fallbackReason ?? '', /every sector is copied/, `partition ${mp.index}`);
      t.deepEqual(Object.fromEntries(p.excludedFiles.map((f) => [f.path.slice(1), f.size])), mp.excludedFiles ?? {});
      t.is(p.diffArea.bytes, mp.diffArea?.bytes ?? 0);
    }
    const leftOut = plan.partitions.reduce((s, p) => s + p.leftOutBytes, 0);
    t.is(leftOut, plan.partitions.flatMap((p) => p.excludedFiles).reduce((s, f) => s + f.allocated, 0));
    t.true(result.imageBytes < result.storedBytes || result.storedBytes < 1 << 22);
    await device.close();
    t.is(await fileHash(fixture(name).image), before, 'the source was not written');
  });
}

test('bios-mbr: excluded files are not in the image (they read back as zeros), the diff area is by default', async (t) => {
  const { device, plan, destination, scratch } = await backup('bios-mbr', 'intelligent');
  t.teardown(scratch.remove);
  const reader = await ImageReader.open(destination);
  t.teardown(() => reader.close());
  const win = plan.partitions.find((p) => p.partition.index === 2)!;
  t.is(win.excludedFiles.length, 3);
  const fs = (await openFilesystem(partitionDevice(device, win.partition.offset, win.partition.size), 'ntfs'))!;
  for (const f of win.excludedFiles) {
    t.true(f.allocated > 0);
    const extents = (await fs.fileExtents(f.path)).shift(win.partition.offset);
    t.is(extents.bytes, f.allocated);
    t.is(extents.intersect(plan.storedExtents).bytes, 0, `${f.path} clusters not stored`);
    for (const e of extents.extents) t.true((await reader.read(e.start, e.length)).every((b) => b === 0), `${f.path} reads back as zeros`);
  }
  // The pagefile is 4 MiB of random data: it would dominate a stored image.
  t.true(plan.storedExtents.bytes < win.usedBytes! + (2 << 20), 'the stored bytes exclude page, hiber and swap contents');
  t.is(win.diffArea.excluded, false);
  t.true(win.diffArea.bytes > 0);
  await device.close();
});

test('--exclude-diff-area leaves the VSS store data out and says how much', async (t) => {
  const plain = await backup('uefi-gpt', 'intelligent');
  t.teardown(plain.scratch.remove);
  const lean = await backup('uefi-gpt', 'intelligent', { excludeDiffArea: true });
  t.teardown(lean.scratch.remove);
  const win = (p: typeof plain.plan) => p.partitions.find((q) => q.partition.index === 3)!;
  t.true(win(lean.plan).diffArea.excluded);
  t.is(win(plain.plan).extents.bytes - win(lean.plan).extents.bytes, win(lean.plan).diffArea.files.reduce((s, f) => s + f.allocated, 0));
  await plain.device.close();
  await lean.device.close();
});

for (const name of ['bios-mbr', 'mixed-mbr'] as const) {
  test(`${name}: forensic image hashes equal sha256sum and md5sum of the device, and its stream is the device`, async (t) => {
    const { device, result, destination, scratch } = await backup(name, 'forensic', { hashes: ['md5', 'sha1'] });
    t.teardown(scratch.remove);
    const image = fixture(name).image;
    t.is(result.hashes!.sha256, tool('sha256sum', [image]).split(' ')[0]);
    t.is(result.hashes!.md5, tool('md5sum', [image]).split(' ')[0]);
    t.is(result.hashes!.sha1, tool('sha1sum', [image]).split(' ')[0]);
    const reader = await ImageReader.open(destination);
    t.teardown(() => reader.close());
    await compareStored(t, device, reader, [{ start: 0, length: device.size }]);
    t.true(result.zeroChunks > 0, 'empty regions are not stored');
    await device.close();
  });
}

test('sector mode stores every sector of each partition except the excluded files', async (t) => {
  const { device, plan, destination, scratch } = await backup('bios-mbr', 'sector');
  t.teardown(scratch.remove);
  const win = plan.partitions.find((p) => p.partition.index === 2)!;
  const excluded = win.excludedFiles.reduce((s, f) => s + f.allocated, 0);
  t.is(win.extents.bytes, win.partition.size - excluded);
  const reader = await ImageReader.open(destination);
  t.teardown(() => reader.close());
  await compareStored(t, device, reader, plan.storedExtents.extents);
  // Sector mode keeps deleted data: the marker left in free space is in the image.
  const marker = Buffer.from(fixture('bios-mbr').manifest.partitions[1]!.deletedMarker!);
  const bytes = Buffer.from(await reader.read(win.partition.offset, win.partition.size));
  t.true(bytes.includes(marker));
  await device.close();
});

test('encrypted, split image: reads back with the passphrase, parts respect the split size', async (t) => {
  const split = MIN_SPLIT;
  const { device, plan, result, destination, scratch } = await backup('uefi-gpt', 'forensic', { passphrase: 'correct horse', splitSize: split, level: 1 });
  t.teardown(scratch.remove);
  t.true(result.parts > 1);
  const parts = readdirSync(scratch.dir).filter((f) => f.startsWith('uefi-gpt.lbimg'));
  t.is(parts.length, result.parts);
  for (const f of parts) t.true((await import('node:fs')).statSync(join(scratch.dir, f)).size <= split);
  const reader = await ImageReader.open(destination, { passphrase: 'correct horse' });
  t.teardown(() => reader.close());
  await compareStored(t, device, reader, plan.storedExtents.extents);
  await t.throwsAsync(ImageReader.open(destination, { passphrase: 'wrong' }), { code: 'WRONG_PASSPHRASE' });
  await t.throwsAsync(ImageReader.open(destination), { code: 'PASSPHRASE_NEEDED', message: /encrypted: a passphrase is needed/ });
  await device.close();
});

test('an image written by zstd-codec workers reads back with Node\'s codec, and the reverse', async (t) => {
  const { loadWasmCodec } = await import('../src/codec/zstd.ts');
  const { device, plan, destination, scratch } = await backup('mixed-mbr', 'intelligent', { workerCodec: 'zstd-codec' });
  t.teardown(scratch.remove);
  const viaNode = await ImageReader.open(destination);
  t.teardown(() => viaNode.close());
  await compareStored(t, device, viaNode, plan.storedExtents.extents);
  const other = await backup('mixed-mbr', 'intelligent');
  t.teardown(other.scratch.remove);
  const viaWasm = await ImageReader.open(other.destination, { codec: await loadWasmCodec() });
  t.teardown(() => viaWasm.close());
  await compareStored(t, device, viaWasm, plan.storedExtents.extents);
  await device.close();
  await other.device.close();
});

test('a bare NTFS volume (no partition table) is backed up by its allocation, not as an empty disk', async (t) => {
  const { image, manifest } = fixture('bios-mbr');
  const win = manifest.partitions.find((p) => p.role === 'windows')!;
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const volume = extractRange(image, win.startLba * 512, win.sizeLba * 512, join(scratch.dir, 'volume.img'));
  const device = await openDiskImage(volume);
  t.teardown(() => device.close());
  const plan = await planBackup(device, { mode: 'intelligent' });
  t.is(plan.layout.scheme, 'none');
  t.is(plan.partitions.length, 1);
  t.is(plan.partitions[0]!.mode, 'intelligent');
  t.is(plan.partitions[0]!.usedBytes, (win.reading as { usedClusters: number }).usedClusters * 4096);
  t.true(plan.storedExtents.bytes > 8 << 20, 'the volume\'s data is planned, not just its first MiB');
  const destination = join(scratch.dir, 'volume.lbimg');
  await runBackup(device, plan, { destination, threads: 2 });
  const reader = await ImageReader.open(destination);
  t.teardown(() => reader.close());
  await compareStored(t, device, reader, plan.storedExtents.extents);
});

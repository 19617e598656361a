/**
 * growNtfs against independent tools: volumes made by mkntfs and filled through ntfs-3g are
 * copied into larger files (a volume restored into a larger partition), grown, and then judged
 * by ntfsfix, ntfsresize, ntfsinfo, ntfscat, df and the ntfs-3g driver itself.
 */
import test from 'ava';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir, readBytes } from '../../../test/helpers/tools.ts';
import { openFileDevice } from '../../device/file-device.ts';
import { growNtfs, type GrowResult } from './grow.ts';
import { checkGrown, copyInto, df, fileHash, mkntfs, ntfscatHash, ntfsinfoVolume, plantedNtfs, pseudoRandom, run, runAll, sha256, withNtfs3g } from './test-volumes.ts';

const MiB = 1 << 20;
const scratch = scratchDir('lifeboat-grow-');
const plantedVolume = (name: string, size: number, args: string[]) => plantedNtfs(join(scratch.dir, `${name}.base.img`), size, args);
test.after.always(() => scratch.remove());

const bases = {
  sector512: plantedVolume('s512', 64 * MiB, []),
  sector4096: plantedVolume('s4096', 64 * MiB, ['-s', '4096']),
  cluster64k: plantedVolume('c64k', 64 * MiB, ['-c', '65536']),
};

async function grow(image: string, newSize?: number): Promise<GrowResult> {
  const dev = await openFileDevice(image, { writable: true });
  try {
    return await growNtfs(dev, newSize ?? dev.size);
  } finally {
    await dev.close();
  }
}


test('a 64 MiB volume in a 256 MiB partition grows to fill it; ntfs-3g then stores 100 MiB in the added space', async (t) => {
  const { image: base, planted } = await bases.sector512;
  const image = copyInto(base, join(scratch.dir, 'grow512.img'), 256 * MiB);
  const before = ntfsinfoVolume(image);
  const r = await grow(image);
  t.is(r.oldClusters, 16383);
  t.is(r.newNumberOfSectors, 256 * MiB / 512 - 1, 'sectors = partition sectors - 1, as mkntfs writes');
  t.is(r.newClusters, 65535);
  t.is(r.bitmap.newSize, 8192);
  t.deepEqual(r.mirroredRecords, []);
  t.not(r.bitmap.placement, 'added-space');
  await checkGrown(t, image, r, { free: before.freeClusters, clusters: before.clusters }, planted);

  const big = pseudoRandom(99, 100 * MiB);
  await withNtfs3g(image, (dir) => {
    t.is(df(dir).size, r.newClusters * r.clusterSize, 'df shows the new size');
    writeFileSync(join(dir, 'big.bin'), big);
  });
  t.is(ntfscatHash(image, '/big.bin'), sha256(big));
  const runs = [...run('ntfsinfo', ['-v', '-F', '/big.bin', image]).matchAll(/^\s+0x[0-9a-f]+\s+0x([0-9a-f]+)\s+0x([0-9a-f]+)$/gim)];
  t.true(runs.some((m) => Number.parseInt(m[1]!, 16) + Number.parseInt(m[2]!, 16) > r.oldClusters), 'the file lies (partly) in the added clusters');
  const fix = runAll('ntfsfix', ['-n', image]);
  t.regex(fix.output, /Checking the alternate boot sector\.\.\. OK/);
  t.is(runAll('ntfsresize', ['--info', '--force', '--no-progress-bar', image]).code, 0);
  for (const [rel, hash] of Object.entries(planted)) t.is(ntfscatHash(image, `/${rel}`), hash, rel);
});

test('a 4096-byte-sector volume (4 KiB MFT records) grows; the backup boot sector is the last 4096-byte sector', async (t) => {
  const { image: base, planted } = await bases.sector4096;
  const image = copyInto(base, join(scratch.dir, 'grow4k.img'), 192 * MiB);
  const before = ntfsinfoVolume(image);
  const r = await grow(image);
  t.is(r.bytesPerSector, 4096);
  t.is(r.newNumberOfSectors, 192 * MiB / 4096 - 1);
  await checkGrown(t, image, r, { free: before.freeClusters, clusters: before.clusters }, planted);
  const extra = pseudoRandom(5, 80 * MiB);
  await withNtfs3g(image, (dir) => {
    t.is(df(dir).size, r.newClusters * r.clusterSize);
    writeFileSync(join(dir, 'extra.bin'), extra);
  });
  t.is(ntfscatHash(image, '/extra.bin'), sha256(extra));
});

test('64 KiB clusters: $MFTMirr holds a whole cluster of records, so records 6 and 8 are written to it too', async (t) => {
  const { image: base, planted } = await bases.cluster64k;
  const image = copyInto(base, join(scratch.dir, 'grow64k.img'), 256 * MiB);
  const before = ntfsinfoVolume(image);
  const r = await grow(image);
  t.is(r.clusterSize, 65536);
  t.deepEqual([...r.mirroredRecords].sort(), [6, 8]);
  await checkGrown(t, image, r, { free: before.freeClusters, clusters: before.clusters }, planted);
  t.regex(run('ntfsfix', ['-n', image]), /Processing of \$MFT and \$MFTMirr completed successfully/);
});

test('growing by a single cluster (the partition is one sector longer) and then again by a larger step', async (t) => {
  const { image: base, planted } = await bases.sector512;
  const image = copyInto(base, join(scratch.dir, 'steps.img'), 64 * MiB + 512);
  let before = ntfsinfoVolume(image);
  const one = await grow(image);
  t.is(one.addedClusters, 1);
  t.is(one.bitmap.placement, 'unchanged', '16384 bits still fit the 2048-byte $Bitmap');
  await checkGrown(t, image, one, { free: before.freeClusters, clusters: before.clusters }, planted);
  run('truncate', ['-s', String(3 * 1024 * MiB), image]);
  before = ntfsinfoVolume(image);
  const big = await grow(image);
  t.is(big.oldClusters, 16384);
  t.true(big.bitmap.allocated !== undefined && big.bitmap.allocated.length > 1, '$Bitmap needed more clusters');
  t.true(big.bitmap.runs.length >= 2);
  await checkGrown(t, image, big, { free: before.freeClusters, clusters: before.clusters }, planted);
});

test('a full volume: $Bitmap has no free cluster left inside it and takes one from the added space', async (t) => {
  const image = mkntfs(join(scratch.dir, 'full.img'), 64 * MiB, []);
  await withNtfs3g(image, (dir) => {
    for (let i = 0; ; i++) {
      try {
        writeFileSync(join(dir, `fill${i}`), Buffer.alloc(i < 1000 ? MiB : 4096));
      } catch {
        if (i < 1000) continue; // switch to small files to use the last clusters
        break;
      }
    }
  });
  t.is(ntfsinfoVolume(image).freeClusters, 0);
  const hash = ntfscatHash(image, '/fill3');
  run('truncate', ['-s', String(256 * MiB), image]);
  const r = await grow(image);
  t.is(r.bitmap.placement, 'added-space');
  t.true(r.bitmap.allocated!.lcn >= r.oldClusters);
  t.regex(r.warnings.join('\n'), /no free run/);
  await checkGrown(t, image, r, { free: 0, clusters: r.oldClusters }, { fill3: hash });
});

test('a new size below the device size: the volume ends there and nothing is written past it', async (t) => {
  const { image: base } = await bases.sector512;
  const image = copyInto(base, join(scratch.dir, 'describe.img'), 128 * MiB);
  const before = fileHash(base);
  const r = await grow(image, 100 * MiB);
  t.is(r.newNumberOfSectors, 100 * MiB / 512 - 1);
  t.is(fileHash(base), before);
  t.deepEqual(readBytes(image, 100 * MiB, 4096), Buffer.alloc(4096), 'nothing written past newSize');
  const fix = runAll('ntfsfix', ['-n', image]);
  t.regex(fix.output, /Mounting volume\.\.\. OK/);
  t.is(ntfsinfoVolume(image).clusters, r.newClusters);
});


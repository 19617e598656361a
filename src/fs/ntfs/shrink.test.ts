/**
 * shrinkNtfs / planNtfsShrink + applyNtfsShrink against independent tools: volumes made by mkntfs
 * and filled through ntfs-3g are shrunk in place or planned on the full volume and applied to a
 * copy of its first bytes (a restore onto a smaller partition), then judged by ntfsfix,
 * ntfsresize, ntfsinfo, ntfscat, ntfscluster, df and the ntfs-3g driver; ntfsresize shrinks the
 * same volumes for comparison. Refusals leave every byte as it was.
 */
import test, { type ExecutionContext } from 'ava';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir } from '../../../test/helpers/tools.ts';
import type { WritableDevice } from '../../device/block-device.ts';
import { openFileDevice } from '../../device/file-device.ts';
import { MemoryDevice } from '../../device/memory-device.ts';
import type { LifeboatError } from '../../errors.ts';
import { openNtfs } from './ntfs-volume.ts';
import { attributeSlots, encodeFixups, rewriteNonResident, withFixupsApplied } from './record-write.ts';
import { ATTR, type NonResidentAttr } from './record.ts';
import { applyNtfsShrink, ntfsShrinkLimit, planNtfsShrink, shrinkNtfs, type ShrinkResult } from './shrink.ts';
import {
  bootNumberOfSectors, checkShrunk, copyInto, df, fileHash, lastSetBit, mkntfs, ntfscatBitmap, ntfscatHash, ntfsclusterOwner,
  ntfsinfoVolume, plantedNtfs, pseudoRandom, run, runAll, sha256, withNtfs3g, type Planted,
} from './test-volumes.ts';

const MiB = 1 << 20;
const scratch = scratchDir('lifeboat-shrink-');
test.after.always(() => scratch.remove());
const plantedVolume = (name: string, args: string[]) => plantedNtfs(join(scratch.dir, `${name}.base.img`), 64 * MiB, args);

const bases = {
  sector512: plantedVolume('s512', []),
  sector4096: plantedVolume('s4096', ['-s', '4096']),
  cluster64k: plantedVolume('c64k', ['-c', '65536']),
  // 512-byte clusters: $Bitmap spans 32 clusters, of which a 40 MiB volume needs 20.
  cluster512: plantedVolume('c512', ['-c', '512']),
  // A 40 MiB pagefile.sys: ntfs-3g fills the data zone up to $MFTMirr, then goes on after $LogFile.
  late: (async () => {
    const image = mkntfs(join(scratch.dir, 'late.base.img'), 64 * MiB, []);
    await withNtfs3g(image, (dir) => writeFileSync(join(dir, 'pagefile.sys'), pseudoRandom(3, 40 * MiB)));
    return image;
  })(),
};

async function withDevice<T>(image: string, fn: (dev: WritableDevice) => Promise<T>): Promise<T> {
  const dev = await openFileDevice(image, { writable: true });
  try {
    return await fn(dev);
  } finally {
    await dev.close();
  }
}

async function limitOf(image: string) {
  const dev = await openFileDevice(image);
  try {
    return await ntfsShrinkLimit(dev);
  } finally {
    await dev.close();
  }
}

/** Plan on the whole volume file, then apply to a new file holding its first `newSize` bytes. */
async function restoreShrunk(base: string, name: string, newSize: number): Promise<{ image: string; r: ShrinkResult }> {
  const source = await openFileDevice(base);
  const plan = await planNtfsShrink(source, newSize).finally(() => source.close());
  const image = copyInto(base, join(scratch.dir, name), newSize);
  const r = await withDevice(image, (dev) => applyNtfsShrink(dev, plan));
  return { image, r };
}

/** The same volume shrunk by ntfsresize (which may move data; here it need not). */
function ntfsresizeShrunk(base: string, name: string, newSize: number) {
  const image = copyInto(base, join(scratch.dir, name), 64 * MiB);
  run('ntfsresize', ['-f', '-f', '--no-progress-bar', '-s', String(newSize), image]);
  const info = run('ntfsinfo', ['--force', '-m', image]); // ntfsresize leaves the volume marked for chkdsk
  const clusters = Number(/Volume Size in Clusters: (\d+)/.exec(info)?.[1]);
  const free = Number(/Free Clusters: (\d+)/.exec(info)?.[1]);
  return { numberOfSectors: bootNumberOfSectors(image), clusters, used: clusters - free, bitmapSize: ntfscatBitmap(image).length };
}

/** The ntfs-3g driver mounts the shrunk volume at its new size and stores a new file. */
async function mountsAndStores(t: ExecutionContext, image: string, r: ShrinkResult): Promise<void> {
  const extra = pseudoRandom(11, 2 * MiB + 5);
  await withNtfs3g(image, (dir) => {
    t.is(df(dir).size, r.newClusters * r.clusterSize, 'df shows the new size');
    writeFileSync(join(dir, 'after-shrink.bin'), extra);
  });
  t.is(ntfscatHash(image, '/after-shrink.bin'), sha256(extra));
  t.regex(runAll('ntfsfix', ['-n', image]).output, /Checking the alternate boot sector\.\.\. OK/);
}

test('ntfsShrinkLimit finds the last used cluster that $Bitmap (read by ntfscat) shows, and its owner as ntfscluster names it', async (t) => {
  const { image } = await bases.sector512;
  const limit = await limitOf(image);
  const info = ntfsinfoVolume(image);
  t.is(limit.clusters, info.clusters);
  t.is(limit.lastUsedCluster, lastSetBit(ntfscatBitmap(image), info.clusters));
  t.is(limit.owner, ntfsclusterOwner(image, limit.lastUsedCluster));
  t.is(limit.owner, '\\data\\blob.bin', 'ntfs-3g put the 3 MiB file past $LogFile');
  t.is(limit.minimumSize, (limit.lastUsedCluster + 1) * 4096 + 512);
  const advice = /You might resize at (\d+) bytes/.exec(run('ntfsresize', ['--info', '--force', '--no-progress-bar', image]));
  t.true(Number(advice?.[1]) <= limit.minimumSize, 'ntfsresize, which can move data, can go at least as far');
  t.is(ntfsclusterOwner(image, limit.lastUsedCluster + 1), undefined, 'nothing lies past it');

  const empty = mkntfs(join(scratch.dir, 'empty.img'), 64 * MiB, []);
  const bare = await limitOf(empty);
  t.is(bare.owner, '\\$LogFile', 'mkntfs puts $MFTMirr and then $LogFile in the middle of the volume');
  t.is(bare.lastUsedCluster, lastSetBit(ntfscatBitmap(empty), bare.clusters));
  t.is(bare.lastUsedCluster, 8191 + 512, '$MFTMirr at cluster 8191, then 2 MiB of $LogFile');
});

test('in place to exactly the minimum size: the tools accept the volume at its new size, files unchanged; one byte less is refused', async (t) => {
  const { image: base, planted } = await bases.sector512;
  const image = copyInto(base, join(scratch.dir, 'inplace.img'), 64 * MiB);
  const before = ntfsinfoVolume(image);
  const limit = await limitOf(image);

  const hash = fileHash(image);
  const err = await t.throwsAsync(withDevice(image, (dev) => shrinkNtfs(dev, limit.minimumSize - 1)), { code: 'USAGE' }) as LifeboatError;
  t.is(err.data.reason, 'data-beyond-end');
  t.is(err.data.neededBytes, limit.minimumSize);
  t.is(fileHash(image), hash, 'nothing written');

  const r = await withDevice(image, (dev) => shrinkNtfs(dev, limit.minimumSize));
  t.is(r.newClusters, limit.lastUsedCluster + 1);
  t.is(r.newNumberOfSectors, limit.minimumSize / 512 - 1);
  t.is(r.removedClusters, before.clusters - r.newClusters);
  t.deepEqual(r.recordsWritten, [8, 6]);
  t.deepEqual(r.mirroredRecords, [], '4 KiB clusters: $MFTMirr holds records 0-3 only');
  t.deepEqual(r.warnings, []);
  run('truncate', ['-s', String(limit.minimumSize), image]); // the partition shrinks too
  await checkShrunk(t, image, r, { free: before.freeClusters, clusters: before.clusters }, planted);
  await mountsAndStores(t, image, r);
});

/**
 * Restore form to the minimum size rounded up to a MiB, judged by the tools and compared with
 * ntfsresize on the same volume.
 */
async function restoreCase(t: ExecutionContext, base: { image: string; planted: Planted }, name: string): Promise<ShrinkResult> {
  const before = ntfsinfoVolume(base.image);
  const limit = await limitOf(base.image);
  const newSize = Math.ceil(limit.minimumSize / MiB) * MiB;
  t.true(newSize < 64 * MiB, `the volume can shrink (minimum ${limit.minimumSize})`);
  const baseHash = fileHash(base.image);
  const { image, r } = await restoreShrunk(base.image, `${name}.img`, newSize);
  t.is(fileHash(base.image), baseHash, 'the source volume is not written');
  const spc = r.clusterSize / r.bytesPerSector;
  t.is(r.newNumberOfSectors, newSize / r.bytesPerSector - 1);
  t.is(r.newClusters, Math.floor(r.newNumberOfSectors / spc));
  await checkShrunk(t, image, r, { free: before.freeClusters, clusters: before.clusters }, base.planted);
  await mountsAndStores(t, image, r);

  const theirs = ntfsresizeShrunk(base.image, `${name}.ntfsresize.img`, newSize);
  t.is(theirs.clusters, r.newClusters, 'ntfsresize arrives at the same cluster count');
  t.is(theirs.bitmapSize, r.bitmap.newSize, 'and the same $Bitmap length');
  t.is(theirs.used, r.usedClustersAfter, 'and the same used clusters');
  t.is(theirs.numberOfSectors, r.newClusters * spc, 'ntfsresize writes whole clusters (its backup boot sector is left to chkdsk)');
  return r;
}

test('restore form, 512-byte sectors: planned on the 64 MiB volume, applied to a copy of its start', async (t) => {
  const r = await restoreCase(t, await bases.sector512, 'restore512');
  t.is(r.oldClusters, 16383);
  t.is(r.newClusters, 54 * 256 - 1);
  t.is(r.bitmap.newSize, 1728);
});

test('restore form, 4096-byte sectors (4 KiB MFT records): the backup boot sector is the last 4096-byte sector', async (t) => {
  const r = await restoreCase(t, await bases.sector4096, 'restore4k');
  t.is(r.bytesPerSector, 4096);
  t.is(r.backupBootSectorOffset, (r.newNumberOfSectors + 1) * 4096 - 4096);
});

test('restore form, 64 KiB clusters: $MFTMirr holds records 6 and 8 too and is rewritten', async (t) => {
  const r = await restoreCase(t, await bases.cluster64k, 'restore64k');
  t.is(r.clusterSize, 65536);
  t.deepEqual(r.mirroredRecords, [8, 6]);
});

test('512-byte clusters: $Bitmap gives up the clusters it no longer needs, and they become free', async (t) => {
  const base = await bases.cluster512;
  const r = await restoreCase(t, base, 'restore512c');
  t.is(r.clusterSize, 512);
  t.is(r.bitmap.oldSize, 16384);
  t.is(r.bitmap.newSize, Math.ceil(r.newClusters / 64) * 8);
  const kept = Math.ceil(r.bitmap.newSize / 512);
  t.true(kept < 32);
  t.is(r.bitmap.runs.reduce((s, x) => s + x.length, 0), kept);
  t.is(r.bitmap.freed.reduce((s, f) => s + f.length, 0), 32 - kept);
  t.is(r.usedClustersAfter, r.usedClustersBefore - (32 - kept));
});

test('one sector less: no cluster is removed, only the boot sectors move (restore form)', async (t) => {
  const { image: base, planted } = await bases.sector512;
  const before = ntfsinfoVolume(base);
  const { image, r } = await restoreShrunk(base, 'sector-less.img', 64 * MiB - 512);
  t.is(r.removedClusters, 0);
  t.is(r.newNumberOfSectors, r.oldNumberOfSectors - 1);
  t.deepEqual(r.bitmap.freed, []);
  await checkShrunk(t, image, r, { free: before.freeClusters, clusters: before.clusters }, planted);
});

test('data past the new end is refused, naming the file that holds it and the size needed', async (t) => {
  const base = await bases.late;
  const limit = await limitOf(base);
  t.is(limit.owner, '\\pagefile.sys');
  t.is(ntfsclusterOwner(base, limit.lastUsedCluster), '\\pagefile.sys');
  t.is(limit.lastUsedCluster, lastSetBit(ntfscatBitmap(base), limit.clusters));
  const image = copyInto(base, join(scratch.dir, 'late.img'), 64 * MiB);
  const hash = fileHash(image);
  const err = await t.throwsAsync(withDevice(image, (dev) => shrinkNtfs(dev, 40 * MiB)), { code: 'USAGE' }) as LifeboatError;
  t.is(fileHash(image), hash, 'nothing written');
  t.is(err.data.reason, 'data-beyond-end');
  t.is(err.data.owner, '\\pagefile.sys');
  t.is(err.data.lastUsedCluster, limit.lastUsedCluster);
  t.is(err.data.neededBytes, limit.minimumSize);
  t.regex(err.message, new RegExp(`^cannot shrink the NTFS volume on .*late\\.img to ${40 * MiB} bytes: cluster ${limit.lastUsedCluster} \\(owned by \\\\pagefile\\.sys\\) lies past the new end.*needs at least ${limit.minimumSize} bytes$`));
});

test('a cluster a file uses past the new end but $Bitmap marks free ("missing" bit) is refused: chkdsk first', async (t) => {
  const base = await bases.late;
  const image = copyInto(base, join(scratch.dir, 'missing.img'), 64 * MiB);
  const newSize = 48 * MiB;
  const newClusters = Math.floor((newSize / 512 - 1) / 8);
  // Clear every $Bitmap bit from the new end on: only pagefile.sys still uses those clusters.
  const dev = await openFileDevice(image, { writable: true });
  const vol = await openNtfs(dev);
  const bitmapRuns = ((await vol.mft.file(6)).attributes.find((a) => a.type === ATTR.data) as NonResidentAttr).runs;
  t.is(bitmapRuns.length, 1);
  const at = bitmapRuns[0]!.lcn! * 4096;
  const bytes = await dev.read(at, 2048);
  for (let c = newClusters; c < vol.geometry.clusters; c++) bytes[c >> 3]! &= ~(1 << (c & 7));
  await dev.write(at, bytes);
  await dev.close();
  t.true(lastSetBit(ntfscatBitmap(image), 16383) < newClusters, '$Bitmap shows nothing past the new end');
  t.is(ntfsclusterOwner(image, newClusters + 1), '\\pagefile.sys', 'but the file is there');

  const hash = fileHash(image);
  const err = await t.throwsAsync(withDevice(image, (d) => shrinkNtfs(d, newSize)), { code: 'USAGE' }) as LifeboatError;
  t.is(fileHash(image), hash, 'nothing written');
  t.is(err.data.reason, 'missing-cluster');
  t.is(err.data.owner, '\\pagefile.sys');
  t.is(err.data.cluster, newClusters);
  t.regex(err.message, /\\pagefile\.sys \(MFT record \d+\) uses cluster \d+, past the new end, although \$Bitmap marks it free.*chkdsk \/f/);
});

test('sizes that do not shrink, and read-only devices, are refused before anything is written', async (t) => {
  const { image: base } = await bases.sector512;
  const image = copyInto(base, join(scratch.dir, 'refuse.img'), 64 * MiB);
  const hash = fileHash(image);
  for (const [size, reason] of [[64 * MiB, 'not-smaller'], [128 * MiB, 'not-smaller'], [0, 'bad-size'], [1.5, 'bad-size'], [1024, 'data-beyond-end']] as const) {
    const err = await t.throwsAsync(withDevice(image, (dev) => shrinkNtfs(dev, size)), { code: 'USAGE' }) as LifeboatError;
    t.is(err.data.reason, reason, `${size}: ${err.message}`);
  }
  const ro = await openFileDevice(image);
  const err = await t.throwsAsync(shrinkNtfs(ro as unknown as WritableDevice, 60 * MiB), { code: 'USAGE' }) as LifeboatError;
  t.is(err.data.reason, 'read-only');
  const plan = await planNtfsShrink(ro, 60 * MiB);
  const applied = await t.throwsAsync(applyNtfsShrink(ro as unknown as WritableDevice, plan), { code: 'USAGE' }) as LifeboatError;
  t.is(applied.data.reason, 'read-only');
  await ro.close();
  t.is(fileHash(image), hash, 'nothing written');
});

test('applying a plan to a target too small, or holding another volume, is refused', async (t) => {
  const { image: base } = await bases.sector512;
  const source = await openFileDevice(base);
  const plan = await planNtfsShrink(source, 60 * MiB);
  await source.close();
  const small = copyInto(base, join(scratch.dir, 'small.img'), 60 * MiB - 512);
  const other = copyInto((await bases.sector4096).image, join(scratch.dir, 'other.img'), 60 * MiB);
  for (const [image, reason] of [[small, 'target-too-small'], [other, 'target-mismatch']] as const) {
    const hash = fileHash(image);
    const err = await t.throwsAsync(withDevice(image, (dev) => applyNtfsShrink(dev, plan)), { code: 'USAGE' }) as LifeboatError;
    t.is(err.data.reason, reason, err.message);
    t.is(fileHash(image), hash, 'nothing written');
  }
});

test('a dirty volume is refused until chkdsk has run', async (t) => {
  const { image: base } = await bases.sector512;
  const image = copyInto(base, join(scratch.dir, 'dirty.img'), 64 * MiB);
  run('ntfsfix', [image]); // leaves VOLUME_IS_DIRTY set (filesystems.md 11.4)
  const hash = fileHash(image);
  const err = await t.throwsAsync(withDevice(image, (dev) => shrinkNtfs(dev, 60 * MiB)), { code: 'USAGE' }) as LifeboatError;
  t.is(err.data.reason, 'volume-state');
  t.regex(err.message, /VOLUME_IS_DIRTY/);
  t.is(fileHash(image), hash);
});

test('a bad cluster listed in $BadClus past the new end is refused', async (t) => {
  const { image: base } = await bases.sector512;
  const bytes = new Uint8Array(readFileSync(base));
  const dev = new MemoryDevice(bytes, { name: 'memory volume' });
  const vol = await openNtfs(dev);
  const { clusters, clusterSize: cs } = vol.geometry;
  const bad = 15500; // past the new end of 60 MiB (15359 clusters), after every used cluster
  const at = vol.mft.recordOffset(8);
  const size = vol.geometry.mftRecordSize;
  const clean = withFixupsApplied(bytes.slice(at, at + size), 'record 8', at);
  const slot = attributeSlots(clean, 'record 8', at).find((s) => s.type === ATTR.data && s.name === '$Bad')!;
  const runs = [{ vcn: 0, lcn: null, length: bad }, { vcn: bad, lcn: bad, length: 1 }, { vcn: bad + 1, lcn: null, length: clusters - bad - 1 }];
  bytes.set(encodeFixups(rewriteNonResident(clean, slot.offset, { runs, allocatedSize: clusters * cs, dataSize: clusters * cs, initializedSize: 0 }, 'record 8', at), 'record 8', at), at);
  const bitmapAt = ((await vol.mft.file(6)).attributes.find((a) => a.type === ATTR.data) as NonResidentAttr).runs[0]!.lcn! * cs;
  bytes[bitmapAt + (bad >> 3)]! |= 1 << (bad & 7); // chkdsk marks a bad cluster used
  const hash = sha256(bytes);
  const err = await t.throwsAsync(shrinkNtfs(dev, 60 * MiB), { code: 'USAGE' }) as LifeboatError;
  t.is(err.data.reason, 'bad-cluster-beyond-end', err.message);
  t.is(err.data.cluster, bad);
  t.is(err.data.neededBytes, (bad + 1) * cs + 512);
  t.is(sha256(bytes), hash, 'nothing written');
});

test('an apply cut off while writing the records can be applied again to finish', async (t) => {
  const { image: base, planted } = await bases.sector512;
  const source = await openFileDevice(base);
  const plan = await planNtfsShrink(source, 60 * MiB);
  await source.close();
  const image = copyInto(base, join(scratch.dir, 'cut.img'), 60 * MiB);
  let writes = 0;
  const err = await t.throwsAsync(withDevice(image, (dev) => applyNtfsShrink({
    ...dev, name: dev.name, size: dev.size, sectorSize: dev.sectorSize, writable: true,
    read: (o, l) => dev.read(o, l), flush: () => dev.flush(), close: () => dev.close(),
    write: async (o, d) => {
      if (++writes === 3) throw new Error('power cut'); // padding, record 8, then record 6 fails
      return dev.write(o, d);
    },
  }, plan))) as LifeboatError;
  t.is(err.code, 'NTFS_SHRINK_INTERRUPTED');
  t.is(err.data.step, 'records');
  const r = await withDevice(image, (dev) => applyNtfsShrink(dev, plan));
  const before = ntfsinfoVolume(base);
  await checkShrunk(t, image, r, { free: before.freeClusters, clusters: before.clusters }, planted);
});

/**
 * A grow cut off at each of its writes (a device that fails one write, as a power cut would):
 * the volume must keep its old size and its files for ntfs-3g, ntfsinfo, ntfscat and openNtfs,
 * and running growNtfs again must finish the job.
 */
import test from 'ava';
import { join } from 'node:path';
import { scratchDir } from '../../../test/helpers/tools.ts';
import type { WritableDevice } from '../../device/block-device.ts';
import { openFileDevice } from '../../device/file-device.ts';
import type { LifeboatError } from '../../errors.ts';
import { growNtfs, planNtfsGrow } from './grow.ts';
import { openNtfs } from './ntfs-volume.ts';
import { streamRanges } from './record-write.ts';
import { checkGrown, copyInto, df, ntfscatHash, ntfsinfoVolume, plantedNtfs, runAll, withNtfs3g } from './test-volumes.ts';

const MiB = 1 << 20;
const scratch = scratchDir('lifeboat-grow-cut-');
test.after.always(() => scratch.remove());
const base = plantedNtfs(join(scratch.dir, 'base.img'), 64 * MiB, []);

/** A device whose `n`-th write matching `which` fails before reaching the file. */
function failing(dev: WritableDevice, which: (offset: number) => boolean, n = 1): WritableDevice {
  let hits = 0;
  return {
    name: dev.name, size: dev.size, sectorSize: dev.sectorSize, writable: true,
    read: (o, l) => dev.read(o, l),
    flush: () => dev.flush(),
    close: () => dev.close(),
    write: async (o, d) => {
      if (which(o) && ++hits === n) throw new Error('power cut');
      return dev.write(o, d);
    },
  };
}

interface Cut {
  name: string;
  step: string;
  /** The failing write, from the plan. */
  which: (plan: Awaited<ReturnType<typeof planNtfsGrow>>) => { at: (o: number) => boolean; n?: number };
  /** ntfsresize's full consistency check still passes on the interrupted volume. */
  consistent: boolean;
  /** The clusters the first attempt gave $Bitmap are marked used (and whether no record names them). */
  takes: boolean;
  leaks: boolean;
}

const recordAt = (plan: Awaited<ReturnType<typeof planNtfsGrow>>, n: number) =>
  streamRanges(plan.mftRuns, plan.result.clusterSize, n * plan.mftRecordSize, plan.mftRecordSize, '$MFT')[0]!.volumeOffset;
const firstBitmapWrite = (plan: Awaited<ReturnType<typeof planNtfsGrow>>) =>
  streamRanges(plan.bitmapWrite.runs, plan.result.clusterSize, plan.bitmapWrite.from, 1, '$Bitmap')[0]!.volumeOffset;

const cuts: Cut[] = [
  { name: 'the first $Bitmap write', step: 'bitmap', which: () => ({ at: () => true }), consistent: true, takes: false, leaks: false },
  { name: 'record 6 ($Bitmap)', step: 'records', which: (p) => ({ at: (o) => o === recordAt(p, 6) }), consistent: false, takes: true, leaks: true },
  { name: 'record 8 ($BadClus)', step: 'records', which: (p) => ({ at: (o) => o === recordAt(p, 8) }), consistent: true, takes: true, leaks: false },
  { name: 'the final $Bitmap bytes', step: 'bitmap', which: (p) => ({ at: (o) => o === firstBitmapWrite(p), n: 2 }), consistent: true, takes: true, leaks: false },
  { name: 'the backup boot sector', step: 'backup boot sector', which: (p) => ({ at: (o) => o === p.result.backupBootSectorOffset }), consistent: false, takes: true, leaks: false },
  { name: 'the boot sector', step: 'boot sector', which: () => ({ at: (o) => o === 0 }), consistent: false, takes: true, leaks: false },
];

for (const [i, cut] of cuts.entries()) {
  test(`cut off at ${cut.name}: the old size and the files stay, and a second run finishes`, async (t) => {
    const { image: baseImage, planted } = await base;
    const image = copyInto(baseImage, join(scratch.dir, `cut${i}.img`), 256 * MiB);
    const before = ntfsinfoVolume(image);

    const dev = await openFileDevice(image, { writable: true });
    const plan = await planNtfsGrow(dev, dev.size);
    const { at, n } = cut.which(plan);
    const err = await t.throwsAsync(growNtfs(failing(dev, at, n), dev.size)) as LifeboatError;
    await dev.close();
    t.is(err.code, 'NTFS_GROW_INTERRUPTED');
    t.is(err.data.step, cut.step);
    t.regex(err.message, /power cut/);
    t.is(err.data.oldSizeKept, cut.step !== 'boot sector');

    // The old size, as the tools and our reader see it.
    t.is(ntfsinfoVolume(image).clusters, before.clusters);
    const fix = runAll('ntfsfix', ['-n', image]);
    t.regex(fix.output, /Mounting volume\.\.\. OK/);
    const resize = runAll('ntfsresize', ['--info', '--force', '--no-progress-bar', image]);
    if (cut.consistent) t.is(resize.code, 0, resize.output);
    for (const [rel, hash] of Object.entries(planted)) t.is(ntfscatHash(image, `/${rel}`), hash, rel);
    const ro = await openFileDevice(image);
    t.is((await openNtfs(ro)).geometry.clusters, before.clusters);
    await ro.close();
    await withNtfs3g(image, (dir) => t.is(df(dir).size, before.clusters * before.clusterSize), ['ro']);

    // Again, to the end.
    const again = await openFileDevice(image, { writable: true });
    const r = await growNtfs(again, again.size);
    await again.close();
    const taken = cut.takes ? plan.result.bitmap.allocated?.length ?? 0 : 0;
    t.true(plan.result.bitmap.allocated !== undefined, 'the first attempt gives $Bitmap a cluster');
    await checkGrown(t, image, r, { free: before.freeClusters, clusters: before.clusters, taken, leaked: cut.leaks }, planted);
  });
}

/**
 * fileLayout gives a file's clusters in file order: read raw from the volume in that order and
 * cut to the size, a plain file's bytes hash as the independent tools read them when the
 * fixture was built (manifest: ntfscat, mcopy, exfat-fuse), fragmented files included; NTFS
 * compressed and resident files are not plain.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { FIXTURE_NAMES, fixture } from '../../test/helpers/fixtures.ts';
import { openDiskImage } from '../inspect/open-image.ts';
import { partitionDevice } from '../device/partition-device.ts';
import { readDiskLayout } from '../partition/disk-layout.ts';
import { probeFilesystem } from './probe.ts';
import { openFilesystem } from './open-filesystem.ts';
import type { FileLayout } from './volume.ts';
import type { ReadableDevice } from '../device/block-device.ts';

/** The planted NTFS-compressed file (scripts/fixtures/volumes.py). */
const COMPRESSED = 'Users\\Technician\\AppData\\Logs\\setup.log';
const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

async function rawBytes(volume: ReadableDevice, layout: FileLayout): Promise<Uint8Array> {
  const out = new Uint8Array(layout.size);
  for (const r of layout.runs) {
    const n = Math.min(r.length, layout.size - r.fileOffset);
    if (n <= 0) continue;
    if (r.volumeOffset !== null) out.set(await volume.read(r.volumeOffset, n), r.fileOffset);
  }
  return out;
}

for (const name of FIXTURE_NAMES) {
  test(`${name}: every planted file read raw through fileLayout, in file order, hashes as the tools read it`, async (t) => {
    const { image, manifest } = fixture(name);
    const disk = await openDiskImage(image);
    t.teardown(() => disk.close());
    const layout = await readDiskLayout(disk);
    let plain = 0;
    let outOfOrder = 0;
    for (const p of manifest.partitions.filter((q) => q.planted)) {
      const part = layout.partitions.find((q) => q.index === p.index)!;
      const volume = partitionDevice(disk, part.offset, part.size);
      const fs = (await openFilesystem(volume, await probeFilesystem(volume)))!;
      for (const [rel, planted] of Object.entries(p.planted!)) {
        if (planted.hardLinkOf) continue;
        const l = await fs.fileLayout(rel);
        t.is(l.size, planted.size, rel);
        t.true(l.runs.reduce((s, r) => s + r.length, 0) >= l.size || !l.plain, `${rel}: the runs cover the size`);
        const starts = l.runs.filter((r) => r.volumeOffset !== null).map((r) => r.volumeOffset!);
        if (starts.some((s, i) => i > 0 && s < starts[i - 1]!)) outOfOrder++;
        if (rel === COMPRESSED) {
          t.false(l.plain, `${rel} is NTFS-compressed: its clusters are not its bytes`);
          t.not(sha256(await rawBytes(volume, l)), planted.sha256);
        }
        if (!l.plain) continue; // compressed, resident, or valid only up to its initialized size
        plain++;
        t.is(sha256(await rawBytes(volume, l)), planted.sha256, rel);
      }
    }
    t.true(plain > 0);
    t.log(`${plain} plain files; ${outOfOrder} with clusters out of disk order`);
  });
}

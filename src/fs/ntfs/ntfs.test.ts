import test from 'ava';
import { createHash } from 'node:crypto';
import { fixture, type FixtureName, type ManifestPartition } from '../../../test/helpers/fixtures.ts';
import { extractRange, scratchDir, tool } from '../../../test/helpers/tools.ts';
import { openFileDevice } from '../../device/file-device.ts';
import { partitionDevice } from '../../device/partition-device.ts';
import { openNtfs, type NtfsVolume } from './ntfs-volume.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');

const NTFS_FIXTURES = ['bios-mbr', 'uefi-gpt', 'ntfs-4k', 'ntfs-stress'] as const;

/** Disks opened by the tests, closed when the file is done (not left to the garbage collector). */
const opened: Array<{ close(): Promise<void> }> = [];
test.after.always(async () => {
  await Promise.all(opened.map((d) => d.close()));
});

async function open(name: FixtureName, p: ManifestPartition): Promise<NtfsVolume> {
  const { image, manifest } = fixture(name);
  const disk = await openFileDevice(image, { sectorSize: manifest.sectorSize });
  opened.push(disk);
  return openNtfs(partitionDevice(disk, p.startLba * manifest.sectorSize, p.sizeLba * manifest.sectorSize));
}

const ntfsPartitions = (name: FixtureName) => fixture(name).manifest.partitions.filter((p) => p.fs === 'ntfs');

interface NtfsReading { usedClusters: number; clusterSize: number; volumeSizeInClusters: number; label: string; files: Record<string, number> }

for (const name of NTFS_FIXTURES) {
  test(`${name}: geometry, label and used clusters equal ntfsinfo's`, async (t) => {
    for (const p of ntfsPartitions(name)) {
      const vol = await open(name, p);
      const reading = p.reading as unknown as NtfsReading;
      t.is(vol.label, reading.label);
      t.is(vol.clusterSize, reading.clusterSize);
      t.is(vol.geometry.clusters, reading.volumeSizeInClusters);
      t.is(await vol.usedClusters(), reading.usedClusters, `partition ${p.index}`);
    }
  });

  test(`${name}: the whole directory tree equals ntfsls's listing`, async (t) => {
    for (const p of ntfsPartitions(name)) {
      const vol = await open(name, p);
      const seen: Record<string, number> = {};
      const walk = async (dir: string) => {
        for (const e of await vol.list(dir)) {
          if (e.id < 16) continue; // $MFT … $Extend: ntfsls -a hides the metadata files
          const path = dir ? `${dir}\\${e.name}` : e.name;
          seen[e.isDirectory ? `${path}\\` : path] = e.size;
          if (e.isDirectory) await walk(path);
        }
      };
      await walk('');
      t.deepEqual(seen, (p.reading as unknown as NtfsReading).files, `partition ${p.index}`);
    }
  });

  test(`${name}: every planted file and stream reads with ntfscat's hash`, async (t) => {
    for (const p of ntfsPartitions(name)) {
      const vol = await open(name, p);
      const reading = (p.reading as unknown as { planted: Record<string, { sha256: string; streams?: Record<string, { sha256: string }> }> }).planted;
      for (const [rel, planted] of Object.entries(p.planted!)) {
        const data = await vol.readFile(rel);
        t.is(data.length, planted.size, rel);
        t.is(sha256(data), reading[rel]!.sha256, rel);
        for (const stream of Object.keys(planted.streams ?? {})) {
          t.is(sha256(await vol.readFile(rel, stream)), reading[rel]!.streams![stream]!.sha256, `${rel}:${stream}`);
        }
      }
    }
  });
}

const windows = (name: 'bios-mbr' | 'uefi-gpt') => ntfsPartitions(name).find((p) => p.role === 'windows')!;

test('path lookup is case-insensitive through $UpCase and accepts either separator', async (t) => {
  const vol = await open('bios-mbr', windows('bios-mbr'));
  const a = await vol.stat('/users/TECHNICIAN/documents/REPORT.TXT');
  t.is(a.name, 'report.txt');
  t.is(a.size, 7200);
  await t.throwsAsync(vol.stat('\\Users\\nobody'), { code: 'NOT_FOUND', message: /\\Users\\nobody not found/ });
  await t.throwsAsync(vol.stat('\\pagefile.sys\\x'), { code: 'NOT_FOUND' });
});

test('hard links share one MFT record; named streams are listed with their sizes', async (t) => {
  const vol = await open('uefi-gpt', windows('uefi-gpt'));
  const docs = await vol.list('Users\\Technician\\Documents');
  const a = docs.find((e) => e.name === 'report.txt')!;
  const b = docs.find((e) => e.name === 'report (hard link).txt')!;
  t.is(a.id, b.id);
  const photo = await vol.stat('Users\\Technician\\Pictures\\photo.jpg');
  t.deepEqual(photo.streams, [{ name: 'Zone.Identifier', size: 26 }]);
  const many = await vol.stat('Users\\Technician\\Documents\\many-streams.txt');
  t.is(many.streams?.length, 24, 'streams gathered from the extension records named in $ATTRIBUTE_LIST');
});

test('file extents equal the runs ntfsinfo prints, and reading them gives the content', async (t) => {
  const { image, manifest } = fixture('bios-mbr');
  const p = windows('bios-mbr');
  const vol = await open('bios-mbr', p);
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const file = extractRange(image, p.startLba * 512, p.sizeLba * manifest.sectorSize, `${scratch.dir}/p.img`);
  const cs = vol.clusterSize;
  for (const rel of ['Users\\Technician\\Videos\\fragmented.bin', 'pagefile.sys', 'Users\\Technician\\Virtual\\sparse.vhd']) {
    const info = tool('ntfsinfo', ['-v', '-F', `/${rel.replaceAll('\\', '/')}`, file]);
    const section = info.slice(info.lastIndexOf('Runlist:'));
    const runs = [...section.matchAll(/^\s+0x([0-9a-f]+)\s+(0x[0-9a-f]+|<HOLE>|-1)\s+0x([0-9a-f]+)$/gim)]
      .filter((m) => m[2]!.startsWith('0x'))
      .map((m) => [Number.parseInt(m[2]!, 16) * cs, Number.parseInt(m[3]!, 16) * cs]);
    const ours = (await vol.fileExtents(rel)).toJSON();
    t.true(runs.length > 0, rel);
    t.deepEqual(ours, [...runs].sort((a, b) => a[0]! - b[0]!).reduce<number[][]>((acc, r) => {
      const last = acc.at(-1);
      if (last && last[0]! + last[1]! === r[0]) last[1]! += r[1]!;
      else acc.push([...r]);
      return acc;
    }, []), rel);
  }
  t.true((await vol.fileExtents('Users\\Technician\\Videos\\fragmented.bin')).count >= 2);
  const sparse = await vol.fileExtents('Users\\Technician\\Virtual\\sparse.vhd');
  t.true(sparse.bytes < (await vol.stat('Users\\Technician\\Virtual\\sparse.vhd')).size, 'holes are not extents');
  const single = await vol.fileExtents('pagefile.sys');
  const bytes = Buffer.concat(await Promise.all(single.extents.map((e) => vol.volume.read(e.start, e.length))));
  t.is(sha256(bytes.subarray(0, 4194304)), sha256(await vol.readFile('pagefile.sys')));
});

test('compressed, sparse and attribute-list files carry the flags ntfsinfo shows', async (t) => {
  const vol = await open('bios-mbr', windows('bios-mbr'));
  t.truthy((await vol.stat('Users\\Technician\\AppData\\Logs\\setup.log')).attributes & 0x800);
  t.truthy((await vol.stat('Users\\Technician\\Virtual\\sparse.vhd')).attributes & 0x200);
  t.truthy((await vol.stat('Users\\Technician')).isDirectory);
});

test('allocation map: $Bitmap used clusters plus $Boot and the tail with the backup boot sector', async (t) => {
  for (const name of NTFS_FIXTURES) {
    for (const p of ntfsPartitions(name)) {
      const vol = await open(name, p);
      const map = await vol.allocationMap();
      const { clusters, clusterSize } = vol.geometry;
      const tail = vol.volumeSize - clusters * clusterSize;
      // Cluster 0 ($Boot) is always in $Bitmap, so only the tail adds bytes beyond the used clusters.
      t.is(map.bytes, (await vol.usedClusters()) * clusterSize + tail, `${name} partition ${p.index}`);
      t.true(map.contains(vol.volumeSize - 1), 'backup boot sector included');
      for (const rel of Object.keys(p.planted!)) {
        const extents = await vol.fileExtents(rel);
        t.is(extents.subtract(map).bytes, 0, `${rel} inside the map`);
      }
    }
  }
});

test('the backup boot sector sits in the tail, equal to sector 0 (ntfsfix agrees)', async (t) => {
  const { image, manifest } = fixture('bios-mbr');
  const p = windows('bios-mbr');
  const vol = await open('bios-mbr', p);
  const g = vol.geometry;
  t.deepEqual(await vol.volume.read(g.numberOfSectors * g.bytesPerSector, 512), await vol.volume.read(0, 512));
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const file = extractRange(image, p.startLba * 512, p.sizeLba * manifest.sectorSize, `${scratch.dir}/p.img`);
  t.regex(tool('ntfsfix', ['-n', file]), /Checking the alternate boot sector\.\.\. OK/);
});

test('a 1 TiB sparse volume (mkntfs -Q): used clusters equal ntfsinfo, the map stays a handful of extents', async (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  const image = `${scratch.dir}/1tib.img`;
  tool('truncate', ['-s', '1T', image]);
  tool('mkntfs', ['-q', '-F', '-Q', image]);
  const info = tool('ntfsinfo', ['-m', image]);
  const total = Number(/Volume Size in Clusters: (\d+)/.exec(info)![1]);
  const free = Number(/Free Clusters: (\d+)/.exec(info)![1]);
  const device = await openFileDevice(image);
  t.teardown(() => device.close());
  const vol = await openNtfs(device);
  t.is(vol.geometry.clusters, total);
  t.is(await vol.usedClusters(), total - free);
  const map = await vol.allocationMap();
  t.true(map.count < 100);
  t.is(map.bytes, (total - free) * vol.clusterSize + (device.size - total * vol.clusterSize));
});

test('ntfs-stress: a fragmented $MFT, a 497-run file with a non-resident $ATTRIBUTE_LIST, 64 KiB and 2 MiB clusters', async (t) => {
  const [fragmented, k64, m2] = ntfsPartitions('ntfs-stress');
  const vol = await open('ntfs-stress', fragmented!);
  t.true(vol.mft.stream.shape.runs.length >= 2, '$MFT is read through several runs');
  t.deepEqual(vol.mft.stream.shape.runs.map((r) => [r.lcn, r.length]), (fragmented!.reading as { mft: { dataRuns: number[][] } }).mft.dataRuns,
    '$MFT runs as ntfsinfo -v -i 0 prints them');
  const { file } = await vol.resolve('frag.bin');
  t.true(file.attributes.some((a) => a.recordNumber !== file.recordNumber), 'attributes gathered from extension records');
  t.true((await vol.fileExtents('frag.bin')).count > 400);
  t.is((await vol.list('small')).length, Object.keys(fragmented!.planted!).length - 1);
  t.is((await open('ntfs-stress', k64!)).clusterSize, 65536);
  t.is((await open('ntfs-stress', m2!)).clusterSize, 2 << 20);
});

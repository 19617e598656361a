import test from 'ava';
import { scratchDir, tool } from '../../../test/helpers/tools.ts';
import { ExtentList } from '../extents.ts';
import { extractPartition, fixtureVolume, readExtents, sha256 } from '../fat/testing.ts';
import { openExfat, type ExfatReader } from './exfat-reader.ts';

const open = async () => {
  const v = await fixtureVolume('mixed-mbr', 1);
  return { v, fs: await openExfat(v.volume) };
};

/** Every path under `dir`, directories first-found order. */
async function walk(fs: ExfatReader, dir = ''): Promise<Array<{ path: string; isDirectory: boolean; size: number }>> {
  const out = [];
  for (const e of await fs.list(dir)) {
    const path = dir ? `${dir}\\${e.name}` : e.name;
    out.push({ path, isDirectory: e.isDirectory, size: e.size });
    if (e.isDirectory) out.push(...await walk(fs, path));
  }
  return out;
}

test('mixed-mbr partition 1: exFAT, its label, and every planted file with the manifest\'s size and sha256', async (t) => {
  const { v, fs } = await open();
  t.teardown(() => v.close());
  t.is(fs.kind, 'exfat');
  t.is(fs.label, v.partition.label);
  for (const [rel, file] of Object.entries(v.partition.planted!)) {
    const data = await fs.readFile(rel);
    t.is(data.length, file.size, rel);
    t.is(sha256(data), file.sha256, rel);
    t.is((await fs.stat(`/${rel.replaceAll('\\', '/').toUpperCase()}`)).size, file.size, `${rel} found through the up-case table`);
    const parts = rel.split('\\');
    const listed = (await fs.list(parts.slice(0, -1).join('/'))).find((e) => e.name === parts.at(-1));
    t.like(listed, { size: file.size, isDirectory: false });
  }
});

test('mixed-mbr partition 1: geometry and used clusters equal dump.exfat; directory and file counts equal fsck.exfat', async (t) => {
  const { v, fs } = await open();
  const scratch = scratchDir();
  t.teardown(async () => { scratch.remove(); await v.close(); });
  const file = extractPartition(v, scratch.dir);
  const dump = tool('dump.exfat', [file]);
  const field = (label: string) => Number(new RegExp(`${label}:\\s+(\\d+)`).exec(dump)![1]);
  t.is(fs.geometry.clusterCount, field('Total Clusters'));
  t.is(fs.clusterSize, field('Cluster size'));
  t.is(fs.geometry.fatOffset, field('FAT Offset\\(sector offset\\)'));
  t.is(fs.geometry.clusterHeapOffset, field('Cluster Heap Offset \\(sector offset\\)'));
  t.is(fs.geometry.rootCluster, field('Root Cluster \\(cluster offset\\)'));
  t.is(await fs.usedClusters(), field('Total Clusters') - field('Free Clusters'));
  t.regex(dump, new RegExp(`Volume label:\\s+${fs.label}\\n`));

  const counts = /directories (\d+), files (\d+)/.exec(tool('fsck.exfat', ['-n', '-v', file]))!;
  const all = await walk(fs);
  t.is(all.filter((e) => e.isDirectory).length + 1, Number(counts[1]), 'directories, the root included');
  t.is(all.filter((e) => !e.isDirectory).length, Number(counts[2]));
  // Every file in the tree is one the fixture planted, with its size.
  const planted = v.partition.planted!;
  t.deepEqual(Object.fromEntries(all.filter((e) => !e.isDirectory).map((e) => [e.path, e.size])),
    Object.fromEntries(Object.entries(planted).map(([rel, f]) => [rel, f.size])));
});

test('mixed-mbr partition 1: file extents hold the file; the allocation map holds boot regions, FAT, extents', async (t) => {
  const { v, fs } = await open();
  t.teardown(() => v.close());
  const map = await fs.allocationMap();
  for (const [rel, file] of Object.entries(v.partition.planted!)) {
    const extents = await fs.fileExtents(rel);
    t.is(sha256(await readExtents(v.volume, extents, file.size)), file.sha256, rel);
    t.is(extents.bytes, Math.ceil(file.size / fs.clusterSize) * fs.clusterSize);
    t.deepEqual(extents.subtract(map).extents, [], `${rel} lies inside the map`);
  }
  const g = fs.geometry;
  const bootRegions = 24 * g.bytesPerSector;
  const fats = g.fatLength * g.numberOfFats * g.bytesPerSector;
  const system = ExtentList.of([{ start: 0, length: bootRegions }, { start: g.fatOffset * g.bytesPerSector, length: fats }]);
  t.deepEqual(system.subtract(map).extents, []);
  t.is(map.bytes, bootRegions + fats + (await fs.usedClusters()) * fs.clusterSize);
  t.true(map.extents.at(-1)!.start + map.extents.at(-1)!.length <= (g.clusterHeapOffset * g.bytesPerSector) + g.clusterCount * g.clusterSize);
});

test('exFAT: missing paths are NotFoundError; the root stats as a directory', async (t) => {
  const { v, fs } = await open();
  t.teardown(() => v.close());
  await t.throwsAsync(fs.stat('Photos\\nope'), { code: 'NOT_FOUND', message: /\\Photos\\nope not found/ });
  await t.throwsAsync(fs.list('readme.txt'), { code: 'USAGE' });
  await t.throwsAsync(fs.readFile('Photos'), { code: 'USAGE' });
  t.like(await fs.stat('/'), { isDirectory: true, id: fs.geometry.rootCluster });
  t.like(await fs.stat('photos\\HOLIDAY 2026'), { isDirectory: true, name: 'Holiday 2026' });
});

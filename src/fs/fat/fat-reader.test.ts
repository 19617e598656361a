import test from 'ava';
import type { FixtureName } from '../../../test/helpers/fixtures.ts';
import { scratchDir, tool } from '../../../test/helpers/tools.ts';
import { ExtentList } from '../extents.ts';
import type { DirEntry } from '../volume.ts';
import { openFat } from './fat-reader.ts';
import { extractPartition, fixtureVolume, readExtents, sha256 } from './testing.ts';

const VOLUMES: Array<[FixtureName, number, string]> = [
  ['uefi-gpt', 1, 'fat32'],
  ['mixed-mbr', 2, 'fat16'],
  ['mixed-mbr', 6, 'fat12'],
];

interface FsckReading {
  fsck: string;
  usedClusters: number;
  totalClusters: number;
}

/** A number from the `fsck.fat -v` text the fixture build recorded. */
function fsckNumber(text: string, pattern: RegExp): number {
  const m = pattern.exec(text);
  if (!m) throw new Error(`fsck.fat output lacks ${pattern}`);
  return Number(m[1]);
}

interface MdirEntry {
  name: string;
  isDirectory: boolean;
  size: number;
  /** "YYYY-MM-DD H:MM", as mdir prints the write time. */
  time: string;
}

/** `mdir -/ -a` output: directory path (`/EFI/Boot`, `` for the root) → its entries, dots left out. */
function parseMdir(text: string): Map<string, MdirEntry[]> {
  const dirs = new Map<string, MdirEntry[]>();
  let current: MdirEntry[] | undefined;
  for (const line of text.split('\n')) {
    const head = /^Directory for ::(.*)$/.exec(line);
    if (head) {
      current = [];
      dirs.set(head[1]!.replace(/\/$/, ''), current);
      continue;
    }
    const m = /^(.{8}) (.{3}) +(<DIR>|\d+) +(\d{4}-\d\d-\d\d) +(\d{1,2}:\d\d) *(.*)$/.exec(line);
    if (!m || !current) continue;
    const [, base, ext, size, date, time, long] = m;
    const short = ext!.trim() ? `${base!.trim()}.${ext!.trim()}` : base!.trim();
    if (short === '.' || short === '..') continue;
    current.push({ name: long || short, isDirectory: size === '<DIR>', size: size === '<DIR>' ? 0 : Number(size), time: `${date} ${time}` });
  }
  return dirs;
}

function asMdir(e: DirEntry): MdirEntry {
  const d = e.modified!;
  const pad = (n: number) => String(n).padStart(2, '0');
  const date = `${d.getUTCFullYear()}-${pad(d.getUTCMonth() + 1)}-${pad(d.getUTCDate())}`;
  return { name: e.name, isDirectory: e.isDirectory, size: e.size, time: `${date} ${d.getUTCHours()}:${pad(d.getUTCMinutes())}` };
}

const byName = (a: { name: string }, b: { name: string }) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0);

for (const [name, index, kind] of VOLUMES) {
  const where = `${name} partition ${index}`;

  test(`${where}: ${kind}, its label, and every planted file with the manifest's size and sha256`, async (t) => {
    const v = await fixtureVolume(name, index);
    t.teardown(() => v.close());
    const fs = await openFat(v.volume);
    t.is(fs.kind, kind as typeof fs.kind);
    t.is(fs.label, v.partition.label);
    t.deepEqual(fs.warnings, []);
    const planted = Object.entries(v.partition.planted ?? {});
    t.true(planted.length > 0);
    for (const [rel, file] of planted) {
      const data = await fs.readFile(rel);
      t.is(data.length, file.size, rel);
      t.is(sha256(data), file.sha256, rel);
      // Other spellings of the same path: '/' separators, no case, a leading separator.
      t.is((await fs.stat(`/${rel.replaceAll('\\', '/').toUpperCase()}`)).size, file.size, rel);
      const parts = rel.split('\\');
      const listed = (await fs.list(parts.slice(0, -1).join('\\'))).find((e) => e.name === parts.at(-1));
      t.truthy(listed, `${rel} is listed in its directory`);
      t.is(listed?.size, file.size);
      t.false(listed?.isDirectory);
    }
  });

  test(`${where}: geometry and used clusters equal fsck.fat's reading`, async (t) => {
    const v = await fixtureVolume(name, index);
    t.teardown(() => v.close());
    const fs = await openFat(v.volume);
    const reading = v.partition.reading as unknown as FsckReading;
    const g = fs.geometry;
    t.is(g.clusterCount, reading.totalClusters);
    t.is(fs.clusterSize, fsckNumber(reading.fsck, /(\d+) bytes per cluster/));
    t.is(g.reservedSectors, fsckNumber(reading.fsck, /(\d+) reserved sectors?/));
    t.is(g.fatSectors * g.bytesPerSector, fsckNumber(reading.fsck, /(\d+) bytes per FAT/));
    t.is(g.firstDataSector * g.bytesPerSector, fsckNumber(reading.fsck, /Data area starts at byte (\d+)/));
    // fsck.fat counts every cluster that is not free, bad ones included; so do we.
    t.is(await fs.usedClusters(), reading.usedClusters);
    t.is(await fs.badClusters(), 0);
  });

  test(`${where}: every directory lists what mdir lists (long names, sizes, write times)`, async (t) => {
    const v = await fixtureVolume(name, index);
    const scratch = scratchDir();
    t.teardown(async () => { scratch.remove(); await v.close(); });
    const fs = await openFat(v.volume);
    const mdir = parseMdir(tool('mdir', ['-/', '-a', '-i', extractPartition(v, scratch.dir), '::']));
    t.true(mdir.has(''), 'mdir listed the root');
    for (const [dir, expected] of mdir) {
      const ours = (await fs.list(dir)).map(asMdir);
      t.deepEqual(ours.sort(byName), [...expected].sort(byName), `directory ::${dir}`);
    }
    if (kind !== 'fat12') t.true([...mdir.values()].flat().some((e) => e.name.length > 12 || /[a-z]/.test(e.name)), 'long names are exercised');
  });

  test(`${where}: file extents hold the file, and the allocation map holds the extents and the system area`, async (t) => {
    const v = await fixtureVolume(name, index);
    t.teardown(() => v.close());
    const fs = await openFat(v.volume);
    const map = await fs.allocationMap();
    const g = fs.geometry;
    for (const [rel, file] of Object.entries(v.partition.planted ?? {})) {
      const extents = await fs.fileExtents(rel);
      t.is(sha256(await readExtents(v.volume, extents, file.size)), file.sha256, rel);
      t.true(extents.bytes >= file.size);
      t.deepEqual(extents.subtract(map).extents, [], `${rel} lies inside the allocation map`);
    }
    const systemBytes = g.firstDataSector * g.bytesPerSector; // reserved + FATs + FAT12/16 root directory
    t.is(systemBytes, (g.reservedSectors + g.numberOfFats * g.fatSectors + g.rootDirSectors) * g.bytesPerSector);
    t.deepEqual(ExtentList.of([{ start: 0, length: systemBytes }]).subtract(map).extents, [], 'boot sector, FATs and root directory are mapped');
    t.is(map.bytes, systemBytes + (await fs.usedClusters() - await fs.badClusters()) * fs.clusterSize);
    const last = map.extents.at(-1)!;
    t.true(last.start + last.length <= (g.firstDataSector + g.clusterCount * g.sectorsPerCluster) * g.bytesPerSector);
  });
}

test('missing paths are NotFoundError; files are not directories; FAT has no named streams', async (t) => {
  const v = await fixtureVolume('mixed-mbr', 2);
  t.teardown(() => v.close());
  const fs = await openFat(v.volume);
  await t.throwsAsync(fs.stat('\\Documents\\nope.txt'), { code: 'NOT_FOUND', message: /\\Documents\\nope\.txt not found/ });
  await t.throwsAsync(fs.readFile('AUTOEXEC.BAT\\x'), { code: 'NOT_FOUND' });
  await t.throwsAsync(fs.list('AUTOEXEC.BAT'), { code: 'USAGE' });
  await t.throwsAsync(fs.readFile('Documents'), { code: 'USAGE' });
  await t.throwsAsync(fs.readFile('AUTOEXEC.BAT', 'Zone.Identifier'), { code: 'NOT_FOUND' });
  // The 8.3 alias finds the same file as its long name.
  t.is((await fs.stat('DOCUME~1\\AFILEW~1.TXT')).name, 'A file with a long name.txt');
  t.like(await fs.stat(''), { isDirectory: true, name: '' });
});

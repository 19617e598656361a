/**
 * writeFatFile judged by independent tools: volumes made by mkfs.fat (FAT12/16/32, 512- and
 * 4096-byte sectors, several cluster sizes), filled by mtools (mmd, mcopy, mdel for a
 * fragmented free space); after each write fsck.fat -n -v finds nothing and counts the
 * expected clusters, mcopy returns the bytes, mdir lists the names, and every file that was
 * there before hashes the same. Refusals leave the image byte-identical.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../../../test/helpers/fixtures.ts';
import { extractRange, scratchDir, toolBytes } from '../../../test/helpers/tools.ts';
import type { WritableDevice } from '../../device/block-device.ts';
import { openFileDevice } from '../../device/file-device.ts';
import { pseudoRandom, run, runAll } from '../ntfs/test-volumes.ts';
import { fileSha, sha256, sparseFile } from '../sector-size-testing.ts';
import { writeFatFile } from './fat-writer.ts';

const MiB = 1 << 20;
const scratch = scratchDir('lifeboat-fat-write-');
test.after.always(() => scratch.remove());

interface Volume {
  img: string;
  clusterSize: number;
  /** Path (as mtools takes it, `/` separated) → sha256 of every file that must survive. */
  files: Map<string, string>;
}

interface FsckReading { used: number; total: number }

function fsck(t: ExecutionContext, img: string): FsckReading {
  const r = runAll('fsck.fat', ['-n', '-v', img]);
  t.is(r.code, 0, r.output);
  t.notRegex(r.output, /differ|wrong|invalid|Dirty|bad|truncat|orphan|lost/i, r.output);
  const m = /(\d+)\/(\d+) clusters/.exec(r.output);
  return { used: Number(m?.[1]), total: Number(m?.[2]) };
}

const mcopyOut = (img: string, path: string) => toolBytes('mcopy', ['-n', '-i', img, `::/${path}`, '-']);

function put(v: Volume, path: string, data: Uint8Array): void {
  const src = join(scratch.dir, 'src.bin');
  writeFileSync(src, data);
  run('mcopy', ['-i', v.img, src, `::/${path}`]);
  v.files.set(path, sha256(data));
}

let extraction = 0;

/** Every file recorded in `v.files` still reads back with the same hash (one `mcopy -s` of the whole volume). */
function checkSurvivors(t: ExecutionContext, v: Volume): void {
  const out = join(scratch.dir, `tree${extraction++}`);
  mkdirSync(out);
  run('mcopy', ['-s', '-n', '-i', v.img, '::/*', out]);
  for (const [path, hash] of v.files) t.is(sha256(readFileSync(join(out, path))), hash, `${path} unchanged`);
  rmSync(out, { recursive: true });
}

/** `mdir -/` rows of one directory: [short 8.3 name, long name or ''] pairs. */
function mdirNames(img: string, dir: string): Array<[string, string]> {
  const out: Array<[string, string]> = [];
  for (const line of run('mdir', ['-a', '-i', img, `::/${dir}`]).split('\n')) {
    const m = /^(.{8}) (.{3}) +(<DIR>|\d[\d ]*) +\d{4}-\d\d-\d\d +\d{1,2}:\d\d *(.*)$/.exec(line);
    if (!m) continue;
    const ext = m[2]!.trim();
    out.push([ext ? `${m[1]!.trim()}.${ext}` : m[1]!.trim(), m[4]!]);
  }
  return out;
}

/** Valid 8.3: upper case, allowed characters, 1–8 + 0–3. */
const VALID_SHORT = /^[A-Z0-9!#$%&'()\-@^_`{}~]{1,8}(\.[A-Z0-9!#$%&'()\-@^_`{}~]{1,3})?$/;

async function write(v: Volume, path: string, data: Uint8Array, modified?: Date) {
  const dev = await openFileDevice(v.img, { writable: true });
  try {
    return await writeFatFile(dev, path, data, modified ? { modified } : {});
  } finally {
    await dev.close();
  }
}

/** Write, then check with fsck.fat (used clusters up by `delta`), mcopy, mdir and the survivors. */
async function writeAndCheck(t: ExecutionContext, v: Volume, path: string, data: Uint8Array,
  delta: (r: { clusters: number; directoriesCreated: string[] }) => number) {
  const before = fsck(t, v.img);
  const result = await write(v, path, data);
  const after = fsck(t, v.img);
  t.is(after.used - before.used, delta(result), `${path}: clusters used`);
  t.is(sha256(mcopyOut(v.img, path)), sha256(data), `${path} reads back through mcopy`);
  const parts = path.split('/');
  const name = parts.pop()!;
  const listed = mdirNames(v.img, parts.join('/'));
  const row = listed.find(([short, long]) => long === name || (long === '' && short === name));
  t.truthy(row, `mdir lists ${name} in /${parts.join('/')}: ${JSON.stringify(listed)}`);
  t.regex(row?.[0] ?? '', VALID_SHORT, 'our short name is upper-case 8.3');
  // mtools stores all-lower-case 8.3 names with Windows NT's case flags, which mdir shows.
  for (const [short] of listed) if (short !== '.' && short !== '..') t.regex(short.toUpperCase(), VALID_SHORT);
  v.files.set(path, sha256(data));
  checkSurvivors(t, v);
  return result;
}

function makeVolume(name: string, size: number, args: string[]): Volume {
  const img = sparseFile(join(scratch.dir, name), size);
  run('mkfs.fat', [...args, img]);
  const clusterSize = Number(/(\d+) bytes per cluster/.exec(runAll('fsck.fat', ['-n', '-v', img]).output)?.[1]);
  const v: Volume = { img, clusterSize, files: new Map() };
  run('mmd', ['-i', img, '::/Docs', '::/Docs/Sub']);
  put(v, 'README.TXT', Buffer.from('root file\r\n'.repeat(40)));
  put(v, 'Docs/A file with a long name.txt', pseudoRandom(1, 3 * clusterSize + 17));
  put(v, 'Docs/Sub/blob.bin', pseudoRandom(2, 5 * clusterSize));
  return v;
}

/** Fill the free space with 8 pieces and delete every other one: 4 holes of `piece` bytes. */
function fragment(t: ExecutionContext, v: Volume): number {
  const { used, total } = fsck(t, v.img);
  const pieceClusters = Math.floor((total - used - 8) / 8);
  for (let i = 0; i < 8; i++) put(v, `fill${i}.bin`, Buffer.alloc(pieceClusters * v.clusterSize, 0x41 + i));
  for (let i = 0; i < 8; i += 2) {
    run('mdel', ['-i', v.img, `::/fill${i}.bin`]);
    v.files.delete(`fill${i}.bin`);
  }
  return pieceClusters;
}

const clustersOf = (v: Volume, bytes: number) => Math.ceil(bytes / v.clusterSize);

/** Name, size, mkfs.fat options, and whether to fill it for a fragmented write (not the 300 MiB one: too slow). */
const VOLUMES: Array<[string, number, string[], boolean]> = [
  ['fat12', 2 * MiB, ['-F', '12'], true],
  ['fat16-4k-sectors', 40 * MiB, ['-F', '16', '-S', '4096', '-s', '1'], true],
  ['fat16-8k-clusters', 64 * MiB, ['-F', '16', '-s', '16'], true],
  ['fat32', 40 * MiB, ['-F', '32', '-s', '1'], true],
  ['fat32-4k-sectors', 300 * MiB, ['-F', '32', '-S', '4096', '-s', '1'], false],
];

for (const [name, size, args, fill] of VOLUMES) {
  test(`${name}: new files and directories, replacements, a full directory${fill ? ' and a fragmented file' : ''} pass fsck.fat, mcopy and mdir`, async (t) => {
    const v = makeVolume(`${name}.img`, size, args);
    const cs = v.clusterSize;

    const note = pseudoRandom(3, 2 * cs + 5);
    const r1 = await writeAndCheck(t, v, 'Docs/new note.txt', note, (r) => r.clusters);
    t.like(r1, { created: true, directoriesCreated: [], clusters: 3 });

    const boot = pseudoRandom(4, 4 * cs + 1);
    const r2 = await writeAndCheck(t, v, 'EFI/Boot/bootx64.efi', boot, (r) => r.clusters + 2);
    t.deepEqual(r2, { created: true, directoriesCreated: ['\\EFI', '\\EFI\\Boot'], clusters: 5 });
    t.deepEqual(mdirNames(v.img, 'EFI').find(([, long]) => long === 'Boot'), ['BOOT', 'Boot']);
    t.deepEqual(mdirNames(v.img, 'EFI/Boot').find(([, long]) => long === 'bootx64.efi'), ['BOOTX64.EFI', 'bootx64.efi']);

    const bigger = pseudoRandom(5, 7 * cs + 3);
    const r3 = await writeAndCheck(t, v, 'EFI/Boot/bootx64.efi', bigger, () => 8 - 5);
    t.like(r3, { created: false, clusters: 8 });
    const smaller = pseudoRandom(6, cs - 1);
    await writeAndCheck(t, v, 'EFI/Boot/bootx64.efi', smaller, () => 1 - 8);
    await writeAndCheck(t, v, 'README.TXT', new Uint8Array(0), () => -1);

    // ~100 long names: the new directory needs more than its first cluster.
    const before = fsck(t, v.img);
    const many = 100;
    let fileClusters = 0;
    for (let i = 0; i < many; i++) {
      const data = pseudoRandom(1000 + i, 50 + i);
      fileClusters += clustersOf(v, data.length);
      await write(v, `Many/A rather long file name number ${i}.dat`, data);
      v.files.set(`Many/A rather long file name number ${i}.dat`, sha256(data));
    }
    const dirClusters = clustersOf(v, (2 + many * 4) * 32);
    t.is(fsck(t, v.img).used - before.used, fileClusters + dirClusters, 'files plus the grown directory');
    const listed = mdirNames(v.img, 'Many');
    t.is(listed.filter(([, long]) => long.startsWith('A rather long')).length, many);
    t.deepEqual(listed.find(([, long]) => long === 'A rather long file name number 0.dat'), ['ARATHE~1.DAT', 'A rather long file name number 0.dat']);
    t.is(new Set(listed.map(([s]) => s)).size, listed.length, 'short names are unique');
    for (const [short] of listed) if (short !== '.' && short !== '..') t.regex(short, VALID_SHORT);
    checkSurvivors(t, v);

    if (!fill) return;
    // Larger than any free run: the chain must be fragmented.
    const piece = fragment(t, v);
    const frag = pseudoRandom(7, Math.floor(2.5 * piece) * cs);
    await writeAndCheck(t, v, 'Docs/Sub/fragmented.bin', frag, (r) => r.clusters);
  });
}

test('FAT12: refusals (names, a file as directory, a directory as file, no space, read-only, full root, FAT copies that disagree) leave the image byte-identical', async (t) => {
  const v = makeVolume('refuse.img', 2 * MiB, ['-F', '12', '-r', '16']);
  const original = fileSha(v.img);
  const refused = async (path: string, data: Uint8Array, reason: string, message: RegExp) => {
    await t.throwsAsync(write(v, path, data), { code: 'FAT_WRITE_REFUSED', message }, path);
    const e = await write(v, path, data).catch((x: unknown) => x as { data: { reason: string; path: string; volume: string } });
    t.like(e, { data: { reason, volume: v.img } });
    t.is(fileSha(v.img), original, `${path}: image unchanged`);
  };
  await refused('Docs/a<b.txt', new Uint8Array(1), 'invalid-name', /"a<b\.txt" is not a valid FAT name/);
  await refused('Docs/trailing.', new Uint8Array(1), 'invalid-name', /ends with a space or a period/);
  await refused('README.TXT/x.bin', new Uint8Array(1), 'not-a-directory', /\\README\.TXT is a file/);
  await refused('Docs', new Uint8Array(1), 'is-a-directory', /\\Docs is a directory/);
  await refused('Docs/huge.bin', new Uint8Array(3 * MiB), 'no-space', /needs \d+ free clusters of \d+ bytes, the volume has \d+/);

  const ro = await openFileDevice(v.img);
  await t.throwsAsync(writeFatFile(ro as unknown as WritableDevice, 'x.txt', new Uint8Array(1)), { code: 'FAT_WRITE_REFUSED', message: /read-only/ });
  await ro.close();

  // A root of 16 entries, filled by mcopy until it says "No directory slots".
  const src = join(scratch.dir, 'small.txt');
  writeFileSync(src, 'small');
  for (let i = 0; runAll('mcopy', ['-i', v.img, src, `::/F${i}.TXT`]).code === 0; i++) t.true(i < 16);
  const full = fileSha(v.img);
  await t.throwsAsync(write(v, 'ONE.TXT', new Uint8Array(1)), { code: 'FAT_WRITE_REFUSED', message: /root directory \(16 entries\) has no room/ });
  t.is(fileSha(v.img), full);
  // A subdirectory still takes files.
  await write(v, 'Docs/ok.txt', Buffer.from('ok'));
  fsck(t, v.img);

  // FAT 2 claims the free clusters FAT 1 offers.
  const img = readFileSync(v.img);
  const bps = img.readUInt16LE(0x0b);
  const fatBytes = img.readUInt16LE(0x16) * bps;
  const fat2 = img.readUInt16LE(0x0e) * bps + fatBytes;
  for (let i = 0; i < fatBytes; i++) if (img[fat2 + i] === 0) img[fat2 + i] = 0xff;
  writeFileSync(v.img, img);
  const broken = fileSha(v.img);
  await t.throwsAsync(write(v, 'Docs/new.bin', new Uint8Array(100)), { code: 'FAT_WRITE_REFUSED', message: /FAT copies disagree \(cluster \d+: FAT 0 has 0, FAT 1 has \d+/ });
  t.is(fileSha(v.img), broken);
});

test('uefi-gpt ESP (FAT32): \\EFI\\Boot\\bootx64.efi replaced by a copy of bootmgfw.efi of another size; fsck.fat and mtools agree', async (t) => {
  const { image, manifest } = fixture('uefi-gpt');
  const p = manifest.partitions.find((x) => x.index === 1)!;
  const img = extractRange(image, p.startLba * manifest.sectorSize, p.sizeLba * manifest.sectorSize, join(scratch.dir, 'esp.img'));
  const v: Volume = { img, clusterSize: 0, files: new Map() };
  for (const [rel, file] of Object.entries(p.planted ?? {})) v.files.set(rel.replaceAll('\\', '/'), file.sha256);
  const bootmgfw = mcopyOut(img, 'EFI/Microsoft/Boot/bootmgfw.efi');
  const data = Buffer.concat([bootmgfw, Buffer.from('another size')]);
  const before = fsck(t, img);
  const result = await write(v, '\\EFI\\Boot\\bootx64.efi', data);
  t.like(result, { created: false, directoriesCreated: [] });
  fsck(t, img);
  t.is(fsck(t, img).total, before.total);
  t.is(sha256(mcopyOut(img, 'EFI/Boot/bootx64.efi')), sha256(data));
  v.files.set('EFI/Boot/bootx64.efi', sha256(data));
  checkSurvivors(t, v);
  // And a new file beside it, as boot repair writes when the fallback loader is missing.
  await writeAndCheck(t, v, 'EFI/Boot/bootia32.efi', bootmgfw, (r) => r.clusters);
});

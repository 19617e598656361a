/**
 * writeFatFile's finer promises: FAT32 reserved bits and unknown FSInfo hints survive, short
 * names follow Windows' basis-name rule, dates round-trip through the reader, and a write
 * interrupted after any number of device writes leaves a volume fsck.fat mends with every
 * earlier file intact.
 */
import test from 'ava';
import { copyFileSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { scratchDir, toolBytes } from '../../../test/helpers/tools.ts';
import type { WritableDevice } from '../../device/block-device.ts';
import { openFileDevice } from '../../device/file-device.ts';
import { pseudoRandom, run, runAll } from '../ntfs/test-volumes.ts';
import { sha256, sparseFile } from '../sector-size-testing.ts';
import { openFat } from './fat-reader.ts';
import { writeFatFile } from './fat-writer.ts';
import { chooseShortName, longNameProblem } from './short-names.ts';

const MiB = 1 << 20;
const scratch = scratchDir('lifeboat-fat-write2-');
test.after.always(() => scratch.remove());

const shortOf = (name: string, taken: string[] = []) =>
  String.fromCharCode(...chooseShortName(name, new Set(taken)).name11);

test('short names: Windows basis names, numeric tails on loss or collision, long names when the case differs', (t) => {
  t.deepEqual(chooseShortName('README.TXT', new Set()).needsLongName, false);
  t.is(shortOf('README.TXT'), 'README  TXT');
  t.is(shortOf('bootx64.efi'), 'BOOTX64 EFI');
  t.true(chooseShortName('bootx64.efi', new Set()).needsLongName);
  t.is(shortOf('Boot'), 'BOOT       ');
  t.is(shortOf('A rather long file name.dat'), 'ARATHE~1DAT');
  t.is(shortOf('A rather long file name.dat', ['ARATHE~1DAT']), 'ARATHE~2DAT');
  t.is(shortOf('README.TXT', ['README  TXT']), 'README~1TXT');
  t.is(shortOf('archive.tar.gz'), 'ARCHIV~1GZ ');
  t.is(shortOf('.hidden'), 'HIDDEN~1   ');
  t.is(shortOf('a+b.txt'), 'A_B~1   TXT');
  t.is(shortOf('naïve.txt'), 'NA_VE~1 TXT');
  t.is(shortOf('x.html'), 'X~1     HTM');
  for (const bad of ['', '.', '..', 'a:b', 'a?', 'tab\there', 'end.', 'end ', 'x'.repeat(256)]) t.truthy(longNameProblem(bad), JSON.stringify(bad));
  t.is(longNameProblem('Program Files (x86)'), undefined);
});

function mkfat32(name: string): string {
  const img = sparseFile(join(scratch.dir, name), 40 * MiB);
  run('mkfs.fat', ['-F', '32', '-s', '1', img]);
  return img;
}

test('FAT32: the top 4 bits of the entries written are kept, unknown FSInfo hints stay unknown, dates read back', async (t) => {
  const img = mkfat32('bits.img');
  const b = readFileSync(img);
  const fatStart = b.readUInt16LE(0x0e) * 512;
  const fatBytes = b.readUInt32LE(0x24) * 512;
  for (const copy of [0, 1]) for (let n = 3; n < 64; n++) b.writeUInt32LE(0x30000000, fatStart + copy * fatBytes + 4 * n);
  const fsInfo = b.readUInt16LE(0x30) * 512;
  b.writeUInt32LE(0xffffffff, fsInfo + 0x1e8);
  b.writeUInt32LE(0xffffffff, fsInfo + 0x1ec);
  writeFileSync(img, b);
  const dev = await openFileDevice(img, { writable: true });
  const modified = new Date(Date.UTC(2024, 1, 29, 13, 37, 42));
  const data = pseudoRandom(9, 10 * 512);
  await writeFatFile(dev, 'EFI/Boot/bootx64.efi', data, { modified });
  const entry = (await (await openFat(dev)).stat('EFI/Boot/bootx64.efi'));
  await dev.close();
  t.deepEqual(entry.modified, modified);
  t.is(entry.size, data.length);
  const a = readFileSync(img);
  for (const copy of [0, 1]) {
    for (let n = 3; n < 16; n++) t.is(a.readUInt32LE(fatStart + copy * fatBytes + 4 * n) >>> 28, 3, `FAT ${copy} cluster ${n}`);
  }
  t.is(a.readUInt32LE(fsInfo + 0x1e8), 0xffffffff);
  t.is(a.readUInt32LE(fsInfo + 0x1ec), 0xffffffff);
  const r = runAll('fsck.fat', ['-n', '-v', img]);
  t.is(r.code, 0, r.output);
  t.is(sha256(toolBytes('mcopy', ['-n', '-i', img, '::/EFI/Boot/bootx64.efi', '-'])), sha256(data));
});

/** A device that fails on its `limit`-th write (after writing nothing of it). */
function failingAfter(dev: WritableDevice, limit: number): WritableDevice & { writes: number } {
  const wrapper = {
    name: dev.name, size: dev.size, sectorSize: dev.sectorSize, writable: true as const, writes: 0,
    read: (o: number, n: number) => dev.read(o, n),
    write: async (o: number, d: Uint8Array) => {
      if (++wrapper.writes >= limit) throw new Error(`simulated power loss at write ${wrapper.writes}`);
      await dev.write(o, d);
    },
    flush: () => dev.flush(),
    close: () => dev.close(),
  };
  return wrapper;
}

for (const [kind, args] of [['FAT16', ['-F', '16']], ['FAT32', ['-F', '32', '-s', '1']]] as const) {
  test(`${kind}: interrupted after each write, fsck.fat -a mends the volume and the earlier files are intact`, async (t) => {
    const base = sparseFile(join(scratch.dir, `${kind}-base.img`), 40 * MiB);
    run('mkfs.fat', [...args, base]);
    run('mmd', ['-i', base, '::/EFI', '::/EFI/Boot']);
    const old = pseudoRandom(20, 3000);
    const other = pseudoRandom(21, 5000);
    const src = join(scratch.dir, `${kind}-src`);
    writeFileSync(src, old);
    run('mcopy', ['-i', base, src, '::/EFI/Boot/bootx64.efi']);
    writeFileSync(src, other);
    run('mcopy', ['-i', base, src, '::/EFI/other.bin']);
    const cases: Array<[string, Uint8Array]> = [['EFI/Boot/bootx64.efi', pseudoRandom(22, 9000)], ['EFI/New Dir/Deeper/file.bin', pseudoRandom(23, 2000)]];
    for (const [path, data] of cases) {
      for (let limit = 1; ; limit++) {
        const img = join(scratch.dir, `${kind}-cut.img`);
        copyFileSync(base, img);
        const dev = failingAfter(await openFileDevice(img, { writable: true }), limit);
        const done = await writeFatFile(dev, path, data).then(() => true, () => false);
        await dev.close();
        const repair = runAll('fsck.fat', ['-a', img]);
        t.true(repair.code === 0 || repair.code === 1, repair.output);
        const check = runAll('fsck.fat', ['-n', img]);
        t.is(check.code, 0, `${path} cut at write ${limit}: ${check.output}`);
        t.is(sha256(toolBytes('mcopy', ['-n', '-i', img, '::/EFI/other.bin', '-'])), sha256(other), `${path} cut at write ${limit}`);
        if (path.endsWith('bootx64.efi')) {
          const now = sha256(toolBytes('mcopy', ['-n', '-i', img, '::/EFI/Boot/bootx64.efi', '-']));
          t.true(now === sha256(old) || now === sha256(data), `${path} cut at write ${limit}: old or new content`);
        }
        if (done) break;
      }
    }
  });
}

test('FAT16: entries written over the end marker end the directory again, whatever lies after it', async (t) => {
  const img = sparseFile(join(scratch.dir, 'end-marker.img'), 16 * MiB);
  run('mkfs.fat', ['-F', '16', img]);
  const b = readFileSync(img);
  const bps = b.readUInt16LE(0x0b);
  const root = (b.readUInt16LE(0x0e) + b[0x10]! * b.readUInt16LE(0x16)) * bps;
  t.is(b[root], 0, 'the root starts empty');
  b.write('JUNK    TXT', root + 32, 'latin1'); // a stale entry past the end marker
  b[root + 32 + 0x1a] = 0x99;
  writeFileSync(img, b);
  const dev = await openFileDevice(img, { writable: true });
  await writeFatFile(dev, 'A.TXT', Buffer.from('a'));
  await dev.close();
  const after = readFileSync(img);
  t.is(after.toString('latin1', root, root + 11), 'A       TXT');
  t.is(after[root + 32], 0);
  const r = runAll('fsck.fat', ['-n', img]);
  t.is(r.code, 0, r.output);
  t.notRegex(run('mdir', ['-i', img, '::/']), /JUNK/);
});

test('FAT32: FSInfo free count and next-free hint follow the write; the dirty flag and FAT[1] are left alone', async (t) => {
  const img = mkfat32('hints.img');
  const b = readFileSync(img);
  const fsInfo = b.readUInt16LE(0x30) * 512;
  const fat1 = b.readUInt16LE(0x0e) * 512 + 4;
  b[0x41] = 0x01; // BS_Reserved1 dirty bit, as a volume not cleanly unmounted
  writeFileSync(img, b);
  const dev = await openFileDevice(img, { writable: true });
  const r = await writeFatFile(dev, 'EFI/Boot/bootx64.efi', pseudoRandom(30, 20 * 512));
  await dev.close();
  const a = readFileSync(img);
  t.is(a[0x41], 0x01);
  t.is(a.readUInt32LE(fat1), b.readUInt32LE(fat1));
  const free = a.readUInt32LE(fsInfo + 0x1e8);
  t.is(free, b.readUInt32LE(fsInfo + 0x1e8) - r.clusters - 2);
  // After the root at cluster 2: 20 clusters of file and 2 of directories, 3..24; the hint is 25.
  t.is(a.readUInt32LE(fsInfo + 0x1ec), 25);
  const clusters = /(\d+)\/(\d+) clusters/.exec(runAll('fsck.fat', ['-n', '-v', img]).output)!;
  t.is(Number(clusters[2]) - Number(clusters[1]), free, 'fsck.fat counts the same free clusters');
});

test('FAT32 with mirroring off: only the active FAT changes, and the reader (which reads that one) finds the file', async (t) => {
  const img = mkfat32('mirror-off.img');
  const b = readFileSync(img);
  b.writeUInt16LE(0x81, 0x28); // BPB_ExtFlags: mirroring off, FAT 1 active
  writeFileSync(img, b);
  const fatStart = b.readUInt16LE(0x0e) * 512;
  const fatBytes = b.readUInt32LE(0x24) * 512;
  const data = pseudoRandom(31, 3000);
  const dev = await openFileDevice(img, { writable: true });
  await writeFatFile(dev, 'only.bin', data);
  t.is(sha256(await (await openFat(dev)).readFile('only.bin')), sha256(data));
  await dev.close();
  const a = readFileSync(img);
  t.true(a.subarray(fatStart, fatStart + fatBytes).equals(b.subarray(fatStart, fatStart + fatBytes)), 'FAT 0 untouched');
  t.false(a.subarray(fatStart + fatBytes, fatStart + 2 * fatBytes).equals(b.subarray(fatStart + fatBytes, fatStart + 2 * fatBytes)), 'FAT 1 changed');
});

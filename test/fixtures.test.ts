/**
 * The fixture disks are what every later test trusts, so they are checked here with tools that
 * are not Lifeboat: a broken fixture script fails the suite instead of quietly weakening it.
 */
import test from 'ava';
import { createHash } from 'node:crypto';
import { readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture, FIXTURE_NAMES, type FixtureName, type ManifestPartition } from './helpers/fixtures.ts';
import { extractRange, scratchDir, tool, toolBytes } from './helpers/tools.ts';

const sha256 = (b: Uint8Array) => createHash('sha256').update(b).digest('hex');
const BOOTMGR = '{9dea862c-5cdd-4e70-acc1-f32b344d4795}';
const OS_LOADER = '{b1a0e3f2-7c55-4d0e-9a51-6c0ffee0b007}';

/** Each partition of a fixture as its own file, for tools that take no offset. */
function partitionFile(name: FixtureName, p: ManifestPartition, dir: string): string {
  const { image, manifest } = fixture(name);
  return extractRange(image, p.startLba * manifest.sectorSize, p.sizeLba * manifest.sectorSize, join(dir, `${name}-p${p.index}.img`));
}

function blkidType(image: string, offset: number): Record<string, string> {
  let out: string;
  try {
    out = tool('blkid', ['-p', '-O', String(offset), '-o', 'export', image]);
  } catch (e) {
    if ((e as { status?: number }).status === 2) return {}; // nothing recognised
    throw e;
  }
  // -o export escapes spaces and specials with a backslash
  return Object.fromEntries(out.trim().split('\n').map((l) => {
    const eq = l.indexOf('=');
    return [l.slice(0, eq), l.slice(eq + 1).replace(/\\(.)/g, '$1')];
  }));
}

for (const name of ['bios-mbr', 'mixed-mbr', 'ntfs-stress'] as const) {
  test(`${name}: sfdisk reads the intended MBR layout and finds it consistent`, (t) => {
    const { image, manifest } = fixture(name);
    tool('sfdisk', ['--verify', image]);
    const table = JSON.parse(tool('sfdisk', ['--json', image])).partitiontable;
    t.is(table.label, 'dos');
    t.is(table.id, `0x${manifest.diskSignature}`);
    for (const p of manifest.partitions) {
      const found = table.partitions.find((q: { start: number }) => q.start === p.startLba);
      t.truthy(found, `partition ${p.index} at LBA ${p.startLba}`);
      t.is(found.size, p.sizeLba);
      t.is(Number.parseInt(found.type, 16), Number.parseInt(p.type, 16));
      t.is(Boolean(found.bootable), Boolean(p.active));
    }
  });
}

test('uefi-gpt: sgdisk verifies the GPT and reads the intended GUIDs and attributes', (t) => {
  const { image, manifest } = fixture('uefi-gpt');
  t.regex(tool('sgdisk', ['-v', image]), /No problems found/);
  for (const p of manifest.partitions) {
    const info = tool('sgdisk', ['-i', String(p.index), image]);
    t.regex(info, new RegExp(`Partition unique GUID: ${p.uuid}`, 'i'));
    t.regex(info, new RegExp(`Partition GUID code: ${p.type}`, 'i'));
    t.regex(info, new RegExp(`First sector: ${p.startLba} `));
    if (p.attributes) t.regex(info, new RegExp(`Attribute flags: ${p.attributes.slice(2)}`, 'i'));
  }
  t.regex(tool('sgdisk', ['-p', image]), new RegExp(`Disk identifier \\(GUID\\): ${manifest.diskGuid}`, 'i'));
});

test('ntfs-4k: fdisk with 4096-byte sectors reads the intended GPT', (t) => {
  const { image, manifest } = fixture('ntfs-4k');
  const out = tool('fdisk', ['-b', '4096', '-l', image]);
  t.regex(out, new RegExp(`Disk identifier: ${manifest.diskGuid}`, 'i'));
  const p = manifest.partitions[0]!;
  t.regex(out, new RegExp(`img1\\s+${p.startLba}\\s+${p.startLba + p.sizeLba - 1}\\s+${p.sizeLba}`));
});

const BLKID_TYPES: Record<string, Record<string, string>> = {
  ntfs: { TYPE: 'ntfs' }, exfat: { TYPE: 'exfat' }, bitlocker: { TYPE: 'BitLocker' },
  fat12: { TYPE: 'vfat', VERSION: 'FAT12' }, fat16: { TYPE: 'vfat', VERSION: 'FAT16' }, fat32: { TYPE: 'vfat', VERSION: 'FAT32' },
};

for (const name of FIXTURE_NAMES) {
  test(`${name}: blkid recognises each volume as the filesystem the manifest names`, (t) => {
    const { image, manifest } = fixture(name);
    for (const p of manifest.partitions) {
      const found = blkidType(image, p.startLba * manifest.sectorSize);
      if (p.fs === 'unknown' || p.fs === 'none') {
        t.is(found.USAGE, undefined, `partition ${p.index} should hold nothing blkid knows`);
        continue;
      }
      t.like(found, BLKID_TYPES[p.fs]!, `partition ${p.index}`);
      if (p.label) t.is(found.LABEL, p.label, `label of partition ${p.index}`);
    }
  });
}

for (const name of ['bios-mbr', 'uefi-gpt', 'ntfs-4k', 'ntfs-stress'] as const) {
  test(`${name}: ntfsls and ntfscat read every planted file, stream and hash`, (t) => {
    const { manifest } = fixture(name);
    const scratch = scratchDir();
    t.teardown(scratch.remove);
    for (const p of manifest.partitions.filter((q) => q.fs === 'ntfs')) {
      const file = partitionFile(name, p, scratch.dir);
      const listing = tool('ntfsls', ['-R', '-a', '-F', file]);
      for (const [rel, planted] of Object.entries(p.planted ?? {})) {
        const path = `/${rel.replaceAll('\\', '/')}`;
        const leaf = rel.split('\\').at(-1)!;
        t.true(listing.split('\n').includes(leaf), `${leaf} listed on partition ${p.index}`);
        const data = toolBytes('ntfscat', [file, path]);
        t.is(data.length, planted.size, path);
        t.is(sha256(data), planted.sha256, path);
        for (const [stream, fact] of Object.entries(planted.streams ?? {})) {
          t.is(sha256(toolBytes('ntfscat', ['-a', '0x80', '-n', stream, file, path])), fact.sha256, `${path}:${stream}`);
        }
      }
    }
  });
}

for (const name of ['bios-mbr', 'uefi-gpt'] as const) {
  test(`${name}: the Windows volume has every NTFS feature the engine must handle`, (t) => {
    const { manifest } = fixture(name);
    const scratch = scratchDir();
    t.teardown(scratch.remove);
    const win = manifest.partitions.find((p) => p.role === 'windows')!;
    const file = partitionFile(name, win, scratch.dir);
    const info = (path: string) => tool('ntfsinfo', ['-v', '-F', path, file]);
    const attributes = (path: string) => /\$STANDARD_INFORMATION[\s\S]*?File attributes:\s+([A-Z_ ]*)/.exec(info(path))![1]!;

    t.regex(attributes('/Users/Technician/AppData/Logs/setup.log'), /COMPRESSED/);
    t.regex(attributes('/Users/Technician/Virtual/sparse.vhd'), /SPARSE_FILE/);
    t.regex(info('/Users/Technician/Documents/many-streams.txt'), /\$ATTRIBUTE_LIST/);
    t.regex(info('/Users/Technician/Documents/report.txt'), /Number of Hard Links:\s+2/);
    const fragments = Math.max(...[...info('/Users/Technician/Videos/fragmented.bin').matchAll(/fragments: (\d+)/g)].map((m) => Number(m[1])));
    t.true(fragments >= 2, `fragmented.bin has ${fragments} fragment(s)`);

    t.is(toolBytes('ntfscat', [file, '/hiberfil.sys']).subarray(0, 4).toString('latin1'), 'HIBR');
    for (const [rel, size] of Object.entries(win.excludedFiles!)) {
      t.is(toolBytes('ntfscat', [file, `/${rel}`]).length, size, rel);
    }
    const stores = tool('ntfsls', ['-p', '/System Volume Information', file]);
    t.is(stores.split('\n').filter((l) => l.endsWith('{3808876b-c176-4e48-b7ae-04046e6cc752}')).length, 2);

    // The deleted file is gone from the index but its bytes are still in free space.
    t.notRegex(tool('ntfsls', ['-p', '/Users/Technician/Desktop', file]), /deleted-secret/);
    t.true(readFileSync(file).includes(Buffer.from(win.deletedMarker!)), 'deleted data left in free space');
  });
}

/** The BCD and SYSTEM hives as stored inside the fixture's filesystems. */
function hiveFrom(name: FixtureName, partition: number, path: string, dir: string): string {
  const { manifest } = fixture(name);
  const p = manifest.partitions.find((q) => q.index === partition)!;
  const file = partitionFile(name, p, dir);
  const out = join(dir, `${name}-${path.split('\\').at(-1)}`);
  const bytes = p.fs === 'ntfs'
    ? toolBytes('ntfscat', [file, `/${path.replaceAll('\\', '/')}`])
    : toolBytes('mcopy', ['-n', '-i', file, `::/${path.replaceAll('\\', '/')}`, '-']);
  if (bytes.length === 0) throw new Error(`${path} on ${name} partition ${partition} is empty`);
  writeFileSync(out, bytes);
  return out;
}

function expectedDevice(name: FixtureName, role: string): Buffer {
  const { manifest } = fixture(name);
  const p = manifest.partitions.find((q) => q.role === role)!;
  const b = Buffer.alloc(88);
  b.writeUInt32LE(6, 0x10);
  b.writeUInt32LE(0x48, 0x18);
  if (manifest.scheme === 'mbr') {
    b.writeBigUInt64LE(BigInt(p.startLba * manifest.sectorSize), 0x20);
    b.writeUInt32LE(1, 0x34);
    b.writeUInt32LE(Number.parseInt(manifest.diskSignature!, 16), 0x38);
  } else {
    guidBytes(p.uuid!).copy(b, 0x20);
    guidBytes(manifest.diskGuid!).copy(b, 0x38);
  }
  return b;
}

/** Mixed-endian GUID bytes, written out independently of src/binary/guid.ts. */
function guidBytes(text: string): Buffer {
  const h = text.replaceAll('-', '');
  const swap = (s: string) => Buffer.from(s, 'hex').reverse();
  return Buffer.concat([swap(h.slice(0, 8)), swap(h.slice(8, 12)), swap(h.slice(12, 16)), Buffer.from(h.slice(16), 'hex')]);
}

for (const name of ['bios-mbr', 'uefi-gpt'] as const) {
  test(`${name}: hivex reads the BCD store with device elements pointing at the right partitions`, (t) => {
    const { manifest } = fixture(name);
    const scratch = scratchDir();
    t.teardown(scratch.remove);
    const { partition, path } = manifest.bcd![0]!;
    const bcd = hiveFrom(name, partition, path, scratch.dir);
    const element = (guid: string, code: string) => toolBytes('hivexget', [bcd, `\\Objects\\${guid}\\Elements\\${code}`, 'Element']);
    const type = (guid: string) => tool('hivexget', [bcd, `\\Objects\\${guid}\\Description`, 'Type']).trim();

    t.is(type(BOOTMGR), '269484034'); // 0x10100002 Windows Boot Manager
    t.is(type(OS_LOADER), '270532611'); // 0x10200003 Windows Boot Loader
    t.deepEqual(element(BOOTMGR, '11000001'), expectedDevice(name, name === 'bios-mbr' ? 'system' : 'esp'));
    t.deepEqual(element(OS_LOADER, '11000001'), expectedDevice(name, 'windows'));
    t.deepEqual(element(OS_LOADER, '21000001'), expectedDevice(name, 'windows'));
    t.is(element(BOOTMGR, '23000003').toString('utf8').trim(), OS_LOADER); // hivexget prints REG_SZ as UTF-8
    t.is(tool('hivexget', [bcd, '\\Description', 'KeyName']).trim(), 'BCD00000000');
  });

  test(`${name}: hivex reads MountedDevices giving C: to the Windows partition`, (t) => {
    const { manifest } = fixture(name);
    const scratch = scratchDir();
    t.teardown(scratch.remove);
    const { partition, path } = manifest.systemHive!;
    const system = hiveFrom(name, partition, path, scratch.dir);
    const c = toolBytes('hivexget', [system, '\\MountedDevices', '\\DosDevices\\C:']);
    const win = manifest.partitions.find((p) => p.role === 'windows')!;
    const expected = manifest.scheme === 'mbr'
      ? Buffer.concat([Buffer.from(manifest.diskSignature!, 'hex').reverse(), (() => { const b = Buffer.alloc(8); b.writeBigUInt64LE(BigInt(win.startLba * 512)); return b; })()])
      : Buffer.concat([Buffer.from('DMIO:ID:'), guidBytes(win.uuid!)]);
    t.deepEqual(c, expected);
  });
}

test('FAT and exFAT volumes pass fsck and hold the planted files', (t) => {
  const scratch = scratchDir();
  t.teardown(scratch.remove);
  for (const name of ['uefi-gpt', 'mixed-mbr'] as const) {
    for (const p of fixture(name).manifest.partitions) {
      if (!p.fs.startsWith('fat') && p.fs !== 'exfat') continue;
      const file = partitionFile(name, p, scratch.dir);
      if (p.fs === 'exfat') {
        t.regex(tool('fsck.exfat', ['-n', file]), /clean/);
        continue; // its files are read back through exfat-fuse when the fixture is built
      }
      t.notRegex(tool('fsck.fat', ['-n', file]), /differences|Free cluster summary wrong/);
      for (const [rel, planted] of Object.entries(p.planted ?? {})) {
        const data = toolBytes('mcopy', ['-n', '-i', file, `::/${rel.replaceAll('\\', '/')}`, '-']);
        t.is(sha256(data), planted.sha256, `${name} partition ${p.index} ${rel}`);
      }
    }
  }
});

test('exFAT files read back through exfat-fuse match what was planted', (t) => {
  const p = fixture('mixed-mbr').manifest.partitions.find((q) => q.fs === 'exfat')!;
  const reading = p.reading as { files: Record<string, { sha256: string }> };
  for (const [rel, planted] of Object.entries(p.planted!)) t.is(reading.files[rel]?.sha256, planted.sha256, rel);
});

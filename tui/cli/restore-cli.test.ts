/** `lifeboat restore` as a user runs it: plan, confirmation, the written disk checked by sfdisk and ntfsfix. */
import test from 'ava';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../../test/helpers/fixtures.ts';
import { extractRange, scratchDir, tool } from '../../test/helpers/tools.ts';
import { digest, lifeboat } from './cli-test-helpers.ts';

const scratch = scratchDir('lifeboat-restore-cli-');
test.after.always(() => scratch.remove());

let image: Promise<string> | undefined;
function backupOnce(): Promise<string> {
  image ??= (async () => {
    const path = join(scratch.dir, 'bios.lbimg');
    const run = await lifeboat(['backup', fixture('bios-mbr').image, path, '--threads', '2']);
    if (run.status !== 0) throw new Error(run.stderr);
    return path;
  })();
  return image;
}

let n = 0;
const blank = (size = 128 << 20) => {
  const path = join(scratch.dir, `target-${n++}.img`);
  tool('truncate', ['-s', String(size), path]);
  return path;
};

test('--dry-run prints the plan and writes nothing', async (t) => {
  const target = blank();
  const before = digest(target);
  const run = await lifeboat(['restore', await backupOnce(), target, '--dry-run']);
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /Restore .*bios\.lbimg to .*target-\d+\.img/);
  t.regex(run.stdout, /2\s+ntfs\s+Windows\s+17\.0 MiB → 17\.0 MiB\s+103 MiB\s+.*NTFS grown from 64\.0 MiB/);
  t.regex(run.stdout, /3\s+ntfs\s+Recovery\s+81\.0 MiB → 120 MiB.*moved: boot sectors patched/);
  t.regex(run.stdout, /EVERYTHING on .* will be overwritten/);
  t.is(digest(target), before);
});

test('without a terminal or --yes nothing is written; a wrong --yes is refused', async (t) => {
  const target = blank();
  const before = digest(target);
  const ask = await lifeboat(['restore', await backupOnce(), target]);
  t.is(ask.status, 2);
  t.regex(ask.stderr, new RegExp(`confirm the restore with --yes ${target}`));
  const wrong = await lifeboat(['restore', await backupOnce(), target, '--yes', '/dev/sda']);
  t.is(wrong.status, 1);
  t.regex(wrong.stderr, /"\/dev\/sda" is not .*: nothing was written/);
  t.is(digest(target), before);
});

test('--yes TARGET restores: sfdisk and ntfsfix find the disk clean', async (t) => {
  const target = blank();
  const run = await lifeboat(['restore', await backupOnce(), target, '--yes', target, '--json']);
  t.is(run.status, 0, run.stderr);
  const lines = run.stdout.trim().split('\n').map((l) => JSON.parse(l));
  t.is(lines[0].type, 'plan');
  t.is(lines.at(-1).type, 'result');
  tool('sfdisk', ['--verify', target]);
  for (const p of lines[0].partitions as Array<{ index: number; to: { offset: number; size: number } }>) {
    const file = extractRange(target, p.to.offset, p.to.size, join(scratch.dir, `p${p.index}-${n}.img`));
    t.regex(tool('ntfsfix', ['-n', file]), /Checking the alternate boot sector\.\.\. OK/);
  }
  t.regex(lines.at(-1).grown.join(','), /2/);
  t.is(readFileSync(target).subarray(510, 512).toString('hex'), '55aa');
});

test('a target too small is refused with needed and available sizes, exit 1', async (t) => {
  const target = blank(32 << 20);
  const before = digest(target);
  const run = await lifeboat(['restore', await backupOnce(), target, '--yes', target]);
  t.is(run.status, 1);
  t.regex(run.stderr, /partition 2 \(ntfs\) cannot shrink to 7340032 bytes: its volume's data needs 65360384 bytes; the target has 33554432 bytes and needs 58020352 more \(91574784 in all\)/);
  t.is(digest(target), before);
});

test('a missing target file is a usage error that says how to create one', async (t) => {
  const run = await lifeboat(['restore', await backupOnce(), join(scratch.dir, 'nope.img'), '--yes', 'x']);
  t.is(run.status, 2);
  t.regex(run.stderr, /does not exist; for a disk image file, create it first/);
});

test('--keep-layout restores a larger disk with every partition where it was', async (t) => {
  const target = blank();
  const run = await lifeboat(['restore', await backupOnce(), target, '--yes', target, '--keep-layout']);
  t.is(run.status, 0, run.stderr);
  const table = JSON.parse(tool('sfdisk', ['--json', target])).partitiontable;
  t.deepEqual(table.partitions.map((p: { start: number; size: number }) => [p.start, p.size]),
    fixture('bios-mbr').manifest.partitions.map((p) => [p.startLba, p.sizeLba]));
});

test('--sector-size 512 restores a 4Kn image onto a 512-byte-sector file, says so in the plan and the result', async (t) => {
  const image = join(scratch.dir, 'ntfs-4k.lbimg');
  const backup = await lifeboat(['backup', fixture('ntfs-4k').image, image, '--threads', '2']);
  t.is(backup.status, 0, backup.stderr);
  const target = blank(fixture('ntfs-4k').manifest.size);
  const run = await lifeboat(['restore', image, target, '--sector-size', '512', '--yes', target]);
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /the target has 512-byte sectors, the image 4096-byte ones: the volumes of partition\(s\) 1 are rewritten for 512-byte sectors/);
  t.regex(run.stdout, /volume\(s\) of partition\(s\) 1 rewritten for the target's sector size/);
  t.regex(tool('sgdisk', ['-v', target]), /No problems found/);
});

test('a restore that moves partitions with --new-disk-id rewrites the boot configuration and says so; --no-boot-repair leaves it', async (t) => {
  const target = blank(160 << 20);
  const run = await lifeboat(['restore', await backupOnce(), target, '--new-disk-id', '--yes', target]);
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /boot repair: partition 1 \\Boot\\BCD: 3 value\(s\) now name the restored partitions/);
  t.regex(run.stdout, /boot repair: partition 2 \\Windows\\System32\\config\\SYSTEM: 4 value\(s\)/);
  t.regex(run.stdout, /MBR boot code: empty, Lifeboat's own is written/, 'the fixture\'s MBR code area is empty');
  t.true(readFileSync(target).subarray(0, 440).some((b) => b !== 0));
  const other = blank(160 << 20);
  const skipped = await lifeboat(['restore', await backupOnce(), other, '--new-disk-id', '--no-boot-repair', '--yes', other]);
  t.is(skipped.status, 0, skipped.stderr);
  t.notRegex(skipped.stdout, /boot repair/);
  t.notRegex(skipped.stdout, /MBR boot code/);
  t.true(readFileSync(other).subarray(0, 440).every((b) => b === 0), 'with --no-boot-repair the image\'s (empty) code stays');
});

/** `lifeboat fix-boot` as a user runs it: the plan, the dry run that writes nothing, the confirmed repair. */
import test from 'ava';
import { closeSync, copyFileSync, openSync, writeSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../../test/helpers/fixtures.ts';
import { scratchDir, tool } from '../../test/helpers/tools.ts';
import { digest, lifeboat } from './cli-test-helpers.ts';

const scratch = scratchDir('lifeboat-fix-boot-cli-');
test.after.always(() => scratch.remove());

/** bios-mbr with another disk signature and no partition active: its store names the old one. */
function brokenDisk(name: string): string {
  const copy = join(scratch.dir, name);
  copyFileSync(fixture('bios-mbr').image, copy);
  tool('sfdisk', ['--disk-id', copy, '0x0badcafe']);
  const fd = openSync(copy, 'r+');
  writeSync(fd, Buffer.from([0]), 0, 1, 446);
  closeSync(fd);
  return copy;
}

test('--dry-run shows what was found and what would change, and writes nothing', async (t) => {
  const disk = brokenDisk('dry.img');
  const before = digest(disk);
  const run = await lifeboat(['fix-boot', disk, '--dry-run']);
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /found BCD store: partition 1 \\Boot\\BCD/);
  t.regex(run.stdout, /found SYSTEM hive: partition 2 \\Windows\\System32\\config\\SYSTEM/);
  t.regex(run.stdout, /will rewrite in \\Boot\\BCD: .*1b0a7f53.*0badcafe/);
  t.regex(run.stdout, /MBR boot code: empty, Lifeboat's own is written/);
  t.regex(run.stdout, /partition 1 \(holding \\Boot\\BCD\) is marked active/);
  t.regex(run.stdout, /9 change\(s\) to make\./);
  t.is(digest(disk), before);
});

test('without a terminal the repair needs --yes DISK; with it the disk is repaired and a second run finds nothing', async (t) => {
  const disk = brokenDisk('fix.img');
  const before = digest(disk);
  const refused = await lifeboat(['fix-boot', disk]);
  t.is(refused.status, 2);
  t.regex(refused.stderr, /confirm the repair with --yes/);
  t.is(digest(disk), before);
  const run = await lifeboat(['fix-boot', disk, '--yes', disk]);
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /Boot configuration repaired/);
  t.regex(tool('sfdisk', ['-d', disk]), /bootable/);
  const again = await lifeboat(['fix-boot', disk, '--dry-run']);
  t.regex(again.stdout, /the BCD stores already name this disk/);
  t.regex(again.stdout, /Nothing to change\./);
});

/** The command line as a user runs it: a real process on the pinned Node, real fixture images. */
import test from 'ava';
import { execFileSync, spawnSync } from 'node:child_process';
import { closeSync, mkdtempSync, openSync, rmSync, statSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { fixture, FIXTURE_NAMES, ROOT } from '../../test/helpers/fixtures.ts';

const lifeboat = (...args: string[]) =>
  spawnSync(process.execPath, [join(ROOT, 'tui', 'main.ts'), ...args], { encoding: 'utf8', cwd: ROOT });

for (const name of FIXTURE_NAMES) {
  test(`inspect --json ${name}: layout and filesystems as the manifest records them`, (t) => {
    const { image, manifest } = fixture(name);
    const run = lifeboat('inspect', image, '--json');
    t.is(run.status, 0, run.stderr);
    const report = JSON.parse(run.stdout);
    t.is(report.layout.scheme, manifest.scheme);
    t.is(report.layout.sectorSize, manifest.sectorSize);
    t.deepEqual(
      report.volumes.map((v: { partition: { index: number; offset: number }; filesystem: string }) => [v.partition.index, v.partition.offset, v.filesystem]),
      manifest.partitions.map((p) => [p.index, p.startLba * manifest.sectorSize, p.fs === 'none' ? 'unknown' : p.fs]),
    );
    for (const p of manifest.partitions.filter((q) => q.fs === 'ntfs')) {
      const v = report.volumes.find((x: { partition: { index: number } }) => x.partition.index === p.index);
      const reading = p.reading as { usedClusters: number; clusterSize: number };
      t.is(v.label, p.label);
      t.is(v.usedBytes, reading.usedClusters * reading.clusterSize, 'used bytes from ntfsinfo -m');
      const excluded = Object.fromEntries(v.excludedFiles.map((f: { path: string; size: number }) => [f.path.slice(1), f.size]));
      t.deepEqual(excluded, p.excludedFiles ?? {});
      t.is(v.diffArea.bytes, p.diffArea?.bytes ?? 0);
    }
    for (const p of manifest.partitions.filter((q) => q.fs.startsWith('fat'))) {
      const v = report.volumes.find((x: { partition: { index: number } }) => x.partition.index === p.index);
      t.is(v.label, p.label);
      t.is(v.usedBytes, (p.reading as { usedClusters: number }).usedClusters * v.clusterSize, 'used clusters from fsck.fat -n -v');
    }
  });
}

test('inspect prints a readable table', (t) => {
  const run = lifeboat('inspect', fixture('bios-mbr').image);
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /MBR, signature 1b0a7f53/);
  t.regex(run.stdout, /1\s+1\.00 MiB\s+16\.0 MiB\s+NTFS\/exFAT\s+ntfs\s+System Reserved\s+2\.57 MiB\s+active/);
  t.regex(run.stdout, /pagefile\.sys 4\.00 MiB \(contents left out of backups\)/);
  t.regex(run.stdout, /shadow-copy diff area: 3\.00 MiB in 2 file\(s\)/);
});

test('with no command it inspects the bundled demo disk (the quick start)', (t) => {
  const run = lifeboat();
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /Lifeboat demo/);
  t.regex(run.stdout, /Windows recovery \(hidden\)\s+ntfs/);
});

test('the bundled demo disk stays under 2 MB compressed', (t) => {
  t.true(statSync(join(ROOT, 'demo', 'demo-disk.img.zst')).size < 2_000_000);
});

test('a missing image is a one-line error naming it, exit status 1', (t) => {
  const run = lifeboat('inspect', '/nonexistent/disk.img');
  t.is(run.status, 1);
  t.is(run.stdout, '');
  t.regex(run.stderr, /^lifeboat: open of \/nonexistent\/disk\.img at byte 0 failed: ENOENT/);
  t.notRegex(run.stderr, /\n.+\n/, 'no stack trace');
});

test('a file without a partition table is reported as such, not a crash', (t) => {
  const run = lifeboat('inspect', join(ROOT, 'package.json'));
  t.is(run.status, 0, 'no boot signature: reported as a disk without a partition table');
  t.regex(run.stdout, /no partition table/);
});

test('a volume whose filesystem is damaged is reported and the rest of the disk still shown', (t) => {
  const { image, manifest } = fixture('bios-mbr');
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-cli-'));
  t.teardown(() => rmSync(dir, { recursive: true }));
  const copy = join(dir, 'disk.img');
  execFileSync('cp', ['--sparse=always', image, copy]);
  const win = manifest.partitions.find((p) => p.role === 'windows')!;
  const fd = openSync(copy, 'r+');
  const lcn = Buffer.alloc(8);
  lcn.writeBigUInt64LE(1n << 40n);
  writeSync(fd, lcn, 0, 8, win.startLba * 512 + 0x30); // $MFT LCN far outside the volume
  closeSync(fd);
  const run = lifeboat('inspect', copy);
  t.is(run.status, 0, run.stderr);
  t.regex(run.stdout, /partition 2:\n\s+filesystem unreadable: NTFS boot sector at byte 0: \$MFT LCN 1099511627776 is outside/);
  t.regex(run.stdout, /3\s+81\.0 MiB.*Recovery/);
});

test('usage errors exit 2', (t) => {
  t.is(lifeboat('frobnicate').status, 2);
  t.is(lifeboat('inspect').status, 2);
  t.regex(lifeboat('help').stdout, /usage: lifeboat/);
});

/**
 * `lifeboat backup`, `info` and `verify` as a user runs them: real processes, fixture disks,
 * images in a temporary directory. Hashes are checked with coreutils, and the source's SHA-256
 * is taken again after every backup: a backup never writes its source.
 */
import test from 'ava';
import { copyFileSync, existsSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../../test/helpers/fixtures.ts';
import { scratchDir } from '../../test/helpers/tools.ts';
import { digest, jsonLines, lifeboat } from './cli-test-helpers.ts';

const scratch = scratchDir('lifeboat-cli-backup-');
test.after.always(() => scratch.remove());

type Disk = 'bios-mbr' | 'mixed-mbr';
const sourceHash: Record<Disk, string> = { 'bios-mbr': digest(fixture('bios-mbr').image), 'mixed-mbr': digest(fixture('mixed-mbr').image) };

let images = 0;
const newImage = () => join(scratch.dir, `image-${images++}.lbimg`);

async function backup(t: import('ava').ExecutionContext, name: Disk, args: string[]) {
  const image = newImage();
  const run = await lifeboat(['backup', fixture(name).image, image, '--threads', '2', ...args]);
  t.is(run.status, 0, run.stderr);
  t.is(digest(fixture(name).image), sourceHash[name], 'the source is unchanged');
  return { image, run };
}

async function info(t: import('ava').ExecutionContext, image: string, args: string[] = []) {
  const run = await lifeboat(['info', image, '--json', ...args]);
  t.is(run.status, 0, run.stderr);
  return JSON.parse(run.stdout);
}

test('intelligent backup of bios-mbr: the plan names exclusions and the diff area; info and verify agree', async (t) => {
  const { manifest } = fixture('bios-mbr');
  const { image, run } = await backup(t, 'bios-mbr', []);
  t.regex(run.stdout, /Plan: intelligent backup of .*bios-mbr\.img \(96\.0 MiB, 512-byte sectors, MBR\)/);
  t.regex(run.stdout, /2\s+ntfs\s+Windows\s+intelligent\s+\S+ MiB\s+64\.0 MiB/);
  t.regex(run.stdout, /pagefile\.sys 4\.00 MiB \(contents left out\)/);
  t.regex(run.stdout, /hiberfil\.sys 3\.00 MiB \(contents left out\)/);
  t.regex(run.stdout, /shadow-copy diff area: 3\.00 MiB \(included\)/);
  t.regex(run.stdout, /Image written: .*image-\d+\.lbimg\n/);

  const summary = await info(t, image);
  t.true(summary.complete);
  t.is(summary.mode, 'intelligent');
  t.is(summary.source.size, manifest.size);
  t.deepEqual(summary.partitions.map((p: { index: number; filesystem: string; label: string }) => [p.index, p.filesystem, p.label]),
    manifest.partitions.map((p) => [p.index, p.fs, p.label]));
  const win = summary.partitions.find((p: { index: number }) => p.index === 2);
  t.deepEqual(Object.fromEntries(win.excludedFiles.map((f: { path: string; size: number }) => [f.path.slice(1), f.size])),
    manifest.partitions.find((p) => p.index === 2)!.excludedFiles);
  t.deepEqual(win.diffArea, { bytes: 3 << 20, excluded: false });
  t.is(summary.image.bytes, statSync(image).size);
  t.true(summary.chunks > 0);

  const text = await lifeboat(['info', image]);
  t.regex(text.stdout, /Lifeboat image, complete/);

  const verify = await lifeboat(['verify', image]);
  t.is(verify.status, 0, verify.stdout + verify.stderr);
  t.regex(verify.stdout, /OK: no problems found/);
});

test('sector backup of mixed-mbr with --exclude-diff-area and --partitions: only those partitions, every sector', async (t) => {
  const { manifest } = fixture('mixed-mbr');
  const { image, run } = await backup(t, 'mixed-mbr', ['--mode', 'sector', '--partitions', '1,3', '--exclude-diff-area', '--level', '1', '--chunk-size', '2M']);
  t.regex(run.stdout, /Plan: sector backup/);
  t.regex(run.stdout, /zstd level 1, 2\.00 MiB chunks/);
  const summary = await info(t, image);
  t.is(summary.mode, 'sector');
  t.is(summary.image.chunkSize, 2 << 20);
  t.deepEqual(summary.partitions.map((p: { index: number }) => p.index), [1, 3]);
  for (const p of summary.partitions) {
    const mp = manifest.partitions.find((q) => q.index === p.index)!;
    t.is(p.mode, 'sector');
    t.is(p.storedBytes, mp.sizeLba * manifest.sectorSize, `partition ${p.index}: every sector`);
  }
  const verify = await lifeboat(['verify', image, '--against-source', fixture('mixed-mbr').image]);
  t.is(verify.status, 0, verify.stdout + verify.stderr);
  t.regex(verify.stdout, /compared with the source: .* no differences/);
});

test('intelligent backup of mixed-mbr warns about the partitions read sector by sector', async (t) => {
  const { run } = await backup(t, 'mixed-mbr', []);
  t.regex(run.stdout, /warning: partition 3: BitLocker-encrypted volumes cannot be read for their allocation; every sector is copied/);
  t.regex(run.stdout, /warning: partition 5: the filesystem is not recognised; every sector is copied/);
  t.notRegex(run.stderr, /BitLocker/, 'the engine repeats the plan warnings as events; they are shown once');
});

test('forensic backup: hashes equal sha256sum/md5sum/sha1sum of the disk, logs beside the image, verify recomputes them', async (t) => {
  const { image: disk } = fixture('mixed-mbr');
  const expected = { sha256: sourceHash['mixed-mbr'], md5: digest(disk, 'md5sum'), sha1: digest(disk, 'sha1sum') };
  const { image, run } = await backup(t, 'mixed-mbr', ['--mode', 'forensic', '--hash', 'md5,sha1', '--examiner', 'Jane Doe',
    '--case', '2024-017', '--evidence', 'E-3', '--notes', 'Seized at the office, powered off.', '--verify']);
  t.regex(run.stdout, /every byte of the device: 64\.0 MiB \(67108864 bytes\)/);
  t.regex(run.stdout, new RegExp(`sha256\\s+${expected.sha256}`));
  t.regex(run.stdout, /OK: no problems found/);

  const log = JSON.parse(readFileSync(`${image}.log.json`, 'utf8'));
  t.deepEqual(log.hashes, expected);
  t.is(log.examiner, 'Jane Doe');
  t.is(log.caseNumber, '2024-017');
  t.is(log.evidenceId, 'E-3');
  t.is(log.notes, 'Seized at the office, powered off.');
  t.deepEqual([log.device.name, log.device.size, log.device.sectorSize], [disk, 64 << 20, 512]);
  t.deepEqual(log.unreadable, []);
  t.deepEqual(log.image.parts, [image]);
  t.is(log.image.bytes, statSync(image).size);
  t.true(Date.parse(log.started) <= Date.parse(log.finished));
  t.is(log.tool, 'lifeboat 0.1.0');
  t.deepEqual(log.verification && [log.verification.complete, log.verification.problems, log.verification.hashesMatch], [true, 0, true]);

  const text = readFileSync(`${image}.log.txt`, 'utf8');
  for (const line of ['Examiner:          Jane Doe', 'Case number:       2024-017', `  SHA-256:         ${expected.sha256}`,
    `  MD5:             ${expected.md5}`, `  SHA-1:           ${expected.sha1}`, 'Unreadable ranges: none']) t.true(text.includes(`${line}\n`), line);

  const summary = await info(t, image);
  t.is(summary.mode, 'forensic');
  t.deepEqual(summary.hashes, expected);
  t.is(summary.acquisition.examiner, 'Jane Doe');

  const verify = await lifeboat(['verify', image]);
  t.is(verify.status, 0, verify.stdout);
  t.regex(verify.stdout, new RegExp(`md5\\s+${expected.md5}\\s+matches the recorded hash`));
});

test('a flipped bit in a chunk: verify exits 3 and names the part, byte, record and source offset', async (t) => {
  const { image } = await backup(t, 'mixed-mbr', ['--level', '1']);
  const copy = newImage();
  copyFileSync(image, copy);
  // Records start with the marker "LBREC\r\n\x1a" (docs/formats/image.md); the first is the
  // metadata, the next ones chunks. Flip a bit in the payload of the second chunk record.
  const bytes = readFileSync(copy);
  const marker = Buffer.from('LBREC\r\n\x1a', 'latin1');
  let at = -1;
  for (let n = 0; n < 3; n++) at = bytes.indexOf(marker, at + 1);
  bytes[at + 48 + 100]! ^= 0x10;
  writeFileSync(copy, bytes);
  const verify = await lifeboat(['verify', copy]);
  t.is(verify.status, 3, verify.stdout + verify.stderr);
  t.regex(verify.stdout, new RegExp(`part 1, byte ${at}, record \\d+ \\(source offset \\d+\\): .*payload CRC-32`));
  t.regex(verify.stdout, /FAILED: 1 problem found/);
  const json = await lifeboat(['verify', copy, '--json']);
  t.is(json.status, 3);
  const result = jsonLines(json.stdout).at(-1)!;
  t.is(result.type, 'result');
  t.false(result.ok);
  t.is((result.problems as Array<{ where: string }>)[0]!.where.startsWith(`part 1, byte ${at},`), true);
});

test('a cut-off image: info shows it incomplete with the reason, verify exits 3', async (t) => {
  const { image } = await backup(t, 'mixed-mbr', ['--level', '1']);
  const cut = newImage();
  writeFileSync(cut, readFileSync(image).subarray(0, Math.floor(statSync(image).size / 2)));
  const summary = await info(t, cut);
  t.false(summary.complete);
  t.regex(summary.problems[0], /has no footer: the image was not finished/);
  t.true(summary.chunks > 0);
  const text = await lifeboat(['info', cut]);
  t.regex(text.stdout, /Lifeboat image, INCOMPLETE[\s\S]*incomplete because:\n\s+.*has no footer/);
  const verify = await lifeboat(['verify', cut]);
  t.is(verify.status, 3);
  t.regex(verify.stdout, /INCOMPLETE/);
});

test('--json: one JSON object per line, plan first, progress events, a result last', async (t) => {
  const image = newImage();
  const run = await lifeboat(['backup', fixture('mixed-mbr').image, image, '--json', '--threads', '2', '--verify']);
  t.is(run.status, 0, run.stderr);
  const lines = jsonLines(run.stdout);
  t.is(lines[0]!.type, 'plan');
  t.is((lines[0]!.partitions as unknown[]).length, 5);
  t.true(lines.some((l) => l.type === 'progress' && l.phase === 'copy'));
  t.true(lines.some((l) => l.type === 'warning'));
  const result = lines.at(-1)!;
  t.is(result.type, 'result');
  t.is(result.path, image);
  t.is(result.imageBytes, statSync(image).size);
  t.is((result.verify as { ok: boolean }).ok, true);
  t.is(run.stderr, '', 'nothing but JSON, and nothing on stderr');
});

test('usage errors exit 2 and write nothing', async (t) => {
  const disk = fixture('mixed-mbr').image;
  const image = newImage();
  const cases: Array<[string[], RegExp]> = [
    [['backup'], /the source disk or image is missing/],
    [['backup', disk], /the image to write is missing/],
    [['backup', disk, image, '--mode', 'quick'], /--mode "quick" is not one of intelligent, sector, forensic/],
    [['backup', disk, image, '--mode', 'forensic', '--partitions', '1'], /a forensic image covers the whole device: --partitions cannot be used/],
    [['backup', disk, image, '--examiner', 'X'], /--examiner belongs to a forensic acquisition/],
    [['backup', disk, image, '--level', '25'], /--level "25" is not a whole number from 1 to 19/],
    [['backup', disk, image, '--chunk-size', '3M'], /--chunk-size "3M": the chunk size is 1M, 2M or 4M/],
    [['backup', disk, image, '--split', '4Q'], /--split "4Q" is not a size/],
    [['backup', disk, image, '--compress'], /backup has no option --compress/],
    [['backup', disk, image, '--partitions', '9'], /.*has no partition 9 \(it has 1, 2, 3, 5, 6\)/],
    [['backup', disk, image, '--encrypt'], /a passphrase is needed and there is no terminal to ask on: use --passphrase-file FILE or LIFEBOAT_PASSPHRASE/],
    [['verify'], /the image to verify is missing/],
    [['info', 'a', 'b'], /info: unexpected argument "b"/],
    [['frobnicate'], /unknown command "frobnicate"/],
  ];
  const runs = await Promise.all(cases.map(([args]) => lifeboat(args)));
  for (const [i, [args, message]] of cases.entries()) {
    const run = runs[i]!;
    t.is(run.status, 2, `${args.join(' ')}: ${run.stderr}`);
    t.regex(run.stderr, new RegExp(`^lifeboat: ${message.source}`), args.join(' '));
    t.is(run.stderr.trimEnd().split('\n').length, 1, 'one line');
  }
  t.false(existsSync(image));
  const help = await lifeboat(['backup', '--help']);
  t.is(help.status, 0);
  t.regex(help.stdout, /--mode intelligent\|sector\|forensic/);
});

test('an existing destination is refused before anything is read, and left as it was', async (t) => {
  const image = newImage();
  writeFileSync(image, 'precious');
  const run = await lifeboat(['backup', fixture('mixed-mbr').image, image]);
  t.is(run.status, 1);
  t.regex(run.stderr, /^lifeboat: .*image-\d+\.lbimg already exists; Lifeboat never overwrites an image/);
  t.is(readFileSync(image, 'utf8'), 'precious');
  t.is(run.stdout, '', 'refused before planning');

  // A leftover later part would stop a split backup halfway: refused up front too.
  const other = newImage();
  writeFileSync(`${other}.002`, 'old part');
  const split = await lifeboat(['backup', fixture('mixed-mbr').image, other, '--split', '9M']);
  t.is(split.status, 1);
  t.regex(split.stderr, /\.lbimg\.002 already exists/);
  t.false(existsSync(other));

  // A forensic log beside the image is evidence too.
  const forensic = newImage();
  writeFileSync(`${forensic}.log.txt`, 'old log');
  const log = await lifeboat(['backup', fixture('mixed-mbr').image, forensic, '--mode', 'forensic']);
  t.is(log.status, 1);
  t.regex(log.stderr, /\.log\.txt already exists/);
});

test('Ctrl-C: the backup stops, says the image is incomplete, exits 130; info shows it incomplete', async (t) => {
  const image = newImage();
  let sent = false;
  // The largest fixture at the slowest level, so the copy is still running when the signal comes.
  const run = await lifeboat(['backup', fixture('ntfs-stress').image, image, '--mode', 'forensic', '--level', '19', '--threads', '2', '--json'], {
    started: (child) => child.stdout!.on('data', (s: Buffer) => {
      if (!sent && s.toString().includes('"type":"progress"')) {
        sent = true;
        child.kill('SIGINT');
      }
    }),
  });
  t.true(sent, 'a progress event came before the end');
  t.is(run.status, 130, run.stderr);
  t.regex(run.stderr, /lifeboat: interrupted: .*\.lbimg is incomplete \(it has no footer\)/);
  t.deepEqual(jsonLines(run.stdout).at(-1), { type: 'error', code: 'ABORTED', message: run.stderr.trimEnd().split('\n').at(-1)!.replace(/^lifeboat: /, '') });
  const summary = await info(t, image);
  t.false(summary.complete);
  t.false(existsSync(`${image}.log.json`), 'no acquisition log for an unfinished image');
});

/**
 * NTFS re-expressed in another sector size, judged by ntfsprogs: the ntfs-4k fixture volume goes
 * to 512-byte sectors and back; mkntfs volumes with 64 KiB and 2 MiB clusters take the large
 * sectors-per-cluster codes; volumes that cannot be expressed are refused and left untouched.
 */
import test, { type ExecutionContext } from 'ava';
import { join } from 'node:path';
import { fixture } from '../../../test/helpers/fixtures.ts';
import { extractRange, scratchDir, toolBytes } from '../../../test/helpers/tools.ts';
import { SectorSizeRefusedError } from '../sector-size.ts';
import { convertFile, fileSha, fingerprint, planFile, run, runAll, sha256, sparseFile } from '../sector-size-testing.ts';

const MiB = 1 << 20;
const scratch = scratchDir('lifeboat-ntfs-ss-');
test.after.always(() => scratch.remove());

function mkntfs(name: string, size: number, args: string[]): string {
  const path = sparseFile(join(scratch.dir, name), size);
  run('mkntfs', ['-Q', '-F', '-q', ...args, path]);
  return path;
}

function ntfsinfo(image: string): { sectorSize: number; clusterSize: number; clusters: number; freeClusters: number; mftRecordSize: number } {
  const out = run('ntfsinfo', ['-m', image]);
  const num = (re: RegExp) => Number(re.exec(out)?.[1] ?? NaN);
  return {
    sectorSize: num(/Sector Size: (\d+)/), clusterSize: num(/Cluster Size: (\d+)/), clusters: num(/Volume Size in Clusters: (\d+)/),
    freeClusters: num(/Free Clusters: (\d+)/), mftRecordSize: num(/MFT Record Size: (\d+)/),
  };
}

function checkNtfsfix(t: ExecutionContext, image: string): void {
  const fix = runAll('ntfsfix', ['-n', image]);
  t.is(fix.code, 0, fix.output);
  t.regex(fix.output, /Checking the alternate boot sector\.\.\. OK/);
  t.notRegex(fix.output, /BAD|FAILED|error/i, fix.output);
}

test('the 4Kn fixture volume goes to 512-byte sectors (ntfsfix, ntfsinfo, ntfsls, ntfscat agree) and back to identical bytes', async (t) => {
  const { image, manifest } = fixture('ntfs-4k');
  const p = manifest.partitions[0]!;
  const file = extractRange(image, p.startLba * 4096, p.sizeLba * 4096, join(scratch.dir, 'ntfs-4k.img'));
  const original = fileSha(file);
  const before = ntfsinfo(file);
  const listing = run('ntfsls', ['-R', '-a', file]);
  t.is(before.sectorSize, 4096);

  const change = await convertFile(file, 512);
  t.like(change, { kind: 'ntfs', from: 4096, to: 512 });
  t.deepEqual(change.writes.map((w) => [w.offset, w.bytes.length]), [[p.sizeLba * 4096 - 4096, 4096], [0, 4096]]);
  checkNtfsfix(t, file);
  const after = ntfsinfo(file);
  t.deepEqual(after, { ...before, sectorSize: 512 }, 'same clusters, free clusters and record size; 512-byte sectors');
  t.is(run('ntfsls', ['-R', '-a', file]), listing);
  for (const [rel, planted] of Object.entries(p.planted!)) {
    t.is(sha256(toolBytes('ntfscat', [file, `/${rel.replaceAll('\\', '/')}`])), planted.sha256, rel);
  }
  t.is(Number((await planFile(file, 512)).writes.length), 0, 'already 512: nothing to write');

  const back = await convertFile(file, 4096);
  t.like(back, { kind: 'ntfs', from: 512, to: 4096 });
  t.is(fileSha(file), original, 'the 512-byte form converts back to the very bytes mkntfs wrote');
});

for (const [label, cluster, spcCode] of [['64 KiB', 65536, 128], ['2 MiB', 2 * MiB, 0xf4]] as const) {
  test(`4Kn volume with ${label} clusters: 512-byte sectors need sectors-per-cluster code 0x${spcCode.toString(16)}`, async (t) => {
    const file = mkntfs(`c${cluster}.img`, 128 * MiB, ['-s', '4096', '-c', String(cluster)]);
    const before = ntfsinfo(file);
    const listing = run('ntfsls', ['-R', '-a', file]);
    const upcase = sha256(toolBytes('ntfscat', [file, '/$UpCase']));
    await convertFile(file, 512);
    t.is(toolBytes('dd', [`if=${file}`, 'bs=1', 'skip=13', 'count=1', 'status=none'])[0], spcCode);
    checkNtfsfix(t, file);
    t.deepEqual(ntfsinfo(file), { ...before, sectorSize: 512 });
    t.is(run('ntfsls', ['-R', '-a', file]), listing);
    t.is(sha256(toolBytes('ntfscat', [file, '/$UpCase'])), upcase, '$UpCase (128 KiB, 2 or 32 clusters) reads the same');
  });
}

async function refused(t: ExecutionContext, file: string, to: number, reason: string, message: RegExp): Promise<void> {
  const before = fingerprint(file);
  const e = await t.throwsAsync(planFile(file, to), { instanceOf: SectorSizeRefusedError });
  t.is(e?.code, 'SECTOR_SIZE_REFUSED');
  t.like(e?.data, { filesystem: 'ntfs', reason, to });
  t.regex(e?.message ?? '', message);
  t.is(fingerprint(file), before, 'planning wrote nothing');
}

test('512-byte volume with 1024-byte MFT records (mkntfs and Windows default) is refused for 4096-byte sectors', async (t) => {
  const file = mkntfs('s512.img', 64 * MiB, []);
  t.is(ntfsinfo(file).mftRecordSize, 1024);
  await refused(t, file, 4096, 'mft-record-too-small',
    /formatted for 512-byte sectors with 1024-byte MFT records.*cannot hold.*Restore it to a disk with 512-byte sectors \(512n or 512e\)/);
});

test('clusters smaller than 4096 bytes and volumes of a size that is not whole 4096-byte sectors are refused', async (t) => {
  await refused(t, mkntfs('c2k.img', 64 * MiB, ['-c', '2048']), 4096, 'cluster-too-small', /2048 bytes, smaller than one 4096-byte sector/);
  await refused(t, mkntfs('odd.img', 64 * MiB + 1024, []), 4096, 'size-not-multiple', /not a whole number of 4096-byte sectors/);
});

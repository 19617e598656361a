/**
 * exFAT re-expressed in another sector size, judged by exfatprogs (dump.exfat, fsck.exfat on a
 * loop device of the new logical sector size) and by reading every file back through
 * exfat-fuse: the fixture's 512-byte volume goes to 4096 and back, a volume made on a 4096-byte
 * loop device goes to 512; volumes that cannot be expressed are refused and left untouched.
 */
import test, { type ExecutionContext } from 'ava';
import { mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fixture } from '../../../test/helpers/fixtures.ts';
import { extractRange, readBytes, scratchDir } from '../../../test/helpers/tools.ts';
import { pseudoRandom } from '../ntfs/test-volumes.ts';
import { SectorSizeRefusedError } from '../sector-size.ts';
import { convertFile, fingerprint, planFile, run, runAll, sha256, sparseFile, withExfatFuse, withLoop } from '../sector-size-testing.ts';

const MiB = 1 << 20;
const scratch = scratchDir('lifeboat-exfat-ss-');
test.after.always(() => scratch.remove());

/** dump.exfat's boot-sector readings. */
function dump(file: string): Record<string, number> {
  const out = run('dump.exfat', [file]);
  const num = (label: string) => Number(new RegExp(`${label}[^:]*:\\s*(\\S+)`).exec(out)?.[1]);
  return {
    volumeLength: num('Volume Length'), fatOffset: num('FAT Offset'), fatLength: num('FAT Length'), heap: num('Cluster Heap Offset'),
    clusters: num('Cluster Count'), root: num('Root Cluster'), sectorBits: num('Sector Size Bits'), clusterBits: num('Sector per Cluster bits'),
    free: num('Free Clusters'),
  };
}

/** fsck.exfat on a loop device of the volume's sector size, then every file's hash through exfat-fuse. */
async function check(t: ExecutionContext, file: string, sectorSize: number, files: Record<string, string>): Promise<void> {
  await withLoop(file, sectorSize, async (device) => {
    const fsck = runAll('fsck.exfat', ['-n', device]);
    t.is(fsck.code, 0, fsck.output);
    t.regex(fsck.output, /clean/);
    await withExfatFuse(device, (dir) => {
      for (const [rel, hash] of Object.entries(files)) t.is(sha256(readFileSync(join(dir, rel))), hash, rel);
    }, true);
  });
}

function expectConverted(t: ExecutionContext, before: Record<string, number>, after: Record<string, number>, from: number, to: number): void {
  const k = to / from;
  const scale = (x: number) => x / k;
  t.deepEqual(after, {
    ...before, sectorBits: Math.log2(to), clusterBits: before.clusterBits! - Math.log2(k),
    volumeLength: Math.floor(scale(before.volumeLength!)), fatOffset: scale(before.fatOffset!), fatLength: scale(before.fatLength!), heap: scale(before.heap!),
  });
}

test('the fixture exFAT volume (512-byte sectors) goes to 4096 (dump.exfat, fsck.exfat, exfat-fuse agree) and back', async (t) => {
  const { image, manifest } = fixture('mixed-mbr');
  const p = manifest.partitions.find((q) => q.fs === 'exfat')!;
  const file = extractRange(image, p.startLba * 512, p.sizeLba * 512, join(scratch.dir, 'exfat-512.img'));
  const original = readFileSync(file);
  const planted = Object.fromEntries(Object.entries(p.planted!).map(([rel, f]) => [rel.replaceAll('\\', '/'), f.sha256]));
  const before = dump(file);

  const change = await convertFile(file, 4096);
  t.deepEqual(change.writes.map((w) => [w.offset, w.bytes.length]), [[49152, 49152], [0, 49152]]);
  expectConverted(t, before, dump(file), 512, 4096);
  await check(t, file, 4096, planted);

  await convertFile(file, 512);
  const back = readFileSync(file);
  const differing: number[] = [];
  for (let i = 0; i < back.length; i++) if (back[i] !== original[i]) differing.push(i);
  // Only the backup's VolumeFlags/PercentInUse may differ: the backup is rebuilt from the main region.
  t.true(differing.every((i) => [0x6a, 0x6b, 0x70].includes(i - 12 * 512)), `bytes ${differing.join()} differ`);
  await check(t, file, 512, planted);
});

test('an exFAT volume made on a 4096-byte loop device goes to 512-byte sectors; the old boot regions\' rest is zeroed', async (t) => {
  const file = sparseFile(join(scratch.dir, 'exfat-4k.img'), 64 * MiB);
  const files: Record<string, Buffer> = { 'readme.txt': Buffer.from('exFAT on 4Kn\n'), 'Deep/Dir/blob.bin': pseudoRandom(5, 700_000) };
  await withLoop(file, 4096, async (device) => {
    run('mkfs.exfat', ['-L', 'EX4K', device]);
    await withExfatFuse(device, (dir) => {
      for (const [rel, data] of Object.entries(files)) {
        mkdirSync(join(dir, rel, '..'), { recursive: true });
        writeFileSync(join(dir, rel), data);
      }
    });
  });
  const before = dump(file);
  t.is(before.sectorBits, 12);
  const change = await convertFile(file, 512);
  t.deepEqual(change.writes.map((w) => [w.offset, w.bytes.length]), [[0, 12288], [12288, 86016]]);
  expectConverted(t, before, dump(file), 4096, 512);
  t.deepEqual(readBytes(file, 12288, 86016), Buffer.alloc(86016));
  await check(t, file, 512, Object.fromEntries(Object.entries(files).map(([rel, data]) => [rel, sha256(data)])));
});

async function refused(t: ExecutionContext, file: string, reason: string, message: RegExp): Promise<void> {
  const before = fingerprint(file);
  const e = await t.throwsAsync(planFile(file, 4096), { instanceOf: SectorSizeRefusedError });
  t.like(e?.data, { filesystem: 'exfat', reason, from: 512, to: 4096 });
  t.regex(e?.message ?? '', message);
  t.is(fingerprint(file), before, 'planning wrote nothing');
}

test('refused for 4096-byte sectors: 512-byte clusters, and a FAT inside the 96 KiB the boot regions would take', async (t) => {
  const small = sparseFile(join(scratch.dir, 'c512.img'), 32 * MiB);
  run('mkfs.exfat', ['-c', '512', small]);
  await refused(t, small, 'cluster-too-small', /clusters are 512 bytes, smaller than one 4096-byte sector/);
  const early = sparseFile(join(scratch.dir, 'b64k.img'), 32 * MiB);
  run('mkfs.exfat', ['-b', '64K', early]);
  await refused(t, early, 'boot-region-too-small', /its FAT starts at byte 65536, inside the 98304 bytes/);
});

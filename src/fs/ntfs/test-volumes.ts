/**
 * Test support (not engine code): NTFS volumes made by mkntfs and filled through the ntfs-3g
 * FUSE driver, and readings taken with the ntfsprogs tools, for tests that must trust
 * independent tools rather than this package's own reader.
 */
import { spawn, execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { closeSync, copyFileSync, mkdirSync, mkdtempSync, openSync, readFileSync, readSync, rmdirSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import type { ExecutionContext } from 'ava';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { openFileDevice } from '../../device/file-device.ts';
import type { GrowResult } from './grow.ts';
import { openNtfs } from './ntfs-volume.ts';
import type { ShrinkResult } from './shrink.ts';

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');

export function run(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

/** stdout and stderr together, and the exit code, without throwing on failure. */
export function runAll(command: string, args: string[]): { code: number; output: string } {
  try {
    const output = execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
    return { code: 0, output };
  } catch (e) {
    const x = e as { status?: number; stdout?: string; stderr?: string };
    return { code: x.status ?? -1, output: `${x.stdout ?? ''}${x.stderr ?? ''}` };
  }
}

/** Deterministic incompressible bytes (xorshift32). */
export function pseudoRandom(seed: number, size: number): Buffer {
  const words = new Uint32Array(Math.ceil(size / 4));
  let x = seed >>> 0 || 1;
  for (let i = 0; i < words.length; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    words[i] = x >>> 0;
  }
  return Buffer.from(words.buffer, 0, size);
}

/** `mkntfs -Q -F` on a sparse file of `size` bytes (extra arguments: -s, -c, -L…). */
export function mkntfs(path: string, size: number, args: string[] = []): string {
  mkdirSync(dirname(path), { recursive: true });
  writeFileSync(path, '');
  truncateSync(path, size);
  run('mkntfs', ['-Q', '-F', '-q', ...args, path]);
  return path;
}

/** A copy of `image` in a file of `size` bytes: a volume restored into a larger partition. */
export function copyInto(image: string, path: string, size: number): string {
  copyFileSync(image, path);
  truncateSync(path, size);
  return path;
}

const isMounted = (dir: string) => readFileSync('/proc/self/mountinfo', 'utf8').split('\n').some((l) => l.split(' ')[4] === dir);

/**
 * Mount `image` with ntfs-3g for the duration of `fn`. The daemon runs in the foreground
 * (no_detach) so unmounting can wait for it to exit, i.e. for its flush and clean unmount
 * (scripts/fixtures/tools.py ntfs_mounted explains why).
 */
export async function withNtfs3g<T>(image: string, fn: (dir: string) => Promise<T> | T, options: string[] = []): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-ntfs3g-'));
  // The daemon's output goes to a file, never a pipe: a test writing synchronously through the
  // mount could not drain a pipe, and a daemon blocked on a full pipe never answers that write.
  const log = `${dir}.log`;
  const fd = openSync(log, 'w');
  const child = spawn('ntfs-3g', ['-o', ['no_detach', 'big_writes', ...options].join(','), image, dir], { stdio: ['ignore', fd, fd] });
  closeSync(fd);
  const exited = new Promise<number>((resolve) => child.on('exit', (code) => resolve(code ?? -1)));
  const output = () => readFileSync(log, 'utf8');
  const started = Date.now();
  try {
    while (!isMounted(dir)) {
      if (child.exitCode !== null) throw new Error(`ntfs-3g ${image} exited ${child.exitCode}: ${output()}`);
      // Wall time, generous: a loaded CI machine can take many seconds to start a FUSE daemon.
      if (Date.now() - started > MOUNT_TIMEOUT_MS) throw new Error(`ntfs-3g ${image} did not mount within ${MOUNT_TIMEOUT_MS} ms: ${output()}`);
      await new Promise((r) => setTimeout(r, 25));
    }
    return await fn(dir);
  } finally {
    await stopNtfs3g(child, dir, exited);
    rmdirSync(dir);
    const text = output();
    rmSync(log, { force: true });
    const code = await exited;
    if (code !== 0) throw new Error(`ntfs-3g ${image} exited ${code}: ${text}`);
  }
}

const MOUNT_TIMEOUT_MS = 60_000;
const EXIT_TIMEOUT_MS = 30_000;

/**
 * Unmount and wait for the daemon to exit, whatever state it is in: never leave a mounted
 * daemon behind (it would keep the test process alive). A busy mount is retried; a daemon that
 * never mounted (or never exits) is killed.
 */
async function stopNtfs3g(child: ReturnType<typeof spawn>, dir: string, exited: Promise<number>): Promise<void> {
  const wasMounted = isMounted(dir);
  for (let attempt = 0; child.exitCode === null && isMounted(dir); attempt++) {
    const r = runAll('fusermount3', ['-u', ...(attempt >= 40 ? ['-z'] : []), dir]);
    if (r.code === 0) break;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  // Unmounted, the daemon finishes its flush and exits on its own; one that never mounted would
  // mount later with nobody left to unmount it.
  if (!wasMounted && child.exitCode === null) child.kill('SIGTERM');
  const timer = setTimeout(() => child.kill('SIGKILL'), EXIT_TIMEOUT_MS);
  try {
    await exited;
  } finally {
    clearTimeout(timer);
  }
}

export interface NtfsinfoVolume {
  clusters: number;
  freeClusters: number;
  clusterSize: number;
  flags: string;
}

/** `ntfsinfo -m`: the volume's cluster count, free clusters and flags. */
export function ntfsinfoVolume(image: string): NtfsinfoVolume {
  const out = run('ntfsinfo', ['-m', image]);
  const num = (re: RegExp) => {
    const m = re.exec(out);
    if (!m) throw new Error(`ntfsinfo -m ${image}: no match for ${re}\n${out}`);
    return Number(m[1]);
  };
  return {
    clusters: num(/Volume Size in Clusters: (\d+)/),
    freeClusters: num(/Free Clusters: (\d+)/),
    clusterSize: num(/Cluster Size: (\d+)/),
    flags: /Volume Flags: (.*)/.exec(out)?.[1]?.trim() ?? '',
  };
}

/** Hash of a file's content as ntfscat reads it from the image. */
export function ntfscatHash(image: string, path: string): string {
  return sha256(execFileSync('ntfscat', [image, path], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 512 << 20 }));
}

/** File system size and free bytes as df reports them for a mount point. */
export function df(dir: string): { size: number; available: number } {
  const line = run('df', ['-B1', '--output=size,avail', dir]).trim().split('\n').at(-1)!.trim().split(/\s+/);
  return { size: Number(line[0]), available: Number(line[1]) };
}

export const fileHash = (path: string): string => sha256(readFileSync(path));

/** Files planted through ntfs-3g before the grow: path → content hash. */
export type Planted = Record<string, string>;

/** A volume made by mkntfs with a few files written through ntfs-3g. */
export async function plantedNtfs(path: string, size: number, args: string[]): Promise<{ image: string; planted: Planted }> {
  const image = mkntfs(path, size, args);
  const files: Record<string, Buffer> = {
    'docs/report.txt': Buffer.from('quarterly report\r\n'.repeat(400)),
    'tiny.txt': Buffer.from('resident\n'),
    'data/blob.bin': pseudoRandom(7, 3 * 1024 * 1024 + 123),
    'data/deep/more/photo.jpg': pseudoRandom(8, 700_000),
  };
  await withNtfs3g(image, (dir) => {
    for (const [rel, data] of Object.entries(files)) {
      mkdirSync(dirname(join(dir, rel)), { recursive: true });
      writeFileSync(join(dir, rel), data);
    }
  });
  return { image, planted: Object.fromEntries(Object.entries(files).map(([k, v]) => [k, sha256(v)])) };
}

export interface Before {
  free: number;
  clusters: number;
  /** Clusters an interrupted earlier attempt marked used (given to $Bitmap, or leaked). */
  taken?: number;
  /** Those clusters have no owner: chkdsk frees them, ntfsresize refuses until then. */
  leaked?: boolean;
}

/** What grown and shrunk volumes share: our reader agrees with ntfsinfo, the backup boot sector is the last sector, files hash as planted. */
async function checkResized(t: ExecutionContext, image: string, r: { usedClustersAfter: number; backupBootSectorOffset: number; bytesPerSector: number },
  info: NtfsinfoVolume, planted: Planted): Promise<void> {
  const dev = await openFileDevice(image);
  try {
    const vol = await openNtfs(dev);
    t.is(vol.geometry.clusters, info.clusters);
    t.is(await vol.usedClusters(), info.clusters - info.freeClusters);
    t.is(r.usedClustersAfter, info.clusters - info.freeClusters);
    t.deepEqual(await dev.read(r.backupBootSectorOffset, r.bytesPerSector), await dev.read(0, r.bytesPerSector));
    t.is(r.backupBootSectorOffset + r.bytesPerSector, dev.size, 'the backup boot sector is the last sector');
  } finally {
    await dev.close();
  }
  for (const [rel, hash] of Object.entries(planted)) t.is(ntfscatHash(image, `/${rel}`), hash, rel);
}

/** What every grown volume must satisfy, judged by the independent tools and by openNtfs. */
export async function checkGrown(t: ExecutionContext, image: string, r: GrowResult, before: Before, planted: Planted): Promise<void> {
  const fix = runAll('ntfsfix', ['-n', image]);
  t.is(fix.code, 0, fix.output);
  t.regex(fix.output, /Mounting volume\.\.\. OK/);
  t.regex(fix.output, /Checking the alternate boot sector\.\.\. OK/);
  t.notRegex(fix.output, /BAD|FAILED|error/i, fix.output);

  const resize = runAll('ntfsresize', ['--info', '--force', '--no-progress-bar', image]);
  if (before.leaked) {
    t.regex(resize.output, /NTFS is inconsistent/, 'ntfsresize counts the leaked clusters against the volume');
  } else {
    t.is(resize.code, 0, resize.output);
    t.notRegex(resize.output, /ERROR/, resize.output);
  }
  t.regex(resize.output, new RegExp(`Current volume size: ${r.newClusters * r.clusterSize + r.bytesPerSector} bytes`));

  const info = ntfsinfoVolume(image);
  t.is(info.clusters, r.newClusters);
  t.is(info.clusters - before.clusters, r.addedClusters);
  t.is(info.freeClusters, before.free + r.addedClusters - (r.bitmap.allocated?.length ?? 0) - (before.taken ?? 0), 'free clusters grew by the added clusters, less those $Bitmap took');

  await checkResized(t, image, r, info, planted);
}


/** `$Bitmap`'s data as ntfscat reads it (inode 6). */
export function ntfscatBitmap(image: string): Buffer {
  return execFileSync('ntfscat', ['-f', '-i', '6', image], { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 512 << 20 });
}

/** The highest cluster below `clusters` whose bit is set in `bitmap` (-1 if none). */
export function lastSetBit(bitmap: Uint8Array, clusters: number): number {
  for (let c = clusters - 1; c >= 0; c--) if (bitmap[c >> 3]! & (1 << (c & 7))) return c;
  return -1;
}

/** `ntfscluster -c`: the path of the file using cluster `lcn` (`\dir\name`), or undefined. */
export function ntfsclusterOwner(image: string, lcn: number): string | undefined {
  const m = /^Inode \d+ (\/.*?)(?:\/\$DATA.*)?$/m.exec(run('ntfscluster', ['-f', '-c', String(lcn), image]));
  return m ? m[1]!.replaceAll('/', '\\') : undefined;
}

/** The boot sector's number of sectors (0x28), read directly. */
export function bootNumberOfSectors(image: string): number {
  const fd = openSync(image, 'r');
  try {
    const b = Buffer.alloc(8);
    readSync(fd, b, 0, 8, 0x28);
    return Number(b.readBigUInt64LE(0));
  } finally {
    closeSync(fd);
  }
}

/**
 * What every shrunk volume must satisfy, judged by the independent tools and by openNtfs.
 * `image` is the new partition: a file of the new size.
 */
export async function checkShrunk(t: ExecutionContext, image: string, r: ShrinkResult, before: Before, planted: Planted): Promise<void> {
  const fix = runAll('ntfsfix', ['-n', image]);
  t.is(fix.code, 0, fix.output);
  t.regex(fix.output, /Mounting volume\.\.\. OK/);
  t.regex(fix.output, /Checking the alternate boot sector\.\.\. OK/);
  t.notRegex(fix.output, /BAD|FAILED|error/i, fix.output);

  const resize = runAll('ntfsresize', ['--info', '--force', '--no-progress-bar', image]);
  t.is(resize.code, 0, resize.output);
  t.notRegex(resize.output, /ERROR/, resize.output);
  t.regex(resize.output, new RegExp(`Current volume size: ${r.newClusters * r.clusterSize + r.bytesPerSector} bytes`));

  const info = ntfsinfoVolume(image);
  t.is(info.clusters, r.newClusters);
  t.is(before.clusters - info.clusters, r.removedClusters);
  const freed = r.bitmap.freed.reduce((s, f) => s + f.length, 0);
  t.is(info.freeClusters, before.free - r.removedClusters + freed, 'free clusters fell by the removed clusters, plus those $Bitmap gave up');
  const bitmap = ntfscatBitmap(image);
  t.is(bitmap.length, Math.ceil(r.newClusters / 64) * 8, '$Bitmap is ceil(clusters / 8) bytes rounded up to 8');
  for (let c = r.newClusters; c < bitmap.length * 8; c++) {
    if (!(bitmap[c >> 3]! & (1 << (c & 7)))) {
      t.fail(`padding bit ${c} is clear`);
      break;
    }
  }

  const bad = /Attribute name:\s+'\$Bad'[\s\S]*?Highest VCN:\s+(\d+)[\s\S]*?Data size:\s+(\d+)[\s\S]*?Allocated size:\s+(\d+)/.exec(run('ntfsinfo', ['-v', '-i', '8', image]));
  t.deepEqual(bad?.slice(1).map(Number), [r.newClusters - 1, r.newClusters * r.clusterSize, r.newClusters * r.clusterSize], '$BadClus:$Bad spans the new volume');

  await checkResized(t, image, r, info, planted);
}

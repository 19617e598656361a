/**
 * Test support (not engine code) for the sector-size suites: converting an image file in place
 * through the public API, loop devices of a chosen logical sector size, exfat-fuse mounts, and
 * hashes taken by the independent tools.
 */
import { createHash } from 'node:crypto';
import { closeSync, mkdtempSync, openSync, readFileSync, readSync, rmdirSync, statSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openFileDevice } from '../device/file-device.ts';
import { applySectorSizeChange, planSectorSizeChange, type SectorSizeChange } from './sector-size.ts';
import { run, runAll } from './ntfs/test-volumes.ts';

export const sha256 = (b: Uint8Array): string => createHash('sha256').update(b).digest('hex');
export const fileSha = (path: string): string => sha256(readFileSync(path));

/**
 * Modification time plus a hash of the first and last MiB, where every sector-size write lands:
 * enough to show that planning wrote nothing, without reading a large sparse file whole.
 */
export function fingerprint(path: string): string {
  const { size, mtimeMs } = statSync(path);
  const edge = Math.min(size, 1 << 20);
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(2 * edge);
    readSync(fd, b, 0, edge, 0);
    readSync(fd, b, edge, edge, size - edge);
    return `${mtimeMs} ${sha256(b)}`;
  } finally {
    closeSync(fd);
  }
}

export { run, runAll };

/** A sparse file of `size` bytes. */
export function sparseFile(path: string, size: number): string {
  writeFileSync(path, '');
  truncateSync(path, size);
  return path;
}

/** Plan on a read-only device, then apply on a writable one: the restore's two steps. */
export async function convertFile(path: string, to: number): Promise<SectorSizeChange> {
  const source = await openFileDevice(path);
  let change: SectorSizeChange;
  try {
    change = await planSectorSizeChange(source, to);
  } finally {
    await source.close();
  }
  const target = await openFileDevice(path, { writable: true, sectorSize: to });
  try {
    await applySectorSizeChange(target, change);
  } finally {
    await target.close();
  }
  return change;
}

/** Plan only (read-only device). */
export async function planFile(path: string, to: number): Promise<SectorSizeChange> {
  const dev = await openFileDevice(path);
  try {
    return await planSectorSizeChange(dev, to);
  } finally {
    await dev.close();
  }
}

/** A loop device over `image` with the given logical sector size, for the duration of `fn`. */
export async function withLoop<T>(image: string, sectorSize: number, fn: (device: string) => Promise<T> | T): Promise<T> {
  const device = run('losetup', ['--show', '-f', '--sector-size', String(sectorSize), image]).trim();
  try {
    return await fn(device);
  } finally {
    run('losetup', ['-d', device]);
  }
}

/** exfat-fuse on a block device (it refuses regular files as root); unmounting waits for its flush. */
export async function withExfatFuse<T>(device: string, fn: (dir: string) => Promise<T> | T, readOnly = false): Promise<T> {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-exfat-'));
  run('mount.exfat-fuse', [...(readOnly ? ['-o', 'ro'] : []), device, dir]);
  try {
    return await fn(dir);
  } finally {
    run('fusermount3', ['-u', dir]);
    rmdirSync(dir);
  }
}

/**
 * Where boot repair finds what it rewrites — the BCD stores (`\Boot\BCD` on the active or
 * system partition, `\EFI\Microsoft\Boot\BCD` on the ESP) and the SYSTEM hive of a Windows
 * volume — and how it writes a changed hive back: in place, through the file's own clusters in
 * file order, the file keeping its size, so no filesystem metadata changes.
 */
import type { ReadableDevice, WritableDevice } from '../device/block-device.ts';
import { partitionDevice } from '../device/partition-device.ts';
import { LifeboatError, NotFoundError, UsageError } from '../errors.ts';
import { openFilesystem } from '../fs/open-filesystem.ts';
import { probeFilesystem } from '../fs/probe.ts';
import type { FilesystemReader } from '../fs/volume.ts';
import { readDiskLayout } from '../partition/disk-layout.ts';

export type BootFileKind = 'bcd' | 'system';

export const BOOT_FILE_PATHS: ReadonlyArray<{ kind: BootFileKind; path: string }> = [
  { kind: 'bcd', path: 'Boot\\BCD' },
  { kind: 'bcd', path: 'EFI\\Microsoft\\Boot\\BCD' },
  { kind: 'system', path: 'Windows\\System32\\config\\SYSTEM' },
];

/** Transaction logs Windows keeps beside a hive; a dirty hive needs them replayed. */
const LOG_SUFFIXES = ['.LOG', '.LOG1', '.LOG2'];

export interface BootFile {
  kind: BootFileKind;
  /** Partition number in the disk's layout, and where it lies. */
  partition: number;
  offset: number;
  size: number;
  path: string;
  /** Bytes of the file. */
  fileSize: number;
  /** Transaction logs found beside it (paths on the same volume). */
  logs: string[];
}

async function exists(fs: FilesystemReader, path: string): Promise<number | undefined> {
  try {
    const entry = await fs.stat(path);
    return entry.isDirectory ? undefined : entry.size;
  } catch (e) {
    if (e instanceof NotFoundError) return undefined; // absent is an answer here, not a failure
    throw e;
  }
}

/** Every BCD store and SYSTEM hive on the disk's NTFS/FAT/exFAT partitions, in partition order. */
export async function findBootFiles(disk: ReadableDevice): Promise<BootFile[]> {
  const layout = await readDiskLayout(disk);
  const found: BootFile[] = [];
  for (const p of layout.partitions) {
    const volume = partitionDevice(disk, p.offset, p.size, `${disk.name} partition ${p.index}`);
    const fs = await openFilesystem(volume, await probeFilesystem(volume));
    if (!fs) continue;
    for (const { kind, path } of BOOT_FILE_PATHS) {
      const fileSize = await exists(fs, path);
      if (fileSize === undefined) continue;
      const logs: string[] = [];
      for (const suffix of LOG_SUFFIXES) if ((await exists(fs, path + suffix)) !== undefined) logs.push(path + suffix);
      found.push({ kind, partition: p.index, offset: p.offset, size: p.size, path, fileSize, logs });
    }
  }
  return found;
}

/** The filesystem of the partition holding `file`, opened on `disk` (writable when `disk` is). */
export async function openBootFileVolume(disk: WritableDevice, file: BootFile): Promise<{ volume: WritableDevice; fs: FilesystemReader }>;
export async function openBootFileVolume(disk: ReadableDevice, file: BootFile): Promise<{ volume: ReadableDevice; fs: FilesystemReader }>;
export async function openBootFileVolume(disk: ReadableDevice, file: BootFile): Promise<{ volume: ReadableDevice; fs: FilesystemReader }> {
  const volume = partitionDevice(disk, file.offset, file.size, `${disk.name} partition ${file.partition}`);
  const fs = await openFilesystem(volume, await probeFilesystem(volume));
  if (!fs) throw new UsageError(`partition ${file.partition} of ${disk.name} no longer holds a filesystem Lifeboat reads`, { partition: file.partition });
  return { volume, fs };
}

/**
 * Write `bytes` over the file at `path`, which must keep its size and lie plainly in its
 * clusters (not compressed, not resident in its MFT record). The clusters are checked to hold
 * the file's current bytes before anything is written, and the file is read back afresh after.
 */
export async function rewriteFileInPlace(volume: WritableDevice, fs: FilesystemReader, path: string, bytes: Uint8Array): Promise<void> {
  const layout = await fs.fileLayout(path);
  const refuse = (why: string) => new UsageError(`${path} on ${volume.name} cannot be rewritten in place: ${why}`, { path, device: volume.name });
  if (!layout.plain) throw refuse('its data is compressed, resident in its file record or not valid to its end');
  if (bytes.length !== layout.size) throw refuse(`the new content is ${bytes.length} bytes and the file ${layout.size}; its size cannot change here`);
  const pieces = layout.runs.flatMap((r) => {
    const length = Math.min(r.length, layout.size - r.fileOffset);
    return length > 0 ? [{ ...r, length }] : [];
  });
  const current = await fs.readFile(path);
  for (const r of pieces) {
    const want = current.subarray(r.fileOffset, r.fileOffset + r.length);
    if (r.volumeOffset === null) {
      if (want.some((b) => b !== 0) || bytes.subarray(r.fileOffset, r.fileOffset + r.length).some((b) => b !== 0)) throw refuse(`bytes ${r.fileOffset}.. are sparse`);
      continue;
    }
    const raw = await volume.read(r.volumeOffset, r.length);
    if (!Buffer.from(raw).equals(want)) throw refuse(`its clusters at volume byte ${r.volumeOffset} do not hold the bytes the filesystem reads`);
  }
  for (const r of pieces) if (r.volumeOffset !== null) await volume.write(r.volumeOffset, bytes.subarray(r.fileOffset, r.fileOffset + r.length));
  await volume.flush();
  const again = await openFilesystem(volume, await probeFilesystem(volume));
  const back = again ? await again.readFile(path) : undefined;
  if (!back || !Buffer.from(back).equals(bytes)) {
    throw new LifeboatError('WRITE_VERIFY', `${path} on ${volume.name} does not read back as written`, { path, device: volume.name });
  }
}

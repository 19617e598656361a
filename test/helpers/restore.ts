/** Restoring an image into a new sparse file of `size` bytes, as the restore tests do. */
import { tool } from './tools.ts';
import { ImageReader, openFileDevice, planRestore, runRestore, type RestoreOptions, type RunRestoreOptions } from '../../src/index.ts';

export async function restoreToNewFile(image: string, targetPath: string, size: number, sectorSize: number, options: RestoreOptions = {},
  run: Partial<RunRestoreOptions> = {}) {
  tool('truncate', ['-s', String(size), targetPath]);
  const reader = await ImageReader.open(image);
  const target = await openFileDevice(targetPath, { writable: true, sectorSize });
  try {
    const plan = await planRestore(reader, target, options);
    const result = await runRestore(reader, target, plan, { ...run, confirmTarget: target.name });
    return { plan, result, targetPath };
  } finally {
    await target.close();
    await reader.close();
  }
}

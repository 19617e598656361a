/**
 * The bundled demo disk (demo/demo-disk.img.zst, made by scripts/build-fixtures --demo):
 * unpacked once to a writable scratch copy under .cache/demo, so the UI can be tried on a
 * Windows-like disk without touching a real one.
 */
import { existsSync, mkdirSync, readFileSync, renameSync, statSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { zstdDecompressSync } from 'node:zlib';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..');
export const DEMO_ARCHIVE = join(ROOT, 'demo', 'demo-disk.img.zst');
export const DEMO_SCRATCH = join(ROOT, '.cache', 'demo', 'demo-disk.img');

/** Path of the scratch copy, unpacked again when the archive is newer than it. */
export function demoDisk(): string {
  const archiveTime = statSync(DEMO_ARCHIVE).mtimeMs;
  if (existsSync(DEMO_SCRATCH) && statSync(DEMO_SCRATCH).mtimeMs >= archiveTime) return DEMO_SCRATCH;
  mkdirSync(dirname(DEMO_SCRATCH), { recursive: true });
  const tmp = `${DEMO_SCRATCH}.tmp`;
  writeFileSync(tmp, zstdDecompressSync(readFileSync(DEMO_ARCHIVE)));
  renameSync(tmp, DEMO_SCRATCH);
  return DEMO_SCRATCH;
}

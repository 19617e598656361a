/**
 * The Windows files that backup modes treat specially (DESIGN.md, Modes of backup): the page,
 * hibernation and swap files whose contents are left out, and the VSS diff area whose size is
 * reported (filesystems.md 5 and 6).
 */
import { LifeboatError } from '../errors.ts';
import type { DirEntry, FilesystemReader } from './volume.ts';

/** Root-directory files whose data intelligent and sector modes leave out. */
export const EXCLUDED_FILES = ['pagefile.sys', 'hiberfil.sys', 'swapfile.sys'] as const;

export const VSS_GUID = '3808876b-c176-4e48-b7ae-04046e6cc752';
const SVI = 'System Volume Information';
/** Store files `{store GUID}{VSS GUID}` and the catalog `{VSS GUID}`. */
const DIFF_AREA_NAME = new RegExp(`^(\\{[0-9a-f]{8}(-[0-9a-f]{4}){3}-[0-9a-f]{12}\\})?\\{${VSS_GUID}\\}$`, 'i');

export interface SpecialFile {
  path: string;
  /** Logical size, and bytes of clusters allocated on the volume. */
  size: number;
  allocated: number;
}

export const isDiffAreaName = (name: string): boolean => DIFF_AREA_NAME.test(name);

async function describe(fs: FilesystemReader, path: string, entry: DirEntry): Promise<SpecialFile> {
  return { path, size: entry.size, allocated: (await fs.fileExtents(path)).bytes };
}

const notFound = (e: unknown) => e instanceof LifeboatError && e.code === 'NOT_FOUND';

/** The excluded files present in the root of the volume. */
export async function excludedFiles(fs: FilesystemReader): Promise<SpecialFile[]> {
  const root = await fs.list('\\');
  const out: SpecialFile[] = [];
  for (const name of EXCLUDED_FILES) {
    const entry = root.find((e) => !e.isDirectory && e.name.toLowerCase() === name);
    if (entry) out.push(await describe(fs, `\\${entry.name}`, entry));
  }
  return out;
}

/** The VSS catalog and store files under \System Volume Information (none if absent). */
export async function diffAreaFiles(fs: FilesystemReader): Promise<SpecialFile[]> {
  let entries: DirEntry[];
  try {
    entries = await fs.list(`\\${SVI}`);
  } catch (e) {
    if (notFound(e)) return []; // a volume that never had System Restore
    throw e;
  }
  const out: SpecialFile[] = [];
  for (const e of entries) {
    if (!e.isDirectory && isDiffAreaName(e.name)) out.push(await describe(fs, `\\${SVI}\\${e.name}`, e));
  }
  return out;
}

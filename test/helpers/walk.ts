/** Read everything a filesystem reader shows: used by the damage tests to exercise every path. */
import type { FilesystemReader } from '../../src/index.ts';

export async function readEverything(fs: FilesystemReader, maxDepth = 4): Promise<void> {
  const walk = async (path: string, depth: number): Promise<void> => {
    for (const e of await fs.list(path)) {
      const child = `${path}\\${e.name}`;
      if (e.isDirectory && depth < maxDepth) await walk(child, depth + 1);
      else if (!e.isDirectory) await fs.readFile(child);
    }
  };
  await walk('', 0);
}

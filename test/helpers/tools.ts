/** Running the independent tools (sfdisk, ntfsls, hivexget…) from tests. */
import { execFileSync } from 'node:child_process';
import { closeSync, ftruncateSync, mkdtempSync, openSync, readSync, rmSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export function tool(command: string, args: string[]): string {
  return execFileSync(command, args, { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 64 << 20 });
}

export function toolBytes(command: string, args: string[]): Buffer {
  return execFileSync(command, args, { stdio: ['ignore', 'pipe', 'pipe'], maxBuffer: 256 << 20 });
}

/** A temporary directory removed by the returned function (call it from t.teardown). */
export function scratchDir(prefix = 'lifeboat-test-'): { dir: string; remove: () => void } {
  const dir = mkdtempSync(join(tmpdir(), prefix));
  return { dir, remove: () => rmSync(dir, { recursive: true, force: true }) };
}

/** Copy `length` bytes at `offset` of an image into its own file (sparse), for tools without an offset option. */
export function extractRange(image: string, offset: number, length: number, out: string): string {
  const src = openSync(image, 'r');
  const dst = openSync(out, 'w');
  try {
    const block = Buffer.alloc(1 << 20);
    for (let done = 0; done < length; done += block.length) {
      const n = readSync(src, block, 0, Math.min(block.length, length - done), offset + done);
      if (n === 0) throw new Error(`${image} ends at ${offset + done}, before ${offset + length}`);
      if (block.subarray(0, n).some((b) => b !== 0)) writeSync(dst, block, 0, n, done);
    }
    ftruncateSync(dst, length);
  } finally {
    closeSync(src);
    closeSync(dst);
  }
  return out;
}

/** `length` bytes at `offset` of a file, read directly (not through Lifeboat). */
export function readBytes(path: string, offset: number, length: number): Buffer {
  const fd = openSync(path, 'r');
  try {
    const b = Buffer.alloc(length);
    readSync(fd, b, 0, length, offset);
    return b;
  } finally {
    closeSync(fd);
  }
}

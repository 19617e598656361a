/** Running the real command line from tests: a child process on the pinned Node, as a user would. */
import { spawn } from 'node:child_process';
import { join } from 'node:path';
import { ROOT } from '../../test/helpers/fixtures.ts';
import { tool } from '../../test/helpers/tools.ts';

export interface Run {
  status: number | null;
  stdout: string;
  stderr: string;
}

export interface RunOptions {
  env?: Record<string, string>;
  /** Called with the child as soon as it runs (to send it signals). */
  started?: (child: ReturnType<typeof spawn>) => void;
}

export const MAIN = join(ROOT, 'tui', 'main.ts');

/** `lifeboat ...args` with stdin not a terminal and no LIFEBOAT_PASSPHRASE unless given. */
export function lifeboat(args: string[], options: RunOptions = {}): Promise<Run> {
  const { LIFEBOAT_PASSPHRASE: _inherited, ...env } = process.env;
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [MAIN, ...args], { cwd: ROOT, env: { ...env, ...options.env }, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (s: string) => { stdout += s; });
    child.stderr.setEncoding('utf8').on('data', (s: string) => { stderr += s; });
    child.on('error', reject);
    child.on('close', (status) => resolve({ status, stdout, stderr }));
    options.started?.(child);
  });
}

/** SHA-256 (or another digest) by coreutils, not by our code. */
export function digest(path: string, command: 'sha256sum' | 'md5sum' | 'sha1sum' = 'sha256sum'): string {
  return tool(command, [path]).split(' ')[0]!;
}

/** JSON lines as `--json` prints them; fails the parse (throws) on any line that is not JSON. */
export function jsonLines(stdout: string): Array<Record<string, unknown>> {
  return stdout.trimEnd().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>);
}

/**
 * Timing child processes for the benches: GNU time around each one, reporting wall seconds,
 * peak RSS and CPU seconds (user + system, this process and the children it waited for).
 */
import { execFileSync } from 'node:child_process';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

export interface Sample {
  seconds: number;
  /** ru_maxrss: the largest of the process and the descendants it waited for. */
  maxRssKiB: number;
  cpuSeconds: number;
  stdout: string;
}

export interface PipelineSample extends Sample {
  /** Each member's own figures, in the order given. */
  members: Record<string, Omit<Sample, 'stdout'>>;
}

const FORMAT = '%e %M %U %S';

function parse(file: string): Omit<Sample, 'stdout'> {
  const text = readFileSync(file, 'utf8');
  // GNU time prints this line first when the child fails (a pipeline member, say, which sh -c hides).
  if (text.includes('exited with non-zero status')) throw new Error(`a measured command failed: ${text}`);
  const m = /^([\d.]+) (\d+) ([\d.]+) ([\d.]+)$/m.exec(text);
  if (!m) throw new Error(`no timing in: ${text}`);
  return { seconds: Number(m[1]), maxRssKiB: Number(m[2]), cpuSeconds: Number(m[3]) + Number(m[4]) };
}

function withTimeDir<T>(f: (dir: string) => T): T {
  const dir = mkdtempSync(join(tmpdir(), 'lifeboat-bench-'));
  try {
    return f(dir);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Run `command args` under GNU time; its stdout is returned, its stderr is kept for errors. */
export function measure(command: string, args: string[]): Sample {
  return withTimeDir((dir) => {
    const file = join(dir, 'time');
    const stdout = execFileSync('/usr/bin/time', ['-f', FORMAT, '-o', file, command, ...args],
      { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
    return { ...parse(file), stdout };
  });
}

export const quote = (s: string): string => `'${s.replaceAll("'", `'\\''`)}'`;

/**
 * Run a shell pipeline under GNU time. Each member is wrapped in its own GNU time too, so its peak
 * RSS and CPU are known apart; the outer figures are those of the whole `sh -c` (its wall time
 * is the pipeline's, its RSS the largest member's).
 */
export function measurePipeline(members: Array<{ name: string; command: string }>, tail = ''): PipelineSample {
  return withTimeDir((dir) => {
    const outer = join(dir, 'pipeline');
    const script = members.map((m) => `/usr/bin/time -f ${quote(FORMAT)} -o ${quote(join(dir, m.name))} ${m.command}`).join(' | ') + tail;
    const stdout = execFileSync('/usr/bin/time', ['-f', FORMAT, '-o', outer, 'sh', '-c', `set -e; ${script}`],
      { encoding: 'utf8', maxBuffer: 64 << 20, stdio: ['ignore', 'pipe', 'pipe'] });
    const parts = Object.fromEntries(members.map((m) => [m.name, parse(join(dir, m.name))]));
    return { ...parse(outer), stdout, members: parts };
  });
}

export const median = (xs: number[]): number => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

export const mib = (kib: number): string => `${(kib / 1024).toFixed(0)} MiB`;

/**
 * `npm run bench`: Lifeboat against the reference tool, side by side in one run, alternating,
 * printing time ratios and peak RSS. Targets live here, not in timed unit tests.
 *
 *   allocation map of a 1 TiB sparse NTFS volume (mkntfs -Q): Lifeboat vs `ntfsinfo -m`,
 *   both reading all of $Bitmap (32 MiB).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORK = join(ROOT, '.cache', 'bench');
const ROUNDS = 5;

interface Sample { seconds: number; maxRssKiB: number; stdout: string }

function parseTime(text: string): { seconds: number; maxRssKiB: number } {
  const m = /@@ ([\d.]+) (\d+)/.exec(text);
  if (!m) throw new Error(`no timing in: ${text}`);
  return { seconds: Number(m[1]), maxRssKiB: Number(m[2]) };
}

/** Run a command under GNU time (which reports on stderr): wall seconds and the child's peak RSS. */
function measure(command: string, args: string[]): Sample {
  const text = execFileSync('sh', ['-c', `/usr/bin/time -f '@@ %e %M' "$@" 2>&1`, 'sh', command, ...args], { encoding: 'utf8' });
  return { ...parseTime(text), stdout: text };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)]!;

function allocationMapBench(): void {
  mkdirSync(WORK, { recursive: true });
  const image = join(WORK, 'ntfs-1tib.img');
  if (!existsSync(image)) {
    execFileSync('truncate', ['-s', '1T', image]);
    execFileSync('mkntfs', ['-q', '-F', '-Q', image], { stdio: 'ignore' });
  }
  const ours: Sample[] = [];
  const theirs: Sample[] = [];
  for (let i = 0; i < ROUNDS; i++) {
    ours.push(measure(process.execPath, [join(ROOT, 'scripts', 'bench', 'allocation-map-probe.ts'), image]));
    theirs.push(measure('ntfsinfo', ['-m', image]));
  }
  const probe = ours.map((s) => JSON.parse(s.stdout.split('\n')[0]!) as { usedClusters: number; ms: number });
  const used = probe[0]!.usedClusters;
  const info = theirs[0]!.stdout;
  const free = Number(/Free Clusters: (\d+)/.exec(info)![1]);
  const total = Number(/Volume Size in Clusters: (\d+)/.exec(info)![1]);
  if (used !== total - free) throw new Error(`used clusters differ: Lifeboat ${used}, ntfsinfo ${total - free}`);
  const a = median(ours.map((s) => s.seconds));
  const b = median(theirs.map((s) => s.seconds));
  console.log('allocation map, 1 TiB sparse NTFS (mkntfs -Q), median of', ROUNDS);
  console.log(`  Lifeboat  ${a.toFixed(3)} s  peak RSS ${(Math.max(...ours.map((s) => s.maxRssKiB)) / 1024).toFixed(0)} MiB  (Node start-up included)`);
  console.log(`  Lifeboat  ${(median(probe.map((p) => p.ms)) / 1000).toFixed(3)} s  inside the process (open + $MFT + $Bitmap scan)`);
  console.log(`  ntfsinfo  ${b.toFixed(3)} s  peak RSS ${(Math.max(...theirs.map((s) => s.maxRssKiB)) / 1024).toFixed(0)} MiB`);
  console.log(`  ratio Lifeboat/ntfsinfo ${(a / Math.max(b, 0.001)).toFixed(1)}x; used clusters agree: ${used}`);
}

allocationMapBench();

/**
 * Allocation map of a 1 TiB sparse NTFS volume (mkntfs -Q): Lifeboat vs `ntfsinfo -m`, both
 * reading all of $Bitmap (32 MiB).
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync } from 'node:fs';
import { join } from 'node:path';
import { measure, median, type Sample } from './measure.ts';

export function allocationMapBench(root: string, work: string, rounds: number): void {
  mkdirSync(work, { recursive: true });
  const image = join(work, 'ntfs-1tib.img');
  if (!existsSync(image)) {
    execFileSync('truncate', ['-s', '1T', image]);
    execFileSync('mkntfs', ['-q', '-F', '-Q', image], { stdio: 'ignore' });
  }
  const ours: Sample[] = [];
  const theirs: Sample[] = [];
  for (let i = 0; i < rounds; i++) {
    ours.push(measure(process.execPath, [join(root, 'scripts', 'bench', 'allocation-map-probe.ts'), image]));
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
  console.log('allocation map, 1 TiB sparse NTFS (mkntfs -Q), median of', rounds);
  console.log(`  Lifeboat  ${a.toFixed(3)} s  peak RSS ${(Math.max(...ours.map((s) => s.maxRssKiB)) / 1024).toFixed(0)} MiB  (Node start-up included)`);
  console.log(`  Lifeboat  ${(median(probe.map((p) => p.ms)) / 1000).toFixed(3)} s  inside the process (open + $MFT + $Bitmap scan)`);
  console.log(`  ntfsinfo  ${b.toFixed(3)} s  peak RSS ${(Math.max(...theirs.map((s) => s.maxRssKiB)) / 1024).toFixed(0)} MiB`);
  console.log(`  ratio Lifeboat/ntfsinfo ${(a / Math.max(b, 0.001)).toFixed(1)}x; used clusters agree: ${used}`);
}

/**
 * Backup bench: Lifeboat against the standard tools on a 4 GiB NTFS volume filled like a used
 * Windows C: (scripts/bench/build-volume.py), alternating in one run, medians reported.
 *
 *   intelligent   backup-probe intelligent (level 3)   vs  ntfsclone --save-image -o - VOL | zstd -T0 -3
 *   verify        backup-probe verify (of that image)   vs  zstd -t (of that output)
 *   restore       backup-probe restore (that image)     vs  zstd -dc (that output) | ntfsclone --restore-image
 *   forensic      backup-probe forensic (SHA-256)       vs  the slower of zstd -T0 -3 < VOL and sha256sum VOL
 *
 * Every command runs under GNU time (wall, peak RSS, CPU); a pipeline also has each member timed,
 * because its peak RSS is per process. `sync` runs (untimed) before each command so one
 * command's dirty pages are not written back during the next one. The page cache is left warm:
 * both sides read the volume from memory. Outputs are deleted after each round.
 */
import { execFileSync } from 'node:child_process';
import { mkdirSync, rmSync, statSync } from 'node:fs';
import { availableParallelism, loadavg } from 'node:os';
import { join } from 'node:path';
import { measure, measurePipeline, median, mib, quote, type PipelineSample, type Sample } from './measure.ts';
import { DEFAULT_MAX_THREADS } from '../../src/image/record-pool.ts';

const MIB = 1 << 20;

interface BackupJson {
  imageBytes: number;
  storedBytes: number;
  chunks: number;
  zeroChunks: number;
  hashes?: { sha256?: string };
  warnings: string[];
  partitions: Array<{ mode: string; filesystem: string; usedBytes?: number; storedBytes: number; leftOutBytes: number; excluded: string[]; diffAreaBytes: number; fallbackReason?: string }>;
  ms: { plan: number; copy: number; finish: number; total: number };
}

interface Run { sample: Sample | PipelineSample; bytes?: number }

const TARGET = { intelligent: 0.8, forensic: 1.0, restore: 0.8, rssMiB: 512 };
// The engine caps its default at DEFAULT_MAX_THREADS workers: what any bigger PC gets.
const WIDE_THREADS = DEFAULT_MAX_THREADS;

function usedBytes(volume: string): number {
  const info = execFileSync('ntfsinfo', ['-m', volume], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'ignore'] });
  const field = (name: string) => Number(new RegExp(`${name}: (\\d+)`).exec(info)![1]);
  return (field('Volume Size in Clusters') - field('Free Clusters')) * field('Cluster Size');
}

const fmtS = (s: number) => `${s.toFixed(2)} s`;
const rate = (bytes: number, seconds: number) => `${(bytes / MIB / seconds).toFixed(0)} MiB/s`;
const fmtMB = (b: number) => `${(b / MIB).toFixed(0)} MiB`;
const verdict = (ok: boolean) => (ok ? 'met' : 'MISSED');

export function backupBench(root: string, work: string, rounds: number): void {
  const volume = execFileSync('python3', [join(root, 'scripts', 'bench', 'build-volume.py')],
    { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
  const out = join(work, 'out');
  rmSync(out, { recursive: true, force: true });
  mkdirSync(out, { recursive: true });
  const probe = join(root, 'scripts', 'bench', 'backup-probe.ts');
  const volumeSize = statSync(volume).size;
  const used = usedBytes(volume);
  const loadBefore = loadavg()[0]!;

  const image = join(out, 'lifeboat.lbimg');
  const cloneOut = join(out, 'ntfsclone.img.zst');
  const cloneLog = join(out, 'ntfsclone.log');
  const forensicImage = join(out, 'forensic.lbimg');
  const zstdOut = join(out, 'volume.zst');

  const runs: Record<string, Run[]> = { intelligent: [], ntfsclone: [], verify: [], zstdTest: [], restore: [], ntfscloneRestore: [], forensic: [], zstd: [], sha256sum: [] };
  const restoreTarget = join(out, 'restored.img');
  // A fresh sparse target for each restore, made before the timer starts.
  const blankTarget = (size: number) => {
    rmSync(restoreTarget, { force: true });
    execFileSync('truncate', ['-s', String(size), restoreTarget]);
  };
  const json: Record<'intelligent' | 'forensic', BackupJson[]> = { intelligent: [], forensic: [] };
  const hashes: string[] = [];

  const timed = (name: string, f: () => Sample | PipelineSample, output?: string) => {
    execFileSync('sync');
    const sample = f();
    runs[name]!.push({ sample, ...(output ? { bytes: statSync(output).size } : {}) });
    return sample;
  };
  const lifeboat = (mode: 'intelligent' | 'forensic', dest: string) => () => {
    const s = measure(process.execPath, [probe, mode, volume, dest]);
    json[mode].push(JSON.parse(s.stdout) as BackupJson);
    return s;
  };
  // Alternate, and swap who goes first every other round, so drift (other load, writeback) evens out.
  const pair = (round: number, a: () => void, b: () => void) => (round % 2 === 0 ? (a(), b()) : (b(), a()));

  for (let round = 0; round < rounds; round++) {
    process.stderr.write(`backup bench: round ${round + 1} of ${rounds} ...\n`);
    pair(round,
      () => timed('intelligent', lifeboat('intelligent', image), image),
      () => timed('ntfsclone', () => measurePipeline([
        { name: 'ntfsclone', command: `ntfsclone --save-image -o - ${quote(volume)} 2>${quote(cloneLog)}` },
        { name: 'zstd', command: 'zstd -T0 -3 -q' },
      ], ` > ${quote(cloneOut)}`), cloneOut));
    pair(round,
      () => timed('verify', () => measure(process.execPath, [probe, 'verify', image])),
      () => timed('zstdTest', () => measure('zstd', ['-t', '-q', cloneOut])));
    pair(round,
      () => {
        blankTarget(volumeSize + MIB); // the image is of the volume behind a 1 MiB MBR (volume-disk.ts)
        timed('restore', () => measure(process.execPath, [probe, 'restore', image, restoreTarget]));
      },
      () => {
        blankTarget(volumeSize);
        timed('ntfscloneRestore', () => measurePipeline([
          { name: 'zstd', command: `zstd -dc -q ${quote(cloneOut)}` },
          { name: 'ntfsclone', command: `ntfsclone --restore-image --overwrite ${quote(restoreTarget)} - >/dev/null 2>>${quote(cloneLog)}` },
        ], ''));
      });
    rmSync(restoreTarget, { force: true });
    rmSync(image);
    rmSync(cloneOut);
    pair(round,
      () => {
        timed('forensic', lifeboat('forensic', forensicImage), forensicImage);
        rmSync(forensicImage);
      },
      () => {
        timed('zstd', () => measurePipeline([{ name: 'zstd', command: `zstd -T0 -3 -q < ${quote(volume)}` }], ` > ${quote(zstdOut)}`), zstdOut);
        rmSync(zstdOut);
        const s = timed('sha256sum', () => measure('sha256sum', [volume]));
        hashes.push(s.stdout.split(' ')[0]!);
      });
  }
  // Memory grows with the worker threads: the most the engine starts by default, whatever the CPU count.
  execFileSync('sync');
  const wide = measure(process.execPath, [probe, 'intelligent', volume, image, '--threads', String(WIDE_THREADS)]);
  rmSync(out, { recursive: true, force: true });

  // Checks: the comparison is only meaningful if both sides did the work.
  const plan = json.intelligent[0]!;
  const p = plan.partitions[0];
  if (!p || p.mode !== 'intelligent' || p.filesystem !== 'ntfs' || plan.warnings.length > 0) {
    throw new Error(`Lifeboat did not back up the volume by its allocation: ${JSON.stringify(plan.partitions)} ${plan.warnings.join('; ')}`);
  }
  if (p.usedBytes !== used) throw new Error(`bytes in use differ: Lifeboat ${p.usedBytes}, ntfsinfo ${used}`);
  // Its allocation map may add the backup boot sector's tail, past the last cluster of $Bitmap.
  const mapped = p.storedBytes + p.leftOutBytes;
  if (mapped < used || mapped > used + MIB) throw new Error(`Lifeboat stores ${p.storedBytes} + leaves out ${p.leftOutBytes}, ${used} in use`);
  for (const j of json.forensic) {
    if (j.hashes?.sha256 !== hashes[0]) throw new Error(`forensic SHA-256 ${j.hashes?.sha256} differs from sha256sum ${hashes[0]}`);
  }

  const t = (name: string) => median(runs[name]!.map((r) => r.sample.seconds));
  const span = (name: string) => {
    const xs = runs[name]!.map((r) => r.sample.seconds);
    return `${fmtS(t(name))} (${Math.min(...xs).toFixed(2)}-${Math.max(...xs).toFixed(2)})`;
  };
  const cpu = (name: string) => median(runs[name]!.map((r) => r.sample.cpuSeconds));
  const size = (name: string) => median(runs[name]!.map((r) => r.bytes!));
  const rss = (name: string) => Math.max(...runs[name]!.map((r) => r.sample.maxRssKiB));
  const memberRss = (name: string, member: string) => Math.max(...runs[name]!.map((r) => (r.sample as PipelineSample).members[member]!.maxRssKiB));
  const phase = (mode: 'intelligent' | 'forensic', k: keyof BackupJson['ms']) => median(json[mode].map((j) => j.ms[k])) / 1000;

  const intelligentRatio = t('intelligent') / t('ntfsclone');
  const forensicRef = Math.max(t('zstd'), t('sha256sum'));
  const forensicRatio = t('forensic') / forensicRef;
  const lifeboatRss = Math.max(rss('intelligent'), rss('verify'), rss('forensic'));
  const imageOk = size('intelligent') <= size('ntfsclone');
  const threads = availableParallelism();

  console.log(`backup, ${fmtMB(volumeSize)} NTFS volume with ${fmtMB(used)} in use (${(100 * used / volumeSize).toFixed(0)}%), median (min-max) of ${rounds} rounds, warm page cache`);
  console.log(`  load average (1 min) ${loadBefore.toFixed(1)} before, ${loadavg()[0]!.toFixed(1)} after, on ${threads} CPUs`);
  console.log(`  Lifeboat stores ${fmtMB(p.storedBytes)}: ${p.excluded.map((f) => f.slice(1)).join(', ')} left out (${fmtMB(p.leftOutBytes)}); ntfsclone stores all ${fmtMB(used)}`);
  console.log('');
  console.log('  intelligent backup, zstd level 3');
  console.log(`    Lifeboat                    ${span('intelligent')}  CPU ${fmtS(cpu('intelligent'))}  image ${fmtMB(size('intelligent'))}  peak RSS ${mib(rss('intelligent'))}`);
  console.log(`      inside: plan ${fmtS(phase('intelligent', 'plan'))}, copy ${fmtS(phase('intelligent', 'copy'))}, finish (index, self-check, fsync) ${fmtS(phase('intelligent', 'finish'))}`);
  console.log(`    ntfsclone | zstd -T0 -3     ${span('ntfsclone')}  CPU ${fmtS(cpu('ntfsclone'))}  image ${fmtMB(size('ntfsclone'))}  peak RSS ntfsclone ${mib(memberRss('ntfsclone', 'ntfsclone'))}, zstd ${mib(memberRss('ntfsclone', 'zstd'))}`);
  console.log(`    source bytes stored per second: Lifeboat ${rate(p.storedBytes, t('intelligent'))}, ntfsclone | zstd ${rate(used, t('ntfsclone'))}
    ratio ${intelligentRatio.toFixed(2)}x (target <= ${TARGET.intelligent}x: ${verdict(intelligentRatio <= TARGET.intelligent)}); image ${(size('intelligent') / size('ntfsclone')).toFixed(2)}x the reference's (target <= 1: ${verdict(imageOk)})`);
  console.log('  verify');
  console.log(`    Lifeboat verify             ${span('verify')}  CPU ${fmtS(cpu('verify'))}  peak RSS ${mib(rss('verify'))}`);
  console.log(`    zstd -t                     ${span('zstdTest')}  CPU ${fmtS(cpu('zstdTest'))}  peak RSS ${mib(rss('zstdTest'))}`);
  console.log(`    ratio ${(t('verify') / t('zstdTest')).toFixed(2)}x (no target)`);
  const restoreRatio = t('restore') / t('ntfscloneRestore');
  console.log('  restore of those images to a new (sparse) target file');
  console.log(`    Lifeboat restore            ${span('restore')}  CPU ${fmtS(cpu('restore'))}  peak RSS ${mib(rss('restore'))}  (writes ${fmtMB(p.storedBytes)}, fsyncs)`);
  console.log(`    zstd -dc | ntfsclone -r     ${span('ntfscloneRestore')}  CPU ${fmtS(cpu('ntfscloneRestore'))}  peak RSS zstd ${mib(memberRss('ntfscloneRestore', 'zstd'))}, ntfsclone ${mib(memberRss('ntfscloneRestore', 'ntfsclone'))}  (writes ${fmtMB(used)})`);
  console.log(`    ratio ${restoreRatio.toFixed(2)}x (target <= ${TARGET.restore}x: ${verdict(restoreRatio <= TARGET.restore)})`);
  console.log('  forensic backup, whole volume, SHA-256');
  console.log(`    Lifeboat                    ${span('forensic')}  CPU ${fmtS(cpu('forensic'))}  image ${fmtMB(size('forensic'))}  peak RSS ${mib(rss('forensic'))}`);
  console.log(`      inside: copy ${fmtS(phase('forensic', 'copy'))}, finish ${fmtS(phase('forensic', 'finish'))}`);
  console.log(`    zstd -T0 -3 < VOL           ${span('zstd')}  CPU ${fmtS(cpu('zstd'))}  image ${fmtMB(size('zstd'))}  peak RSS ${mib(rss('zstd'))}`);
  console.log(`    sha256sum VOL               ${span('sha256sum')}  CPU ${fmtS(cpu('sha256sum'))}  peak RSS ${mib(rss('sha256sum'))}`);
  console.log(`    ratio ${forensicRatio.toFixed(2)}x the slower (${fmtS(forensicRef)}) (target <= ${TARGET.forensic}x: ${verdict(forensicRatio <= TARGET.forensic)}); SHA-256 agrees with sha256sum`);
  console.log(`  peak RSS of Lifeboat ${mib(lifeboatRss)} with ${threads} worker threads (target < ${TARGET.rssMiB} MiB: ${verdict(lifeboatRss < TARGET.rssMiB * 1024)})`);
  console.log(`    intelligent backup with --threads ${WIDE_THREADS}, the default on a PC with ${WIDE_THREADS} or more CPUs (one run): ${mib(wide.maxRssKiB)} (target: ${verdict(wide.maxRssKiB < TARGET.rssMiB * 1024)})`);
}

/**
 * `npm run bench`: Lifeboat against the reference tools, side by side in one run, alternating,
 * printing time ratios and peak RSS. Targets live here, not in timed unit tests.
 *
 *   npm run bench                          every bench below
 *   npm run bench -- NAME [--rounds N]     one of them
 *
 *   allocation-map   allocation map of a 1 TiB sparse NTFS volume: Lifeboat vs `ntfsinfo -m`
 *   backup           intelligent / forensic backup and verify of a 4 GiB NTFS volume:
 *                    Lifeboat vs ntfsclone | zstd, zstd -T0, sha256sum, zstd -t
 *   backup-phases    where Lifeboat's backup time goes (read, zero check, hash, CRC, compress,
 *                    write), one step at a time in one thread; diagnostic, no reference tool
 */
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { execFileSync } from 'node:child_process';
import { allocationMapBench } from './allocation-map.ts';
import { backupBench } from './backup.ts';

const ROOT = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const WORK = join(ROOT, '.cache', 'bench');

const BENCHES: Record<string, { rounds: number; run: (rounds: number) => void; byDefault: boolean }> = {
  'allocation-map': { rounds: 5, run: (n) => allocationMapBench(ROOT, WORK, n), byDefault: true },
  backup: { rounds: 5, run: (n) => backupBench(ROOT, WORK, n), byDefault: true },
  'backup-phases': {
    rounds: 1, byDefault: false,
    run: () => {
      const volume = execFileSync('python3', [join(ROOT, 'scripts', 'bench', 'build-volume.py')], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'inherit'] }).trim();
      for (const mode of ['intelligent', 'forensic']) {
        execFileSync(process.execPath, [join(ROOT, 'scripts', 'bench', 'phases-probe.ts'), mode, volume, join(WORK, 'phases-scratch')], { stdio: 'inherit' });
      }
    },
  },
};

function usage(message: string): never {
  console.error(`${message}\nusage: npm run bench [-- NAME...] [--rounds N]; names: ${Object.keys(BENCHES).join(', ')}`);
  process.exit(2);
}

const args = process.argv.slice(2);
let rounds: number | undefined;
const names: string[] = [];
for (let i = 0; i < args.length; i++) {
  if (args[i] === '--rounds') {
    rounds = Number(args[++i]);
    if (!Number.isInteger(rounds) || rounds < 1) usage('--rounds takes a positive integer');
  } else if (args[i]! in BENCHES) {
    names.push(args[i]!);
  } else {
    usage(`unknown bench or option: ${args[i]}`);
  }
}
const chosen = names.length > 0 ? names : Object.keys(BENCHES).filter((n) => BENCHES[n]!.byDefault);
chosen.forEach((name, i) => {
  if (i > 0) console.log('');
  const bench = BENCHES[name]!;
  bench.run(rounds ?? bench.rounds);
});

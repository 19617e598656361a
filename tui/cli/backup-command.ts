/**
 * `lifeboat backup <source> <image> [options]`: plan, show the plan, copy with progress, and
 * for a forensic image write the acquisition log beside it. The source is opened read-only;
 * an existing image is never overwritten; Ctrl-C leaves an image marked incomplete.
 */
import { existsSync, readdirSync, statSync, writeFileSync } from 'node:fs';
import { basename, dirname, join, resolve } from 'node:path';
import {
  AbortedError, buildAcquisitionLog, formatAcquisitionLog, LifeboatError, openDiskImage, planBackup, runBackup, UsageError,
  type BackupMode, type BackupOptions, type BackupPlan, type BackupResult, type HashName, type LogVerification, type VerifyReport,
  DEFAULT_CHUNK, DEFAULT_LEVEL,
} from '../../src/index.ts';
import { parseArgs, positionals, type CommandSpec, type ParsedArgs } from './args.ts';
import { EXIT, type CliContext } from './context.ts';
import { formatBytes } from './format.ts';
import { passphraseForNewImage, passphraseSources, PASSPHRASE_ENV, type PassphraseOrigin } from './passphrase.ts';
import { formatPlan, planSummary } from './plan-format.ts';
import { jsonReporter, textReporter } from './progress.ts';
import { parseChunkSize, parseHashes, parseInteger, parsePartitions, parseSize } from './values.ts';
import { formatVerifyReport, runVerify, verifyPassed } from './verify-command.ts';
import { TEXT } from '../text.ts';

export const BACKUP_SPEC: CommandSpec = {
  command: 'backup',
  options: [
    ...['mode', 'partitions', 'level', 'chunk-size', 'split', 'passphrase-file', 'hash', 'examiner', 'case', 'evidence', 'notes', 'threads']
      .map((name) => ({ name, value: true })),
    ...['encrypt', 'exclude-diff-area', 'verify', 'json', 'help'].map((name) => ({ name, value: false })),
  ],
  refused: { passphrase: TEXT.passphrase.refused },
};

const FORENSIC_ONLY = ['hash', 'examiner', 'case', 'evidence', 'notes'];
const MODES: readonly BackupMode[] = ['intelligent', 'sector', 'forensic'];
// The engine's defaults, spelled out here so the plan can show them.

export interface BackupSettings {
  source: string;
  image: string;
  mode: BackupMode;
  partitions?: number[];
  excludeDiffArea: boolean;
  level: number;
  chunkSize: number;
  splitSize?: number;
  /** --encrypt, --passphrase-file or LIFEBOAT_PASSPHRASE. */
  encrypt: boolean;
  passphraseFile?: string;
  hashes: HashName[];
  acquisition: NonNullable<BackupOptions['acquisition']>;
  threads?: number;
  verify: boolean;
  json: boolean;
}

/**
 * Image files by absolute path, so the image metadata and the acquisition log name them
 * unambiguously; device names (/dev/sdb, and later Windows drive paths) stay as given.
 */
function absoluteIfFile(path: string): string {
  return existsSync(path) && statSync(path).isFile() ? resolve(path) : path;
}

/** Every option checked before anything is opened, so a typo costs nothing. */
export function backupSettings(parsed: ParsedArgs, env: CliContext['env']): BackupSettings {
  const [source, image] = positionals(parsed, 'backup', ['the source disk or image', 'the image to write']);
  const v = parsed.values;
  const modeText = v.get('mode') ?? 'intelligent';
  if (!MODES.includes(modeText as BackupMode)) throw new UsageError(TEXT.backup.badMode(modeText));
  const mode = modeText as BackupMode;
  if (mode === 'forensic') {
    if (v.has('partitions')) throw new UsageError(TEXT.backup.forensicWhole('--partitions'));
    if (parsed.flags.has('exclude-diff-area')) throw new UsageError(TEXT.backup.forensicWhole('--exclude-diff-area'));
  } else {
    for (const name of FORENSIC_ONLY) if (v.has(name)) throw new UsageError(TEXT.backup.forensicOnly(name));
  }
  const settings: BackupSettings = {
    source: absoluteIfFile(source!), image: resolve(image!), mode,
    excludeDiffArea: parsed.flags.has('exclude-diff-area'),
    level: v.has('level') ? parseInteger('level', v.get('level')!, 1, 19) : DEFAULT_LEVEL,
    chunkSize: v.has('chunk-size') ? parseChunkSize(v.get('chunk-size')!) : DEFAULT_CHUNK,
    encrypt: parsed.flags.has('encrypt') || v.has('passphrase-file') || Boolean(env[PASSPHRASE_ENV]),
    hashes: v.has('hash') ? parseHashes(v.get('hash')!) : [],
    acquisition: {
      ...(v.has('examiner') ? { examiner: v.get('examiner')! } : {}),
      ...(v.has('case') ? { caseNumber: v.get('case')! } : {}),
      ...(v.has('evidence') ? { evidenceId: v.get('evidence')! } : {}),
      ...(v.has('notes') ? { notes: v.get('notes')! } : {}),
    },
    verify: parsed.flags.has('verify'),
    json: parsed.flags.has('json'),
  };
  if (v.has('partitions')) settings.partitions = parsePartitions(v.get('partitions')!);
  if (v.has('split')) settings.splitSize = parseSize('split', v.get('split')!);
  if (v.has('passphrase-file')) settings.passphraseFile = v.get('passphrase-file')!;
  if (v.has('threads')) settings.threads = parseInteger('threads', v.get('threads')!, 1, 64);
  return settings;
}

/** Files a backup to `image` would create: the image, its later parts, and a forensic log. */
function existingOutputs(settings: BackupSettings): string[] {
  const found = [settings.image, ...(settings.mode === 'forensic' ? logPaths(settings.image) : [])].filter((p) => existsSync(p));
  // Leftover parts (NAME.002, …) of an earlier image would stop a split backup halfway.
  const dir = dirname(settings.image);
  const name = basename(settings.image);
  if (existsSync(dir)) {
    for (const entry of readdirSync(dir)) {
      if (entry.startsWith(`${name}.`) && /^\d{3,}$/.test(entry.slice(name.length + 1))) found.push(join(dir, entry));
    }
  }
  return found;
}

export const logPaths = (image: string): [string, string] => [`${image}.log.json`, `${image}.log.txt`];

/** The writer's 'wx+' refusal (an image appeared after the check above) in plain words. */
function explainExisting(e: unknown): unknown {
  if (e instanceof LifeboatError && e.code === 'DEVICE_IO' && e.data.operation === 'open' && /EEXIST/.test(String(e.data.reason))) {
    return new LifeboatError('DESTINATION_EXISTS', TEXT.backup.exists([String(e.data.device)]));
  }
  return e;
}

/** Write a file that must not exist yet; failures become typed errors that name the file. */
function writeNewFile(path: string, content: string): void {
  try {
    writeFileSync(path, content, { flag: 'wx' });
  } catch (e) {
    throw new LifeboatError('LOG_WRITE', TEXT.backup.logFailed(path, e instanceof Error ? e.message : String(e)), { path });
  }
}

/** `<image>.log.json` and `<image>.log.txt` beside a finished forensic image (docs/forensic.md). */
function writeAcquisitionLog(plan: BackupPlan, result: BackupResult, options: BackupOptions, verify: VerifyReport | undefined): string[] {
  const verification: LogVerification | undefined = verify && {
    finished: new Date().toISOString(), complete: verify.complete, problems: verify.problems.length, hashesMatch: verify.hashes?.match ?? false,
  };
  const log = buildAcquisitionLog(plan, result, options, verification);
  const [jsonPath, textPath] = logPaths(result.path);
  writeNewFile(jsonPath, `${JSON.stringify(log, null, 2)}\n`);
  writeNewFile(textPath, formatAcquisitionLog(log));
  return [jsonPath, textPath];
}

/** The `result` line of `--json`: the engine's result without the metadata (`info --json` shows that). */
function resultObject(result: BackupResult, logs: string[] | undefined, verify: VerifyReport | undefined) {
  const { metadata: _metadata, ...rest } = result;
  return { type: 'result', ...rest, ...(logs ? { logs } : {}), ...(verify ? { verify: { ok: verifyPassed(verify), ...verify } } : {}) };
}

function formatResult(result: BackupResult): string {
  const t = TEXT.backup;
  const lines = [
    t.written(result.path, result.parts),
    `  ${t.sizes(formatBytes(result.storedBytes), formatBytes(result.imageBytes), result.storedBytes > 0 ? result.imageBytes / result.storedBytes : 0)}`,
    `  ${t.chunks(result.chunks, result.zeroChunks, result.seconds.toFixed(1), formatBytes(result.seconds > 0 ? Math.round(result.storedBytes / result.seconds) : 0))}`,
  ];
  for (const [name, value] of Object.entries(result.hashes ?? {})) lines.push(`  ${name.padEnd(6)}  ${value}`);
  return lines.join('\n');
}

export async function backupCommand(argv: readonly string[], ctx: CliContext): Promise<number> {
  const parsed = parseArgs(argv, BACKUP_SPEC);
  if (parsed.flags.has('help')) {
    ctx.out(`${TEXT.help.backup}\n`);
    return EXIT.ok;
  }
  const settings = backupSettings(parsed, ctx.env);
  const existing = existingOutputs(settings);
  if (existing.length > 0) throw new LifeboatError('DESTINATION_EXISTS', TEXT.backup.exists(existing));

  // Asked before planning: the prompt should not wait behind a long scan of the source.
  let passphrase: { passphrase: string; origin: PassphraseOrigin } | undefined;
  if (settings.encrypt) passphrase = await passphraseForNewImage(passphraseSources(ctx, settings.passphraseFile));

  const json = settings.json ? jsonReporter(ctx.out) : undefined;
  const device = await openDiskImage(settings.source);
  try {
    const plan = await planBackup(device, {
      mode: settings.mode, ...(settings.partitions ? { partitions: settings.partitions } : {}), excludeDiffArea: settings.excludeDiffArea,
    });
    if (json) json.object({ type: 'plan', ...planSummary(plan) });
    else {
      ctx.out(`${formatPlan(plan, {
        destination: settings.image, level: settings.level, chunkSize: settings.chunkSize, splitSize: settings.splitSize,
        encrypted: passphrase && TEXT.backup.passphraseFrom(passphrase.origin), hashes: settings.hashes,
      })}\n\n`);
    }
    if (ctx.signal.aborted) throw new LifeboatError('ABORTED', TEXT.backup.interruptedBeforeCopy);

    const reporter = json ?? textReporter({ write: ctx.err, tty: ctx.stderrIsTty, shown: plan.warnings });
    const options: BackupOptions = {
      destination: settings.image, level: settings.level, chunkSize: settings.chunkSize,
      ...(settings.splitSize ? { splitSize: settings.splitSize } : {}),
      ...(passphrase ? { passphrase: passphrase.passphrase } : {}),
      ...(settings.threads ? { threads: settings.threads } : {}),
      ...(settings.mode === 'forensic' ? { hashes: settings.hashes, acquisition: settings.acquisition } : {}),
      signal: ctx.signal, onEvent: (e) => reporter.event(e),
    };
    let result: BackupResult;
    try {
      result = await runBackup(device, plan, options);
    } catch (e) {
      if (e instanceof AbortedError) throw new LifeboatError('ABORTED', TEXT.backup.interrupted(settings.image));
      throw explainExisting(e);
    } finally {
      reporter.done();
    }
    if (!json) ctx.out(`${formatResult(result)}\n`);

    // From here on the image is whole. A Ctrl-C (while the index was written, or during --verify)
    // skips the verification but not the acquisition log, which a finished forensic image needs.
    let verify: VerifyReport | undefined;
    if (settings.verify && !ctx.signal.aborted) {
      try {
        verify = await runVerify({
          image: settings.image, reporter: json ?? textReporter({ write: ctx.err, tty: ctx.stderrIsTty }), signal: ctx.signal,
          sources: passphraseSources(ctx, undefined), ...(passphrase ? { passphrase: passphrase.passphrase } : {}),
        });
      } catch (e) {
        if (!(e instanceof LifeboatError && e.code === 'ABORTED' && ctx.signal.aborted)) throw e;
      }
      if (verify && !json) ctx.out(`\n${formatVerifyReport(verify)}\n`);
    }
    const interrupted = ctx.signal.aborted;
    let logs: string[] | undefined;
    if (settings.mode === 'forensic') {
      logs = writeAcquisitionLog(plan, result, options, verify);
      if (!json) ctx.out(`\n${TEXT.backup.logsWritten(logs)}\n`);
    }
    if (json) json.object(resultObject(result, logs, verify));
    if (interrupted) throw new LifeboatError('ABORTED', TEXT.backup.interruptedAfterImage(settings.image));
    return verify && !verifyPassed(verify) ? EXIT.problems : EXIT.ok;
  } finally {
    await device.close();
  }
}
